package cli

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/spf13/cobra"

	"mkt/pkg/cache"
	"mkt/pkg/coupon"
	"mkt/pkg/login"
	"mkt/pkg/membership"
	"mkt/pkg/mq"
	"mkt/pkg/store"
)

// newBenchCmd is `mktctl bench`; its subcommands drive load through the
// real stack.
func newBenchCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load generators that measure mkt on the real stack",
	}
	cmd.AddCommand(newBenchCouponsCmd(app), newBenchPushCmd(app, nil))
	return cmd
}

type benchCouponsOptions struct {
	Logins      int64
	Repeat      float64
	PerMember   int
	Quota       int64
	Instances   int
	Couponsd    string
	Database    string
	Live        bool
	Rate        float64
	Senders     int
	Timeout     time.Duration
	Keep        bool
	Concurrency int
	BatchSize   int
	Workers     int
}

// benchCouponsReport is `bench coupons`' result (--json).
type benchCouponsReport struct {
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

func newBenchCouponsCmd(app *App) *cobra.Command {
	var o benchCouponsOptions
	cmd := &cobra.Command{
		Use:   "coupons",
		Short: "Drive login events through couponsd and measure lazy issuance",
		Long: `coupons measures lazy coupon issuance end to end on the real stack: it prepares a
database of its own (--database, recreated each run), creates a lazy coupon for
everyone, publishes --logins login events on a fresh topic (each member's first
login, plus --repeat of repeated logins), runs --instances couponsd processes
as children in one consumer group, and waits until every login is handled.

By default the events are published first and then consumed (the rate is the
consumers'); --live publishes while couponsd consumes (one machine doing both).
The rate counts from the first login handled to the last item issued.

Reported: logins, logins_per_second, issued, issued_per_second, duplicates
(items above a member's limit: must be 0), over_quota (must be 0), missing
(members who logged in without getting their items while quota remained: must
be 0) and couponsd_rss_peak_bytes (VmHWM of the child, the largest one).

couponsd is --couponsd, else the couponsd next to mktctl, else on $PATH, else
built with 'go build' when run inside the mkt source tree.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchCoupons(cmd.Context(), app, o)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&o.Logins, "logins", 200_000, "login events to publish")
	f.Float64Var(&o.Repeat, "repeat", 0, "share of the logins that are repeats of a member already seen (0..0.9)")
	f.IntVar(&o.PerMember, "per-member", 1, "items each member gets")
	f.Int64Var(&o.Quota, "quota", 0, "coupon quota (0 = unlimited)")
	f.IntVar(&o.Instances, "instances", 1, "couponsd processes (one consumer group)")
	f.StringVar(&o.Couponsd, "couponsd", "", "couponsd binary (default: next to mktctl, $PATH, or go build)")
	f.StringVar(&o.Database, "database", "mkt_bench_coupons", "database of the run (name starting with mkt_bench; emptied first)")
	f.BoolVar(&o.Live, "live", false, "publish while couponsd consumes instead of before")
	f.Float64Var(&o.Rate, "rate", 0, "publish rate limit, events/s (0 = unlimited)")
	f.IntVar(&o.Senders, "senders", 8, "concurrent publishers")
	f.DurationVar(&o.Timeout, "timeout", 15*time.Minute, "give up after this long")
	f.BoolVar(&o.Keep, "keep", false, "keep the topic and leave the coupon active")
	f.IntVar(&o.Concurrency, "consume-concurrency", 0, "couponsd --consume-concurrency (default couponsd's)")
	f.IntVar(&o.BatchSize, "batch-size", 0, "couponsd --batch-size (default couponsd's)")
	f.IntVar(&o.Workers, "batch-workers", 0, "couponsd --batch-workers (default couponsd's)")
	return cmd
}

func (o benchCouponsOptions) validate() error {
	switch {
	case o.Logins < 1 || o.Logins > 100_000_000:
		return usageErrorf("--logins must be within 1..100,000,000")
	case o.Repeat < 0 || o.Repeat > 0.9:
		return usageErrorf("--repeat must be within 0..0.9")
	case o.PerMember < 1 || o.PerMember > coupon.MaxPerMemberLimit:
		return usageErrorf("--per-member must be within 1..%d", coupon.MaxPerMemberLimit)
	case o.Quota < 0:
		return usageErrorf("--quota must not be negative")
	case o.Instances < 1 || o.Instances > 8:
		return usageErrorf("--instances must be within 1..8")
	case !strings.HasPrefix(o.Database, "mkt_bench"):
		return usageErrorf("--database %q: the benchmark empties it, so its name must start with mkt_bench", o.Database)
	case o.Senders < 1 || o.Senders > 64:
		return usageErrorf("--senders must be within 1..64")
	case o.Rate < 0 || o.Timeout <= 0:
		return usageErrorf("--rate must not be negative and --timeout must be positive")
	}
	return nil
}

func runBenchCoupons(ctx context.Context, app *App, o benchCouponsOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	progress := func(format string, args ...any) {
		fmt.Fprintf(app.Err, "bench: "+format+"\n", args...)
	}
	bin, err := findCouponsd(ctx, o.Couponsd, progress)
	if err != nil {
		return err
	}

	// A database of the run's own, emptied, with Redis state to match.
	dsn, err := store.WithDatabase(string(app.Common.MySQLDSN), o.Database)
	if err != nil {
		return usageErrorf("MySQL DSN: %v", err)
	}
	if err := store.EnsureDatabase(ctx, dsn); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	db, err := store.Open(ctx, store.Config{DSN: dsn})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db); err != nil {
		return err
	}
	// The logins are of members 1..distinct (below): coupons go to existing
	// members only, so they are seeded (idempotent; not timed).
	if _, err := membership.Seed(ctx, db, membership.SeedOptions{Target: max(1, int64(float64(o.Logins)*(1-o.Repeat)))}); err != nil {
		return fmt.Errorf("seed the members of %s: %w", o.Database, err)
	}
	for _, tbl := range []string{"sales_promotion_coupon_item", "sales_promotion_coupon"} {
		if _, err := db.ExecContext(ctx, "TRUNCATE TABLE "+tbl); err != nil {
			return fmt.Errorf("empty %s in %s: %w", tbl, o.Database, err)
		}
	}
	rc, err := cache.Open(ctx, cache.Config{Addr: app.Common.RedisAddr, Password: string(app.Common.RedisPassword), DB: app.Common.RedisDB})
	if err != nil {
		return fmt.Errorf("%w: Redis: %w", ErrUnavailable, err)
	}
	defer rc.Close()
	stale, err := cache.Open(ctx, cache.Config{Addr: app.Common.RedisAddr, Password: string(app.Common.RedisPassword), DB: app.Common.RedisDB,
		KeyPrefix: rc.Key("coupon", o.Database)})
	if err != nil {
		return fmt.Errorf("%w: Redis: %w", ErrUnavailable, err)
	}
	_, err = stale.DeleteAll(ctx)
	_ = stale.Close()
	if err != nil {
		return err
	}
	st, err := coupon.NewState(coupon.StateConfig{Cache: rc, Namespace: db.Name(), Logger: app.Logger})
	if err != nil {
		return err
	}

	// A fresh topic and group.
	var sfx [4]byte
	_, _ = crand.Read(sfx[:])
	baseTopic := "mkt_bench_login_" + hex.EncodeToString(sfx[:])
	baseGroup := "mkt_bench_couponsd_" + hex.EncodeToString(sfx[:])
	topic, group := app.Common.Topic(baseTopic), app.Common.Topic(baseGroup)
	mqc := mq.Config{NameServer: app.Common.RocketMQNameServer, BrokerAddr: app.Common.RocketMQBroker, Logger: app.Logger}
	if err := mq.EnsureTopics(ctx, mqc, 8, topic); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !o.Keep {
		defer dropBenchTopics(app, mqc, topic, mq.RetryTopic(group)) // a dead-letter topic, if any, is kept for inspection
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
		return err
	}
	if created.RedisError != "" {
		return fmt.Errorf("write the coupon's Redis state: %s", created.RedisError)
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
	stream := loginStream{total: o.Logins, next: func(i int64) int64 {
		if i < distinct {
			return i + 1
		}
		return 1 + rand.Int64N(distinct)
	}}
	p, err := mq.NewProducer(mq.ProducerConfig{Config: mqc, Group: "mkt_bench_publisher"})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer func() { _ = p.Shutdown() }()
	pub := login.Publisher{Sender: p, Topic: topic}

	rep := benchCouponsReport{Logins: o.Logins, Members: distinct, PerMember: o.PerMember, Quota: o.Quota,
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
		n, err := publishLogins(ctx, pub, stream, o.Rate, 100, o.Senders, &sent)
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
			return err
		}
	} else {
		rep.Mode = "live"
	}

	// couponsd children.
	var kids []*benchChild
	defer func() {
		for _, k := range kids {
			k.stop()
		}
	}()
	for i := range o.Instances {
		k, err := startBenchChild(ctx, app, bin, i, dsn, baseTopic, baseGroup, o)
		if err != nil {
			return err
		}
		kids = append(kids, k)
	}
	for _, k := range kids {
		if err := k.waitReady(ctx); err != nil {
			return err
		}
	}
	progress("%d couponsd ready", len(kids))
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
	for tDone.IsZero() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out after %s: %d logins handled, items issued so far: see coupon %d in %s", o.Timeout, rep.HandledLogins, cid, o.Database)
		case err := <-pubErr:
			if err != nil {
				return err
			}
		case <-tick.C:
		}
		var handled int64
		for _, k := range kids {
			if err := k.failed(); err != nil {
				return err
			}
			n, err := k.logins(ctx)
			if err != nil {
				return err
			}
			handled += n
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
			return err
		}
		if issued >= expected {
			tDone = time.Now()
		}
	}
	elapsed := tDone.Sub(t0)
	for _, k := range kids {
		hwm := k.rssPeak()
		rep.RSSPeakPerInstance = append(rep.RSSPeakPerInstance, hwm)
		rep.RSSPeakBytes = max(rep.RSSPeakBytes, hwm)
	}
	for _, k := range kids {
		k.stop()
	}
	kids = nil

	// Check what MySQL says.
	var counts struct {
		Issued     int64 `db:"issued"`
		Duplicates int64 `db:"duplicates"`
		Full       int64 `db:"full"`
	}
	if err := db.GetContext(ctx, &counts, `SELECT COALESCE(SUM(n), 0) AS issued,
			COALESCE(SUM(GREATEST(n - ?, 0)), 0) AS duplicates,
			COALESCE(SUM(n >= ?), 0) AS full
		FROM (SELECT COUNT(*) AS n FROM sales_promotion_coupon_item WHERE coupon_id = ? GROUP BY member_id) per_member`,
		o.PerMember, o.PerMember, cid); err != nil {
		return err
	}
	rep.Issued, rep.Duplicates = counts.Issued, counts.Duplicates
	if o.Quota > 0 {
		rep.OverQuota = max(0, counts.Issued-o.Quota)
	}
	if o.Quota == 0 || counts.Issued < o.Quota {
		rep.Missing = distinct - counts.Full
	}
	rep.ElapsedSeconds = elapsed.Seconds()
	rep.LoginsPerSecond = float64(o.Logins) / max(rep.ElapsedSeconds, 1e-9)
	rep.IssuedPerSecond = float64(rep.Issued) / max(rep.ElapsedSeconds, 1e-9)

	if app.JSON {
		if err := writeJSON(app.Out, rep); err != nil {
			return err
		}
	} else {
		rows := [][]string{
			{"logins", strconv.FormatInt(rep.Logins, 10)},
			{"logins/s", fmt.Sprintf("%.0f", rep.LoginsPerSecond)},
			{"issued", strconv.FormatInt(rep.Issued, 10)},
			{"issued/s", fmt.Sprintf("%.0f", rep.IssuedPerSecond)},
			{"duplicates", strconv.FormatInt(rep.Duplicates, 10)},
			{"over quota", strconv.FormatInt(rep.OverQuota, 10)},
			{"missing", strconv.FormatInt(rep.Missing, 10)},
			{"couponsd RSS peak", fmt.Sprintf("%.1f MiB", float64(rep.RSSPeakBytes)/(1<<20))},
			{"members", strconv.FormatInt(rep.Members, 10)},
			{"mode", fmt.Sprintf("%s, %d couponsd", rep.Mode, rep.Instances)},
			{"elapsed", fmt.Sprintf("%.2f s (first login handled → last item issued)", rep.ElapsedSeconds)},
			{"published", fmt.Sprintf("%.2f s (%.0f/s)", rep.PublishSeconds, rep.PublishedPerSecond)},
		}
		if err := table(app.Out, rows); err != nil {
			return err
		}
	}
	if rep.Duplicates != 0 || rep.OverQuota != 0 || rep.Missing != 0 {
		return fmt.Errorf("guarantee broken: %d duplicates, %d over quota, %d missing", rep.Duplicates, rep.OverQuota, rep.Missing)
	}
	return nil
}

// findCouponsd locates (or builds) the couponsd binary.
func findCouponsd(ctx context.Context, flag string, progress func(string, ...any)) (string, error) {
	if flag != "" {
		if _, err := os.Stat(flag); err != nil {
			return "", usageErrorf("--couponsd: %v", err)
		}
		return flag, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "couponsd")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("couponsd"); err == nil {
		return p, nil
	}
	// Inside the source tree: build it.
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module mkt")) {
			out := filepath.Join(os.TempDir(), "mkt-bench-couponsd")
			progress("building couponsd into %s", out)
			cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/couponsd")
			cmd.Dir = dir
			if msg, err := cmd.CombinedOutput(); err != nil {
				return "", fmt.Errorf("build couponsd: %w: %s", err, msg)
			}
			return out, nil
		}
	}
	return "", usageErrorf("couponsd not found next to mktctl nor on $PATH; build it (make build) or pass --couponsd")
}

// benchChild is one couponsd child process.
type benchChild struct {
	cmd     *exec.Cmd
	opsAddr string
	logPath string
	done    chan error
	exited  atomic.Bool
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startBenchChild(ctx context.Context, app *App, bin string, i int, dsn, topic, group string, o benchCouponsOptions) (*benchChild, error) {
	ops, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logf, err := os.CreateTemp("", fmt.Sprintf("mkt-bench-couponsd-%d-*.log", i))
	if err != nil {
		return nil, err
	}
	c := app.Common
	env := append(os.Environ(),
		"MKT_MYSQL_DSN="+dsn, "MKT_MYSQL_DSN_FILE=",
		"MKT_REDIS_ADDR="+c.RedisAddr, "MKT_REDIS_PASSWORD="+string(c.RedisPassword), "MKT_REDIS_PASSWORD_FILE=",
		"MKT_REDIS_DB="+strconv.Itoa(c.RedisDB),
		"MKT_ROCKETMQ_NAMESRV="+c.RocketMQNameServer, "MKT_ROCKETMQ_BROKER="+c.RocketMQBroker,
		"MKT_MQ_NAMESPACE="+c.Namespace,
		"MKT_OPS_ADDR="+ops, "MKT_LOG_LEVEL=warn",
		"MKT_COUPONSD_LOGIN_TOPIC="+topic, "MKT_COUPONSD_GROUP="+group,
		fmt.Sprintf("MKT_COUPONSD_INSTANCE=bench_%d_%d", os.Getpid(), i),
	)
	for name, v := range map[string]int{"MKT_COUPONSD_CONCURRENCY": o.Concurrency, "MKT_COUPONSD_BATCH_SIZE": o.BatchSize, "MKT_COUPONSD_BATCH_WORKERS": o.Workers} {
		if v > 0 {
			env = append(env, name+"="+strconv.Itoa(v))
		}
	}
	cmd := exec.Command(bin, "--api-addr=")
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	k := &benchChild{cmd: cmd, opsAddr: ops, logPath: logf.Name(), done: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		logf.Close()
		k.exited.Store(true)
		k.done <- err
	}()
	return k, nil
}

func (k *benchChild) failed() error {
	if !k.exited.Load() {
		return nil
	}
	return fmt.Errorf("couponsd (pid %d) exited early; its log: %s\n%s", k.cmd.Process.Pid, k.logPath, tailFile(k.logPath, 20))
}

func (k *benchChild) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if err := k.failed(); err != nil {
			return err
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+k.opsAddr+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("couponsd (pid %d) not ready after 90 s; its log: %s\n%s", k.cmd.Process.Pid, k.logPath, tailFile(k.logPath, 20))
}

// logins reads mkt_coupon_logins_total from the child's /metrics.
func (k *benchChild) logins(ctx context.Context) (int64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+k.opsAddr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("read couponsd metrics: %w", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "mkt_coupon_logins_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("couponsd metric %q: %w", sc.Text(), err)
			}
			return int64(f), nil
		}
	}
	return 0, sc.Err()
}

// rssPeak is the child's VmHWM in bytes (0 if unreadable).
func (k *benchChild) rssPeak() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", k.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// stop sends SIGTERM and waits for the drain, then kills.
func (k *benchChild) stop() {
	if k.exited.Load() {
		return
	}
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(40 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.done
	}
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// dropBenchTopics deletes the run's topics from the broker and name server.
func dropBenchTopics(app *App, cfg mq.Config, topics ...string) {
	addrs := strings.Split(cfg.NameServer, ";")
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver(addrs)))
	if err != nil {
		return
	}
	defer func() { _ = adm.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, t := range topics {
		if q, err := adm.FetchPublishMessageQueues(ctx, t); err != nil || len(q) == 0 {
			continue
		}
		if err := adm.DeleteTopic(ctx, admin.WithTopicDelete(t), admin.WithBrokerAddrDelete(cfg.BrokerAddr), admin.WithNameSrvAddr(addrs)); err != nil {
			app.Logger.Warn("bench: delete topic", "topic", t, "error", err.Error())
		}
	}
}
