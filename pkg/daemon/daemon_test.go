package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mkt/pkg/mkttest"
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newReadiness(t *testing.T, cfg ReadinessConfig) *Readiness {
	t.Helper()
	r, err := NewReadiness(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// startServer starts an ops server on a free local port, stopped at cleanup.
func startServer(t *testing.T, r *Readiness, g prometheus.Gatherer) string {
	t.Helper()
	s, err := NewServer(ServerConfig{Addr: "127.0.0.1:0", Readiness: r, Gatherer: g})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return "http://" + s.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	r := newReadiness(t, ReadinessConfig{})
	r.AddCheck("never-evaluated", func(context.Context) error { return nil })
	base := startServer(t, r, prometheus.NewRegistry())
	// Alive even though not ready.
	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, _ := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a pending check = %d, want 503", code)
	}
}

func TestServerConfigValidated(t *testing.T) {
	t.Parallel()
	r := newReadiness(t, ReadinessConfig{})
	for _, cfg := range []ServerConfig{
		{Readiness: r, Gatherer: prometheus.NewRegistry()},
		{Addr: "127.0.0.1:0", Gatherer: prometheus.NewRegistry()},
		{Addr: "127.0.0.1:0", Readiness: r},
	} {
		if _, err := NewServer(cfg); err == nil {
			t.Errorf("NewServer(%+v) succeeded", cfg)
		}
	}
	// A busy port fails Start.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := NewServer(ServerConfig{Addr: l.Addr().String(), Readiness: r, Gatherer: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Errorf("Start on a busy port = %v, want an error naming the address", err)
	}
}

func TestReadyzFlips(t *testing.T) {
	t.Parallel()
	r := newReadiness(t, ReadinessConfig{})
	var failing atomic.Bool
	r.AddCheck("mysql", func(context.Context) error {
		if failing.Load() {
			return errors.New("dial tcp 127.0.0.1:3306: connection refused")
		}
		return nil
	})
	r.AddCheck("redis", func(context.Context) error { return nil })
	base := startServer(t, r, prometheus.NewRegistry())

	readyz := func() (int, Report) {
		code, body := get(t, base+"/readyz")
		var rep Report
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatalf("/readyz body %q: %v", body, err)
		}
		return code, rep
	}

	code, rep := readyz()
	if code != http.StatusServiceUnavailable || rep.Ready || rep.Checks[0].State != StatePending {
		t.Errorf("before evaluation: %d %+v", code, rep)
	}

	r.Refresh(t.Context())
	if code, rep := readyz(); code != http.StatusOK || !rep.Ready || len(rep.Checks) != 2 {
		t.Errorf("all ok: %d %+v", code, rep)
	}

	failing.Store(true)
	r.Refresh(t.Context())
	code, rep = readyz()
	if code != http.StatusServiceUnavailable || rep.Ready {
		t.Errorf("mysql failing: %d %+v", code, rep)
	}
	my := rep.Checks[0]
	if my.Name != "mysql" || my.State != StateFailing || !strings.Contains(my.Error, "connection refused") || my.LastChecked == nil {
		t.Errorf("mysql check = %+v", my)
	}
	if rep.Checks[1].State != StateOK {
		t.Errorf("redis check = %+v", rep.Checks[1])
	}

	failing.Store(false)
	r.Refresh(t.Context())
	code, rep = readyz()
	if code != http.StatusOK || rep.Checks[0].Error != "" || !strings.Contains(rep.Checks[0].LastError, "connection refused") {
		t.Errorf("recovered: %d %+v", code, rep)
	}

	r.BeginStop()
	if code, rep := readyz(); code != http.StatusServiceUnavailable || !rep.Stopping {
		t.Errorf("stopping: %d %+v", code, rep)
	}
}

func TestReadinessPollsPeriodically(t *testing.T) {
	t.Parallel()
	r := newReadiness(t, ReadinessConfig{Interval: 5 * time.Millisecond, Timeout: 20 * time.Millisecond})
	var failing atomic.Bool
	r.AddCheck("dep", func(context.Context) error {
		if failing.Load() {
			return errors.New("down")
		}
		return nil
	})
	r.AddCheck("hangs", func(context.Context) error { select {} })
	r.Remove("hangs")
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Stop(context.Background()) }()
	mkttest.WaitFor(t, 10*time.Second, "ready", r.Ready)
	failing.Store(true)
	mkttest.WaitFor(t, 10*time.Second, "not ready", func() bool { return !r.Ready() })
	failing.Store(false)
	mkttest.WaitFor(t, 10*time.Second, "ready again", r.Ready)
}

