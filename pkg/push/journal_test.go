package push_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/mkttest"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/push"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// gatedSender is a provider double (the provider is outside the system; the
// database under test is the real one): calls for members above
// holdAbove wait until release, every call is counted per member, and every
// recipient is accepted.
type gatedSender struct {
	batch     int
	holdAbove uint64

	mu       sync.Mutex
	sends    map[uint64]int
	waiting  int
	answered int // recipients of calls that returned without waiting
	gate     chan struct{}
	once     sync.Once
}

func newGatedSender(batch int, holdAbove uint64) *gatedSender {
	return &gatedSender{batch: batch, holdAbove: holdAbove, sends: map[uint64]int{}, gate: make(chan struct{})}
}

func (g *gatedSender) Name() string  { return "gated" }
func (g *gatedSender) MaxBatch() int { return g.batch }

func (g *gatedSender) Send(ctx context.Context, msg provider.Message, to []provider.Recipient) []provider.Result {
	g.mu.Lock()
	for _, r := range to {
		g.sends[r.MemberID]++
	}
	hold := to[0].MemberID > g.holdAbove
	if hold {
		g.waiting++
	} else {
		g.answered += len(to)
	}
	g.mu.Unlock()
	if hold {
		<-g.gate // on the wire: the message went out, the answer is late
	}
	res := make([]provider.Result, len(to))
	for i, r := range to {
		res[i] = provider.Result{MemberID: r.MemberID, OK: true, ProviderID: fmt.Sprintf("g-%d", r.MemberID)}
	}
	return res
}

func (g *gatedSender) release() { g.once.Do(func() { close(g.gate) }) }

// held is how many calls wait at the gate.
func (g *gatedSender) held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

// answeredCount is how many recipients' calls returned at once.
func (g *gatedSender) answeredCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.answered
}

// counts returns sends per member and how many members got more than one.
func (g *gatedSender) counts() (map[uint64]int, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	dups := 0
	out := make(map[uint64]int, len(g.sends))
	for id, n := range g.sends {
		out[id] = n
		if n > 1 {
			dups++
		}
	}
	return out, dups
}

// smsAudience is the seeded members an SMS campaign to everyone reaches.
func (e *testEnv) smsAudience() []uint64 {
	return e.ids(`SELECT id FROM membership_account WHERE status = 'active' AND mobile <> ''`)
}

// TestJournalRecordsSendsWhileThePageIsInFlight: with the page still
// waiting for some calls, the sends that came back are already recorded and
// counted; a worker that takes the shard over (the first one is as good as
// dead) skips them and sends only the rest. The repeats are exactly the
// calls that were on the wire.
func TestJournalRecordsSendsWhileThePageIsInFlight(t *testing.T) {
	t.Parallel()
	const members = 600
	e := newEnv(t, members, providersim.Config{})
	c, tasks := e.launch(audience.Segment{}, members, "Flash sale: {discount} off", provider.ChannelSMS)
	if len(tasks) != 1 {
		t.Fatalf("want one shard, got %d", len(tasks))
	}
	gs := newGatedSender(50, 300)
	var flushes atomic.Int64 // the flushes pushd's mkt_push_journal_flush_seconds would observe
	w := e.worker(push.Config{Owner: "pushd-a", PageSize: members, Lease: 2 * time.Second, JournalInterval: 20 * time.Millisecond,
		JournalFlushed: func(d time.Duration) {
			if d > 0 {
				flushes.Add(1)
			}
		},
		Providers: map[provider.Channel]push.Sender{provider.ChannelSMS: gs}})
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	aDone := make(chan error, 1)
	go func() { aDone <- w.HandleTask(ctx, tasks[0]) }()

	sentRecords := func() int64 {
		return e.count(`SELECT COUNT(*) FROM push_message WHERE campaign_kind = 'promotion' AND campaign_id = ? AND status = 'sent'`, c.ID)
	}
	want := e.smsAudience()
	mkttest.WaitFor(t, 30*time.Second, "the page's held calls", func() bool { return gs.held() == 6 })
	answered := int64(gs.answeredCount())
	mkttest.WaitFor(t, 30*time.Second, "the answered sends to be journaled", func() bool { return sentRecords() == answered })
	s := e.shard(c.ID, tasks[0].ShardNo)
	if s.Sent != int(answered) || s.CursorID != 0 {
		t.Fatalf("while the page is in flight: shard sent=%d cursor=%d, want %d and 0 (counted with the records, no checkpoint)", s.Sent, s.CursorID, answered)
	}
	if flushes.Load() == 0 {
		t.Error("the sends were journaled, but JournalFlushed was never told of a flush")
	}
	// Worker a is as good as dead: its lease is made to expire and b takes
	// the shard over.
	if _, err := e.db.ExecContext(context.Background(), `UPDATE campaign_shard SET lease_until = CURRENT_TIMESTAMP(3) - INTERVAL 1 SECOND
		WHERE campaign_kind = 'promotion' AND campaign_id = ?`, c.ID); err != nil {
		t.Fatal(err)
	}
	gb := newGatedSender(50, members)
	b := e.worker(push.Config{Owner: "pushd-b", PageSize: members, JournalInterval: 20 * time.Millisecond,
		Providers: map[provider.Channel]push.Sender{provider.ChannelSMS: gb}})
	if err := b.HandleTask(context.Background(), tasks[0]); err != nil {
		t.Fatalf("takeover: %v", err)
	}
	bSends, _ := gb.counts()
	if len(bSends) != len(want)-int(answered) {
		t.Errorf("the taking-over worker sent %d members, want the %d not journaled", len(bSends), len(want)-int(answered))
	}
	for id := range bSends {
		if id <= 300 {
			t.Errorf("member %d was journaled sent but sent again", id)
			break
		}
	}
	// The calls on the wire come back; a's page finds its lease lost and
	// records what it knows without counting it twice.
	gs.release()
	if err := <-aDone; err != nil {
		t.Fatalf("worker a: %v", err)
	}
	_ = w.Stop(context.Background())
	s = e.shard(c.ID, tasks[0].ShardNo)
	if s.Status != campaign.ShardDone || s.Sent != len(want) {
		t.Errorf("shard after takeover: %s sent=%d, want done, %d", s.Status, s.Sent, len(want))
	}
	if n := sentRecords(); n != int64(len(want)) {
		t.Errorf("sent records = %d, want %d", n, len(want))
	}
	aSends, _ := gs.counts()
	dups := 0
	for id := range bSends {
		if aSends[id] > 0 {
			dups++
		}
	}
	if onWire := len(want) - int(answered); dups != onWire {
		t.Errorf("members sent twice = %d, want exactly the %d of the 6 calls on the wire", dups, onWire)
	}
}

