package bench

import (
	"cmp"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"mkt/pkg/cache"
	"mkt/pkg/childproc"
	"mkt/pkg/config"
	"mkt/pkg/coupon"
	"mkt/pkg/login"
	"mkt/pkg/membership"
	"mkt/pkg/mq"
	"mkt/pkg/store"
)

// CouponsConfig configures Coupons; its fields are `mktctl bench coupons`'
// flags (the command checks their ranges) and where the stack is.
type CouponsConfig struct {
	// Logins is the login events published.
	Logins int64
	// Repeat is the share of the logins that repeat a member already seen.
	Repeat float64
	// PerMember is the items each member gets; Quota the coupon's quota
	// (0 = unlimited).
	PerMember int
	Quota     int64
	// Instances is the couponsd processes, in one consumer group.
	Instances int
	// CouponsdBin is the couponsd executable (required; childproc.Find).
	CouponsdBin string
	// Database is the run's database, emptied first (a name starting with
	// mkt_bench).
	Database string
	// Live publishes while couponsd consumes instead of before.
	Live bool
	// Rate limits publishing, events/s (0 = unlimited); Senders is the
	// concurrent publishers.
	Rate    float64
	Senders int
	// Timeout gives up after this long.
	Timeout time.Duration
	// Keep keeps the topic and leaves the coupon active.
	Keep bool
	// Concurrency, BatchSize and Workers are couponsd's
	// --consume-concurrency, --batch-size and --batch-workers (0 =
	// couponsd's defaults).
	Concurrency int
	BatchSize   int
	Workers     int

	// Stack is where MySQL, Redis and RocketMQ are (mktctl's settings).
	Stack config.Common
	// Logger logs what the harness's clients log.
	Logger *slog.Logger
	// Progress receives a line per step ("bench: ..."); nil discards them.
	Progress io.Writer
}

// CouponsReport is the result of Coupons (`bench coupons --json`).
type CouponsReport struct {
	Logins             int64   `json:"logins"`
	LoginsPerSecond    float64 `json:"logins_per_second"`
	Issued             int64   `json:"issued"`
	IssuedPerSecond    float64 `json:"issued_per_second"`
	Duplicates         int64   `json:"duplicates"`
	OverQuota          int64   `json:"over_quota"`
	Missing            int64   `json:"missing"`
	RSSPeakBytes       int64   `json:"couponsd_rss_peak_bytes"`
	Members            int64   `json:"members"`
	PerMember          int     `json:"per_member"`
	Quota              int64   `json:"quota,omitempty"`
	Instances          int     `json:"instances"`
	Mode               string  `json:"mode"`
	ElapsedSeconds     float64 `json:"elapsed_seconds"`
	PublishSeconds     float64 `json:"publish_seconds"`
	PublishedPerSecond float64 `json:"published_per_second"`
	HandledLogins      int64   `json:"handled_logins"`
	RSSPeakPerInstance []int64 `json:"couponsd_rss_peak_bytes_per_instance"`
	CouponID           int64   `json:"coupon_id"`
	Database           string  `json:"database"`
	Topic              string  `json:"topic"`
	Couponsd           string  `json:"couponsd"`
}

