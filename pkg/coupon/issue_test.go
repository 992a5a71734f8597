package coupon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/login"
	"mkt/pkg/membership"
	"mkt/pkg/mkttest"
)

func TestCreateIsIdempotentAndPublishes(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	now := time.Now()
	s := baseSpec(now)
	first, err := Create(ctx, e.db, e.state, s, "req-1", now)
	if err != nil || !first.New || first.RedisError != "" {
		t.Fatalf("Create = %+v, %v", first, err)
	}
	again, err := Create(ctx, e.db, e.state, s, "req-1", now)
	if err != nil || again.New || again.Coupon.ID != first.Coupon.ID {
		t.Fatalf("Create again = %+v, %v; want the same coupon, not new", again, err)
	}
	if _, err := Create(ctx, e.db, e.state, Spec{}, "req-2", now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid spec: %v", err)
	}
	list, synced, err := e.state.LoadActive(ctx)
	if err != nil || len(list) != 1 || list[0].ID != first.Coupon.ID {
		t.Fatalf("LoadActive = %v, %v, %v", list, synced, err)
	}
	if ok, _ := e.state.Loaded(ctx, first.Coupon.ID); !ok {
		t.Error("counters of a new coupon not marked loaded")
	}
	changed, err := Disable(ctx, e.db, e.state, first.Coupon.ID)
	if err != nil || !changed {
		t.Fatalf("Disable = %v, %v", changed, err)
	}
	if changed, err := Disable(ctx, e.db, e.state, first.Coupon.ID); err != nil || changed {
		t.Fatalf("Disable twice = %v, %v", changed, err)
	}
	if _, err := Disable(ctx, e.db, e.state, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Disable unknown = %v", err)
	}
	list, _, _ = e.state.LoadActive(ctx)
	if len(list) != 0 {
		t.Errorf("disabled coupon still in the active set")
	}
}

func TestLoginIssuesOnceAndRedeliveryIsHarmless(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	now := time.Now()
	s := baseSpec(now)
	s.PerMemberLimit = 3
	c := e.create(t, s)
	other := e.create(t, baseSpec(now)) // a second active coupon, limit 1
	is := e.issuer(t, nil)

	ev := loginOf(42, now)
	if got := processUntilSettled(t, is, []login.Event{ev}); got != 4 {
		t.Fatalf("first login issued %d items, want 3 + 1", got)
	}
	// The same event again (redelivery), and a later login: nothing more.
	if got := processUntilSettled(t, is, []login.Event{ev, loginOf(42, now.Add(time.Minute))}); got != 0 {
		t.Fatalf("redelivery issued %d more", got)
	}
	if per := checkInvariants(t, e.db, c.ID); per[42] != 3 {
		t.Errorf("member holds %d items of the limit-3 coupon", per[42])
	}
	if per := checkInvariants(t, e.db, other.ID); per[42] != 1 {
		t.Errorf("member holds %d items of the second coupon", per[42])
	}
	checkRedisBelowTruth(t, e, c.ID)
	items, err := MemberItems(t.Context(), e.db, 42, MemberItemsOptions{})
	if err != nil || len(items) != 4 || items[0].CouponName == "" {
		t.Fatalf("MemberItems = %d items, %v", len(items), err)
	}
}

