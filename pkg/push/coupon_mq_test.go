package push_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/coupon"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
	"mkt/pkg/planner"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/push"
)

// TestCouponPushThroughRocketMQ runs a push-mode coupon end to end on the
// real stack: create (transactional message) → planner consumer → shard
// tasks → worker consumer → providers; then redelivers the created event
// and every shard task: nothing is planned, issued or sent twice.
func TestCouponPushThroughRocketMQ(t *testing.T) {
	e := newEnv(t, 3000, providersim.Config{Latency: providersim.Latency{Kind: providersim.LatencyUniform, Max: 5 * time.Millisecond}})
	cfg := mqtest.Config(t)
	cfg.Logger = e.log
	ctx := context.Background()
	sfx := mkttest.Namespace(t, "")
	events, shards := "mkt_test_cev_"+sfx, "mkt_test_csh_"+sfx
	planGroup, workGroup := "mkt_test_cpl_"+sfx, "mkt_test_cwk_"+sfx
	mqtest.DeleteAtEnd(t, cfg, mq.RetryTopic(planGroup), mq.RetryTopic(workGroup),
		mq.DeadLetterTopic(planGroup), mq.DeadLetterTopic(workGroup))
	mqtest.Topics(t, cfg, 4, events, shards)
	setup, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	prod, err := mq.NewProducer(mq.ProducerConfig{Config: cfg, Group: "mkt_test_cp_" + sfx})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prod.Shutdown() })
	tx, err := mq.NewTxProducer(mq.TxProducerConfig{Config: cfg, Group: "mkt_test_ctx_" + sfx, Check: campaign.TxCheck(e.db, e.log, nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Shutdown() })

	pl, err := planner.New(planner.Config{DB: e.db, Publisher: prod, Logger: e.log, EventsTopic: events, Group: planGroup, ShardTopic: shards})
	if err != nil {
		t.Fatal(err)
	}
	w := e.worker(push.Config{Owner: "pushd-c", PageSize: 100, Providers: e.providers(20, 3)})
	var planned, handled atomic.Int64
	pcfg := pl.ConsumerConfig(cfg)
	pcfg.Instance = "cplanner-" + sfx
	pcfg.Handler = func(ctx context.Context, d *mq.Delivery) error {
		defer planned.Add(1)
		return pl.Handle(ctx, d)
	}
	planCons, err := mq.NewConsumer(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	workCons, err := mq.NewConsumer(mq.ConsumerConfig{Config: cfg, Group: workGroup, Topic: shards, Tags: campaign.TagShard,
		Instance: "cworker-" + sfx, Concurrency: 8,
		Handler: func(ctx context.Context, d *mq.Delivery) error {
			defer handled.Add(1)
			return w.Handle(ctx, d)
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*mq.Consumer{planCons, workCons} {
		if err := c.Start(setup); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = w.Stop(sctx)
		if err := workCons.Shutdown(sctx); err != nil {
			t.Error(err)
		}
		if err := planCons.Shutdown(sctx); err != nil {
			t.Error(err)
		}
	})

	cr := coupon.Creator{DB: e.db, Tx: tx, Topic: events}
	res, err := cr.Create(ctx, couponSpec(couponSegment, 300, nil, "{name}: {offer}", provider.ChannelSMS, provider.ChannelInbox),
		coupon.NewRequestID("test"))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Coupon
	mkttest.WaitFor(t, 2*time.Minute, "the coupon push to complete", func() bool { return e.coupon(c.ID).PushStatus == campaign.StatusCompleted })
	want := e.segmentMembers(couponSegment)
	expectExactlyOnce(t, "coupon items", e.holders(c.ID), want)
	checkAnnounced(t, e, c, want)
	rows, err := campaign.ListShards(ctx, e.db, campaign.KindCoupon, uint64(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	// The plan counts the segment's members, active accounts or not.
	if got := e.coupon(c.ID); got.PlannedShards != len(rows) || got.PlannedMembers < int64(len(want)) {
		t.Errorf("planned %d members in %d shards; %d rows, %d active members", got.PlannedMembers, got.PlannedShards, len(rows), len(want))
	}

	// Redeliver the created event and every shard task.
	before, beforeHandled := e.sim.Simulator().Stats().Delivered, handled.Load()
	ev := campaign.CreatedEvent{Kind: campaign.KindCoupon, RequestID: *c.RequestID, CampaignID: uint64(c.ID)}
	if err := prod.SendBatch(ctx, []mq.Message{ev.Message(events, time.Now())}); err != nil {
		t.Fatal(err)
	}
	tasks := make([]campaign.ShardTask, len(rows))
	for i, s := range rows {
		tasks[i] = s.Task(campaign.ModeSend)
	}
	if _, err := campaign.PublishTasks(ctx, prod, campaign.PublishOptions{Topic: shards}, tasks); err != nil {
		t.Fatal(err)
	}
	mkttest.WaitFor(t, time.Minute, "the redeliveries to be handled", func() bool {
		return planned.Load() >= 2 && handled.Load() >= beforeHandled+int64(len(tasks))
	})
	time.Sleep(time.Second) // a negative check: let a late send arrive before judging
	if after := e.sim.Simulator().Stats().Delivered; after != before {
		t.Errorf("redelivery sent %d more messages", after-before)
	}
	again, err := campaign.ListShards(ctx, e.db, campaign.KindCoupon, uint64(c.ID))
	if err != nil || len(again) != len(rows) {
		t.Errorf("%d shard rows after redelivery (%v), want %d", len(again), err, len(rows))
	}
	expectExactlyOnce(t, "coupon items after redelivery", e.holders(c.ID), want)
	checkAnnounced(t, e, c, want)
	if got := e.coupon(c.ID); got.IssuedCount != int64(len(want)) || got.PushStatus != campaign.StatusCompleted {
		t.Errorf("after redelivery: issued %d, push %s", got.IssuedCount, got.PushStatus)
	}
}