// Coupons measures lazy coupon issuance end to end: it prepares a
// database of its own (cfg.Database, emptied), creates a lazy coupon for
// everyone, publishes cfg.Logins login events on a fresh topic, runs
// cfg.Instances couponsd processes in one consumer group and waits until
// every login is handled and the items issued; then it counts what MySQL
// holds. The rate counts from the first login handled to the last item
// issued. A report whose guarantees broke is returned without an error:
// see CouponsReport.Check.
func Coupons(ctx context.Context, o CouponsConfig) (rep CouponsReport, err error) {
	if o.CouponsdBin == "" {
		return rep, fmt.Errorf("%w: no couponsd executable", ErrRefused)
	}
	o.Logger = cmp.Or(o.Logger, slog.Default())
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	progress := progressTo(o.Progress)
	bin := o.CouponsdBin
	c := o.Stack

	// A database of the run's own, emptied, with Redis state to match.
	dsn, err := store.WithDatabase(string(c.MySQLDSN), o.Database)
	if err != nil {
		return rep, fmt.Errorf("%w: MySQL DSN: %w", ErrRefused, err)
	}
	if err := store.EnsureDatabase(ctx, dsn); err != nil {
		return rep, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	db, err := store.Open(ctx, store.Config{DSN: dsn})
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db); err != nil {
		return rep, err
	}
	// The logins are of members 1..distinct (below): coupons go to existing
	// members only, so they are seeded (idempotent; not timed).
	if _, err := membership.Seed(ctx, db, membership.SeedOptions{Target: max(1, int64(float64(o.Logins)*(1-o.Repeat)))}); err != nil {
		return rep, fmt.Errorf("seed the members of %s: %w", o.Database, err)
	}
	for _, tbl := range []string{"sales_promotion_coupon_item", "sales_promotion_coupon"} {
		if _, err := db.ExecContext(ctx, "TRUNCATE TABLE "+tbl); err != nil {
			return rep, fmt.Errorf("empty %s in %s: %w", tbl, o.Database, err)
		}
	}
	rc, err := cache.Open(ctx, cache.Config{Addr: c.RedisAddr, Password: string(c.RedisPassword), DB: c.RedisDB})
	if err != nil {
		return rep, fmt.Errorf("%w: Redis: %w", ErrUnavailable, err)
	}
	defer rc.Close()
	stale, err := cache.Open(ctx, cache.Config{Addr: c.RedisAddr, Password: string(c.RedisPassword), DB: c.RedisDB,
		KeyPrefix: rc.Key("coupon", o.Database)})
	if err != nil {
		return rep, fmt.Errorf("%w: Redis: %w", ErrUnavailable, err)
	}
	_, err = stale.DeleteAll(ctx)
	_ = stale.Close()
	if err != nil {
		return rep, err
	}
	st, err := coupon.NewState(coupon.StateConfig{Cache: rc, Namespace: db.Name(), Logger: o.Logger})
	if err != nil {
		return rep, err
	}

	// A fresh topic and group.
	var sfx [4]byte
	_, _ = crand.Read(sfx[:])
	baseTopic := "mkt_bench_login_" + hex.EncodeToString(sfx[:])
	baseGroup := "mkt_bench_couponsd_" + hex.EncodeToString(sfx[:])
	topic, group := c.Topic(baseTopic), c.Topic(baseGroup)
	mqc := mq.Config{NameServer: c.RocketMQNameServer, BrokerAddr: c.RocketMQBroker, Logger: o.Logger}
	if err := mq.EnsureTopics(ctx, mqc, 8, topic); err != nil {
		return rep, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !o.Keep {
		defer dropTopics(o.Logger, mqc, topic, mq.RetryTopic(group)) // a dead-letter topic, if any, is kept for inspection
	}

	// The coupon: everyone, lazy, open now.
	now := time.Now().UTC()
	spec := coupon.Spec{
		Name: "bench coupon", Kind: coupon.KindAmount, AmountCents: 500, ThresholdCents: 5000,
		ValidFrom: now.Add(-time.Minute), ValidUntil: now.Add(24 * time.Hour), PerMemberLimit: o.PerMember,
		CreatedBy: "mktctl bench",
	}
	if o.Quota > 0 {
		q := o.Quota
		spec.TotalQuota = &q
	}
	created, err := coupon.Create(ctx, db, st, spec, "", now)
	if err != nil {
		return rep, err
	}
	if created.RedisError != "" {
		return rep, fmt.Errorf("write the coupon's Redis state: %s", created.RedisError)
	}
	cid := created.Coupon.ID
	if !o.Keep {
		defer func() {
			ctx := context.WithoutCancel(ctx)
			_, _ = coupon.Disable(ctx, db, st, cid)
			_ = st.Forget(ctx, cid)
		}()
	}

	distinct := max(1, int64(float64(o.Logins)*(1-o.Repeat)))
	stream := LoginStream{Total: o.Logins, Next: func(i int64) int64 {
		if i < distinct {
			return i + 1
		}
		return 1 + rand.Int64N(distinct)
	}}
	p, err := mq.NewProducer(mq.ProducerConfig{Config: mqc, Group: "mkt_bench_publisher"})
	if err != nil {
		return rep, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer func() { _ = p.Shutdown() }()
	pub := login.Publisher{Sender: p, Topic: topic}

	rep = CouponsReport{Logins: o.Logins, Members: distinct, PerMember: o.PerMember, Quota: o.Quota,
		Instances: o.Instances, Mode: "preload", CouponID: cid, Database: o.Database, Topic: topic, Couponsd: bin}
	var sent atomic.Int64
	publish := func() error {
		start := time.Now()
		stop := make(chan struct{})
		go func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					progress("published %d/%d", sent.Load(), o.Logins)
				}
			}
		}()
		n, err := PublishLogins(ctx, pub, stream, o.Rate, 100, o.Senders, &sent)
		close(stop)
		rep.PublishSeconds = time.Since(start).Seconds()
		rep.PublishedPerSecond = float64(n) / max(rep.PublishSeconds, 1e-9)
		if err != nil {
			return fmt.Errorf("publish logins (%d sent): %w", n, err)
		}
		progress("published %d login events in %.1f s (%.0f/s)", n, rep.PublishSeconds, rep.PublishedPerSecond)
		return nil
	}
	if !o.Live {
		if err := publish(); err != nil {
			return rep, err
		}
	} else {
		rep.Mode = "live"
	}

	// couponsd children.
	kids, err := startCouponsd(ctx, o, dsn, baseTopic, baseGroup)
	defer kids.stop()
	if err != nil {
		return rep, err
	}
	progress("%d couponsd ready", len(kids.procs))
	pubErr := make(chan error, 1)
	if o.Live {
		go func() { pubErr <- publish() }()
	} else {
		pubErr <- nil
	}

	// Measure: from the first login handled until every one is and the
	// items are all issued.
	expected := distinct * int64(o.PerMember)
	if o.Quota > 0 {
		expected = min(expected, o.Quota)
	}
	var t0, tDone time.Time
	lastLog := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	published := false // publish has returned (it writes rep until then)
	for tDone.IsZero() || !published {
		select {
		case <-ctx.Done():
			return rep, fmt.Errorf("timed out after %s: %d logins handled, items issued so far: see coupon %d in %s", o.Timeout, rep.HandledLogins, cid, o.Database)
		case err := <-pubErr:
			if err != nil {
				return rep, err
			}
			published = true
			continue
		case <-tick.C:
		}
		if !tDone.IsZero() {
			continue
		}
		handled, err := kids.logins(ctx)
		if err != nil {
			return rep, err
		}
		rep.HandledLogins = handled
		if handled > 0 && t0.IsZero() {
			t0 = time.Now()
		}
		if handled < o.Logins {
			if time.Since(lastLog) > time.Second {
				lastLog = time.Now()
				progress("handled %d/%d logins", handled, o.Logins)
			}
			continue
		}
		var issued int64
		if err := db.GetContext(ctx, &issued, `SELECT issued_count FROM sales_promotion_coupon WHERE id = ?`, cid); err != nil {
			return rep, err
		}
		if issued >= expected {
			tDone = time.Now()
		}
	}
	elapsed := tDone.Sub(t0)
	for _, p := range kids.procs {
		var hwm int64
		if m, err := p.Memory(); err == nil {
			hwm = int64(m.PeakRSS)
		}
		rep.RSSPeakPerInstance = append(rep.RSSPeakPerInstance, hwm)
		rep.RSSPeakBytes = max(rep.RSSPeakBytes, hwm)
	}
	kids.stop()

	// Check what MySQL says (the coupon's limit is o.PerMember).
	a, err := coupon.AuditItems(ctx, db, cid)
	if err != nil {
		return rep, err
	}
	rep.Issued, rep.Duplicates = a.Items, a.OverLimit
	if o.Quota > 0 {
		rep.OverQuota = max(0, a.Items-o.Quota)
	}
	if o.Quota == 0 || a.Items < o.Quota {
		rep.Missing = distinct - a.Full
	}
	rep.ElapsedSeconds = elapsed.Seconds()
	rep.LoginsPerSecond = float64(o.Logins) / max(rep.ElapsedSeconds, 1e-9)
	rep.IssuedPerSecond = float64(rep.Issued) / max(rep.ElapsedSeconds, 1e-9)

	return rep, nil
}

