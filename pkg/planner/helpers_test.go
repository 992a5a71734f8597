package planner_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/membership"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
	"mkt/pkg/planner"
	"mkt/pkg/provider"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// Integration tests run against MariaDB and RocketMQ (pkg/mkttest), each on
// its own database and its own topics and groups.

// stack is one test's isolated world: database, topics, producer, planner
// and a consumer recording every shard task.
type stack struct {
	db          *store.DB
	mq          mq.Config
	sfx         string
	eventsTopic string
	shardTopic  string
	producer    *mq.Producer
	planner     *planner.Planner
	tasks       *taskLog
}

// newStack builds a test's world with a consumer recording shard tasks.
func newStack(t testing.TB, members int64) *stack {
	t.Helper()
	s := newQuietStack(t, members)
	s.tasks = &taskLog{byKey: map[string][]campaign.ShardTask{}}
	mqtest.StartConsumer(t, mq.ConsumerConfig{Config: s.mq, Group: "plantest_w_" + s.sfx, Topic: s.shardTopic,
		Handler: func(_ context.Context, d *mq.Delivery) error {
			task, err := campaign.DecodeShardTask(d.Body)
			if err != nil {
				return mq.Permanent(err)
			}
			s.tasks.add(task, d)
			return nil
		}})
	return s
}

// newQuietStack builds a test's world without any consumer.
func newQuietStack(t testing.TB, members int64) *stack {
	t.Helper()
	s := &stack{mq: mqtest.Config(t), db: storetest.NewDB(t), sfx: mkttest.Namespace(t, "")}
	s.eventsTopic, s.shardTopic = "plantest_ev_"+s.sfx, "plantest_sh_"+s.sfx
	mqtest.Topics(t, s.mq, 4, s.eventsTopic, s.shardTopic)
	ctx := mkttest.Deadline(t, 2*time.Minute)
	if members > 0 {
		if _, err := membership.Seed(ctx, s.db, membership.SeedOptions{Target: members}); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	p, err := mq.NewProducer(mq.ProducerConfig{Config: s.mq, Group: "plantest_p_" + s.sfx})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	s.producer = p
	s.planner, err = planner.New(planner.Config{
		DB: s.db, Publisher: p, Logger: mkttest.Logger(),
		EventsTopic: s.eventsTopic, Group: "plantest_pl_" + s.sfx, ShardTopic: s.shardTopic,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// insert stores a campaign directly (no event).
func (s *stack) insert(t testing.TB, seg audience.Segment, shardSize int, startAt *time.Time) *campaign.Campaign {
	t.Helper()
	spec := campaign.Spec{
		Name: "test " + s.sfx, Offer: campaign.OfferFlatDiscount, DiscountCents: 500,
		Template: "{discount} off for you, member {member_id}", Channels: []provider.Channel{provider.ChannelSMS, provider.ChannelInbox},
		Audience: seg, ShardSize: shardSize, StartAt: startAt, CreatedBy: "test",
	}
	ctx := mkttest.Deadline(t, 30*time.Second)
	id, err := campaign.Insert(ctx, s.db, spec, campaign.NewRequestID("t"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := campaign.Get(ctx, s.db, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *stack) get(t testing.TB, id uint64) *campaign.Campaign {
	t.Helper()
	c, err := campaign.Get(context.Background(), s.db, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// shards returns the stored shards of promotion id.
func (s *stack) shards(t testing.TB, id uint64) []campaign.Shard {
	t.Helper()
	return s.shardsOf(t, campaign.KindPromotion, id)
}

// shardsOf returns the stored shards of kind's campaign id.
func (s *stack) shardsOf(t testing.TB, kind campaign.Kind, id uint64) []campaign.Shard {
	t.Helper()
	sh, err := campaign.ListShards(context.Background(), s.db, kind, id)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// taskLog records consumed shard tasks by key.
type taskLog struct {
	mu    sync.Mutex
	byKey map[string][]campaign.ShardTask
	total int
}

func (l *taskLog) add(t campaign.ShardTask, d *mq.Delivery) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := t.Key()
	if len(d.Keys) != 1 || d.Keys[0] != key || d.Tag != campaign.TagShard {
		key = "" // flagged by the test
	}
	l.byKey[key] = append(l.byKey[key], t)
	l.total++
}

// forCampaign returns the tasks of kind's campaign id by shard number and
// the total delivered.
func (l *taskLog) forCampaign(kind campaign.Kind, id uint64) (map[int][]campaign.ShardTask, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int][]campaign.ShardTask{}
	n := 0
	for _, ts := range l.byKey {
		for _, t := range ts {
			if t.Kind == kind && t.CampaignID == id {
				out[t.ShardNo] = append(out[t.ShardNo], t)
				n++
			}
		}
	}
	return out, n
}

func (l *taskLog) malformed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.byKey[""])
}

func (l *taskLog) count(kind campaign.Kind, id uint64) int {
	_, n := l.forCampaign(kind, id)
	return n
}

// checkShardTasks waits for want tasks of kind's campaign id and checks
// that every shard got exactly perShard[no] (default 1) tasks matching its
// stored row, keyed kind:id:no.
func checkShardTasks(t *testing.T, s *stack, kind campaign.Kind, id uint64, want int, perShard map[int]int) {
	t.Helper()
	mkttest.WaitFor(t, time.Minute, string(kind)+" shard tasks", func() bool { return s.tasks.count(kind, id) >= want })
	settle()
	got, n := s.tasks.forCampaign(kind, id)
	if n != want {
		t.Errorf("%s %d: %d shard tasks delivered, want %d", kind, id, n, want)
	}
	if bad := s.tasks.malformed(); bad > 0 {
		t.Errorf("%d tasks with a wrong key or tag", bad)
	}
	for _, sh := range s.shardsOf(t, kind, id) {
		wantN := 1
		if v, ok := perShard[sh.No]; ok {
			wantN = v
		}
		if len(got[sh.No]) != wantN {
			t.Errorf("shard %d: %d tasks, want %d", sh.No, len(got[sh.No]), wantN)
		}
		for _, task := range got[sh.No] {
			if task != sh.Task(campaign.ModeSend) || task.Key() != string(kind)+":"+strconv.FormatUint(id, 10)+":"+strconv.Itoa(sh.No) {
				t.Errorf("shard %d: task %+v does not match the row %+v", sh.No, task, sh)
			}
		}
	}
}

// planConcurrently runs plan from four goroutines at once (an error fails
// t) and checks that together they created every stored shard of kind's
// campaign id once; it returns their results and the stored shards.
func planConcurrently(t *testing.T, s *stack, kind campaign.Kind, id uint64, plan func() (planner.PlanResult, error)) ([]planner.PlanResult, []campaign.Shard) {
	t.Helper()
	var wg sync.WaitGroup
	results := make([]planner.PlanResult, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = plan() })
	}
	wg.Wait()
	var created int64
	for i, r := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		created += r.ShardsCreated
	}
	rows := s.shardsOf(t, kind, id)
	if created != int64(len(rows)) || len(rows) == 0 {
		t.Errorf("planners created %d rows in all, table holds %d", created, len(rows))
	}
	return results, rows
}

// settle waits long enough for a late duplicate delivery to show up.
func settle() { time.Sleep(1500 * time.Millisecond) }
