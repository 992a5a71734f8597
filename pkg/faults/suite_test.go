//go:build faults

package faults_test

// The fault suite's set-up: a stack of its own (scripts/services.sh with
// another state directory and other ports), the binaries built fresh, one
// database per audience size, and the helpers every scenario uses.

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mkt/pkg/childproc"
	"mkt/pkg/faults"
	"mkt/pkg/mkttest"
	"mkt/pkg/push"
	"mkt/pkg/pushtest"
	"mkt/pkg/store"
)

// suiteConfig is read from the environment (see scripts/faults.sh).
type suiteConfig struct {
	root     string        // the repository
	stateDir string        // MKT_FAULTS_STATE_DIR, default <repo>/.mkt-faults
	members  int64         // MKT_FAULTS_MEMBERS, default 300,000
	timeout  time.Duration // MKT_FAULTS_TIMEOUT: per scenario, default 20m
	settle   time.Duration // MKT_FAULTS_SETTLE: coupons, no progress this long after the restore ends a run short
	spell    time.Duration // MKT_FAULTS_SPELL: a provider fault's length, default 15s
	latency  time.Duration // MKT_FAULTS_LATENCY: provider latency, default 200ms
	lease    string        // MKT_FAULTS_LEASE: pushd --lease, default 10s
	journal  time.Duration // MKT_FAULTS_JOURNAL_INTERVAL: pushd's journal interval in the kill -9 bound, default 100ms (pushd's own default)
	report   string        // MKT_FAULTS_REPORT: the Markdown results file
	skipUp   bool          // MKT_FAULTS_SKIP_UP=1: the stack is up already

	// MKT_FAULTS_{MYSQL,REDIS,NAMESRV,BROKER}_PORT: 13306, 16379, 19876, 20911.
	mysqlPort, redisPort, namesrvPort, brokerPort int
}

// suite is the state every scenario shares.
type suite struct {
	cfg     suiteConfig
	dsn     string // the suite's database, members seeded
	db      *store.DB
	bins    map[string]string
	logDir  string
	mu      sync.Mutex
	push    []faults.PushResult
	coupons []faults.CouponResult
}

var st *suite

func envInt(name string, def int64) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "faults: %s=%q: want a positive integer\n", name, v)
		os.Exit(2)
	}
	return n
}

func envDuration(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		fmt.Fprintf(os.Stderr, "faults: %s=%q: want a positive duration\n", name, v)
		os.Exit(2)
	}
	return d
}

func readConfig() suiteConfig {
	wd, _ := os.Getwd()
	root := filepath.Clean(filepath.Join(wd, "..", ".."))
	c := suiteConfig{
		root:        root,
		stateDir:    cmp.Or(os.Getenv("MKT_FAULTS_STATE_DIR"), filepath.Join(root, ".mkt-faults")),
		mysqlPort:   int(envInt("MKT_FAULTS_MYSQL_PORT", 13306)),
		redisPort:   int(envInt("MKT_FAULTS_REDIS_PORT", 16379)),
		namesrvPort: int(envInt("MKT_FAULTS_NAMESRV_PORT", 19876)),
		brokerPort:  int(envInt("MKT_FAULTS_BROKER_PORT", 20911)),
		members:     envInt("MKT_FAULTS_MEMBERS", 300_000),
		timeout:     envDuration("MKT_FAULTS_TIMEOUT", 20*time.Minute),
		settle:      envDuration("MKT_FAULTS_SETTLE", 3*time.Minute),
		spell:       envDuration("MKT_FAULTS_SPELL", 15*time.Second),
		latency:     envDuration("MKT_FAULTS_LATENCY", 200*time.Millisecond),
		lease:       cmp.Or(os.Getenv("MKT_FAULTS_LEASE"), "10s"),
		journal:     envDuration("MKT_FAULTS_JOURNAL_INTERVAL", push.DefaultJournalInterval),
		report:      os.Getenv("MKT_FAULTS_REPORT"),
		skipUp:      os.Getenv("MKT_FAULTS_SKIP_UP") == "1",
	}
	if c.mysqlPort == 3306 || c.redisPort == 6379 || c.namesrvPort == 9876 || c.brokerPort == 10911 {
		fmt.Fprintln(os.Stderr, "faults: refusing the shared stack's ports (3306, 6379, 9876, 10911): the suite stops and flushes its services")
		os.Exit(2)
	}
	if c.stateDir == filepath.Join(root, ".mkt") {
		fmt.Fprintln(os.Stderr, "faults: refusing the shared stack's state directory .mkt")
		os.Exit(2)
	}
	if c.report == "" {
		c.report = filepath.Join(c.stateDir, "results", "faults-"+time.Now().UTC().Format("20060102T150405Z")+".md")
	}
	return c
}

