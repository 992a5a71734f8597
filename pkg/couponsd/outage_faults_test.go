//go:build faults

package couponsd

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mkt/pkg/deadletter"
	"mkt/pkg/login"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
)

// TestDatabaseOutage60s (go test -tags faults): MariaDB is cut for 60 s in
// the middle of a stream of logins (through a proxy: the shared server keeps
// running). The login consumer's retries (1 s 5 s 10 s 30 s 1 m 1 m 1 m 1 m,
// about 4 min 46 s) ride through it: once settled every member holds
// exactly one item of the everyone coupon, the quota-limited coupon issued
// exactly its quota, issued_count matches the rows, and nothing was
// dead-lettered.
func TestDatabaseOutage60s(t *testing.T) {
	t.Parallel()
	const members = 3000
	w := newProxiedWorld(t, members, "outage")
	ctx, db, pdb, proxy, c, mqc, sfx, topic, group := t.Context(), w.db, w.pdb, w.proxy, w.cache, w.mq, w.sfx, w.topic, w.group
	now := time.Now()
	st := newCouponState(t, c, db)
	every := createCoupon(t, db, st, baseSpec(now), now)
	ls := baseSpec(now)
	ls.TotalQuota = new(int64)
	*ls.TotalQuota = 2000
	limited := createCoupon(t, db, st, ls, now)
	reg := prometheus.NewRegistry()
	svc, err := New(Config{
		Options: Options{Group: group, Topic: topic, Instance: "couponsd_outage_" + sfx, Concurrency: 64,
			SyncInterval: 2 * time.Second, Lease: 5 * time.Second, DrainDLQ: true},
		DB: pdb, Cache: c, MQ: mqc, Logger: mkttest.Logger(), Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(startAll(t, svc.Components()))
	p, err := mq.NewProducer(mq.ProducerConfig{Config: mqc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	pub := login.Publisher{Sender: p, Topic: topic}
	publish := func(from, to int64) {
		var evs []login.Event
		for m := from; m <= to; m++ {
			evs = append(evs, login.Event{MemberID: m, LoginAt: now})
		}
		if err := pub.Publish(ctx, evs...); err != nil {
			t.Fatal(err)
		}
	}
	publish(1, 1000)
	time.Sleep(300 * time.Millisecond) // mid-run: part of the first thousand in flight
	proxy.Cut()
	cutAt := time.Now()
	publish(1001, 2500)
	publish(1, 200) // repeated logins during the outage
	time.Sleep(60*time.Second - time.Since(cutAt))
	proxy.Restore()
	restored := time.Now()
	publish(2501, members)

	mkttest.WaitFor(t, 6*time.Minute, "every member issued the everyone coupon", func() bool {
		return auditItems(t, db, every.ID).Holders == members
	})
	t.Logf("settled %s after MariaDB came back", time.Since(restored).Round(time.Second))
	time.Sleep(3 * time.Second) // a negative check: let stragglers (redeliveries) land; they must change nothing
	for _, id := range []int64{every.ID, limited.ID} {
		a := auditItems(t, db, id) // per-member limit 1: an item over it is a duplicate
		for _, p := range a.Broken() {
			t.Error(p)
		}
		if q := a.Coupon.TotalQuota; q != nil && a.Items != *q {
			t.Errorf("coupon %d: %d items, quota %d (over quota or missing)", id, a.Items, *q)
		}
	}
	if v := mkttest.MetricValue(t, reg, "mkt_coupon_logins_dead_lettered_total", nil); v != 0 {
		t.Errorf("%v logins dead-lettered by a 60 s outage", v)
	}
	if n, err := deadletter.Count(ctx, db, group); err != nil || n.Pending != 0 {
		t.Errorf("dead letters stored: %+v %v", n, err)
	}
}
