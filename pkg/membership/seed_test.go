package membership_test

import (
	"cmp"
	"context"
	"database/sql"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"mkt/pkg/membership"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

var memberTables = []string{"membership_account", "membership_point", "membership_filter"}

func tableCounts(t *testing.T, db store.Handler) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range memberTables {
		var n int64
		if err := db.GetContext(t.Context(), &n, "SELECT COUNT(*) FROM "+table); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

// checksum fingerprints every column of the members with id <= upTo.
func checksum(t *testing.T, db store.Handler, upTo int64) string {
	t.Helper()
	var sum string
	err := db.GetContext(t.Context(), &sum, `
SELECT CONCAT_WS('/',
  (SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', id, username, mobile, email, push_token, status, created_at, updated_at))), 0)
     FROM membership_account WHERE id <= ?),
  (SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', member_id, level, points, lifetime_points, created_at, updated_at))), 0)
     FROM membership_point WHERE member_id <= ?),
  (SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', member_id, active_days, member_level, portrait_tags, COALESCE(last_login_at, 'null'), created_at, updated_at))), 0)
     FROM membership_filter WHERE member_id <= ?))`, upTo, upTo, upTo)
	if err != nil {
		t.Fatalf("checksum: %v", err)
	}
	return sum
}

type memberRow struct {
	ID             int64        `db:"id"`
	Username       string       `db:"username"`
	Mobile         string       `db:"mobile"`
	Email          string       `db:"email"`
	PushToken      string       `db:"push_token"`
	Status         string       `db:"status"`
	CreatedAt      time.Time    `db:"created_at"`
	Level          int          `db:"level"`
	Points         int64        `db:"points"`
	LifetimePoints int64        `db:"lifetime_points"`
	ActiveDays     int          `db:"active_days"`
	MemberLevel    int          `db:"member_level"`
	Tags           uint64       `db:"portrait_tags"`
	LastLoginAt    sql.NullTime `db:"last_login_at"`
}

// checkRows compares every stored member with Synthetic.
func checkRows(t *testing.T, db store.Handler, now time.Time, total int64) {
	t.Helper()
	var rows []memberRow
	err := db.SelectContext(t.Context(), &rows, `
SELECT a.id, a.username, a.mobile, a.email, a.push_token, a.status, a.created_at,
       p.level, p.points, p.lifetime_points,
       f.active_days, f.member_level, f.portrait_tags, f.last_login_at
  FROM membership_account a
  JOIN membership_point p ON p.member_id = a.id
  JOIN membership_filter f ON f.member_id = a.id
 ORDER BY a.id`)
	if err != nil {
		t.Fatalf("read members: %v", err)
	}
	if int64(len(rows)) != total {
		t.Fatalf("%d complete members, want %d", len(rows), total)
	}
	for i, r := range rows {
		want := membership.Synthetic(int64(i+1), now)
		got := membership.Member{
			ID: r.ID, Username: r.Username, Mobile: r.Mobile, Email: r.Email, PushToken: r.PushToken,
			Status: r.Status, Level: r.Level, Points: r.Points, LifetimePoints: r.LifetimePoints,
			ActiveDays: r.ActiveDays, Tags: r.Tags, CreatedAt: r.CreatedAt,
		}
		if r.LastLoginAt.Valid {
			got.LastLoginAt = r.LastLoginAt.Time
		}
		if got != want || r.MemberLevel != r.Level {
			t.Fatalf("member %d:\n got %+v (filter level %d)\nwant %+v", i+1, got, r.MemberLevel, want)
		}
	}
}

func TestSeedGrowsToTarget(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := storetest.NewDB(t)
	now := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)

	var mu sync.Mutex
	var calls [][2]int64
	progress := func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, [2]int64{done, total})
	}
	res, err := membership.Seed(ctx, db, membership.SeedOptions{Target: 5000, BatchSize: 1500, Now: now, Progress: progress})
	if err != nil {
		t.Fatalf("Seed 5000: %v", err)
	}
	if res.Existing != 0 || res.Added != 5000 || res.Method != membership.SeedLoadData {
		t.Errorf("Seed 5000 = %+v", res)
	}
	for _, ts := range res.Tables {
		if ts.Existing != 0 || ts.Added != 5000 {
			t.Errorf("table %+v, want 5000 added", ts)
		}
	}
	for table, n := range tableCounts(t, db) {
		if n != 5000 {
			t.Errorf("%s has %d rows, want 5000", table, n)
		}
	}
	if n, err := membership.Count(ctx, db); err != nil || n != 5000 {
		t.Errorf("Count = %d, %v", n, err)
	}
	checkRows(t, db, now, 5000)
	mu.Lock()
	if len(calls) < 2 || calls[0] != [2]int64{0, 5000} || calls[len(calls)-1] != [2]int64{5000, 5000} {
		t.Errorf("progress calls %v, want 0/5000 first and 5000/5000 last", calls)
	}
	for i := 1; i < len(calls); i++ {
		if calls[i][0] <= calls[i-1][0] {
			t.Errorf("progress not increasing: %v", calls)
		}
	}
	mu.Unlock()

	before := checksum(t, db, 5000)
	res, err = membership.Seed(ctx, db, membership.SeedOptions{Target: 8000, Now: now.Add(time.Hour)})
	if err != nil {
		t.Fatalf("Seed 8000: %v", err)
	}
	if res.Existing != 5000 || res.Added != 3000 {
		t.Errorf("Seed 8000 = %+v, want 3000 added to 5000", res)
	}
	for table, n := range tableCounts(t, db) {
		if n != 8000 {
			t.Errorf("%s has %d rows, want 8000", table, n)
		}
	}
	if after := checksum(t, db, 5000); after != before {
		t.Errorf("first 5000 members changed: %s -> %s", before, after)
	}

	// A smaller or equal target is a no-op.
	res, err = membership.Seed(ctx, db, membership.SeedOptions{Target: 8000})
	if err != nil || res.Added != 0 || res.Existing != 8000 {
		t.Errorf("Seed 8000 again = %+v, %v; want nothing added", res, err)
	}
	res, err = membership.Seed(ctx, db, membership.SeedOptions{Target: 10})
	if err != nil || res.Added != 0 {
		t.Errorf("Seed 10 = %+v, %v; want nothing added", res, err)
	}

	// Attribute domains, checked by the server.
	var bad int64
	if err := db.GetContext(ctx, &bad, `
SELECT (SELECT COUNT(*) FROM membership_point WHERE level NOT BETWEEN 1 AND 5 OR points > lifetime_points)
     + (SELECT COUNT(*) FROM membership_filter WHERE active_days > 30 OR member_level NOT BETWEEN 1 AND 5
          OR portrait_tags >= 65536 OR BIT_COUNT(portrait_tags) > 4
          OR (active_days > 0 AND last_login_at IS NULL))
     + (SELECT COUNT(*) FROM membership_account WHERE mobile = '' OR status NOT IN ('active', 'disabled'))`); err != nil {
		t.Fatalf("domain check: %v", err)
	}
	if bad != 0 {
		t.Errorf("%d rows outside their domains", bad)
	}
	var levels int
	if err := db.GetContext(ctx, &levels, `SELECT COUNT(DISTINCT member_level) FROM membership_filter`); err != nil || levels != 5 {
		t.Errorf("distinct levels %d, %v", levels, err)
	}
}

