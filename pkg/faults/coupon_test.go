//go:build faults

package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"mkt/pkg/childproc"
	"mkt/pkg/coupon"
	"mkt/pkg/faults"
	"mkt/pkg/mkttest"
)

// couponRun is one coupon scenario in progress: two couponsd issuing a
// quota-limited lazy coupon for everyone while every member logs in once.
type couponRun struct {
	t     *testing.T
	s     *suite
	ns    string
	d     *daemons
	procs []*childproc.Proc
	id    int64
	notes []string
}

type couponFault func(ctx context.Context, r *couponRun) error

// couponScenarios are lazy issuance's faults, in the order they run.
func couponScenarios() []struct {
	name  string
	fault couponFault
} {
	return []struct {
		name  string
		fault couponFault
	}{
		{"coupon-baseline", func(context.Context, *couponRun) error { return nil }},
		{"coupon-kill9-couponsd", func(ctx context.Context, r *couponRun) error {
			victim := r.procs[0]
			if err := victim.Kill(); err != nil {
				return err
			}
			r.notes = append(r.notes, fmt.Sprintf("kill -9 of %s; replacement started at once", victim.Instance()))
			p := r.d.start(victim.Instance() + "r")
			rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			return p.WaitReady(rctx)
		}},
		{"coupon-mariadb-down-15s", func(ctx context.Context, _ *couponRun) error { return outage(ctx, "mariadb", 15*time.Second) }},
		{"coupon-mariadb-down-60s", func(ctx context.Context, _ *couponRun) error { return outage(ctx, "mariadb", 60*time.Second) }},
		{"coupon-redis-down-15s", func(ctx context.Context, _ *couponRun) error { return outage(ctx, "redis", 15*time.Second) }},
		{"coupon-redis-flushall", func(ctx context.Context, r *couponRun) error {
			if err := r.flushall(ctx); err != nil {
				return err
			}
			time.Sleep(5 * time.Second)
			if err := r.flushall(ctx); err != nil {
				return err
			}
			r.notes = append(r.notes, "Redis FLUSHALL twice, 5 s apart")
			return nil
		}},
	}
}

func (r *couponRun) flushall(ctx context.Context) error {
	pw, err := mkttest.ReadRedisPassword()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(r.s.cfg.redisPort), "FLUSHALL")
	if pw != "" {
		// REDISCLI_AUTH: the password on no command line.
		cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+pw)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("redis-cli FLUSHALL: %w: %s", err, out)
	}
	if !bytes.Contains(out, []byte("OK")) {
		return fmt.Errorf("redis-cli FLUSHALL: %s", out)
	}
	return nil
}