// stackEnv is the environment that points services.sh and every binary at
// the suite's stack. It is set on the test process, so children inherit it.
func (c suiteConfig) stackEnv(database string) map[string]string {
	return map[string]string{
		"MKT_STATE_DIR":    c.stateDir,
		"MKT_MYSQL_PORT":   strconv.Itoa(c.mysqlPort),
		"MKT_REDIS_PORT":   strconv.Itoa(c.redisPort),
		"MKT_NAMESRV_PORT": strconv.Itoa(c.namesrvPort),
		"MKT_BROKER_PORT":  strconv.Itoa(c.brokerPort),
		// The local stack's development account (scripts/services.sh); a DSN
		// travels in the environment, never on a command line.
		"MKT_MYSQL_DSN": fmt.Sprintf("mkt:mkt@tcp(127.0.0.1:%d)/%s?parseTime=true&loc=UTC&charset=utf8mb4&collation=utf8mb4_unicode_ci",
			c.mysqlPort, database),
		"MKT_MYSQL_DSN_FILE":      "",
		"MKT_REDIS_ADDR":          fmt.Sprintf("127.0.0.1:%d", c.redisPort),
		"MKT_REDIS_PASSWORD":      "",
		"MKT_REDIS_PASSWORD_FILE": "", // set by run once services.sh up made it
		"MKT_REDIS_DB":            "0",
		"MKT_ROCKETMQ_NAMESRV":    fmt.Sprintf("127.0.0.1:%d", c.namesrvPort),
		"MKT_ROCKETMQ_BROKER":     fmt.Sprintf("127.0.0.1:%d", c.brokerPort),
		"MKT_MQ_NAMESPACE":        "",
		"MKT_LOG_FORMAT":          "",
		"MKT_LOG_LEVEL":           "",
	}
}

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		if code == 0 {
			code = 1
		}
	}
	pushtest.RemoveBuilt()
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	cfg := readConfig()
	database := fmt.Sprintf("mkt_faults_%d", cfg.members)
	env := cfg.stackEnv(database)
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			return 0, err
		}
	}
	s := &suite{cfg: cfg, bins: map[string]string{}}
	s.logDir = filepath.Join(cfg.stateDir, "logs", time.Now().UTC().Format("20060102T150405Z"))
	if err := os.MkdirAll(s.logDir, 0o755); err != nil {
		return 1, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if !cfg.skipUp {
		fmt.Printf("faults: bringing the suite's own stack up (state %s, MariaDB %d, Redis %d, name server %d, broker %d)\n",
			cfg.stateDir, cfg.mysqlPort, cfg.redisPort, cfg.namesrvPort, cfg.brokerPort)
		if err := services(ctx, "up"); err != nil {
			return 1, err
		}
	}
	// services.sh up writes the stack's Redis password to a file; every
	// binary (and redis-cli, through mkttest) logs in with it. A stack
	// without one runs without AUTH.
	pwFile := filepath.Join(cfg.stateDir, "redis", "password")
	if _, err := os.Stat(pwFile); err == nil {
		if err := os.Setenv("MKT_REDIS_PASSWORD_FILE", pwFile); err != nil {
			return 0, err
		}
	}
	fmt.Println("faults: building pushd, couponsd and mktctl")
	for _, name := range []string{"pushd", "couponsd", "mktctl"} {
		bin, err := pushtest.Build(name)
		if err != nil {
			return 1, err
		}
		s.bins[name] = bin
	}
	s.dsn = env["MKT_MYSQL_DSN"]
	if err := store.EnsureDatabase(ctx, s.dsn); err != nil {
		return 1, err
	}
	if _, err := s.mktctl(ctx, "", "migrate"); err != nil {
		return 1, err
	}
	fmt.Printf("faults: seeding %d members into %s\n", cfg.members, database)
	t0 := time.Now()
	if _, err := s.mktctl(ctx, "", "users", "seed", "--count", strconv.FormatInt(cfg.members, 10)); err != nil {
		return 1, err
	}
	fmt.Printf("faults: members ready in %s\n", time.Since(t0).Round(time.Second))
	db, err := store.Open(ctx, store.Config{DSN: s.dsn, MaxOpenConns: 8})
	if err != nil {
		return 1, err
	}
	defer db.Close()
	s.db = db
	st = s

	code := m.Run()

	s.mu.Lock()
	push, coupons := s.push, s.coupons
	s.mu.Unlock()
	if len(push)+len(coupons) == 0 {
		return code, nil
	}
	var b bytes.Buffer
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "Fault suite, %s, %d members, provider latency %s, pushd --lease %s, on %s (%d CPUs)\n\n",
		time.Now().UTC().Format(time.RFC3339), cfg.members, cfg.latency, cfg.lease, host, numCPU())
	if err := faults.WriteMarkdown(&b, push, coupons); err != nil {
		return code, err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.report), 0o755); err != nil {
		return code, err
	}
	if err := os.WriteFile(cfg.report, b.Bytes(), 0o644); err != nil {
		return code, err
	}
	fmt.Println()
	fmt.Println("== fault suite results")
	_ = faults.WriteText(os.Stdout, push, coupons)
	fmt.Printf("\nMarkdown: %s\nlogs: %s\n", cfg.report, s.logDir)
	return code, nil
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return bytes.Count(b, []byte("\nprocessor")) + 1
}