func TestReadinessCheckTimeout(t *testing.T) {
	t.Parallel()
	r := newReadiness(t, ReadinessConfig{Timeout: 10 * time.Millisecond})
	release := make(chan struct{})
	defer close(release)
	var calls atomic.Int32
	r.AddCheck("stuck", func(context.Context) error { calls.Add(1); <-release; return nil }) // ignores ctx
	r.AddCheck("panics", func(context.Context) error { panic("boom") })
	r.Refresh(t.Context())
	rep := r.Report()
	if rep.Ready || !strings.Contains(rep.Checks[1].Error, "did not finish") {
		t.Errorf("stuck check: %+v", rep.Checks[1])
	}
	if !strings.Contains(rep.Checks[0].Error, "panicked") {
		t.Errorf("panicking check: %+v", rep.Checks[0])
	}
	r.Refresh(t.Context()) // must not start the stuck check a second time
	if n := calls.Load(); n != 1 {
		t.Errorf("stuck check called %d times, want 1", n)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_test_pushes_total", Help: "Pushes in this test."})
	reg.MustRegister(c)
	c.Add(3)
	base := startServer(t, newReadiness(t, ReadinessConfig{}), reg)
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK || !strings.Contains(body, "mkt_test_pushes_total 3") || !strings.Contains(body, "go_goroutines") {
		t.Errorf("/metrics = %d:\n%s", code, body)
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Multiplier: 2, Jitter: 0.5}
	for attempt := 1; attempt <= 30; attempt++ {
		base := min(100*time.Millisecond<<min(attempt-1, 20), time.Second)
		for range 20 {
			d := b.Delay(attempt)
			if d > base || d < base/2 {
				t.Fatalf("Delay(%d) = %v, want in [%v, %v]", attempt, d, base/2, base)
			}
		}
	}
	if d := (Backoff{Jitter: -1}).Delay(1); d != 200*time.Millisecond {
		t.Errorf("default first delay without jitter = %v", d)
	}
}

func TestConnectRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	r := newReadiness(t, ReadinessConfig{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	var attempts int
	var sawNotReady bool
	err := r.Connect(t.Context(), "redis", func(context.Context) error {
		attempts++
		if attempts > 1 {
			rep := r.Report()
			sawNotReady = !rep.Ready && rep.Checks[0].State == StateFailing
		}
		if attempts <= 3 {
			return fmt.Errorf("refused #%d", attempts)
		}
		return nil
	}, Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if attempts != 4 {
		t.Errorf("attempts = %d, want 4", attempts)
	}
	if !sawNotReady {
		t.Error("readiness did not report the dependency as failing while retrying")
	}
	if !r.Ready() {
		t.Errorf("not ready after connecting: %+v", r.Report())
	}
	var warns []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		if m["level"] == "WARN" && m["msg"] == "dependency not reachable, retrying" {
			warns = append(warns, m)
		}
	}
	if len(warns) != 3 {
		t.Fatalf("%d retry warnings, want 3:\n%s", len(warns), logs)
	}
	for i, w := range warns {
		if w["attempt"] != float64(i+1) || w["dependency"] != "redis" || w["next_delay"] == nil || w["error"] != fmt.Sprintf("refused #%d", i+1) {
			t.Errorf("warning %d = %v", i, w)
		}
	}
}

func TestConnectGivesUpWithContext(t *testing.T) {
	t.Parallel()
	r := newReadiness(t, ReadinessConfig{})
	ctx, cancel := context.WithCancel(t.Context())
	var attempts atomic.Int32
	err := r.Connect(ctx, "mq", func(context.Context) error {
		if attempts.Add(1) == 3 {
			cancel()
		}
		return errors.New("no route")
	}, Backoff{Initial: time.Millisecond})
	if !errors.Is(err, ErrNotConnected) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "no route") {
		t.Errorf("Connect = %v", err)
	}
	if r.Ready() {
		t.Error("ready although never connected")
	}
}

// listenNotify opens a unixgram socket at addr and returns a reader of one datagram.
func listenNotify(t *testing.T, addr string) func() string {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// The reader may run outside the test goroutine, so it reports with Errorf.
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Errorf("set deadline: %v", err)
			return ""
		}
		n, err := conn.Read(buf)
		if err != nil {
			t.Errorf("read notification: %v", err)
			return ""
		}
		return string(buf[:n])
	}
}

