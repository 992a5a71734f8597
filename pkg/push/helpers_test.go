package push_test

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/cache"
	"mkt/pkg/cache/cachetest"
	"mkt/pkg/campaign"
	"mkt/pkg/inbox"
	"mkt/pkg/membership"
	"mkt/pkg/mkttest"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/push"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// Integration tests run against MariaDB and Redis (pkg/mkttest), each in its
// own database and key prefix, with the provider simulator in-process on a loopback port.

// testEnv is one test's world: a fresh database with seeded members, a
// Redis key prefix and a provider simulator.
type testEnv struct {
	t     testing.TB
	dsn   string
	db    *store.DB
	redis *cache.Client
	sim   *providersim.Server
	log   *slog.Logger
}

// newEnv creates the test database with members 1..members seeded, opens
// Redis under a random prefix, and starts a simulator with simCfg.
func newEnv(t testing.TB, members int64, simCfg providersim.Config) *testEnv {
	t.Helper()
	e := &testEnv{t: t, log: mkttest.Logger().With("test", t.Name())}
	e.dsn = storetest.NewDatabase(t)
	e.db = e.openDB()
	if members > 0 {
		if _, err := membership.Seed(context.Background(), e.db, membership.SeedOptions{Target: members}); err != nil {
			t.Fatalf("seed %d members: %v", members, err)
		}
	}
	e.redis = cachetest.Open(t, cache.Config{DialTimeout: 2 * time.Second})
	e.sim = e.startSim(simCfg)
	return e
}

// openDB opens another pool on the test database (closed at cleanup).
func (e *testEnv) openDB() *store.DB {
	e.t.Helper()
	return storetest.Open(e.t, store.Config{DSN: e.dsn, MaxOpenConns: 32})
}

func (e *testEnv) startSim(cfg providersim.Config) *providersim.Server {
	e.t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = e.log
	}
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	s, err := providersim.Listen("127.0.0.1:0", cfg)
	if err != nil {
		e.t.Fatalf("start provider simulator: %v", err)
	}
	// Close, not Shutdown: a graceful shutdown waits 5s for any connection
	// the clients opened but never used.
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

// httpProvider returns an HTTP provider of ch on sim.
func (e *testEnv) httpProvider(sim *providersim.Server, ch provider.Channel, batch, attempts int) *provider.HTTPProvider {
	e.t.Helper()
	p, err := provider.NewHTTP(provider.HTTPConfig{
		Channel: ch, URL: sim.URL() + "/" + string(ch), BatchSize: batch,
		Timeout: 30 * time.Second, MaxAttempts: attempts, BackoffBase: 5 * time.Millisecond, BackoffMax: 20 * time.Millisecond,
		Logger: e.log,
	})
	if err != nil {
		e.t.Fatalf("http provider: %v", err)
	}
	e.t.Cleanup(p.Close)
	return p
}

func (e *testEnv) inboxProvider(db *store.DB) *inbox.Provider {
	e.t.Helper()
	p, err := inbox.New(inbox.Config{DB: db, MaxBatch: 250})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// providers returns sms, email and app on the env's simulator and the inbox.
func (e *testEnv) providers(batch, attempts int) map[provider.Channel]push.Sender {
	return map[provider.Channel]push.Sender{
		provider.ChannelSMS:   e.httpProvider(e.sim, provider.ChannelSMS, batch, attempts),
		provider.ChannelEmail: e.httpProvider(e.sim, provider.ChannelEmail, batch, attempts),
		provider.ChannelApp:   e.httpProvider(e.sim, provider.ChannelApp, batch, attempts),
		provider.ChannelInbox: e.inboxProvider(e.db),
	}
}

// worker returns a worker on the env with cfg's zero fields filled for tests.
func (e *testEnv) worker(cfg push.Config) *push.Worker {
	e.t.Helper()
	if cfg.DB == nil {
		cfg.DB = e.db
	}
	if cfg.Providers == nil {
		cfg.Providers = e.providers(1, 2)
	}
	if cfg.Progress == nil {
		cfg.Progress = e.redis
	}
	if cfg.Logger == nil {
		cfg.Logger = e.log
	}
	if cfg.FailureThreshold == 0 {
		cfg.FailureThreshold = 1 // auto-pause off unless a test wants it
	}
	w, err := push.NewWorker(cfg)
	if err != nil {
		e.t.Fatalf("new worker: %v", err)
	}
	return w
}

// launch stores a campaign, plans it into shards of shardSize and marks it
// running, and returns it with its shard tasks.
func (e *testEnv) launch(seg audience.Segment, shardSize int, template string, chans ...provider.Channel) (*campaign.Campaign, []campaign.ShardTask) {
	e.t.Helper()
	ctx := context.Background()
	spec := campaign.Spec{
		Name: "Spring sale " + mkttest.Namespace(e.t, ""), Offer: campaign.OfferFlatDiscount, DiscountCents: 500,
		Template: template, Channels: chans, Audience: seg, ShardSize: shardSize,
	}
	if err := spec.Validate(time.Now()); err != nil {
		e.t.Fatalf("spec: %v", err)
	}
	id, err := campaign.Insert(ctx, e.db, spec, "")
	if err != nil {
		e.t.Fatalf("insert campaign: %v", err)
	}
	if err := campaign.Transition(ctx, e.db, id, []campaign.Status{campaign.StatusCreated}, campaign.StatusPlanning, ""); err != nil {
		e.t.Fatal(err)
	}
	plan, err := audience.Shard(ctx, e.db, seg, shardSize)
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	if _, err := campaign.InsertShards(ctx, e.db, campaign.KindPromotion, id, plan.Shards); err != nil {
		e.t.Fatalf("insert shards: %v", err)
	}
	if err := campaign.SetPlanned(ctx, e.db, id, plan.Members, len(plan.Shards)); err != nil {
		e.t.Fatal(err)
	}
	c, err := campaign.Get(ctx, e.db, id)
	if err != nil {
		e.t.Fatal(err)
	}
	tasks := make([]campaign.ShardTask, len(plan.Shards))
	for i, r := range plan.Shards {
		tasks[i] = campaign.ShardTask{Kind: campaign.KindPromotion, CampaignID: id, ShardNo: r.No, StartID: r.Start, EndID: r.End, Mode: campaign.ModeSend}
	}
	return c, tasks
}

// handleAll handles tasks concurrently and fails on any error.
func handleAll(t testing.TB, w *push.Worker, tasks []campaign.ShardTask) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(tasks))
	for i, task := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.HandleTask(context.Background(), task)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("handle task %s: %v", tasks[i].Key(), err)
		}
	}
}

