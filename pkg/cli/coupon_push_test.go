package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"mkt/pkg/cache"
	"mkt/pkg/cache/cachetest"
	"mkt/pkg/campaign"
	"mkt/pkg/coupon"
	"mkt/pkg/mkttest"
)

// TestCouponPushCommandsEndToEnd drives the push-mode coupon commands
// against MariaDB and RocketMQ, with a planner consuming the created events
// in-process: create announces the coupon atomically, the planner plans it,
// pause / resume control its push and disable cancels it.
func TestCouponPushCommandsEndToEnd(t *testing.T) {
	e := newE2E(t, 1500)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The commands keep Redis state under mkt:coupon:<database>: — drop it.
	cachetest.Open(t, cache.Config{KeyPrefix: "mkt:coupon:" + e.db.Name()})
	e.startPlanner(ctx, t)
	ns := []string{"coupon", "--mq-namespace", e.ns}
	cmd := func(args ...string) []string { return append(append([]string{}, ns...), args...) }
	pushStatus := func(id int64) campaign.Status {
		c, err := coupon.Get(ctx, e.db, id)
		if err != nil {
			t.Fatal(err)
		}
		return c.PushStatus
	}

	// Push mode needs its message and channels, and known placeholders.
	for _, bad := range [][]string{
		{"create", "--name", "x", "--amount", "10", "--for", "7d", "--mode", "push"},
		{"create", "--name", "x", "--amount", "10", "--for", "7d", "--mode", "push", "--message", "Hi {nick}", "--channels", "app"},
	} {
		if code, _, errOut := e.run(cmd(bad...)...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", bad, code, ExitUsage, errOut)
		}
	}

	create := cmd("create", "--name", "Welcome back", "--amount", "10", "--threshold", "50", "--for", "7d", "--mode", "push",
		"--message", "{offer}: your coupon is waiting", "--channels", "app,inbox", "--levels", "1,2", "--shard-size", "200",
		"--request-id", "e2e-coupon-1")
	var created coupon.Created
	e.runJSON(&created, create...)
	c := created.Coupon
	if !created.New || c == nil || c.Mode != coupon.ModePush || c.PushStatus != campaign.StatusCreated || len(c.Channels) != 2 {
		t.Fatalf("create: %+v", created)
	}
	mkttest.WaitFor(t, 60*time.Second, "the created event planned (push running)", func() bool {
		return pushStatus(c.ID) == campaign.StatusRunning
	})
	var again coupon.Created
	e.runJSON(&again, create...)
	if again.New || again.Coupon.ID != c.ID {
		t.Errorf("create again with the same request id: %+v", again)
	}

	var shown couponShow
	e.runJSON(&shown, cmd("show", fmt3(c.ID))...)
	if shown.Push == nil || shown.Push.Status != campaign.StatusRunning || shown.Push.Shards.Shards == 0 ||
		shown.Push.Shards.Shards != shown.Push.PlannedShards || shown.Push.Shards.Pending != shown.Push.Shards.Shards {
		t.Fatalf("show: %+v", shown.Push)
	}
	shards := shown.Push.Shards.Shards
	if code, out, _ := e.run(cmd("show", fmt3(c.ID))...); code != 0 || !strings.Contains(out, "push shards") {
		t.Errorf("show table: exit %d\n%s", code, out)
	}

	var res campaign.ControlResult
	e.runJSON(&res, cmd("pause", fmt3(c.ID))...)
	if res.Run == nil || res.Run.Status != campaign.StatusPaused || res.Shards != int64(shards) {
		t.Errorf("pause: %+v", res)
	}
	e.runJSON(&res, cmd("resume", fmt3(c.ID))...)
	if res.Run == nil || res.Run.Status != campaign.StatusRunning || res.Published != shards {
		t.Errorf("resume: %+v", res)
	}
	if code, out, _ := e.run(cmd("retry-failed", fmt3(c.ID))...); code != 0 || !strings.Contains(out, "no failed deliveries") {
		t.Errorf("retry-failed without failures: exit %d, %s", code, out)
	}
	if code, out, _ := e.run(cmd("disable", fmt3(c.ID))...); code != 0 || !strings.Contains(out, "cancelled") {
		t.Errorf("disable: exit %d, %s", code, out)
	}
	if st := pushStatus(c.ID); st != campaign.StatusCancelled {
		t.Errorf("push %s after disable, want cancelled", st)
	}
	p, err := campaign.ShardProgress(ctx, e.db, campaign.KindCoupon, uint64(c.ID))
	if err != nil || p.Cancelled != shards {
		t.Errorf("shards after disable: %+v, %v", p, err)
	}
	if code, _, errOut := e.run(cmd("resume", fmt3(c.ID))...); code != ExitFailure || !strings.Contains(errOut, "is cancelled") {
		t.Errorf("resume a cancelled push: exit %d, %s", code, errOut)
	}

	// A lazy coupon has no push to control.
	var lazy coupon.Created
	e.runJSON(&lazy, cmd("create", "--name", "Lazy", "--amount", "5", "--for", "7d")...)
	if code, _, errOut := e.run(cmd("pause", fmt3(lazy.Coupon.ID))...); code != ExitFailure || !strings.Contains(errOut, "no push") {
		t.Errorf("pause a lazy coupon: exit %d, %s", code, errOut)
	}
}