// services runs scripts/services.sh with the suite's stack environment.
func services(ctx context.Context, args ...string) error {
	wd, _ := os.Getwd()
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(wd, "..", "..", "scripts", "services.sh")}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("services.sh %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	return nil
}

// mktctl runs the freshly built mktctl in the MQ namespace ns and returns
// its standard output.
func (s *suite) mktctl(ctx context.Context, ns string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bins["mktctl"], args...)
	cmd.Env = append(os.Environ(), "MKT_MQ_NAMESPACE="+ns)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("mktctl %s: %w\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

// scenarioDir is the log directory of one scenario.
func (s *suite) scenarioDir(t *testing.T, name string) string {
	dir := filepath.Join(s.logDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// daemons are the pushd or couponsd processes of one scenario: both
// daemons share the runtime pushtest drives (flags --instance, --ops-addr,
// --log-format, --mq-namespace; the "daemon ready" line; /readyz).
type daemons struct {
	t     *testing.T
	s     *suite
	bin   string
	ns    string
	dir   string
	env   []string
	args  []string
	mu    sync.Mutex
	procs []*childproc.Proc
	files []*os.File
}

func (d *daemons) start(instance string) *childproc.Proc {
	d.t.Helper()
	f, err := os.Create(filepath.Join(d.dir, instance+".log"))
	if err != nil {
		d.t.Fatal(err)
	}
	p, err := childproc.Start(childproc.Config{
		Bin: d.bin, Instance: instance, MySQLDSN: d.s.dsn, Namespace: d.ns,
		Env: d.env, Args: d.args, Log: f, LogLevel: "info",
	})
	if err != nil {
		_ = f.Close()
		d.t.Fatal(err)
	}
	d.mu.Lock()
	d.procs = append(d.procs, p)
	d.files = append(d.files, f)
	d.mu.Unlock()
	return p
}

// startReady starts the named processes and waits until all are ready and
// the consumer group settled.
func (d *daemons) startReady(names ...string) []*childproc.Proc {
	d.t.Helper()
	ps := make([]*childproc.Proc, len(names))
	for i, n := range names {
		ps[i] = d.start(n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := childproc.WaitAllReady(ctx, ps); err != nil {
		d.t.Fatal(err)
	}
	return ps
}

// stopAll stops every process still running (SIGTERM, then SIGKILL).
func (d *daemons) stopAll() {
	d.mu.Lock()
	ps := append([]*childproc.Proc(nil), d.procs...)
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, _ = childproc.StopAll(ctx, ps)
	d.mu.Lock()
	for _, f := range d.files {
		_ = f.Close()
	}
	d.mu.Unlock()
}

// outage stops service for d, then starts it again; it returns when the
// service is ready again.
func outage(ctx context.Context, service string, d time.Duration) error {
	if err := services(ctx, "stop", service); err != nil {
		return err
	}
	time.Sleep(d)
	return services(ctx, "start", service)
}

// ensureStack brings every service of the suite's stack up (a scenario that
// failed half-way may have left one stopped).
func ensureStack(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := services(ctx, "up"); err != nil {
		t.Fatal(err)
	}
}

// faultWindow is when a scenario's fault was injected and lifted, and how
// far the run was when it was injected.
type faultWindow struct {
	at, lifted time.Time
	doneAt     uint64
}

// injectAtAThird waits until prog counts a third of want (unit names what
// it counts, e.g. "items"), then injects and lifts the fault. What happened
// goes to notes, and to violations when the fault could not be injected or
// lifted (the stack is then brought back up) or the run never got a third
// of the way; ok is false in that last case.
func injectAtAThird(t *testing.T, ctx context.Context, s *suite, name string, prog *faults.Progress, want uint64, unit string,
	inject func(context.Context) error, violations, notes *[]string) (w faultWindow, ok bool) {
	t.Helper()
	mkttest.WaitFor(t, s.cfg.timeout, "a third of the "+unit, func() bool { return prog.Last() >= want/3 || ctx.Err() != nil })
	if prog.Last() < want/3 {
		*violations = append(*violations, fmt.Sprintf("never reached a third of the %s: %v", unit, ctx.Err()))
		return w, false
	}
	w.at, w.doneAt = time.Now(), prog.Last()
	if err := inject(ctx); err != nil {
		*violations = append(*violations, "the fault could not be injected or lifted: "+err.Error())
		ensureStack(t)
	}
	w.lifted = time.Now()
	t.Logf("%s: fault injected at %d %s, lifted after %s at %d", name, w.doneAt, unit,
		w.lifted.Sub(w.at).Round(100*time.Millisecond), prog.Last())
	*notes = append(*notes, fmt.Sprintf("fault injected at %d of %d %s, lifted at %d", w.doneAt, want, unit, prog.Last()))
	return w, true
}

// sampler records progress every 250 ms until stop is called.
func sampler(p *faults.Progress, probe func(context.Context) (uint64, error)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			v, err := probe(pctx)
			pcancel()
			if err == nil {
				p.Add(time.Now(), v)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}