func TestSeedMethodsWriteTheSameRows(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	now := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	sums := map[membership.SeedMethod]string{}
	for _, method := range []membership.SeedMethod{membership.SeedLoadData, membership.SeedInsert} {
		db := storetest.NewDB(t)
		res, err := membership.Seed(ctx, db, membership.SeedOptions{Target: 3000, BatchSize: 700, Workers: 3, Method: method, Now: now})
		if err != nil {
			t.Fatalf("Seed with %s: %v", method, err)
		}
		if res.Method != method || res.Added != 3000 {
			t.Errorf("Seed with %s = %+v", method, res)
		}
		checkRows(t, db, now, 3000)
		sums[method] = checksum(t, db, 3000)
	}
	if sums[membership.SeedLoadData] != sums[membership.SeedInsert] {
		t.Errorf("LOAD DATA and INSERT wrote different rows: %v", sums)
	}
}

func TestSeedResumesEachTable(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := storetest.NewDB(t)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := membership.Seed(ctx, db, membership.SeedOptions{Target: 2000, Now: now}); err != nil {
		t.Fatalf("Seed: %v", err)
	}
	// An interrupted run leaves tables at different heights.
	if _, err := db.ExecContext(ctx, `DELETE FROM membership_filter WHERE member_id > 1200`); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM membership_point WHERE member_id > 1900`); err != nil {
		t.Fatalf("delete: %v", err)
	}
	res, err := membership.Seed(ctx, db, membership.SeedOptions{Target: 2500, Now: now, Method: membership.SeedInsert})
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	if res.Existing != 1200 || res.Added != 1300 {
		t.Errorf("resume = %+v, want 1300 added to 1200", res)
	}
	want := map[string]int64{"membership_account": 500, "membership_point": 600, "membership_filter": 1300}
	for _, ts := range res.Tables {
		if ts.Added != want[ts.Table] {
			t.Errorf("%s added %d, want %d", ts.Table, ts.Added, want[ts.Table])
		}
	}
	checkRows(t, db, now, 2500)
}

func TestSeedStopsOnCancel(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx, cancel := context.WithCancel(t.Context())
	progress := func(done, total int64) {
		if done > 0 {
			cancel()
		}
	}
	_, err := membership.Seed(ctx, db, membership.SeedOptions{Target: 200_000, BatchSize: 1000, Workers: 1, Progress: progress})
	if err == nil {
		t.Fatal("Seed after cancel returned no error")
	}
	counts := tableCounts(t, db)
	for table, n := range counts {
		if n >= 200_000 {
			t.Errorf("%s fully seeded (%d) despite cancel", table, n)
		}
		// Every table still holds a dense prefix of ids.
		var highest int64
		col := "member_id"
		if table == "membership_account" {
			col = "id"
		}
		if err := db.GetContext(t.Context(), &highest, "SELECT COALESCE(MAX("+col+"), 0) FROM "+table); err != nil {
			t.Fatal(err)
		}
		if highest != n {
			t.Errorf("%s: %d rows but highest id %d: not dense", table, n, highest)
		}
	}
	// And a re-run completes it.
	res, err := membership.Seed(t.Context(), db, membership.SeedOptions{Target: 5000})
	if err != nil || tableCounts(t, db)["membership_filter"] < 5000 {
		t.Errorf("re-run after cancel = %+v, %v", res, err)
	}
}

func TestSeedValidates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for _, opts := range []membership.SeedOptions{
		{Target: -1},
		{Target: 10, BatchSize: -5},
		{Target: 10, Workers: -1},
		{Target: 10, Method: "carrier-pigeon"},
	} {
		if _, err := membership.Seed(ctx, nil, opts); err == nil {
			t.Errorf("Seed(%+v) accepted", opts)
		}
	}
}

// BenchmarkSeed seeds MKT_SEED_BENCH_N members (default 100,000) into an
// empty member table per iteration, with each method. One-off 1M run:
//
//	MKT_SEED_BENCH_N=1000000 go test -run '^$' -bench BenchmarkSeed -benchtime 1x ./pkg/membership
func BenchmarkSeed(b *testing.B) {
	n, err := strconv.ParseInt(cmp.Or(os.Getenv("MKT_SEED_BENCH_N"), "100000"), 10, 64)
	if err != nil || n <= 0 {
		b.Fatalf("MKT_SEED_BENCH_N: %v", err)
	}
	db := storetest.NewDB(b)
	for _, method := range []membership.SeedMethod{membership.SeedLoadData, membership.SeedInsert} {
		for _, workers := range []int{2, 3} {
			b.Run(string(method)+"/workers="+strconv.Itoa(workers), func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					for _, table := range memberTables {
						if _, err := db.ExecContext(b.Context(), "TRUNCATE TABLE "+table); err != nil {
							b.Fatal(err)
						}
					}
					b.StartTimer()
					if _, err := membership.Seed(b.Context(), db, membership.SeedOptions{Target: n, Method: method, Workers: workers}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "members/s")
			})
		}
	}
}
