package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mkt/pkg/bench"
	"mkt/pkg/pushtest"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// TestBenchPushEndToEnd runs `mktctl bench push` on a small member base:
// it seeds a fresh database, runs two real pushd processes against the
// simulator and reports an exact delivery.
func TestBenchPushEndToEnd(t *testing.T) {
	t.Parallel()
	dsn := storetest.NewDatabase(t)
	dir := t.TempDir()
	dsnFile := filepath.Join(dir, "dsn")
	if err := os.WriteFile(dsnFile, []byte(dsn), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := pushtest.BuildPushd()
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) { return runMain(3*time.Minute, dsnFile, args...) }

	code, out, errOut := run("bench", "push", "--users", "3000", "--latency", "5ms", "--pushd", "2", "--settle", "0s",
		"--pushd-bin", bin, "--shard-size", "500", "--watchers", "2", "--json")
	if code != ExitOK {
		t.Fatalf("bench push: exit %d\n%s", code, errOut)
	}
	var rep bench.PushReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if rep.Users != 3000 || rep.Shards != 6 || rep.Expected == 0 || rep.Delivered != rep.Expected ||
		rep.Duplicates != 0 || rep.Missing != 0 || rep.Unexpected != 0 || rep.FailedDeliveries != 0 || rep.PriorRecords != 0 {
		t.Errorf("report: %+v", rep)
	}
	if rep.UsersPerSecond <= 0 || rep.P99SendMS < 5 || rep.ProviderCalls != rep.Delivered ||
		rep.PushdRSSPeakBytes == 0 || len(rep.PushdRSSPeakEach) != 2 || rep.PlanEnqueueSeconds <= 0 || rep.TaskSends != 6 { // 6 shards, one per send to spread them
		t.Errorf("measurements: %+v", rep)
	}
	if rep.Watchers != 2 || rep.WatchRefreshes < 2 || rep.WatchErrors != 0 || rep.WatchRefreshMaxMS <= 0 {
		t.Errorf("watchers: %+v", rep)
	}
	if !strings.Contains(errOut, "seeding") || !strings.Contains(errOut, "completed") || !strings.Contains(errOut, "2 live views") {
		t.Errorf("progress:\n%s", errOut)
	}

	// A generated hot-goods day instead of a promotion: every member of a
	// segment sent exactly one message.
	code, out, errOut = run("bench", "push", "--users", "3000", "--latency", "5ms", "--pushd", "2", "--settle", "0s",
		"--pushd-bin", bin, "--shard-size", "500", "--hotgoods-segments", "30", "--json")
	if code != ExitOK {
		t.Fatalf("bench push --hotgoods-segments: exit %d\n%s", code, errOut)
	}
	var hot bench.PushReport
	if err := json.Unmarshal([]byte(out), &hot); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if hot.Kind != "hot_goods" || hot.HotgoodsSegments != 30 || hot.Shards != 6 || hot.Expected < 300 || hot.Expected >= rep.Expected ||
		hot.Delivered != hot.Expected || hot.Duplicates != 0 || hot.Missing != 0 || hot.Unexpected != 0 || hot.LaunchSeconds <= 0 {
		t.Errorf("hot-goods report: %+v (promotion expected %d)", hot, rep.Expected)
	}

	// More members than --users: refused, nothing started.
	code, _, errOut = run("bench", "push", "--users", "100", "--pushd-bin", bin)
	if code != ExitUsage || !strings.Contains(errOut, "more than --users 100") {
		t.Errorf("too many members: exit %d, %s", code, errOut)
	}
}

// TestBenchCouponsEndToEnd runs `mktctl bench coupons` on a few logins:
// two real couponsd processes issue the coupon to every member once.
func TestBenchCouponsEndToEnd(t *testing.T) {
	t.Parallel()
	base := storetest.NewEmptyDatabase(t) // the server; the run makes its own --database
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "mkt_bench_test_" + hex.EncodeToString(b[:])
	dsn, err := store.WithDatabase(base, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := store.DropDatabase(ctx, dsn); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := pushtest.Build("couponsd")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		return runMain(3*time.Minute, dsnFile, append([]string{"bench", "coupons"}, args...)...)
	}

	code, out, errOut := run("--logins", "2000", "--instances", "2", "--database", name, "--couponsd", bin, "--json")
	if code != ExitOK {
		t.Fatalf("bench coupons: exit %d\n%s", code, errOut)
	}
	var rep bench.CouponsReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	// Logins are delivered at least once: a rebalance may hand some to the
	// other couponsd again, so more may be handled than were published.
	if rep.Logins != 2000 || rep.HandledLogins < 2000 || rep.Members != 2000 || rep.Issued != 2000 ||
		rep.Duplicates != 0 || rep.OverQuota != 0 || rep.Missing != 0 || rep.Couponsd != bin || rep.Database != name {
		t.Errorf("report: %+v", rep)
	}
	if rep.LoginsPerSecond <= 0 || rep.ElapsedSeconds <= 0 || rep.RSSPeakBytes == 0 || len(rep.RSSPeakPerInstance) != 2 ||
		rep.RSSPeakPerInstance[0] == 0 || rep.RSSPeakPerInstance[1] == 0 {
		t.Errorf("measurements: %+v", rep)
	}
	if !strings.Contains(errOut, "2 couponsd ready") {
		t.Errorf("progress:\n%s", errOut)
	}

	// An executable that is not there: refused before anything starts.
	code, _, errOut = run("--logins", "10", "--database", name, "--couponsd", filepath.Join(t.TempDir(), "couponsd"))
	if code != ExitUsage || !strings.Contains(errOut, "--couponsd: couponsd executable not found") {
		t.Errorf("missing couponsd: exit %d, %s", code, errOut)
	}
}