func runCoupon(t *testing.T, s *suite, name string, fault couponFault) {
	ensureStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
	defer cancel()
	r := &couponRun{t: t, s: s, ns: mkttest.Namespace(t, "fc")} // no retry or leftover of another scenario reaches it
	members := uint64(s.cfg.members)
	quota := members * 9 / 10
	res := faults.CouponResult{Scenario: name, Logins: members, Quota: quota, Expected: min(quota, members)}
	defer func() {
		res.Notes = append(res.Notes, r.notes...)
		s.mu.Lock()
		s.coupons = append(s.coupons, res)
		s.mu.Unlock()
		for _, v := range res.Violations {
			t.Errorf("%s: %s", name, v)
		}
	}()

	dir := s.scenarioDir(t, name)
	r.d = &daemons{t: t, s: s, bin: s.bins["couponsd"], ns: r.ns, dir: dir, args: []string{"--api-addr="}}
	defer r.d.stopAll()
	r.procs = r.d.startReady("couponsd-1", "couponsd-2")
	time.Sleep(5 * time.Second) // the consumer group settles

	out, err := s.mktctl(ctx, r.ns, "--json", "coupon", "create", "--name", "faults "+name, "--amount", "5",
		"--threshold", "50", "--for", "1d", "--quota", strconv.FormatUint(quota, 10))
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		Coupon struct {
			ID int64 `json:"id"`
		} `json:"coupon"`
		RedisError string `json:"redis_error"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.Coupon.ID == 0 {
		t.Fatalf("coupon create printed %q: %v", out, err)
	}
	r.id = created.Coupon.ID
	defer func() {
		// Later scenarios' logins must not issue this coupon.
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := s.mktctl(dctx, r.ns, "coupon", "disable", strconv.FormatInt(r.id, 10)); err != nil {
			t.Errorf("disable coupon %d: %v", r.id, err)
		}
	}()
	t.Logf("%s: coupon %d, quota %d, %d logins, namespace %s", name, r.id, quota, members, r.ns)

	var prog faults.Progress
	stop := sampler(&prog, func(ctx context.Context) (uint64, error) {
		var n uint64
		err := s.db.GetContext(ctx, &n, `SELECT issued_count FROM sales_promotion_coupon WHERE id = ?`, r.id)
		return n, err
	})
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	// Every member logs in once, published as the account system would.
	pubLog, err := os.Create(filepath.Join(dir, "events-login.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pubLog.Close() }()
	// Paced to take about 40 s, so the fault lands in a steady stream of
	// logins whatever the audience.
	rate := max(members/40, 1000)
	pub := exec.CommandContext(ctx, s.bins["mktctl"], "events", "login", "--range", fmt.Sprintf("1-%d", members),
		"--rate", strconv.FormatUint(rate, 10))
	pub.Env = append(os.Environ(), "MKT_MQ_NAMESPACE="+r.ns)
	pub.Stdout, pub.Stderr = pubLog, pubLog
	started := time.Now()
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	pubDone := make(chan error, 1)
	go func() { pubDone <- pub.Wait() }()
	var pubErr error
	published := false
	pubFinished := func() bool {
		if published {
			return true
		}
		select {
		case pubErr = <-pubDone:
			published = true
		default:
		}
		return published
	}

	w, ok := injectAtAThird(t, ctx, s, name, &prog, res.Expected, "items",
		func(ctx context.Context) error { return fault(ctx, r) }, &res.Violations, &r.notes)
	if !ok {
		return
	}
	faultAt, restoredAt := w.at, w.lifted
	res.Outage = restoredAt.Sub(faultAt)

	// Done when every expected item is issued, or when nothing moved for
	// the settle time after the fault was lifted and every login was
	// published (retries of failed logins come back within minutes).
	lastMove, lastVal := time.Now(), prog.Last()
	short := false
	for prog.Last() < res.Expected {
		if v := prog.Last(); v != lastVal {
			lastMove, lastVal = time.Now(), v
		}
		if pubFinished() && time.Since(lastMove) > s.cfg.settle && time.Since(restoredAt) > s.cfg.settle {
			short = true
			break
		}
		if ctx.Err() != nil {
			short = true
			r.notes = append(r.notes, "timed out waiting for the items")
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	doneAt := time.Now()
	if short {
		doneAt = lastMove
		r.notes = append(r.notes, fmt.Sprintf("issuance stopped short; nothing moved for %s", s.cfg.settle))
	}
	stop()
	stopped = true
	if !pubFinished() {
		mkttest.WaitFor(t, time.Minute, "the login publisher", func() bool { return pubFinished() || ctx.Err() != nil })
		if !pubFinished() {
			res.Violations = append(res.Violations, fmt.Sprintf("the login publisher did not finish: %v", ctx.Err()))
		}
	}
	if pubErr != nil {
		res.Violations = append(res.Violations, fmt.Sprintf("publishing logins failed: %v (see %s)", pubErr, pubLog.Name()))
	}
	res.Total = doneAt.Sub(started)
	res.Recovery = faults.ComputeRecovery(prog.Samples(), faultAt, restoredAt, doneAt)

	// What MySQL says, once in-flight issuance settled.
	time.Sleep(3 * time.Second)
	actx, acancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer acancel()
	a, err := coupon.AuditItems(actx, s.db, r.id) // per-member limit 1: an item over it is a duplicate
	if err != nil {
		t.Fatal(err)
	}
	res.Issued, res.Holders, res.Duplicates = uint64(a.Items), uint64(a.Holders), uint64(a.OverLimit)
	if res.Issued > quota {
		res.OverQuota = res.Issued - quota
	}
	if res.Holders < res.Expected {
		res.Missing = res.Expected - res.Holders
	}
	t.Logf("%s: %d items to %d members, %d duplicates, %d over quota, %d missing", name, res.Issued, res.Holders,
		res.Duplicates, res.OverQuota, res.Missing)
	v := &res.Violations
	if res.Duplicates > 0 {
		*v = append(*v, fmt.Sprintf("%d duplicate items", res.Duplicates))
	}
	if res.OverQuota > 0 {
		*v = append(*v, fmt.Sprintf("%d items over quota", res.OverQuota))
	}
	if res.Missing > 0 {
		*v = append(*v, fmt.Sprintf("%d members missing their item", res.Missing))
	}
}

// TestFaults runs every scenario, one after the other, on the suite's own
// stack; select some with -run 'TestFaults/<name>'.
func TestFaults(t *testing.T) {
	for _, sc := range pushScenarios(st.cfg) {
		t.Run(sc.name, func(t *testing.T) { runPush(t, st, sc.name, sc.fault) })
	}
	for _, sc := range couponScenarios() {
		t.Run(sc.name, func(t *testing.T) { runCoupon(t, st, sc.name, sc.fault) })
	}
}
