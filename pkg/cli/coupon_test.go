package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"mkt/pkg/cache"
	"mkt/pkg/cache/cachetest"
	"mkt/pkg/coupon"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

func TestCouponCreateFlags(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	o := couponCreateOptions{Name: "x", Kind: "percent", Percent: 15, Cap: "30", Threshold: "100.5",
		From: "2026-12-01", For: "7d", Quota: 1000, PerMember: 2, audienceOptions: audienceOptions{Levels: []int{3, 4}, TagsAny: []string{"digital", " books", ""}},
		Mode: "lazy", ValidDays: 3}
	s, err := o.spec(now)
	if err != nil {
		t.Fatal(err)
	}
	if s.CapCents != 3000 || s.ThresholdCents != 10050 || s.TotalQuota == nil || *s.TotalQuota != 1000 ||
		!s.ValidFrom.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || s.ValidUntil.Sub(s.ValidFrom) != 7*24*time.Hour ||
		s.Validity != coupon.ValidityRelative || len(s.Audience.TagsAny) != 2 {
		t.Errorf("spec = %+v", s)
	}
	if err := s.Validate(now); err != nil {
		t.Errorf("Validate: %v", err)
	}
	for _, bad := range []couponCreateOptions{
		{Name: "x", Amount: "1.234", For: "1d"},
		{Name: "x", Amount: "1", Until: "2026-13-01"},
		{Name: "x", Amount: "1", Until: "2026-12-01", For: "1d"},
		{Name: "x", Amount: "1"},
		{Name: "x", Amount: "1", For: "soon"},
		{Name: "x", Amount: "1", For: "1d", Quota: -1},
		{Name: "x", Amount: "1", For: "1d", audienceOptions: audienceOptions{JSON: `{"levels":[1]}`, MinActiveDays: 3}},
		{Name: "x", Amount: "1", For: "1d", audienceOptions: audienceOptions{JSON: `{"bogus":1}`}},
		{Name: "x", Amount: "1", For: "1d", audienceOptions: audienceOptions{JSON: `{"levels":[1]}`, oldJSON: `{"levels":[2]}`}},
		{Name: "x", Amount: "1", For: "1d", audienceOptions: audienceOptions{oldJSON: `{"bogus":1}`}},
		{Name: "x", Amount: "1", For: "1d", audienceOptions: audienceOptions{Levels: []int{9}}},
		{Name: "x", Amount: "1", For: "1d", Channels: "fax"},
	} {
		if _, err := bad.spec(now); err == nil {
			t.Errorf("spec(%+v) accepted", bad)
		}
	}
}

func TestEventsLoginFlags(t *testing.T) {
	t.Parallel()
	for _, bad := range []eventsLoginOptions{
		{},
		{Member: 1, Range: "1-2"},
		{Random: true},
		{Range: "5-1"},
		{Member: 1, Duration: time.Second},
		{Member: 1, Batch: 0, Senders: 1},
		{Range: "1-10", Count: 3, Batch: 100, Senders: 1},
	} {
		if bad.Batch == 0 && bad.Member == 0 && bad.Range == "" && !bad.Random {
			bad.Batch, bad.Senders = 100, 1
		}
		if err := bad.validate(); err == nil {
			t.Errorf("validate(%+v) accepted", bad)
		}
	}
	ok := eventsLoginOptions{Random: true, Range: "1-1000", Rate: 100, Duration: time.Second, Batch: 100, Senders: 2}
	if err := ok.validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
	if a, b, err := couponParseRange("3-7"); err != nil || a != 3 || b != 7 {
		t.Errorf("range: %d %d %v", a, b, err)
	}
}

func TestBadCouponInputExitsTwo(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"coupon", "create", "--name", "x", "--amount", "abc", "--for", "1d"},
		{"coupon", "show", "nope"},
		{"coupon", "lock", "1", "--member", "1", "--order", "o", "--total", "-3"},
		{"events", "login"},
		{"bench", "coupons", "--database", "mkt"},
	} {
		var out, errb bytes.Buffer
		code := Main(context.Background(), append(args, "--mysql-dsn-file="), Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, ExitUsage, errb.String())
		}
	}
}

