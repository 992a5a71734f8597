package pushd_test

// Multi-process tests of the push pipeline on the real stack: the pushd
// binary, built once, runs as separate processes in one consumer group
// against MariaDB, Redis and RocketMQ, sending to an in-process provider
// simulator whose per-member delivery counts are the oracle.

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/bench"
	"mkt/pkg/campaign"
	"mkt/pkg/childproc"
	"mkt/pkg/membership"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/pushtest"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// These tests spend most of their time waiting — on real minutes (the
// schedule tests), on pushd processes starting, settling and draining — not
// computing, yet go test runs only GOMAXPROCS parallel tests at once (2 on
// a small machine), queueing the waiting ones behind each other. Unless
// -test.parallel is given, TestMain lets them all run at once; the few that
// keep the CPUs busy take the cpuSlot, one at a time.
func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		if err := flag.Set("test.parallel", "16"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	code := m.Run()
	pushtest.RemoveBuilt()
	os.Exit(code)
}

// cpuSlots lets one CPU-heavy test run at a time (see TestMain): each one's
// simulator runs in this race-instrumented process, and starved it answers
// past pushd's provider timeout, which retries — a duplicate delivery.
var cpuSlots = make(chan struct{}, 1)

// cpuSlot waits for the CPU slot and holds it until t ends: for the tests
// that push thousands of deliveries through a pair of pushd.
func cpuSlot(t *testing.T) {
	t.Helper()
	cpuSlots <- struct{}{}
	t.Cleanup(func() { <-cpuSlots })
}

// pushdBinary builds cmd/pushd once per run.
func pushdBinary(t *testing.T) string {
	t.Helper()
	bin, err := pushtest.BuildPushd()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// stack is one test's isolated slice of the real stack: its own database,
// RocketMQ namespace and simulator, and the pushd processes it started.
type stack struct {
	t *testing.T
	*env
}

// env is the part of a stack its subtests share.
type env struct {
	dsn    string
	db     *store.DB
	ns     string
	mq     mq.Config
	sim    *bench.Simulator
	tx     *mq.TxProducer
	prod   *mq.Producer
	logDir string
	mu     sync.Mutex
	procs  []*childproc.Proc
	logs   map[string]string // instance → log file
	files  []*os.File        // the open log files
}

// logLevel is the log level of the pushd a test starts (their logs are
// files kept for a failing test): MKT_TEST_LOG's, else info.
func logLevel() string {
	if level, ok := mkttest.LogLevel(); ok {
		return level.String()
	}
	return "info"
}

// newStack seeds members into a fresh database and starts a simulator.
func newStack(t *testing.T, members int64, simCfg providersim.Config) *stack {
	t.Helper()
	mkttest.Reachable(t, "Redis", mkttest.RedisAddr(t))
	s := &stack{t: t, env: &env{logDir: t.TempDir(), logs: map[string]string{}, mq: mqtest.Config(t)}}
	pushdBinary(t) // build before anything is started
	s.dsn = storetest.NewDatabase(t)
	s.db = storetest.Open(t, store.Config{DSN: s.dsn})
	storetest.SeedMembers(t, s.db, members)
	s.ns = mkttest.Namespace(t, "e2e_")

	simCfg.Logger = mkttest.Logger()
	sim, err := bench.StartSimulator("127.0.0.1:0", simCfg)
	if err != nil {
		t.Fatal(err)
	}
	s.sim = sim
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sim.Shutdown(ctx)
	})

	// Cleanups run last-in first-out: the processes stop before the
	// simulator and the database go away.
	t.Cleanup(s.stopAll)

	tx, err := mq.NewTxProducer(mq.TxProducerConfig{Config: s.mq, Group: s.topic(campaign.GroupTx),
		Check: campaign.TxCheck(s.db, mkttest.Logger(), nil)})
	if err != nil {
		t.Fatal(err)
	}
	s.tx = tx
	prod, err := mq.NewProducer(mq.ProducerConfig{Config: s.mq, Group: s.topic("mkt_e2e")})
	if err != nil {
		t.Fatal(err)
	}
	s.prod = prod
	t.Cleanup(func() { _ = tx.Shutdown(); _ = prod.Shutdown() })
	return s
}

// with returns the stack for a subtest.
func (s *stack) with(t *testing.T) *stack { return &stack{t: t, env: s.env} }

func (s *stack) topic(name string) string { return s.ns + "_" + name }