func TestLoginOutsideWindowOrDisabledGetsNothing(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	now := time.Now()
	s := baseSpec(now)
	s.ValidFrom, s.ValidUntil = now.Add(2*time.Minute), now.Add(2*time.Hour)
	future := e.create(t, s)
	disabled := e.create(t, baseSpec(now))
	is := e.issuer(t, nil)
	// Disabled in MySQL only: the issuer's snapshot still lists it, the
	// MySQL transaction must refuse.
	if err := is.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := SetStatus(t.Context(), e.db, disabled.ID, StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if got := processUntilSettled(t, is, []login.Event{loginOf(1, now), loginOf(2, now.Add(-2*time.Hour))}); got != 0 {
		t.Fatalf("issued %d items", got)
	}
	for _, id := range []int64{future.ID, disabled.ID} {
		if per := checkInvariants(t, e.db, id); len(per) != 0 {
			t.Errorf("coupon %d issued to %v", id, per)
		}
		checkRedisBelowTruth(t, e, id)
	}
	// A login inside the window (the account system's clock is a little
	// ahead of ours), and one claiming to be far in the future (taken as now).
	if got := processUntilSettled(t, is, []login.Event{loginOf(3, now.Add(3*time.Minute)), loginOf(4, now.Add(90*time.Minute))}); got != 1 {
		t.Fatalf("logins issued %d, want 1", got)
	}
}

func TestQuotaIsNeverExceeded(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	now := time.Now()
	s := baseSpec(now)
	s.TotalQuota = quota(50)
	s.PerMemberLimit = 2
	c := e.create(t, s)
	is := e.issuer(t, nil)
	evs := loginsOf(100, now)
	got := processUntilSettled(t, is, evs)
	if got != 50 {
		t.Fatalf("issued %d, want the quota 50", got)
	}
	per := checkInvariants(t, e.db, c.ID)
	if len(per) != 25 {
		t.Errorf("%d members served, want 25 (2 each)", len(per))
	}
	checkRedisBelowTruth(t, e, c.ID)
	rc, _ := e.state.ReadCounters(t.Context(), c.ID)
	if rc.Issued != 50 {
		t.Errorf("redis quota counter %d, want 50", rc.Issued)
	}
	// Sold out: more logins cost no MySQL write and issue nothing.
	if got := processUntilSettled(t, is, []login.Event{loginOf(500, now)}); got != 0 {
		t.Errorf("issued %d after the quota ran out", got)
	}
}

// Two devices of one member log in at once, many times, through two
// issuers (two couponsd): exactly the per-member limit is issued.
func TestSameMemberConcurrentLogins(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	now := time.Now()
	s := baseSpec(now)
	s.PerMemberLimit = 2
	c := e.create(t, s)
	issuers := []*Issuer{e.issuer(t, nil), e.issuer(t, nil)}
	var total atomic.Int64
	var wg sync.WaitGroup
	for g := range 40 {
		wg.Go(func() {
			n := processUntilSettled(t, issuers[g%2], []login.Event{loginOf(7, now), loginOf(8, now)})
			total.Add(int64(n))
		})
	}
	wg.Wait()
	if total.Load() != 4 {
		t.Errorf("issued %d items in total, want 2 members × 2", total.Load())
	}
	per := checkInvariants(t, e.db, c.ID)
	if per[7] != 2 || per[8] != 2 {
		t.Errorf("items per member %v", per)
	}
	checkRedisBelowTruth(t, e, c.ID)
}

// Two issuers share logins (with duplicates) while Redis loses the test's
// keys twice mid-run: no member above its limit, issued never above the
// quota, every member served in the end (the quota covers them all).
func TestTwoIssuersAndRedisFlushedMidRun(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	now := time.Now()
	s := baseSpec(now)
	s.PerMemberLimit = 2
	s.TotalQuota = quota(2 * 3000)
	c := e.create(t, s)
	limited := baseSpec(now)
	limited.TotalQuota = quota(700)
	lc := e.create(t, limited)
	fast := func(cfg *IssuerConfig) { cfg.ActiveTTL = 5 * time.Millisecond }
	issuers := []*Issuer{e.issuer(t, fast), e.issuer(t, fast)}
	const members = 3000
	var wg sync.WaitGroup
	var batches atomic.Int64
	for w := range 6 {
		wg.Go(func() {
			var batch []login.Event
			for m := int64(1 + w%3); m <= members; m += 3 { // every member seen by two workers
				batch = append(batch, loginOf(m, now))
				if len(batch) == 50 {
					processUntilSettled(t, issuers[w%2], batch)
					batches.Add(1)
					batch = nil
				}
			}
			processUntilSettled(t, issuers[w%2], batch)
		})
	}
	// Redis loses the keys a third and two thirds of the way through.
	const total = 6 * members / 3 / 50
	for _, at := range []int64{total / 3, 2 * total / 3} {
		mkttest.WaitFor(t, time.Minute, fmt.Sprintf("%d batches issued", at), func() bool { return batches.Load() >= at })
		if _, err := e.cache.DeleteAll(ctx); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if batches.Load() < total {
		t.Fatalf("only %d batches ran", batches.Load())
	}
	per := checkInvariants(t, e.db, c.ID)
	missing := 0
	for m := int64(1); m <= members; m++ {
		if per[m] != 2 {
			missing++
		}
	}
	if missing != 0 {
		t.Errorf("%d members without their 2 items", missing)
	}
	lper := checkInvariants(t, e.db, lc.ID)
	if len(lper) != 700 {
		t.Errorf("quota-700 coupon issued to %d members", len(lper))
	}
	// Let the repair settle what a flush left pending, then Redis must not
	// overstate MySQL.
	if _, err := e.state.RepairStale(ctx, e.db, c.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.state.RepairStale(ctx, e.db, lc.ID, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkRedisBelowTruth(t, e, c.ID)
	checkRedisBelowTruth(t, e, lc.ID)
}

// Redis is wrong in the dangerous direction (it forgot issued items and the
// quota counter): MySQL alone still refuses to over-issue and Redis is
// corrected.
func TestMySQLIsTheLastWord(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	now := time.Now()
	s := baseSpec(now)
	s.TotalQuota = quota(10)
	c := e.create(t, s)
	is := e.issuer(t, nil)
	evs := loginsOf(10, now)
	if got := processUntilSettled(t, is, evs); got != 10 {
		t.Fatalf("issued %d, want 10", got)
	}
	// Wipe the counts and the quota counter but keep "loaded": Redis now
	// believes nothing was issued.
	if _, err := e.cache.Del(ctx, e.state.key(c.ID, "issued"), e.state.key(c.ID, "counts")); err != nil {
		t.Fatal(err)
	}
	evs = append(evs, loginOf(11, now), loginOf(12, now))
	if got := processUntilSettled(t, is, evs); got != 0 {
		t.Fatalf("issued %d beyond the quota", got)
	}
	checkInvariants(t, e.db, c.ID)
	checkRedisBelowTruth(t, e, c.ID)
	// The confirms put the members back in Redis: a repeat login stops there.
	if rc, _ := e.state.ReadCounters(ctx, c.ID); rc.Issued != 0 && rc.Issued > 10 {
		t.Errorf("redis counter %d", rc.Issued)
	}
	res, err := e.state.reserveMembers(ctx, c, []int64{3}, time.Now(), time.Now().Add(time.Minute))
	if err != nil || res[0].code != codeHas {
		t.Errorf("after confirm, reserve of a served member = %+v, %v; want held", res, err)
	}
}

// A couponsd dies between its Redis reservation and MySQL: the reservation
// is settled from MySQL once its lease ends and the member still gets the
// coupon when the event comes back.
func TestAbandonedReservationIsRepaired(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	now := time.Now()
	s := baseSpec(now)
	s.TotalQuota = quota(1)
	c := e.create(t, s)
	// The dead process's reservation, lease already over.
	res, err := e.state.reserveMembers(ctx, c, []int64{5}, now.Add(-time.Minute), now.Add(-time.Second))
	if err != nil || res[0].code != 1 {
		t.Fatalf("reserve = %+v, %v", res, err)
	}
	is := e.issuer(t, nil)
	// Another member: the quota looks used up in Redis, but only by a
	// reservation — the login must be retried, not told "sold out" for good.
	if r := is.Process(ctx, []login.Event{loginOf(6, now)}); !errors.Is(r[0].Err, ErrRetry) {
		t.Fatalf("login of 6 = %+v, want a retry while the quota is held by a reservation", r[0])
	}
	// The dead process's event comes back: repaired from MySQL, then issued.
	if got := processUntilSettled(t, is, []login.Event{loginOf(5, now)}); got != 1 {
		t.Fatalf("redelivered login of 5 issued %d, want 1", got)
	}
	// Now the quota is really gone: member 6 settles with nothing.
	if got := processUntilSettled(t, is, []login.Event{loginOf(6, now)}); got != 0 {
		t.Fatalf("login of 6 issued %d beyond the quota", got)
	}
	if per := checkInvariants(t, e.db, c.ID); len(per) != 1 || per[5] != 1 {
		t.Fatalf("holders %v, want member 5 only", per)
	}
	checkRedisBelowTruth(t, e, c.ID)

	// The maintenance sweep settles an abandoned reservation nobody asks about.
	s2 := baseSpec(now)
	c2 := e.create(t, s2)
	if _, err := e.state.reserveMembers(ctx, c2, []int64{9}, now.Add(-time.Minute), now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := e.state.RepairStale(ctx, e.db, c2.ID, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("RepairStale = %d, %v", n, err)
	}
	if rc, _ := e.state.ReadCounters(ctx, c2.ID); rc.Issued != 0 || rc.Pending != 0 {
		t.Errorf("after the sweep: %+v, want nothing issued or pending", rc)
	}
}

func TestRebuildFromMySQL(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	now := time.Now()
	s := baseSpec(now)
	s.PerMemberLimit = 2
	c := e.create(t, s)
	is := e.issuer(t, nil)
	evs := loginsOf(300, now)
	evs = append(evs, loginOf(1<<30, now)) // beyond the bitfield: kept in the hash
	if _, err := e.db.ExecContext(ctx, `INSERT INTO membership_account (id, username) VALUES (?, 'far')`, 1<<30); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ExecContext(ctx, `INSERT INTO membership_filter (member_id) VALUES (?)`, 1<<30); err != nil {
		t.Fatal(err)
	}
	if got := processUntilSettled(t, is, evs); got != 602 {
		t.Fatalf("issued %d", got)
	}
	if _, err := e.cache.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	if err := is.Refresh(ctx); err != nil { // active set rebuilt from MySQL
		t.Fatal(err)
	}
	if list, synced, _ := e.state.LoadActive(ctx); !synced || len(list) != 1 {
		t.Fatalf("active set after refresh: %d coupons, synced %v", len(list), synced)
	}
	if err := e.state.EnsureLoaded(ctx, e.db, c.ID); err != nil {
		t.Fatal(err)
	}
	rc, _ := e.state.ReadCounters(ctx, c.ID)
	if !rc.Loaded || rc.Issued != 602 {
		t.Fatalf("rebuilt counters %+v, want loaded with 602", rc)
	}
	for _, m := range []int64{1, 300, 1 << 30} {
		r, err := e.state.reserveMembers(ctx, c, []int64{m}, time.Now(), time.Now().Add(time.Minute))
		if err != nil || r[0].code != codeHas {
			t.Errorf("member %d after rebuild: %+v, %v; want held", m, r, err)
		}
	}
	if got := processUntilSettled(t, is, evs); got != 0 {
		t.Errorf("issued %d after the rebuild", got)
	}
}

func TestSegmentAudience(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	now := time.Now()
	if _, err := membership.Seed(ctx, e.db, membership.SeedOptions{Target: 300, Method: membership.SeedInsert}); err != nil {
		t.Fatal(err)
	}
	s := baseSpec(now)
	s.Audience = audience.Segment{Levels: []int{1}}
	c := e.create(t, s)
	is := e.issuer(t, nil)
	evs := loginsOf(310, now)
	evs = append(evs, loginOf(5000, now)) // no such member: nothing
	processUntilSettled(t, is, evs)
	var want []int64
	if err := e.db.SelectContext(ctx, &want, `SELECT member_id FROM membership_filter WHERE member_level = 1 AND member_id <= 310 ORDER BY member_id`); err != nil {
		t.Fatal(err)
	}
	per := checkInvariants(t, e.db, c.ID)
	if len(per) != len(want) || len(want) == 0 {
		t.Fatalf("%d members served, want the %d level-1 members", len(per), len(want))
	}
	for _, m := range want {
		if per[m] != 1 {
			t.Errorf("level-1 member %d not served", m)
		}
	}
}

func TestIssueToMembersBulk(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	now := time.Now()
	s := baseSpec(now)
	s.PerMemberLimit = 2
	s.TotalQuota = quota(3000)
	c := e.create(t, s)
	// A member got the coupon at login first.
	is := e.issuer(t, nil)
	processUntilSettled(t, is, []login.Event{loginOf(1, now)})

	ids := memberRange(1, 1200)
	ids = append(ids, 5, 5) // duplicates in the page
	res, err := IssueToMembers(ctx, e.db, c.ID, ids, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Members != 1200 || res.Issued != 2*1199 || res.Served != 1199 || res.AlreadyHeld != 1 || res.Short != 0 {
		t.Fatalf("first bulk = %+v", res)
	}
	// A redelivered page issues nothing.
	again, err := IssueToMembers(ctx, e.db, c.ID, ids, now)
	if err != nil || again.Issued != 0 || again.AlreadyHeld != 1200 {
		t.Fatalf("repeated bulk = %+v, %v", again, err)
	}
	// The quota runs out in the middle of the next page.
	more := memberRange(2001, 2500)
	short, err := IssueToMembers(ctx, e.db, c.ID, more, now)
	if err != nil || short.Issued != 3000-2400 || short.Served != 300 || short.Short != 200 {
		t.Fatalf("bulk at the quota = %+v, %v", short, err)
	}
	checkInvariants(t, e.db, c.ID)
	// A login of a bulk-served member: Redis did not know, MySQL did.
	if got := processUntilSettled(t, is, []login.Event{loginOf(2, now), loginOf(3000, now)}); got != 0 {
		t.Errorf("login after bulk issued %d", got)
	}
	checkInvariants(t, e.db, c.ID)
	checkRedisBelowTruth(t, e, c.ID)
	if _, err := IssueToMembers(ctx, e.db, 999, []int64{1}, now); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown coupon: %v", err)
	}
	if _, err := Disable(ctx, e.db, e.state, c.ID); err != nil {
		t.Fatal(err)
	}
	if r, err := IssueToMembers(ctx, e.db, c.ID, []int64{4000}, now); err != nil || !r.NotIssuable || r.Issued != 0 {
		t.Errorf("disabled coupon bulk = %+v, %v", r, err)
	}
}

// The issuer's batcher: HandleLogin from many goroutines, Stop drains.
func TestHandleLoginBatches(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	now := time.Now()
	c := e.create(t, baseSpec(now))
	is := e.issuer(t, func(cfg *IssuerConfig) { cfg.BatchSize = 64 })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := is.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for g := range 200 {
		wg.Go(func() {
			for m := int64(g*10 + 1); m <= int64(g*10+10); m++ {
				for {
					err := is.HandleLogin(ctx, loginOf(m, now))
					if err == nil {
						break
					}
					if !errors.Is(err, ErrRetry) {
						failed.Add(1)
						return
					}
					time.Sleep(10 * time.Millisecond) // ErrRetry: redeliver after a pause, as the broker would
				}
			}
		})
	}
	wg.Wait()
	if err := is.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if failed.Load() != 0 {
		t.Fatalf("%d logins failed", failed.Load())
	}
	if err := is.HandleLogin(ctx, loginOf(1, now)); !errors.Is(err, ErrStopped) {
		t.Errorf("HandleLogin after Stop = %v", err)
	}
	if per := checkInvariants(t, e.db, c.ID); len(per) != 2000 {
		t.Errorf("%d members served, want 2000", len(per))
	}
}

// TestLoginOfUnknownMemberGetsNothing: a login event for a member id that
// does not exist issues nothing, even of an everyone coupon, and takes no
// quota; a huge id does not grow Redis.
func TestLoginOfUnknownMemberGetsNothing(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	now := time.Now()
	s := baseSpec(now)
	quota := int64(10)
	s.TotalQuota = &quota
	c := e.create(t, s)
	is := e.issuer(t, nil)
	before, err := e.state.ReadCounters(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := processUntilSettled(t, is, []login.Event{loginOf(99999999999, now), loginOf(3001, now)}); got != 0 {
		t.Fatalf("unknown members were issued %d items", got)
	}
	if per := checkInvariants(t, e.db, c.ID); len(per) != 0 {
		t.Errorf("holders: %v", per)
	}
	after, err := e.state.ReadCounters(t.Context(), c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Issued != before.Issued {
		t.Errorf("quota counter moved: %+v → %+v", before, after)
	}
	var bytes int64
	for _, k := range e.cache.Redis().Keys(t.Context(), e.cache.Key("*")).Val() {
		n, _ := e.cache.Redis().MemoryUsage(t.Context(), k).Result()
		bytes += n
	}
	if bytes > 1<<20 {
		t.Errorf("Redis holds %d bytes after two logins of unknown members", bytes)
	}
}