// The coupon commands end to end against a real database and Redis.
func TestCouponCommands(t *testing.T) {
	t.Parallel()
	dsn := storetest.NewDatabase(t)
	// The commands keep Redis state under mkt:coupon:<database>: — drop it.
	mcfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	cachetest.Open(t, cache.Config{KeyPrefix: "mkt:coupon:" + mcfg.DBName})
	storetest.SeedMembers(t, storetest.Open(t, store.Config{DSN: dsn}), 100)
	dir := t.TempDir()
	dsnFile := dir + "/dsn"
	if err := os.WriteFile(dsnFile, []byte(dsn), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(v any, args ...string) int {
		t.Helper()
		var out, errb bytes.Buffer
		code := Main(context.Background(), append(args, "--mysql-dsn-file="+dsnFile, "--json"), Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
		if v != nil && code == 0 {
			if err := json.Unmarshal(out.Bytes(), v); err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out.String())
			}
		}
		if code != 0 {
			t.Logf("%v: exit %d: %s", args, code, errb.String())
		}
		return code
	}
	var created coupon.Created
	if code := run(&created, "coupon", "create", "--name", "Welcome", "--amount", "10", "--threshold", "100", "--for", "30d",
		"--quota", "100", "--per-member", "2", "--request-id", "t-1"); code != 0 {
		t.Fatalf("create: exit %d", code)
	}
	id := created.Coupon.ID
	if !created.New || created.RedisError != "" || created.Coupon.PerMemberLimit != 2 {
		t.Fatalf("create = %+v", created)
	}
	var again coupon.Created
	if run(&again, "coupon", "create", "--name", "Welcome", "--amount", "10", "--threshold", "100", "--for", "30d",
		"--quota", "100", "--per-member", "2", "--request-id", "t-1"); again.New || again.Coupon.ID != id {
		t.Errorf("create with the same request id: %+v", again)
	}
	var list []coupon.Coupon
	if run(&list, "coupon", "list"); len(list) != 1 {
		t.Errorf("list: %d coupons", len(list))
	}
	var bulk coupon.BulkResult
	if run(&bulk, "coupon", "issue", fmt3(id), "--range", "1-10"); bulk.Issued != 20 {
		t.Errorf("issue: %+v", bulk)
	}
	var items []coupon.MemberItem
	if run(&items, "coupon", "member-coupons", "--member", "3"); len(items) != 2 {
		t.Fatalf("member-coupons: %d items", len(items))
	}
	item := fmt3(items[0].ID)
	var tr coupon.Transition
	if run(&tr, "coupon", "claim", item, "--member", "3"); !tr.Changed {
		t.Errorf("claim: %+v", tr)
	}
	if run(&tr, "coupon", "lock", item, "--member", "3", "--order", "A-1", "--total", "150"); tr.DiscountCents != 1000 {
		t.Errorf("lock: %+v", tr)
	}
	if code := run(nil, "coupon", "lock", item, "--member", "3", "--order", "B-1", "--total", "150"); code != ExitFailure {
		t.Errorf("lock by another order: exit %d", code)
	}
	if run(&tr, "coupon", "redeem", item, "--order", "A-1"); tr.Item == nil || tr.Item.Status != coupon.ItemRedeemed {
		t.Errorf("redeem: %+v", tr)
	}
	var show struct {
		Items map[string]int64 `json:"items"`
		Redis *coupon.Counters `json:"redis"`
	}
	if run(&show, "coupon", "show", fmt3(id)); show.Items["redeemed"] != 1 || show.Items["issued"] != 19 || show.Redis == nil || !show.Redis.Loaded {
		t.Errorf("show: %+v", show)
	}
	if code := run(nil, "coupon", "disable", fmt3(id)); code != 0 {
		t.Errorf("disable: exit %d", code)
	}
	if run(&list, "coupon", "list", "--status", "active"); len(list) != 0 {
		t.Errorf("active after disable: %d", len(list))
	}
}

func fmt3(id int64) string { return strconv.FormatInt(id, 10) }