// Check returns an error when a guarantee broke: a member above its
// limit, items over the quota, or a member who logged in without getting
// the items while quota remained.
func (rep CouponsReport) Check() error {
	if rep.Duplicates != 0 || rep.OverQuota != 0 || rep.Missing != 0 {
		return fmt.Errorf("guarantee broken: %d duplicates, %d over quota, %d missing", rep.Duplicates, rep.OverQuota, rep.Missing)
	}
	return nil
}

// couponsdGroup is the couponsd children of a run, with their log files.
type couponsdGroup struct {
	procs []*childproc.Proc
	logs  []*os.File
}

// startCouponsd starts o.Instances couponsd processes consuming topic in
// group (both unprefixed: they take the namespace of o.Stack) from the
// database dsn, and waits until they are ready.
func startCouponsd(ctx context.Context, o CouponsConfig, dsn, topic, group string) (*couponsdGroup, error) {
	g := &couponsdGroup{}
	c := o.Stack
	env := []string{
		"MKT_REDIS_ADDR=" + c.RedisAddr, "MKT_REDIS_PASSWORD=" + string(c.RedisPassword), "MKT_REDIS_PASSWORD_FILE=",
		"MKT_REDIS_DB=" + strconv.Itoa(c.RedisDB),
		"MKT_ROCKETMQ_NAMESRV=" + c.RocketMQNameServer, "MKT_ROCKETMQ_BROKER=" + c.RocketMQBroker,
		"MKT_MQ_NAMESPACE=" + c.Namespace,
		"MKT_COUPONSD_LOGIN_TOPIC=" + topic, "MKT_COUPONSD_GROUP=" + group,
	}
	for name, v := range map[string]int{"MKT_COUPONSD_CONCURRENCY": o.Concurrency, "MKT_COUPONSD_BATCH_SIZE": o.BatchSize, "MKT_COUPONSD_BATCH_WORKERS": o.Workers} {
		if v > 0 {
			env = append(env, name+"="+strconv.Itoa(v))
		}
	}
	for i := range o.Instances {
		logf, err := os.CreateTemp("", fmt.Sprintf("mkt-bench-couponsd-%d-*.log", i))
		if err != nil {
			return g, err
		}
		g.logs = append(g.logs, logf)
		p, err := childproc.Start(childproc.Config{
			Bin:      o.CouponsdBin,
			Instance: fmt.Sprintf("bench_%d_%d", os.Getpid(), i),
			MySQLDSN: dsn,
			Env:      env,
			Args:     []string{"--api-addr="},
			Log:      logf,
		})
		if err != nil {
			return g, err
		}
		g.procs = append(g.procs, p)
	}
	rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for i, p := range g.procs {
		if err := p.WaitReady(rctx); err != nil {
			return g, fmt.Errorf("couponsd (pid %d) not ready: %w; its log: %s\n%s", p.PID(), err, g.logs[i].Name(), tailFile(g.logs[i].Name(), 20))
		}
	}
	return g, nil
}

// logins sums mkt_coupon_logins_total over the children; a child that
// exited is an error.
func (g *couponsdGroup) logins(ctx context.Context) (int64, error) {
	var handled int64
	for i, p := range g.procs {
		if p.Exited() {
			return 0, fmt.Errorf("couponsd (pid %d) exited early; its log: %s\n%s", p.PID(), g.logs[i].Name(), tailFile(g.logs[i].Name(), 20))
		}
		n, err := p.Metric(ctx, "mkt_coupon_logins_total")
		if err != nil {
			return 0, err
		}
		handled += int64(n)
	}
	return handled, nil
}

// stop stops the children (SIGTERM: they drain; SIGKILL after 40 s) and
// closes their logs, which stay on disk. It may be called again.
func (g *couponsdGroup) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	_, _ = childproc.StopAll(ctx, g.procs)
	for _, f := range g.logs {
		_ = f.Close()
	}
	g.procs, g.logs = nil, nil
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// dropTopics deletes the run's topics from the broker and name server.
func dropTopics(log *slog.Logger, cfg mq.Config, topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := mq.DeleteTopics(ctx, cfg, topics...); err != nil {
		log.Warn("bench: delete topics", "error", err.Error())
	}
}
