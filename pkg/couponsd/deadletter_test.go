package couponsd

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mkt/pkg/cache"
	"mkt/pkg/cache/cachetest"
	"mkt/pkg/coupon"
	"mkt/pkg/deadletter"
	"mkt/pkg/login"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// dropDrainTopics deletes the drain group's retry topic when the test ends
// (testTopic deletes the login topic and the couponsd group's).
func dropDrainTopics(t *testing.T, cfg mq.Config, group string) {
	mqtest.DeleteAtEnd(t, cfg, mq.RetryTopic(group+deadletter.DrainGroupSuffix))
}

// TestDeadLettersDrainedAndReplayed: MariaDB goes away (a proxy in front of
// it is cut) for longer than the login consumer's retries last. The logins
// of that spell and a poison message end in the dead-letter topic, counted
// in the metrics; the drain keeps them until MariaDB is back, then stores
// each once. Replaying them (twice, and from two replays at once) issues
// every member exactly its one coupon, also to the member whose login had
// been handled before; a replayed poison message is dead-lettered again as
// a new dead letter naming the one it replays.
func TestDeadLettersDrainedAndReplayed(t *testing.T) {
	t.Parallel()
	const members = 30
	w := newProxiedWorld(t, members, "dlq")
	ctx, db, pdb, proxy, c, mqc, sfx, topic, group := t.Context(), w.db, w.pdb, w.proxy, w.cache, w.mq, w.sfx, w.topic, w.group
	now := time.Now()
	cp := createCoupon(t, db, newCouponState(t, c, db), baseSpec(now), now)
	reg := prometheus.NewRegistry()
	svc, err := New(Config{
		Options: Options{Group: group, Topic: topic, Instance: "couponsd_dlq_" + sfx, Concurrency: 16, MaxReconsume: 2,
			ActiveTTL: time.Minute, SyncInterval: time.Minute, DrainDLQ: true},
		DB: pdb, Cache: c, MQ: mqc, Logger: mkttest.Logger(), Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := startAll(t, svc.Components())
	t.Cleanup(stop)
	p, err := mq.NewProducer(mq.ProducerConfig{Config: mqc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	pub := login.Publisher{Sender: p, Topic: topic}

	// Member 30 logs in while all is well: it holds the coupon.
	if err := pub.Publish(ctx, login.Event{MemberID: members, LoginAt: now}); err != nil {
		t.Fatal(err)
	}
	holds := func(member int64) int { // items of the coupon member holds
		items, err := coupon.MemberItems(ctx, db, member, coupon.MemberItemsOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, it := range items {
			if it.CouponID == cp.ID {
				n++
			}
		}
		return n
	}
	mkttest.WaitFor(t, 60*time.Second, "member 30 issued its coupon", func() bool { return holds(members) == 1 })
	mkttest.WaitFor(t, 30*time.Second, "the drain registered", func() bool {
		return deadletter.CheckGroup(ctx, db, group) == nil
	})

	// MariaDB goes away for longer than the retries (1 s + 5 s) last.
	proxy.Cut()
	var evs []login.Event
	for m := int64(1); m <= members; m++ { // member 30 again: already handled
		evs = append(evs, login.Event{MemberID: m, LoginAt: now, DeviceID: "phone\x1b[31m"})
	}
	if err := pub.Publish(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	if err := p.Send(ctx, mq.Message{Topic: topic, Tag: login.Tag, Keys: []string{"poison"}, Body: []byte("{not json\x1b[2J")}); err != nil {
		t.Fatal(err)
	}
	mkttest.WaitFor(t, 90*time.Second, "every login of the outage dead-lettered", func() bool {
		return mkttest.MetricValue(t, reg, "mkt_coupon_logins_dead_lettered_total", map[string]string{"reason": "exhausted"}) >= members &&
			mkttest.MetricValue(t, reg, "mkt_coupon_logins_dead_lettered_total", map[string]string{"reason": "invalid"}) >= 1
	})
	mkttest.WaitFor(t, 30*time.Second, "the drain failing to store while MariaDB is away", func() bool {
		return mkttest.MetricValue(t, reg, "mkt_mq_dead_letter_store_errors_total", nil) > 0
	})
	proxy.Restore()
	mkttest.WaitFor(t, 90*time.Second, "the drain stored every dead letter", func() bool {
		n, err := deadletter.Count(ctx, db, group)
		return err == nil && n.Pending >= members+1
	})
	// Delivery is at least once: the broker may hand a login over twice (a
	// second dead letter for the same member), and a login whose handler
	// gave up while its batch was still writing through the outage may be
	// issued when MariaDB is back although its message was dead-lettered.
	// Neither may give a member a second coupon.
	if a := auditItems(t, db, cp.ID); a.OverLimit != 0 {
		t.Fatalf("before the replay: %d items beyond the per-member limit 1", a.OverLimit)
	}
	if n := holds(members); n != 1 {
		t.Fatalf("member %d holds %d items: it lost its coupon", members, n)
	}
	letters, err := deadletter.List(ctx, db, deadletter.ListOptions{Group: group, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var poisonID string
	byKey := map[string]bool{}
	for _, l := range letters {
		if l.Topic != topic || l.MsgID == "" || !l.BornAt.Valid || !l.StoredAt.Valid || l.ReplayedAt.Valid {
			t.Errorf("dead letter %+v", l)
		}
		if l.Keys == "poison" {
			poisonID = l.MsgID
			if !strings.Contains(l.Reason, "invalid event") || l.Tag != login.Tag {
				t.Errorf("poison dead letter: reason %q tag %q", l.Reason, l.Tag)
			}
			if p := deadletter.BodyPreview(l.Body, 100); strings.ContainsRune(p, '\x1b') || !strings.Contains(p, `\x1b[2J`) {
				t.Errorf("body preview not escaped: %q", p)
			}
			continue
		}
		byKey[l.Keys] = true
		if l.Reason == "" || l.ReconsumeTimes < 1 {
			t.Errorf("exhausted dead letter %s: reason %q, reconsume times %d", l.MsgID, l.Reason, l.ReconsumeTimes)
		}
	}
	if poisonID == "" || len(byKey) != members {
		t.Fatalf("dead letters: poison %q, %d members of %d", poisonID, len(byKey), members)
	}
	stored := len(letters) // members+1, or more when the broker delivered a login twice
	var ids []string
	for _, l := range letters {
		ids = append(ids, l.MsgID)
	}

	// A dry run changes nothing.
	dry, err := deadletter.Replay(ctx, db, p, deadletter.ReplayOptions{Group: group, All: true, DryRun: true})
	if err != nil || len(dry) != stored || dry[0].Outcome != deadletter.OutcomeWouldReplay {
		t.Fatalf("dry run: %v %+v", err, dry)
	}
	// Two replays at once: each dead letter is published by one of them.
	// They name the stored letters: with All, a replay that starts late
	// would also take the poison the other one replayed, dead-lettered and
	// stored again meanwhile (a new dead letter, rightly replayable).
	var wg sync.WaitGroup
	results := make([][]deadletter.ReplayResult, 2)
	for i := range results {
		wg.Go(func() {
			r, err := deadletter.Replay(ctx, db, p, deadletter.ReplayOptions{Group: group, MsgIDs: ids, By: "test"})
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		})
	}
	wg.Wait()
	replayed := 0
	for _, rs := range results {
		for _, r := range rs {
			if r.Outcome == deadletter.OutcomeReplayed {
				replayed++
			}
		}
	}
	if replayed != stored {
		t.Fatalf("replayed %d, want %d: %+v", replayed, stored, results)
	}
	mkttest.WaitFor(t, 60*time.Second, "every member holds its coupon", func() bool { return auditItems(t, db, cp.ID).Holders == members })
	// The replayed poison is dead-lettered again, as a new dead letter.
	mkttest.WaitFor(t, 60*time.Second, "the replayed poison message dead-lettered again", func() bool {
		ls, err := deadletter.List(ctx, db, deadletter.ListOptions{Group: group, Limit: 100, PendingOnly: true})
		return err == nil && len(ls) == 1 && ls[0].Properties()[deadletter.PropReplayOf] == poisonID
	})
	// Replaying the same dead letters again publishes nothing.
	again, err := deadletter.Replay(ctx, db, p, deadletter.ReplayOptions{Group: group, MsgIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range again {
		if r.Outcome != deadletter.OutcomeAlreadyReplayed {
			t.Errorf("second replay of %s: %s", r.MsgID, r.Outcome)
		}
	}
	// And a replayed login delivered once more (as if replayed twice)
	// issues nothing: lazy issuance tops a member up to its limit.
	if err := pub.Publish(ctx, evs[:5]...); err != nil {
		t.Fatal(err)
	}
	mkttest.WaitFor(t, 60*time.Second, "the replay metric", func() bool {
		return mkttest.MetricValue(t, reg, "mkt_coupon_logins_replayed_total", nil) >= members
	})
	time.Sleep(2 * time.Second) // a negative check: let the repeated logins land before judging
	for _, p := range auditItems(t, db, cp.ID).Broken() {
		t.Error(p)
	}
	got, err := coupon.Get(ctx, db, cp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.IssuedCount != members {
		t.Errorf("issued_count %d, want %d", got.IssuedCount, members)
	}
	if v := mkttest.MetricValue(t, reg, "mkt_mq_dead_letters_drained_total", map[string]string{"group": group}); v != float64(stored+1) {
		t.Errorf("drained %v, want %d (the dead letters and the replayed poison)", v, stored+1)
	}
	if _, err := deadletter.Replay(ctx, db, p, deadletter.ReplayOptions{Group: group + "x", All: true}); err == nil {
		t.Error("replay of an undrained group accepted")
	}
}

// proxiedWorld is a couponsd test world whose service reaches MariaDB
// through a proxy the test can cut: the database (seeded with members), a
// pool through the proxy, Redis, the broker with a fresh topic and group.
type proxiedWorld struct {
	db, pdb      *store.DB
	proxy        *storetest.Proxy
	cache        *cache.Client
	mq           mq.Config
	sfx          string
	topic, group string
}

func newProxiedWorld(t *testing.T, members int64, name string) *proxiedWorld {
	t.Helper()
	w := &proxiedWorld{}
	dsn := storetest.NewDatabase(t)
	w.db = storetest.Open(t, store.Config{DSN: dsn})
	storetest.SeedMembers(t, w.db, members)
	proxy, pdsn := storetest.NewProxy(t, dsn)
	w.proxy, w.pdb = proxy, storetest.Open(t, store.Config{DSN: pdsn})
	w.cache, w.mq, w.sfx = cachetest.Open(t, cache.Config{PoolSize: 64}), mqtest.Config(t), mkttest.Namespace(t, "")
	w.topic, w.group = "coupontest_"+name+"_"+w.sfx, "coupontest_"+name+"g_"+w.sfx
	testTopic(t, w.mq, w.topic, w.group)
	dropDrainTopics(t, w.mq, w.group)
	return w
}
