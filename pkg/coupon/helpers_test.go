package coupon

import (
	"context"
	"errors"
	"testing"
	"time"

	"mkt/pkg/cache"
	"mkt/pkg/cache/cachetest"
	"mkt/pkg/login"
	"mkt/pkg/mkttest"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// Integration tests run against MariaDB and Redis (storetest, cachetest),
// each test in its own database and Redis key prefix.

type testEnv struct {
	db    *store.DB
	cache *cache.Client
	state *State
}

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	db := storetest.NewDB(t)
	c := cachetest.Open(t, cache.Config{PoolSize: 64})
	st, err := NewState(StateConfig{Cache: c, Namespace: db.Name(), RebuildWait: 20 * time.Second, Logger: mkttest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	// Logins and bulk issues are for existing members only: the tests'
	// members are 1..3000 (a test needing another one inserts it).
	storetest.SeedMembers(t, db, 3000)
	return &testEnv{db: db, cache: c, state: st}
}

func (e *testEnv) issuer(t testing.TB, mod func(*IssuerConfig)) *Issuer {
	t.Helper()
	cfg := IssuerConfig{DB: e.db, State: e.state, Logger: mkttest.Logger()}
	if mod != nil {
		mod(&cfg)
	}
	is, err := NewIssuer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

// baseSpec is a valid lazy coupon for everyone, open for a day.
func baseSpec(now time.Time) Spec {
	return Spec{
		Name: "10 off 100", Kind: KindAmount, AmountCents: 1000, ThresholdCents: 10000,
		ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(24 * time.Hour),
		PerMemberLimit: 1,
	}
}

func (e *testEnv) create(t testing.TB, s Spec) *Coupon {
	t.Helper()
	res, err := Create(context.Background(), e.db, e.state, s, "", time.Now())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if res.RedisError != "" {
		t.Fatalf("Create: redis: %s", res.RedisError)
	}
	return res.Coupon
}

func loginOf(member int64, at time.Time) login.Event {
	return login.Event{MemberID: member, LoginAt: at}
}

// loginsOf returns a login at at of each member 1..n.
func loginsOf(n int64, at time.Time) []login.Event {
	var evs []login.Event
	for m := int64(1); m <= n; m++ {
		evs = append(evs, loginOf(m, at))
	}
	return evs
}

// memberRange returns the member ids from..to.
func memberRange(from, to int64) []int64 {
	ids := make([]int64, 0, to-from+1)
	for m := from; m <= to; m++ {
		ids = append(ids, m)
	}
	return ids
}

// processUntilSettled runs Process on evs, redelivering the ones that fail
// with ErrRetry (as the queue would), until every one is settled.
func processUntilSettled(t testing.TB, is *Issuer, evs []login.Event) int {
	t.Helper()
	issued := 0
	deadline := time.Now().Add(60 * time.Second)
	for len(evs) > 0 {
		if time.Now().After(deadline) {
			t.Errorf("%d logins still unsettled after 60 s", len(evs)) // Errorf: callers run it in goroutines
			return issued
		}
		res := is.Process(context.Background(), evs)
		var again []login.Event
		for i, r := range res {
			issued += r.Issued
			if r.Err != nil {
				if !errors.Is(r.Err, ErrRetry) {
					t.Errorf("login of member %d: %v", evs[i].MemberID, r.Err)
					continue
				}
				again = append(again, evs[i])
			}
		}
		if len(again) > 0 {
			time.Sleep(20 * time.Millisecond) // redelivered after a pause, as the broker would
		}
		evs = again
	}
	return issued
}

// itemsByMember counts coupon id's items per member.
func itemsByMember(t testing.TB, db *store.DB, id int64) map[int64]int {
	t.Helper()
	var rows []struct {
		Member int64 `db:"member_id"`
		N      int   `db:"n"`
	}
	if err := db.SelectContext(context.Background(), &rows,
		`SELECT member_id, COUNT(*) AS n FROM sales_promotion_coupon_item WHERE coupon_id = ? GROUP BY member_id`, id); err != nil {
		t.Fatal(err)
	}
	out := make(map[int64]int, len(rows))
	for _, r := range rows {
		out[r.Member] = r.N
	}
	return out
}

// checkInvariants asserts what must hold whatever happened (AuditItems:
// no member above the per-member limit, seqs within 1..limit, issued_count
// equal to the items and never above the quota). It returns the items per
// member.
func checkInvariants(t testing.TB, db *store.DB, id int64) map[int64]int {
	t.Helper()
	a, err := AuditItems(context.Background(), db, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range a.Broken() {
		t.Error(p)
	}
	return itemsByMember(t, db, id)
}

// checkRedisBelowTruth asserts the Redis counters never overstate MySQL
// once nothing is in flight: the quota counter at most issued_count, no
// reservation pending.
func checkRedisBelowTruth(t testing.TB, e *testEnv, id int64) {
	t.Helper()
	ctx := context.Background()
	c, err := Get(ctx, e.db, id)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := e.state.ReadCounters(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Pending != 0 {
		t.Errorf("coupon %d: %d reservations still pending in redis", id, rc.Pending)
	}
	if rc.Loaded && rc.Issued > c.IssuedCount {
		t.Errorf("coupon %d: redis quota counter %d above mysql issued_count %d", id, rc.Issued, c.IssuedCount)
	}
}

func quota(n int64) *int64 { return &n }
