package push_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/push"
)

// TestTwoWorkersShareAConsumerGroup runs a campaign through RocketMQ: the
// shard tasks are batch-published and consumed by two workers, each behind
// its own consumer of one group, and every member gets the message exactly
// once.
func TestTwoWorkersShareAConsumerGroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 20_000, providersim.Config{Latency: providersim.Latency{Kind: providersim.LatencyUniform, Min: time.Millisecond, Max: 10 * time.Millisecond}})
	cfg := mqtest.Config(t)
	cfg.Logger = e.log
	ctx := context.Background()
	sfx := mkttest.Namespace(t, "")
	topic, group := "mkt_test_shard_"+sfx, "mkt_test_worker_"+sfx
	mqtest.DeleteAtEnd(t, cfg, mq.RetryTopic(group), mq.DeadLetterTopic(group))
	mqtest.Topics(t, cfg, 8, topic)
	setup, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	var handled [2]atomic.Int64
	var workers []*push.Worker
	var consumers []*mq.Consumer
	for i, owner := range []string{"pushd-1", "pushd-2"} {
		w := e.worker(push.Config{Owner: owner, PageSize: 100, Providers: e.providers(20, 3)})
		c, err := mq.NewConsumer(mq.ConsumerConfig{Config: cfg, Group: group, Topic: topic, Tags: campaign.TagShard, Concurrency: 8,
			Handler: func(ctx context.Context, d *mq.Delivery) error {
				handled[i].Add(1)
				return w.Handle(ctx, d)
			}})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(setup); err != nil {
			t.Fatal(err)
		}
		workers, consumers = append(workers, w), append(consumers, c)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, w := range workers {
			_ = w.Stop(sctx) // drain first, as pushd does
		}
		if err := mq.ShutdownAll(sctx, consumers...); err != nil {
			t.Error(err)
		}
	})
	p, err := mq.NewProducer(mq.ProducerConfig{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })

	c, tasks := e.launch(audience.Segment{}, 500, "Anniversary sale: {discount} off", provider.ChannelSMS, provider.ChannelInbox)
	sends, err := campaign.PublishTasks(ctx, p, campaign.PublishOptions{Topic: topic}, tasks)
	if err != nil {
		t.Fatal(err)
	}
	mkttest.WaitFor(t, 2*time.Minute, "the campaign to complete", func() bool { return e.campaign(c.ID).Status == campaign.StatusCompleted })
	active := e.ids(activeIDs)
	expectExactlyOnce(t, "sms", delivered(t, e.sim, c.ID, provider.ChannelSMS), active)
	if n := e.count(`SELECT COUNT(*) FROM member_inbox WHERE campaign_id = ?`, c.ID); n != int64(len(active)) {
		t.Errorf("%d inbox rows, want %d", n, len(active))
	}
	t.Logf("%d shards in %d sends; handled by pushd-1: %d, pushd-2: %d", len(tasks), sends, handled[0].Load(), handled[1].Load())
	if handled[0].Load() == 0 || handled[1].Load() == 0 {
		// The client rebalances every 20s; the test passes either way.
		t.Log("one worker got no shard: the group had not rebalanced yet")
	}
}