// recorder logs lifecycle events of fake components in order.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(e string) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// fakeComponent is a pure-logic Component; zero funcs behave well.
type fakeComponent struct {
	name    string
	rec     *recorder
	start   func(ctx context.Context) error
	stop    func(ctx context.Context) error
	failed  chan error
	lifeCtx atomic.Pointer[context.Context]
}

func (f *fakeComponent) Name() string { return f.name }
func (f *fakeComponent) Start(ctx context.Context) error {
	f.lifeCtx.Store(&ctx)
	f.rec.add("start " + f.name)
	if f.start != nil {
		return f.start(ctx)
	}
	return nil
}
func (f *fakeComponent) Stop(ctx context.Context) error {
	f.rec.add("stop " + f.name)
	if f.stop != nil {
		return f.stop(ctx)
	}
	return nil
}
func (f *fakeComponent) BeginStop()           { f.rec.add("begin-stop " + f.name) }
func (f *fakeComponent) Failed() <-chan error { return f.failed }

func TestRunStopsInReverseOrder(t *testing.T) {
	// Not parallel: it sets NOTIFY_SOCKET.
	rec := &recorder{}
	n, read := notifySocket(t, filepath.Join(t.TempDir(), "notify.sock"))
	ctx, cancel := context.WithCancel(t.Context())
	var comps []Component
	for _, name := range []string{"ops", "workers", "consumer"} {
		comps = append(comps, &fakeComponent{name: name, rec: rec})
	}
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, RunConfig{DrainTimeout: time.Minute, Notifier: n}, comps...)
	}()
	for _, want := range []string{"STATUS=starting ops", "STATUS=starting workers", "STATUS=starting consumer",
		"READY=1\nSTATUS=running"} {
		if got := read(); got != want {
			t.Fatalf("notification %q, want %q", got, want)
		}
	}
	cancel()
	if got, want := read(), "STOPPING=1\nSTATUS=stopping: draining in-flight work (at most 1m0s)"; got != want {
		t.Fatalf("notification %q, want %q", got, want)
	}
	if err := <-errc; err != nil {
		t.Fatalf("Run = %v", err)
	}
	want := []string{"start ops", "start workers", "start consumer",
		"begin-stop ops", "begin-stop workers", "begin-stop consumer",
		"stop consumer", "stop workers", "stop ops"}
	if got := rec.get(); !slices.Equal(got, want) {
		t.Errorf("events\n got %v\nwant %v", got, want)
	}
	if err := context.Cause(*comps[0].(*fakeComponent).lifeCtx.Load()); err == nil {
		t.Error("lifetime context not cancelled after Run")
	}
}

func TestRunDrainTimeoutCancelsInFlightWork(t *testing.T) {
	// Not parallel: it sets NOTIFY_SOCKET.
	rec := &recorder{}
	ctx, cancel := context.WithCancel(t.Context())
	// slow finishes its in-flight work only when its lifetime ends; stuck never returns.
	slow := &fakeComponent{name: "slow", rec: rec}
	slow.stop = func(context.Context) error {
		<-(*slow.lifeCtx.Load()).Done()
		return nil
	}
	stuck := &fakeComponent{name: "stuck", rec: rec, stop: func(context.Context) error { select {} }}
	first := &fakeComponent{name: "first", rec: rec}
	n, read := notifySocket(t, filepath.Join(t.TempDir(), "notify.sock"))
	go func() {
		for {
			if got := read(); got == "" || strings.HasPrefix(got, "READY=1") {
				cancel()
				return
			}
		}
	}()
	// KillTimeout leaves slow ample time to return once its lifetime ends,
	// even on a loaded machine; stuck is abandoned when it runs out.
	err := Run(ctx, RunConfig{DrainTimeout: 20 * time.Millisecond, KillTimeout: time.Second, Notifier: n},
		first, stuck, slow)
	if !errors.Is(err, ErrDrainTimeout) || !strings.Contains(err.Error(), "stop stuck: abandoned") {
		t.Fatalf("Run = %v, want ErrDrainTimeout and stuck abandoned", err)
	}
	if cause := context.Cause(*slow.lifeCtx.Load()); !errors.Is(cause, ErrDrainTimeout) {
		t.Errorf("slow's lifetime cause = %v, want ErrDrainTimeout", cause)
	}
	// Stop is still attempted on every component, in order (first's Stop is
	// called with an expired context and not waited for).
	mkttest.WaitFor(t, 10*time.Second, "stop first", func() bool { return slices.Contains(rec.get(), "stop first") })
	if got := rec.get(); slices.Index(got, "stop slow") > slices.Index(got, "stop stuck") {
		t.Errorf("events %v", got)
	}
}