// ids runs a query returning member ids, sorted.
func (e *testEnv) ids(q string, args ...any) []uint64 {
	e.t.Helper()
	var out []uint64
	if err := e.db.SelectContext(context.Background(), &out, q, args...); err != nil {
		e.t.Fatalf("query %q: %v", q, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// count runs a COUNT query.
func (e *testEnv) count(q string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.db.GetContext(context.Background(), &n, q, args...); err != nil {
		e.t.Fatalf("query %q: %v", q, err)
	}
	return n
}

// delivered returns member → delivery count of a campaign on ch at sim.
func delivered(t testing.TB, sim *providersim.Server, campaignID uint64, ch provider.Channel) map[uint64]int {
	t.Helper()
	rep, err := sim.Simulator().Deliveries(providersim.DeliveryQuery{CampaignID: campaignID, Channel: ch, List: providersim.ListDelivered, Limit: 10_000_000})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Channel(ch)
	if c.Truncated {
		t.Fatal("delivery report truncated")
	}
	out := make(map[uint64]int, len(c.Exceptions))
	for _, m := range c.Exceptions {
		out[m.MemberID] = m.Count
	}
	return out
}

// expectExactlyOnce checks that got holds each of want exactly once and
// nothing else.
func expectExactlyOnce(t testing.TB, what string, got map[uint64]int, want []uint64) {
	t.Helper()
	var missing, dup []uint64
	seen := make(map[uint64]bool, len(want))
	for _, id := range want {
		seen[id] = true
		switch n := got[id]; {
		case n == 0:
			missing = append(missing, id)
		case n > 1:
			dup = append(dup, id)
		}
	}
	var extra []uint64
	for id := range got {
		if !seen[id] {
			extra = append(extra, id)
		}
	}
	if len(missing)+len(dup)+len(extra) > 0 {
		t.Errorf("%s: want %d members exactly once; missing %d %v, duplicated %d %v, unexpected %d %v",
			what, len(want), len(missing), head(missing), len(dup), head(dup), len(extra), head(extra))
	}
}

func head(ids []uint64) string {
	if len(ids) > 10 {
		return fmt.Sprint(ids[:10]) + "…"
	}
	return fmt.Sprint(ids)
}

// shard loads a shard.
func (e *testEnv) shard(campaignID uint64, no int) *campaign.Shard {
	e.t.Helper()
	s, err := campaign.GetShard(context.Background(), e.db, campaign.KindPromotion, campaignID, no)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// startShard runs task on w in the background and returns once the
// shard's cursor is two pages of page members past its start. It returns
// the shard as it was before, and the channel on which the task's error
// arrives.
func (e *testEnv) startShard(ctx context.Context, w *push.Worker, task campaign.ShardTask, page uint64) (*campaign.Shard, <-chan error) {
	e.t.Helper()
	s0 := e.shard(task.CampaignID, task.ShardNo)
	errc := make(chan error, 1)
	go func() { errc <- w.HandleTask(ctx, task) }()
	mkttest.WaitFor(e.t, 20*time.Second, "a few pages", func() bool { return e.shard(task.CampaignID, task.ShardNo).CursorID >= s0.StartID+2*page })
	return s0, errc
}

// campaign loads a promotion campaign.
func (e *testEnv) campaign(id uint64) *campaign.Campaign {
	e.t.Helper()
	c, err := campaign.Get(context.Background(), e.db, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}
