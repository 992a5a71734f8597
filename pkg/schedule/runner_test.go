package schedule_test

// Integration tests of the Runner on the real MariaDB and RocketMQ (each test
// its own database and topic), with an injected clock so that days of
// firings, outages and takeovers run in a second. The multi-process tests
// (three pushd, kill -9, real minutes) are in pkg/pushd.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/hotgoods"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
	"mkt/pkg/provider"
	"mkt/pkg/schedule"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// clock is an injected clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) set(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = utc(s)
}

func (c *clock) Now(context.Context) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now, nil
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

type world struct {
	db      *store.DB
	creator campaign.Creator
	clock   *clock
}

func newWorld(t *testing.T) *world {
	t.Helper()
	cfg := mqtest.Config(t)
	db := storetest.NewDB(t)
	storetest.SeedMembers(t, db, 50)
	ns := mkttest.Namespace(t, "schedtest_")
	topic := ns + "_" + campaign.TopicEvents
	mqtest.Topics(t, cfg, 4, topic)
	tx, err := mq.NewTxProducer(mq.TxProducerConfig{Config: cfg, Group: ns + "_" + campaign.GroupTx,
		Check: campaign.TxCheck(db, mkttest.Logger(), nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Shutdown() })
	return &world{db: db, creator: campaign.Creator{DB: db, Tx: tx, Topic: topic}, clock: &clock{}}
}

func (w *world) runner(t *testing.T, owner string, reg prometheus.Registerer, opts ...func(*schedule.RunnerConfig)) *schedule.Runner {
	t.Helper()
	cfg := schedule.RunnerConfig{DB: w.db, Creator: w.creator, Owner: owner, Now: w.clock.Now, Lease: time.Minute,
		RetryDelay: time.Second, Registerer: reg, Logger: mkttest.Logger()}
	for _, o := range opts {
		o(&cfg)
	}
	r, err := schedule.NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (w *world) template(t *testing.T) uint64 {
	t.Helper()
	id, err := campaign.Insert(context.Background(), w.db, campaign.Spec{
		Name: "Spring sale", Offer: campaign.OfferFlatDiscount, DiscountCents: 500, Template: "{discount} off today",
		Channels: []provider.Channel{provider.ChannelSMS, provider.ChannelInbox}, Audience: audience.Segment{Levels: []int{3, 4}},
		ShardSize: 1000,
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (w *world) firings(t *testing.T, id uint64) []schedule.Firing {
	t.Helper()
	fs, err := schedule.ListFirings(context.Background(), w.db, id, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func (w *world) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := w.db.GetContext(context.Background(), &n, q, args...); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRunnerFiresOnceCatchesUpOnceAndSkips: three runners racing fire each
// firing once; after an outage the latest missed firing fires once (within
// max lateness) and the older ones are recorded skipped; beyond max
// lateness it is skipped; the copy carries the template's content.
func TestRunnerFiresOnceCatchesUpOnceAndSkips(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tmpl := w.template(t)
	w.clock.set("2026-03-01T00:00:00Z")
	now, _ := w.clock.Now(ctx)
	s, err := schedule.Create(ctx, w.db, schedule.Spec{Cron: "0 10 * * *", Zone: "Asia/Shanghai", Action: schedule.ActionCampaign,
		TemplateKind: campaign.KindPromotion, TemplateID: tmpl, MaxLateness: time.Hour, CreatedBy: "test"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !s.NextFireAt.Equal(utc("2026-03-01T02:00:00Z")) {
		t.Fatalf("first firing %v, want 10:00 in Shanghai", s.NextFireAt)
	}
	regs := []*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry(), prometheus.NewRegistry()}
	runners := []*schedule.Runner{w.runner(t, "a", regs[0]), w.runner(t, "b", regs[1]), w.runner(t, "c", regs[2])}
	race := func() {
		var wg sync.WaitGroup
		for _, r := range runners {
			for range 3 {
				wg.Go(func() {
					if _, err := r.RunOnce(ctx); err != nil {
						t.Error(err)
					}
				})
			}
		}
		wg.Wait()
	}

	// Not due yet: nothing.
	w.clock.set("2026-03-01T01:59:59Z")
	race()
	if fs := w.firings(t, s.ID); len(fs) != 0 {
		t.Fatalf("fired early: %+v", fs)
	}
	w.clock.set("2026-03-01T02:00:01Z")
	race()
	fs := w.firings(t, s.ID)
	if len(fs) != 1 || fs[0].Status != schedule.FiringFired || fs[0].CampaignID == nil {
		t.Fatalf("after the first firing: %+v", fs)
	}
	c, err := campaign.Get(ctx, w.db, *fs[0].CampaignID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Template != "{discount} off today" || c.DiscountCents != 500 || len(c.Channels) != 2 || c.Audience.String() != (audience.Segment{Levels: []int{3, 4}}).String() ||
		!strings.HasPrefix(c.Name, "Spring sale · schedule ") || !strings.HasSuffix(c.Name, "2026-03-01 10:00 CST") ||
		c.RequestID == nil || *c.RequestID != schedule.RequestID(s.ID, utc("2026-03-01T02:00:00Z")) {
		t.Errorf("the copy: %+v", c)
	}

	// Every runner down for three days, back 30 minutes after the latest
	// firing: it fires once, the two before are skipped.
	w.clock.set("2026-03-04T02:30:00Z")
	race()
	fs = w.firings(t, s.ID)
	if len(fs) != 4 || fs[0].Status != schedule.FiringFired || !fs[0].FireAt.Equal(utc("2026-03-04T02:00:00Z")) ||
		fs[1].Status != schedule.FiringSkipped || fs[2].Status != schedule.FiringSkipped || !strings.HasPrefix(fs[1].Reason, "missed") {
		t.Fatalf("after the outage: %+v", fs)
	}
	// Down again, back two hours after the firing: skipped, not fired.
	w.clock.set("2026-03-05T04:00:00Z")
	race()
	fs = w.firings(t, s.ID)
	if len(fs) != 5 || fs[0].Status != schedule.FiringSkipped || !strings.HasPrefix(fs[0].Reason, "late") {
		t.Fatalf("beyond max lateness: %+v", fs[0])
	}
	if n := w.count(t, `SELECT COUNT(*) FROM sales_promotion WHERE request_id LIKE 'schedule-%'`); n != 2 {
		t.Errorf("%d campaigns created, want 2", n)
	}
	got, _ := schedule.Get(ctx, w.db, s.ID)
	if !got.NextFireAt.Equal(utc("2026-03-06T02:00:00Z")) {
		t.Errorf("next firing %v", got.NextFireAt)
	}
	// /metrics: each firing counted once, by the runner that settled it.
	if f, s, x := counted(t, "fired", regs...), counted(t, "skipped", regs...), counted(t, "failed", regs...); f != 2 || s != 3 || x != 0 {
		t.Errorf("counted fired %v, skipped %v, failed %v; want 2, 3, 0", f, s, x)
	}

	// Paused: nothing fires; resumed: from now on, the pause not made up.
	if _, err := schedule.Pause(ctx, w.db, s.ID); err != nil {
		t.Fatal(err)
	}
	w.clock.set("2026-03-06T02:00:30Z")
	race()
	if fs := w.firings(t, s.ID); len(fs) != 5 {
		t.Fatalf("a paused schedule fired: %+v", fs[0])
	}
	if ch, err := schedule.Resume(ctx, w.db, s.ID, utc("2026-03-06T02:01:00Z")); err != nil || !ch.Changed ||
		!ch.Schedule.NextFireAt.Equal(utc("2026-03-07T02:00:00Z")) {
		t.Fatalf("resume: %+v, %v", ch, err)
	}
	if _, err := schedule.Delete(ctx, w.db, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := schedule.Resume(ctx, w.db, s.ID, utc("2026-03-06T02:01:00Z")); !errors.Is(err, schedule.ErrConflict) {
		t.Errorf("resuming a deleted schedule: %v", err)
	}
}

// counted sums mkt_schedule_firings_total{outcome} over registries.
func counted(t *testing.T, outcome string, regs ...*prometheus.Registry) float64 {
	t.Helper()
	sum := 0.0
	for _, reg := range regs {
		sum += mkttest.MetricValue(t, reg, "mkt_schedule_firings_total", map[string]string{"outcome": outcome})
	}
	return sum
}

// TestRunnerTakeOverNeverCreatesTwice: a runner that dies after creating
// its campaign (before marking the firing) leaves the firing to another,
// which finds the campaign by its request id; one that dies before creating
// it leaves the creation to the other, within max lateness, and a skip
// beyond it.
func TestRunnerTakeOverNeverCreatesTwice(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	tmpl := w.template(t)
	w.clock.set("2026-03-01T00:00:00Z")
	now, _ := w.clock.Now(ctx)
	mk := func(lateness time.Duration) *schedule.Schedule {
		s, err := schedule.Create(ctx, w.db, schedule.Spec{Cron: "0 10 * * *", Zone: "Asia/Shanghai", Action: schedule.ActionCampaign,
			TemplateID: tmpl, MaxLateness: lateness}, now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := mk(time.Hour)
	// The dying runner: it holds each firing after creating its campaign;
	// it is "killed" (its context cancelled) once the campaign exists.
	dying := w.runner(t, "dying", nil, func(c *schedule.RunnerConfig) {
		c.Hold, c.HoldAt = time.Hour, schedule.HoldAfterCreate
	})
	w.clock.set("2026-03-01T02:00:05Z")
	dctx, kill := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _, _ = dying.RunOnce(dctx) }()
	reqID := schedule.RequestID(s.ID, utc("2026-03-01T02:00:00Z"))
	mkttest.WaitFor(t, time.Minute, "the dying runner to create the campaign", func() bool {
		_, err := campaign.KindPromotion.GetRunByRequestID(ctx, w.db, reqID)
		return err == nil
	})
	kill()
	<-done
	if fs := w.firings(t, s.ID); len(fs) != 1 || fs[0].Status != schedule.FiringInProgress {
		t.Fatalf("the dead runner's firing: %+v", fs)
	}
	// Before its lease ends nobody takes it over.
	other := w.runner(t, "other", nil)
	w.clock.set("2026-03-01T02:00:30Z")
	if p, err := other.RunOnce(ctx); err != nil || p.Claimed != 0 {
		t.Fatalf("taken over within the lease: %+v %v", p, err)
	}
	w.clock.set("2026-03-01T02:01:10Z")
	if p, err := other.RunOnce(ctx); err != nil || p.Claimed != 1 || p.Fired != 1 {
		t.Fatalf("take over: %+v %v", p, err)
	}
	fs := w.firings(t, s.ID)
	if len(fs) != 1 || fs[0].Status != schedule.FiringFired || fs[0].Attempts != 2 || fs[0].CampaignID == nil {
		t.Fatalf("after the takeover: %+v", fs)
	}
	if n := w.count(t, `SELECT COUNT(*) FROM sales_promotion WHERE request_id = ?`, reqID); n != 1 {
		t.Fatalf("%d campaigns for one firing", n)
	}

	// Dying right after the claim, before creating anything: taken over
	// within max lateness it is created once; a second schedule whose
	// firing is taken over too late is skipped.
	if _, err := schedule.Delete(ctx, w.db, s.ID); err != nil {
		t.Fatal(err)
	}
	w.clock.set("2026-03-02T00:00:00Z")
	now, _ = w.clock.Now(ctx)
	s2, s3 := mk(time.Hour), mk(10*time.Minute)
	dying = w.runner(t, "dying2", nil, func(c *schedule.RunnerConfig) {
		c.Hold, c.HoldAt = time.Hour, schedule.HoldAfterClaim
	})
	w.clock.set("2026-03-02T02:00:05Z")
	dctx, kill = context.WithCancel(ctx)
	done = make(chan struct{})
	go func() { defer close(done); _, _ = dying.RunOnce(dctx) }()
	mkttest.WaitFor(t, time.Minute, "the dying runner to claim a firing", func() bool {
		return w.count(t, `SELECT COUNT(*) FROM schedule_firing WHERE schedule_id IN (?, ?) AND status = 'firing'`, s2.ID, s3.ID) >= 1
	})
	kill()
	<-done
	// The dying runner held the first and never claimed the second: claim
	// it now for the test as another dying runner would.
	w.clock.set("2026-03-02T02:30:00Z") // s3's firing is 30 min late: beyond its 10 min
	if _, err := other.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []uint64{s2.ID, s3.ID} {
		fs := w.firings(t, id)
		if len(fs) != 1 {
			t.Fatalf("schedule %d: %+v", id, fs)
		}
		f := fs[0]
		switch {
		case id == s2.ID && (f.Status != schedule.FiringFired || f.CampaignID == nil):
			t.Errorf("s2 taken over within max lateness: %+v", f)
		case id == s3.ID && f.Status != schedule.FiringSkipped:
			t.Errorf("s3 beyond max lateness: %+v", f)
		}
	}
	if n := w.count(t, `SELECT COUNT(*) FROM sales_promotion WHERE request_id LIKE ?`, "schedule-%"); n != 2 {
		t.Errorf("%d campaigns created, want 2", n)
	}
}

// TestRunnerHotGoods: a hot-goods schedule launches the pending rows of the
// firing's local date, once; a date without rows is skipped with why.
func TestRunnerHotGoods(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// 00:30 in Shanghai is still the day before in UTC: the local date counts.
	w.clock.set("2026-12-01T00:00:00Z")
	now, _ := w.clock.Now(ctx)
	s, err := schedule.Create(ctx, w.db, schedule.Spec{Cron: "30 0 * * *", Zone: "Asia/Shanghai", Action: schedule.ActionHotGoods,
		MaxLateness: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	day, err := hotgoods.ParseDate("2026-12-02")
	if err != nil {
		t.Fatal(err)
	}
	var rows []hotgoods.ParsedRow
	for i, in := range hotgoods.Generate(7, 4) {
		rows = append(rows, hotgoods.ParsedRow{Line: i + 1, Input: in})
	}
	if _, err := hotgoods.Import(ctx, w.db, day, rows); err != nil {
		t.Fatal(err)
	}
	r := w.runner(t, "hg", nil)
	w.clock.set("2026-12-01T16:30:02Z") // 2026-12-02 00:30 CST
	if p, err := r.RunOnce(ctx); err != nil || p.Fired != 1 {
		t.Fatalf("hot-goods firing: %+v %v", p, err)
	}
	fs := w.firings(t, s.ID)
	if len(fs) != 1 || fs[0].CampaignKind == nil || *fs[0].CampaignKind != campaign.KindHotGoods {
		t.Fatalf("firing: %+v", fs)
	}
	run, err := hotgoods.GetRun(ctx, w.db, *fs[0].CampaignID)
	if err != nil || run.Date != "2026-12-02" || run.CreatedBy == "" {
		t.Fatalf("run: %+v %v", run, err)
	}
	w.clock.set("2026-12-02T16:30:02Z") // 2026-12-03: nothing imported
	if p, err := r.RunOnce(ctx); err != nil || p.Skipped != 1 {
		t.Fatalf("empty day: %+v %v", p, err)
	}
	if fs := w.firings(t, s.ID); fs[0].Status != schedule.FiringSkipped || !strings.Contains(fs[0].Reason, "no hot-goods rows imported for 2026-12-03") {
		t.Errorf("empty day: %+v", fs[0])
	}
}

// TestCreateRefuses: what cannot be scheduled stores nothing.
func TestCreateRefuses(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	now := utc("2026-03-01T00:00:00Z")
	for _, tc := range []struct {
		spec schedule.Spec
		want string
	}{
		{schedule.Spec{Cron: "0 10 * * *", Zone: "UTC", Action: schedule.ActionCampaign, TemplateID: 999, MaxLateness: time.Hour}, "no such promotion"},
		{schedule.Spec{Cron: "0 10 * * *", Zone: "UTC", Action: schedule.ActionCampaign, TemplateKind: campaign.KindCoupon, TemplateID: 1, MaxLateness: time.Hour}, "coupon push cannot be a template"},
		{schedule.Spec{Cron: "0 10 * * *", Zone: "UTC", Action: schedule.ActionHotGoods, MaxLateness: time.Second}, "max lateness 1s"},
		{schedule.Spec{Cron: "0 10 * * *", Zone: "UTC", Action: "", MaxLateness: time.Hour}, "action"},
	} {
		if _, err := schedule.Create(ctx, w.db, tc.spec, now); err == nil || !errors.Is(err, schedule.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.spec, err, tc.want)
		}
	}
	if n := w.count(t, `SELECT COUNT(*) FROM schedule`); n != 0 {
		t.Errorf("%d schedules stored", n)
	}
}