func TestRunStartFailureStopsStarted(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	boom := errors.New("boom")
	err := Run(t.Context(), RunConfig{},
		&fakeComponent{name: "a", rec: rec},
		&fakeComponent{name: "b", rec: rec, start: func(context.Context) error { return boom }},
		&fakeComponent{name: "c", rec: rec})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "start b") {
		t.Fatalf("Run = %v", err)
	}
	want := []string{"start a", "start b", "begin-stop a", "stop a"}
	if got := rec.get(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestRunComponentFailureStopsDaemon(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	broken := &fakeComponent{name: "consumer", rec: rec, failed: make(chan error, 1)}
	broken.start = func(context.Context) error { broken.failed <- errors.New("lost broker"); return nil }
	err := Run(t.Context(), RunConfig{}, &fakeComponent{name: "ops", rec: rec}, broken)
	if err == nil || !strings.Contains(err.Error(), "consumer failed: lost broker") {
		t.Fatalf("Run = %v", err)
	}
	if got := rec.get(); got[len(got)-1] != "stop ops" {
		t.Errorf("events %v", got)
	}
}

func TestRunStopDuringStartup(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	ctx, cancel := context.WithCancel(t.Context())
	r := newReadiness(t, ReadinessConfig{})
	connecting := &fakeComponent{name: "store", rec: rec, start: func(ctx context.Context) error {
		cancel() // SIGTERM arrives while the store waits for MySQL
		return r.Connect(ctx, "mysql", func(context.Context) error { return errors.New("refused") }, Backoff{Initial: time.Millisecond})
	}}
	err := Run(ctx, RunConfig{}, &fakeComponent{name: "ops", rec: rec}, connecting, &fakeComponent{name: "never", rec: rec})
	if err != nil {
		t.Fatalf("Run = %v, want nil for a requested stop", err)
	}
	want := []string{"start ops", "start store", "begin-stop ops", "stop ops"}
	if got := rec.get(); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

// TestRunSignals sends real signals to the test process; it is not parallel
// so that no other test's Run is registered meanwhile.
func TestRunSignals(t *testing.T) {
	t.Run("first signal drains", func(t *testing.T) {
		rec := &recorder{}
		started := make(chan struct{})
		c := &fakeComponent{name: "c", rec: rec, start: func(context.Context) error { close(started); return nil }}
		errc := make(chan error, 1)
		go func() { errc <- Run(t.Context(), RunConfig{}, c) }()
		<-started // Run registered its signal handler before starting components
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("Run = %v", err)
		}
		if got := rec.get(); !slices.Contains(got, "stop c") {
			t.Errorf("events %v", got)
		}
	})
	t.Run("second signal forces exit", func(t *testing.T) {
		rec := &recorder{}
		started, stopping := make(chan struct{}), make(chan struct{})
		c := &fakeComponent{name: "c", rec: rec,
			start: func(context.Context) error { close(started); return nil },
			stop:  func(context.Context) error { close(stopping); select {} },
		}
		errc := make(chan error, 1)
		go func() { errc <- Run(t.Context(), RunConfig{DrainTimeout: time.Hour}, c) }()
		<-started
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		<-stopping
		if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; !errors.Is(err, ErrForced) {
			t.Fatalf("Run = %v, want ErrForced", err)
		}
		if cause := context.Cause(*c.lifeCtx.Load()); !errors.Is(cause, ErrForced) {
			t.Errorf("lifetime cause = %v", cause)
		}
	})
}