// TestDatabaseOutageKeepsThePagesOutcomes: the database goes away while a
// page's calls are on the wire and stays away for longer than the lease;
// the worker keeps the outcomes, commits them when the database is back,
// and nobody is sent twice.
func TestDatabaseOutageKeepsThePagesOutcomes(t *testing.T) {
	t.Parallel()
	const members = 400
	e := newEnv(t, members, providersim.Config{})
	c, tasks := e.launch(audience.Segment{}, members, "Flash sale: {discount} off", provider.ChannelSMS)
	proxy, dsn := storetest.NewProxy(t, e.dsn)
	db := storetest.Open(t, store.Config{DSN: dsn, MaxOpenConns: 8})

	gs := newGatedSender(50, 0) // every call waits for the outage
	w := e.worker(push.Config{DB: db, Owner: "pushd-a", PageSize: 200, Lease: time.Second, JournalInterval: 20 * time.Millisecond,
		Providers: map[provider.Channel]push.Sender{provider.ChannelSMS: gs}})
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop(context.Background()) }()
	done := make(chan error, 1)
	go func() { done <- w.HandleTask(context.Background(), tasks[0]) }()
	mkttest.WaitFor(t, 30*time.Second, "the first page's 4 calls on the wire", func() bool { return gs.held() == 4 })
	proxy.Cut()
	gs.release()
	time.Sleep(2500 * time.Millisecond) // the outage: longer than the lease
	select {
	case err := <-done:
		t.Fatalf("the shard's run ended during the outage: %v", err)
	default:
	}
	proxy.Restore()
	if err := <-done; err != nil {
		t.Fatalf("handle after the outage: %v", err)
	}
	sends, dups := gs.counts()
	if dups != 0 {
		t.Errorf("%d members sent twice across the outage", dups)
	}
	want := e.smsAudience()
	expectExactlyOnce(t, "sms", sends, want)
	s := e.shard(c.ID, tasks[0].ShardNo)
	if s.Status != campaign.ShardDone || s.Sent != len(want) {
		t.Errorf("shard: %s sent=%d, want done, %d", s.Status, s.Sent, len(want))
	}
	if n := e.count(`SELECT COUNT(*) FROM push_message WHERE campaign_id = ? AND status = 'sent'`, c.ID); n != int64(len(want)) {
		t.Errorf("sent records = %d, want %d", n, len(want))
	}
	if st := e.campaign(c.ID).Status; st != campaign.StatusCompleted {
		t.Errorf("campaign %s, want completed", st)
	}
}

// TestSecondCopyOfATaskWaits: the broker may deliver a shard task again
// while its first copy is still being handled by the same worker (after a
// rebalance). The lease, being the worker's own, would let the copy claim
// the shard; the worker refuses it (ErrShardHeld, so it comes back later)
// and nobody is sent twice.
func TestSecondCopyOfATaskWaits(t *testing.T) {
	t.Parallel()
	const members = 200
	e := newEnv(t, members, providersim.Config{})
	_, tasks := e.launch(audience.Segment{}, members, "Flash sale: {discount} off", provider.ChannelSMS)
	gs := newGatedSender(50, 0)
	w := e.worker(push.Config{Owner: "pushd-a", PageSize: members,
		Providers: map[provider.Channel]push.Sender{provider.ChannelSMS: gs}})
	first := make(chan error, 1)
	go func() { first <- w.HandleTask(context.Background(), tasks[0]) }()
	mkttest.WaitFor(t, 30*time.Second, "the first copy's calls on the wire", func() bool { return gs.held() == 4 })
	if err := w.HandleTask(context.Background(), tasks[0]); !errors.Is(err, push.ErrShardHeld) {
		t.Fatalf("second copy while the first runs: %v, want ErrShardHeld", err)
	}
	gs.release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := w.HandleTask(context.Background(), tasks[0]); err != nil {
		t.Fatalf("a copy after the first finished: %v", err)
	}
	sends, dups := gs.counts()
	if dups != 0 {
		t.Errorf("%d members sent twice", dups)
	}
	expectExactlyOnce(t, "sms", sends, e.smsAudience())
}