// startPushd starts one pushd process named instance sending sms, email and
// app to the simulator.
func (s *stack) startPushd(instance string, args ...string) *childproc.Proc {
	s.t.Helper()
	logPath := filepath.Join(s.logDir, instance+".log")
	f, err := os.Create(logPath)
	if err != nil {
		s.t.Fatal(err)
	}
	p, err := childproc.Start(childproc.Config{
		Bin:       pushdBinary(s.t),
		Instance:  instance,
		MySQLDSN:  s.dsn,
		Namespace: s.ns,
		Env: []string{
			"MKT_PROVIDER_SMS_URL=" + s.sim.ChannelURL(provider.ChannelSMS),
			"MKT_PROVIDER_EMAIL_URL=" + s.sim.ChannelURL(provider.ChannelEmail),
			"MKT_PROVIDER_APP_URL=" + s.sim.ChannelURL(provider.ChannelApp),
		},
		Args:     args,
		Log:      f,
		LogLevel: logLevel(),
	})
	if err != nil {
		_ = f.Close()
		s.t.Fatal(err)
	}
	s.mu.Lock()
	s.files = append(s.files, f)
	s.procs = append(s.procs, p)
	s.logs[instance] = logPath
	s.mu.Unlock()
	return p
}

// startCluster starts n pushd processes, waits until all are ready, then
// lets the consumer group settle: a consumer joining makes the broker tell
// the others to rebalance at once, but the queues move only once each
// side's rebalance ran.
func (s *stack) startCluster(n int, args ...string) []*childproc.Proc {
	s.t.Helper()
	ps := make([]*childproc.Proc, n)
	for i := range ps {
		ps[i] = s.startPushd(fmt.Sprintf("pushd-%d", i+1), args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := childproc.WaitAllReady(ctx, ps); err != nil {
		s.t.Fatal(err)
	}
	// Not observable from outside: the RocketMQ client says nothing when
	// its rebalance moved queues, so the group gets time to settle.
	time.Sleep(5 * time.Second)
	return ps
}

// stopAll stops the processes still running and, if the test failed, shows
// the end of every log.
func (s *stack) stopAll() {
	s.mu.Lock()
	ps := slices.Clone(s.procs)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	codes, err := childproc.StopAll(ctx, ps)
	if err != nil {
		s.t.Errorf("stopping pushd: %v", err)
	}
	s.mu.Lock()
	for _, f := range s.files {
		_ = f.Close()
	}
	s.mu.Unlock()
	for i, p := range ps {
		if codes[i] != 0 && !p.Killed() {
			s.t.Errorf("pushd %s exited with %d", p.Instance(), codes[i])
		}
	}
	if s.t.Failed() {
		// The test's temporary directory goes away: keep the logs.
		keep, err := os.MkdirTemp("", "mkt-e2e-"+s.ns+"-")
		if err == nil {
			for inst, path := range s.logs {
				if b, err := os.ReadFile(path); err == nil {
					_ = os.WriteFile(filepath.Join(keep, inst+".log"), b, 0o600)
				}
			}
			s.t.Logf("pushd logs kept in %s", keep)
		}
		for inst, path := range s.logs {
			b, _ := os.ReadFile(path)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			s.t.Logf("--- last lines of %s's log:\n%s", inst, strings.Join(lines[max(0, len(lines)-20):], "\n"))
		}
	}
}

// spec is a full-reduction campaign to seg on the given channels.
func spec(name string, shardSize int, seg audience.Segment, channels ...provider.Channel) campaign.Spec {
	return campaign.Spec{
		Name: name, Offer: campaign.OfferFullReduction, ThresholdCents: 10000, DiscountCents: 1500,
		Template: "Spend {threshold}, save {discount}!", Channels: channels, Audience: seg, ShardSize: shardSize,
	}
}

// create stores a campaign and publishes its created event, as mktctl does.
func (s *stack) create(sp campaign.Spec) uint64 {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cr := campaign.Creator{DB: s.db, Tx: s.tx, Topic: s.topic(campaign.TopicEvents)}
	res, err := cr.Create(ctx, sp, campaign.NewRequestID("e2e"))
	if err != nil {
		s.t.Fatalf("create campaign %q: %v", sp.Name, err)
	}
	return res.Campaign.ID
}

func (s *stack) control() *campaign.Control {
	return &campaign.Control{DB: s.db, Publisher: s.prod, EventsTopic: s.topic(campaign.TopicEvents),
		Publish: campaign.PublishOptions{Topic: s.topic(campaign.TopicShards)}, Logger: mkttest.Logger()}
}

func (s *stack) campaign(id uint64) *campaign.Campaign {
	s.t.Helper()
	c, err := campaign.Get(context.Background(), s.db, id)
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

func (s *stack) progress(id uint64) campaign.Progress {
	s.t.Helper()
	p, err := campaign.ShardProgress(context.Background(), s.db, campaign.KindPromotion, id)
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

// waitStatus waits until the campaign is in status want; another finished
// status fails the test at once.
func (s *stack) waitStatus(id uint64, want campaign.Status, d time.Duration) {
	s.t.Helper()
	mkttest.WaitFor(s.t, d, fmt.Sprintf("campaign %d to be %s", id, want), func() bool {
		c := s.campaign(id)
		if c.Status == want {
			return true
		}
		if c.Status.Finished() || c.Status == campaign.StatusPaused {
			s.t.Fatalf("campaign %d is %s (%s), want %s; progress %+v", id, c.Status, c.StatusReason, want, s.progress(id))
		}
		return false
	})
}

// delivered returns how many deliveries of the campaign the simulator
// counted on ch.
func (s *stack) delivered(id uint64, ch provider.Channel) uint64 {
	s.t.Helper()
	rep, err := s.sim.Deliveries(providersim.DeliveryQuery{CampaignID: id, Channel: ch, Limit: 1})
	if err != nil {
		s.t.Fatal(err)
	}
	return rep.Channel(ch).Deliveries
}

// expectedIDs lists the members an everyone campaign reaches on sms.
func (s *stack) expectedIDs(ch provider.Channel) []uint64 {
	s.t.Helper()
	q, err := bench.EveryoneQuery(ch)
	if err != nil {
		s.t.Fatal(err)
	}
	var ids []uint64
	if err := s.db.SelectContext(context.Background(), &ids, q); err != nil {
		s.t.Fatal(err)
	}
	return ids
}

// counts returns the simulator's delivery count of each id.
func (s *stack) counts(id uint64, ch provider.Channel, ids []uint64) map[uint64]int {
	out := make(map[uint64]int, len(ids))
	for _, m := range ids {
		out[m] = s.sim.Count(id, ch, m)
	}
	return out
}

// records returns the member ids of the campaign's push_message rows on ch
// with status st.
func (s *stack) records(id uint64, ch provider.Channel, st string) []uint64 {
	s.t.Helper()
	var ids []uint64
	if err := s.db.SelectContext(context.Background(), &ids, `SELECT member_id FROM push_message
		WHERE campaign_kind = 'promotion' AND campaign_id = ? AND channel = ? AND status = ? ORDER BY member_id`,
		id, ch, st); err != nil {
		s.t.Fatal(err)
	}
	return ids
}

// audit checks the simulator's deliveries of an everyone campaign.
func (s *stack) audit(id uint64, ch provider.Channel) bench.Audit {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := bench.AuditEveryone(ctx, s.db, s.sim.Simulator, id, ch)
	if err != nil {
		s.t.Fatal(err)
	}
	return a
}

// simReport describes the simulator's side, to tell a pushd fault from an
// overloaded simulator (calls slower than the provider timeout are retried).
func (s *stack) simReport() string {
	st, c := s.sim.Stats(), s.sim.Calls()
	return fmt.Sprintf("simulator: %d calls, %d abandoned by the client, %d errors, %d timeouts; server-side p99 %v, max %v",
		c.Calls, st.Abandoned, st.Errors, st.Timeouts, c.P99, c.Max)
}

// logged counts the log lines of every process with message msg about
// campaign id.
func (s *stack) logged(id uint64, msg string) int {
	s.t.Helper()
	return sum(s.loggedBy(id, msg))
}

// loggedBy counts, per pushd instance, the log lines with message msg
// about campaign id.
func (s *stack) loggedBy(id uint64, msg string) map[string]int {
	s.t.Helper()
	s.mu.Lock()
	logs := maps.Clone(s.logs)
	s.mu.Unlock()
	out := map[string]int{}
	for inst, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			s.t.Fatal(err)
		}
		_ = childproc.ScanLog(bytes.NewReader(b), func(r childproc.LogRecord) {
			if c, _ := r.Uint("campaign_id"); r.Msg() == msg && c == id {
				out[inst]++
			}
		})
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestTwoPushdShareTheWork runs two pushd processes in one consumer group:
// a 50,000-member campaign to everyone reaches every active member exactly
// once with both processes working, and a segment campaign running
// alongside reaches exactly its matching members.
func TestTwoPushdShareTheWork(t *testing.T) {
	t.Parallel()
	cpuSlot(t)
	const members = 50_000
	s := newStack(t, members, providersim.Config{Latency: providersim.Latency{Min: time.Millisecond}, Seed: 7})
	// At most 256 calls in flight per process: the race-instrumented
	// simulator in this process answers a few thousand calls a second, and
	// with pushd's default 3,000 in flight calls queue past the provider
	// timeout (5s) and are retried — a duplicate whenever the late answer
	// had delivered. That is HTTP's at-least-once, which the idempotency key
	// covers at a real provider; the simulator counts it (simReport says so).
	s.startCluster(2, "--max-in-flight", "256")

	t.Run("campaigns", func(t *testing.T) {
		t.Run("everyone exactly once on both processes", func(t *testing.T) {
			t.Parallel()
			s := s.with(t)
			// 500 shards: the planner publishes tasks 100 per send, each send
			// landing on one queue, so 5 sends spread over 5 of the topic's 8
			// queues — both processes' halves. (At the default 1,000 members
			// per shard, 50 shards are one send, one queue, one process.)
			id := s.create(spec("everyone", 100, audience.Segment{}, provider.ChannelSMS))
			s.waitStatus(id, campaign.StatusCompleted, 3*time.Minute)

			a := s.audit(id, provider.ChannelSMS)
			if !a.OK() || a.Expected < members*9/10 {
				t.Errorf("deliveries: %v; %s", a, s.simReport())
			}
			if sent := s.records(id, provider.ChannelSMS, "sent"); uint64(len(sent)) != a.Expected {
				t.Errorf("push_message: %d sent records, want %d", len(sent), a.Expected)
			}
			if failed := s.records(id, provider.ChannelSMS, "failed"); len(failed) != 0 {
				t.Errorf("push_message: %d failed records, want none", len(failed))
			}
			p := s.progress(id)
			if p.Done != p.Shards || p.Shards != 500 || p.Sent != int64(a.Expected) {
				t.Errorf("shards: %+v, want 500 done with %d sent", p, a.Expected)
			}
			done := s.loggedBy(id, childproc.MsgShardDone)
			t.Logf("shards finished per process: %v", done)
			if len(done) != 2 || done["pushd-1"]+done["pushd-2"] != 500 {
				t.Errorf("shards finished per process %v: want both processes to have worked and 500 in all "+
					"(the consumer group may not have rebalanced before the campaign)", done)
			}

			// The created event delivered twice more: the planners see a
			// completed campaign and create nothing, send nothing.
			c := s.campaign(id)
			ev := campaign.CreatedEvent{Kind: campaign.KindPromotion, RequestID: *c.RequestID}
			msg := ev.Message(s.topic(campaign.TopicEvents), time.Now())
			if err := s.prod.SendBatch(context.Background(), []mq.Message{msg, msg}); err != nil {
				t.Fatal(err)
			}
			mkttest.WaitFor(t, time.Minute, "the planners to see the event twice", func() bool {
				return s.logged(id, "planner: nothing to plan") == 2
			})
			n, err := campaign.CountShards(context.Background(), s.db, campaign.KindPromotion, id)
			if err != nil {
				t.Fatal(err)
			}
			if after := s.audit(id, provider.ChannelSMS); n != 500 || after.Duplicates != 0 || s.campaign(id).Status != campaign.StatusCompleted {
				t.Errorf("after the event was redelivered: %d shards, %v, campaign %s", n, after, s.campaign(id).Status)
			}
		})

		t.Run("segment reaches exactly its members", func(t *testing.T) {
			t.Parallel()
			s := s.with(t)
			seg := audience.Segment{Levels: []int{2, 3}, MinActiveDays: 5, TagsAny: []string{"digital", "fashion"}}
			id := s.create(spec("segment", 200, seg, provider.ChannelSMS, provider.ChannelEmail))
			s.waitStatus(id, campaign.StatusCompleted, 3*time.Minute)

			// The oracle is written here, independently of audience.Where.
			mask := membership.TagDigital.Mask() | membership.TagFashion.Mask()
			oracle := `SELECT a.id FROM membership_account a JOIN membership_filter f ON f.member_id = a.id
				WHERE a.status = 'active' AND f.member_level IN (2, 3) AND f.active_days >= 5
				AND (f.portrait_tags & ?) <> 0`
			ctx := context.Background()
			for _, ch := range []provider.Channel{provider.ChannelSMS, provider.ChannelEmail} {
				col := map[provider.Channel]string{provider.ChannelSMS: "mobile", provider.ChannelEmail: "email"}[ch]
				a, err := bench.AuditQuery(ctx, s.db, s.sim.Simulator, id, ch, oracle+` AND a.`+col+` <> '' ORDER BY a.id`, mask)
				if err != nil {
					t.Fatal(err)
				}
				if !a.OK() || a.Expected == 0 || a.Expected > members/4 {
					t.Errorf("segment deliveries on %s: %v; %s", ch, a, s.simReport())
				}
				t.Logf("segment on %s: %d members", ch, a.Expected)
			}
			// Matching members without an e-mail are recorded failed for want
			// of an address, and nobody else is.
			var noEmail []uint64
			if err := s.db.SelectContext(ctx, &noEmail, oracle+` AND a.email = '' ORDER BY a.id`, mask); err != nil {
				t.Fatal(err)
			}
			if got := s.records(id, provider.ChannelEmail, "failed"); !slices.Equal(got, noEmail) || len(got) == 0 {
				t.Errorf("failed e-mail records: %d, want the %d matching members without an e-mail", len(got), len(noEmail))
			}
		})
	})
}

// TestKilledPushdIsRecovered kills a pushd with SIGKILL in the middle of
// its shards; the other process takes them over from their checkpoints:
// nobody is missed, and the only repeats are the pages that were in flight
// on the dead process (see pkg/push/doc.go).
func TestKilledPushdIsRecovered(t *testing.T) {
	t.Parallel()
	cpuSlot(t)
	const (
		members          = 6000
		pageSize         = 100
		shardConcurrency = 4
	)
	// 50 ms per call and 16 calls in flight: about 320 members/s per
	// process, so a shard of 250 takes most of a second.
	s := newStack(t, members, providersim.Config{Latency: providersim.Latency{Min: 50 * time.Millisecond}, Seed: 11})
	ps := s.startCluster(2, "--max-in-flight", "16", "--shard-concurrency", fmt.Sprint(shardConcurrency),
		"--page-size", fmt.Sprint(pageSize), "--lease", "2s")
	byName := map[string]*childproc.Proc{ps[0].Instance(): ps[0], ps[1].Instance(): ps[1]}

	id := s.create(spec("kill", 250, audience.Segment{}, provider.ChannelSMS))
	mkttest.WaitFor(t, 2*time.Minute, "1,500 deliveries", func() bool { return s.delivered(id, provider.ChannelSMS) >= 1500 })

	// The victim is a process holding running shards right now.
	var running []campaign.Shard
	if err := s.db.SelectContext(context.Background(), &running, `SELECT campaign_kind, campaign_id, shard_no, start_id,
		end_id, expected_members, status, cursor_id, sent, failed, attempts, owner, lease_until, last_error, started_at,
		finished_at FROM campaign_shard WHERE campaign_id = ? AND status = 'running' AND owner <> '' ORDER BY shard_no`, id); err != nil {
		t.Fatal(err)
	}
	if len(running) == 0 {
		t.Fatalf("no shard running after 1,500 deliveries: %+v", s.progress(id))
	}
	victim := byName[running[0].Owner]
	if victim == nil {
		t.Fatalf("shard owner %q is none of the processes", running[0].Owner)
	}
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	survivor := ps[0]
	if survivor == victim {
		survivor = ps[1]
	}
	// Dead: its shards' checkpoints are final until another process claims them.
	var held []campaign.Shard
	if err := s.db.SelectContext(context.Background(), &held, `SELECT campaign_kind, campaign_id, shard_no, start_id,
		end_id, expected_members, status, cursor_id, sent, failed, attempts, owner, lease_until, last_error, started_at,
		finished_at FROM campaign_shard WHERE campaign_id = ? AND status = 'running' AND owner = ? ORDER BY shard_no`,
		id, victim.Instance()); err != nil {
		t.Fatal(err)
	}
	atKill := s.delivered(id, provider.ChannelSMS)
	t.Logf("killed %s after %d deliveries, holding %d shards", victim.Instance(), atKill, len(held))

	s.waitStatus(id, campaign.StatusCompleted, 3*time.Minute)
	if survivor.Exited() {
		t.Fatalf("the survivor %s exited", survivor.Instance())
	}

	a := s.audit(id, provider.ChannelSMS)
	t.Logf("after recovery: %v", a)
	if a.Missing != 0 || a.Unexpected != 0 || a.Delivered != a.Expected {
		t.Errorf("members lost or strays after the kill: %v", a)
	}
	// The documented bound: at most the page in flight of each shard the
	// dead process held — members after its checkpoint, at most a page per
	// shard, at most shard-concurrency × page-size × channels in all.
	bound := uint64(shardConcurrency * pageSize)
	if a.Duplicates > bound || a.DuplicatedMembers != a.Duplicates {
		t.Errorf("%d duplicates (%d members), want at most %d, each member at most twice", a.Duplicates, a.DuplicatedMembers, bound)
	}
	expected := s.expectedIDs(provider.ChannelSMS)
	perShard := map[int]int{}
	for m, n := range s.counts(id, provider.ChannelSMS, expected) {
		if n < 2 {
			continue
		}
		i := slices.IndexFunc(held, func(sh campaign.Shard) bool { return m > sh.CursorID && m >= sh.StartID && m < sh.EndID })
		if i < 0 {
			t.Errorf("member %d delivered %d times, outside the uncommitted page of any shard the dead process held", m, n)
			continue
		}
		perShard[held[i].No]++
	}
	for no, n := range perShard {
		if n > pageSize {
			t.Errorf("shard %d: %d duplicated members, more than one page (%d)", no, n, pageSize)
		}
	}
	if p := s.progress(id); p.Done != p.Shards {
		t.Errorf("shards: %+v", p)
	}
}

// TestControlAcrossProcesses drives pause, resume, cancel and retry-failed
// on campaigns worked by two pushd processes, with provider errors injected,
// and stops one process with SIGTERM in the middle of a campaign.
func TestControlAcrossProcesses(t *testing.T) {
	t.Parallel()
	cpuSlot(t)
	const members = 10_000
	// 2% of calls fail with a 500; with one attempt per recipient each is
	// recorded failed. 20 ms per call, 16 in flight: ~800 members/s each.
	s := newStack(t, members, providersim.Config{Latency: providersim.Latency{Min: 20 * time.Millisecond},
		ErrorRate: 0.02, Seed: 42})
	ps := s.startCluster(2, "--max-in-flight", "16", "--shard-concurrency", "4", "--page-size", "20",
		"--sms-max-attempts", "1", "--drain-timeout", "15s")
	ctl := s.control()
	ctx := context.Background()
	expected := s.expectedIDs(provider.ChannelSMS)
	const shardSize = 20 // 500 shards, 5 task sends: both processes get shards

	// bothRunning waits until each process holds a running shard of id.
	bothRunning := func(id uint64) {
		t.Helper()
		mkttest.WaitFor(t, time.Minute, "both processes to work on the campaign", func() bool {
			var owners []string
			if err := s.db.SelectContext(ctx, &owners, `SELECT DISTINCT owner FROM campaign_shard
				WHERE campaign_id = ? AND status = 'running' AND owner <> ''`, id); err != nil {
				t.Fatal(err)
			}
			return len(owners) == 2
		})
	}
	// settled waits until the simulator's count for id stops moving for 2s.
	settled := func(id uint64) uint64 {
		t.Helper()
		last, since := s.delivered(id, provider.ChannelSMS), time.Now()
		mkttest.WaitFor(t, 30*time.Second, "deliveries to stop", func() bool {
			n := s.delivered(id, provider.ChannelSMS)
			if n != last {
				last, since = n, time.Now()
			}
			return time.Since(since) >= 2*time.Second
		})
		return last
	}

	// failedExactly checks that the members never delivered are exactly
	// those recorded failed, and that nobody got two messages.
	failedExactly := func(id uint64) []uint64 {
		t.Helper()
		var missing []uint64
		for _, m := range expected {
			switch n := s.sim.Count(id, provider.ChannelSMS, m); {
			case n == 0:
				missing = append(missing, m)
			case n > 1:
				t.Errorf("member %d delivered %d times", m, n)
			}
		}
		if got := s.records(id, provider.ChannelSMS, "failed"); !slices.Equal(got, missing) {
			t.Errorf("failed records (%d) differ from the members never delivered (%d)", len(got), len(missing))
		}
		return missing
	}

	t.Run("pause, resume, retry-failed", func(t *testing.T) {
		s := s.with(t)
		id := s.create(spec("pause", shardSize, audience.Segment{}, provider.ChannelSMS))
		bothRunning(id)
		if _, err := ctl.Pause(ctx, id); err != nil {
			t.Fatal(err)
		}
		// Both processes park their shards at the next page.
		mkttest.WaitFor(t, 15*time.Second, "every shard parked", func() bool { return s.progress(id).Running == 0 })
		atPause := settled(id)
		if p := s.progress(id); p.Paused == 0 || p.Done == p.Shards || atPause >= uint64(len(expected)) {
			t.Fatalf("paused too late to test anything: %+v, %d delivered", p, atPause)
		}
		// A negative check: give a delivery that should not happen time
		// to arrive before judging.
		time.Sleep(2 * time.Second)
		if n := s.delivered(id, provider.ChannelSMS); n != atPause {
			t.Errorf("%d deliveries while paused", n-atPause)
		}
		if _, err := ctl.Resume(ctx, id); err != nil {
			t.Fatal(err)
		}
		s.waitStatus(id, campaign.StatusCompleted, 2*time.Minute)
		failed := failedExactly(id) // pause and resume repeated nothing
		if len(failed) == 0 {
			t.Fatal("no delivery failed: the injected errors did not happen")
		}
		t.Logf("%d members failed after the first run", len(failed))

		// retry-failed re-sends to exactly those (errors are still injected,
		// so a few may need another round).
		for round := 1; ; round++ {
			res, err := ctl.RetryFailed(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if res.Published == 0 {
				t.Fatalf("retry-failed round %d published nothing: %+v", round, res)
			}
			s.waitStatus(id, campaign.StatusCompleted, 2*time.Minute)
			left := failedExactly(id)
			t.Logf("retry round %d: %d still failed", round, len(left))
			if len(left) == 0 {
				break
			}
			if round == 4 {
				t.Fatalf("%d members still failed after %d retry rounds", len(left), round)
			}
		}
		if a := s.audit(id, provider.ChannelSMS); !a.OK() {
			t.Errorf("after retries: %v", a)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		s := s.with(t)
		id := s.create(spec("cancel", shardSize, audience.Segment{}, provider.ChannelSMS))
		bothRunning(id)
		if _, err := ctl.Cancel(ctx, id, "test"); err != nil {
			t.Fatal(err)
		}
		mkttest.WaitFor(t, 15*time.Second, "every shard stopped", func() bool {
			p := s.progress(id)
			return p.Running == 0 && p.Pending == 0 && p.Paused == 0
		})
		atCancel := settled(id)
		// A negative check, as after the pause.
		time.Sleep(2 * time.Second)
		if n := s.delivered(id, provider.ChannelSMS); n != atCancel {
			t.Errorf("%d deliveries after cancel", n-atCancel)
		}
		c, p := s.campaign(id), s.progress(id)
		if c.Status != campaign.StatusCancelled || p.Cancelled == 0 || atCancel >= uint64(len(expected)) {
			t.Errorf("cancel: campaign %s, shards %+v, %d delivered", c.Status, p, atCancel)
		}
		if a := s.audit(id, provider.ChannelSMS); a.Duplicates != 0 || a.Unexpected != 0 {
			t.Errorf("after cancel: %v", a)
		}
	})

	t.Run("SIGTERM drains", func(t *testing.T) {
		s := s.with(t)
		id := s.create(spec("drain", shardSize, audience.Segment{}, provider.ChannelSMS))
		bothRunning(id)
		leaving, staying := ps[0], ps[1]
		began := time.Now()
		if err := leaving.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		code, err := leaving.Wait(wctx)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(began)
		if code != 0 || took > 15*time.Second+5*time.Second {
			t.Errorf("SIGTERM: exit code %d after %v, want 0 within the 15s drain timeout", code, took)
		}
		t.Logf("%s drained in %v", leaving.Instance(), took.Round(time.Millisecond))
		// Its shards were released at a committed page; the other process
		// finishes them and repeats nothing.
		s.waitStatus(id, campaign.StatusCompleted, 3*time.Minute)
		if staying.Exited() {
			t.Fatalf("%s exited", staying.Instance())
		}
		failedExactly(id)
	})
}
