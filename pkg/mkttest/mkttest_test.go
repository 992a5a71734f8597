package mkttest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mkt/pkg/config"
)

// Tests using t.Setenv do not run in parallel.

func TestRedisPassword(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "password")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir() // a local stack's state directory
	if err := os.MkdirAll(filepath.Join(state, "redis"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "redis", "password"), []byte("stack\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, envFile string
		stateDir           string // MKT_STATE_DIR; "" = an empty directory
		want               string
		wantErr            error
	}{
		{name: "none: no AUTH", want: ""},
		{name: "none: the local stack's file", stateDir: state, want: "stack"},
		{name: "from the file, newline trimmed", envFile: file, want: "s3cret"},
		{name: "from the variable", env: "inline", want: "inline"},
		{name: "both set", env: "inline", envFile: file, wantErr: config.ErrInvalid},
		{name: "missing file", envFile: filepath.Join(dir, "missing"), wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MKT_REDIS_PASSWORD", tt.env)
			t.Setenv("MKT_REDIS_PASSWORD_FILE", tt.envFile)
			t.Setenv("MKT_STATE_DIR", cmp.Or(tt.stateDir, t.TempDir()))
			got, err := ReadRedisPassword()
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("ReadRedisPassword() = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			if tt.stateDir != "" && os.Getenv("MKT_REDIS_PASSWORD_FILE") != filepath.Join(state, "redis", "password") {
				t.Errorf("MKT_REDIS_PASSWORD_FILE = %q, want the stack's file named for the daemons a test starts", os.Getenv("MKT_REDIS_PASSWORD_FILE"))
			}
		})
	}
}

func TestAddresses(t *testing.T) {
	t.Setenv("MKT_SKIP_INTEGRATION", "")
	for _, v := range []string{"MKT_REDIS_ADDR", "MKT_MYSQL_DSN", "MKT_ROCKETMQ_NAMESRV", "MKT_ROCKETMQ_BROKER"} {
		t.Setenv(v, "")
	}
	if got := RedisAddr(t); got != config.DefaultRedisAddr {
		t.Errorf("RedisAddr = %q, want the default %q", got, config.DefaultRedisAddr)
	}
	if got := MySQLDSN(t); got != config.DefaultMySQLDSN {
		t.Errorf("MySQLDSN = %q, want the default", got)
	}
	t.Setenv("MKT_REDIS_ADDR", "127.0.0.1:26379")
	t.Setenv("MKT_MYSQL_DSN", "u:p@tcp(127.0.0.1:13306)/x")
	if got := RedisAddr(t); got != "127.0.0.1:26379" {
		t.Errorf("RedisAddr = %q, want MKT_REDIS_ADDR", got)
	}
	if got := MySQLDSN(t); got != "u:p@tcp(127.0.0.1:13306)/x" {
		t.Errorf("MySQLDSN = %q, want MKT_MYSQL_DSN", got)
	}
}

// fakeTB records how a helper ended t: Skip and Fatal stop the goroutine, as
// testing's do.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fakeTB in a goroutine of its own and reports how it
// ended.
func run(fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func TestSkipIntegration(t *testing.T) {
	t.Setenv("MKT_SKIP_INTEGRATION", "1")
	for name, fn := range map[string]func(testing.TB){
		"MySQLDSN":  func(tb testing.TB) { MySQLDSN(tb) },
		"RedisAddr": func(tb testing.TB) { RedisAddr(tb) },
		"RocketMQ":  func(tb testing.TB) { RocketMQ(tb) },
	} {
		if f := run(fn); f.skipped == "" || f.failed != "" {
			t.Errorf("%s with MKT_SKIP_INTEGRATION=1: skipped %q, failed %q; want a skip", name, f.skipped, f.failed)
		}
	}
}

func TestRocketMQUnreachable(t *testing.T) {
	t.Setenv("MKT_SKIP_INTEGRATION", "")
	t.Setenv("MKT_ROCKETMQ_NAMESRV", "127.0.0.1:1") // nothing listens on port 1
	t.Setenv("MKT_ROCKETMQ_BROKER", "127.0.0.1:1")
	f := run(func(tb testing.TB) { RocketMQ(tb) })
	if !strings.Contains(f.failed, "127.0.0.1:1 unreachable") || !strings.Contains(f.failed, "MKT_SKIP_INTEGRATION=1") {
		t.Errorf("RocketMQ on a closed port failed with %q, want the address and how to skip", f.failed)
	}
}

func TestNamespace(t *testing.T) {
	a, b := Namespace(t, "x_"), Namespace(t, "x_")
	if a == b || len(a) != len("x_")+10 || !strings.HasPrefix(a, "x_") {
		t.Errorf("Namespace = %q, %q; want two different x_ + 10 hex digits", a, b)
	}
}

func TestLogger(t *testing.T) {
	ctx := context.Background()
	t.Setenv("MKT_TEST_LOG", "")
	if Logger().Handler().Enabled(ctx, 12) {
		t.Error("Logger without MKT_TEST_LOG logs")
	}
	t.Setenv("MKT_TEST_LOG", "warn")
	if l := Logger(); l.Enabled(ctx, -4) || !l.Enabled(ctx, 4) {
		t.Error("MKT_TEST_LOG=warn: want warnings and no debug")
	}
	t.Setenv("MKT_TEST_LOG", "1")
	if !Logger().Enabled(ctx, -4) {
		t.Error("MKT_TEST_LOG=1: want debug")
	}
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	f := run(func(tb testing.TB) {
		WaitFor(tb, time.Minute, "the third check", func() bool { return n.Add(1) == 3 })
	})
	if f.failed != "" || n.Load() != 3 {
		t.Errorf("WaitFor ended with %q after %d checks, want success at the third", f.failed, n.Load())
	}

	start := time.Now()
	f = run(func(tb testing.TB) {
		WaitFor(tb, 30*time.Millisecond, "never", func() bool { return false })
	})
	if f.failed != "timed out after 30ms waiting for never" {
		t.Errorf("WaitFor on a condition that never holds failed with %q", f.failed)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("WaitFor gave up after %s, before its 30ms", d)
	}
}

func TestDeadline(t *testing.T) {
	t.Parallel()
	var ctx context.Context
	t.Run("inner", func(t *testing.T) {
		ctx = Deadline(t, time.Hour)
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) < 59*time.Minute || ctx.Err() != nil {
			t.Errorf("Deadline(1h) = deadline %v (set %v), err %v", dl, ok, ctx.Err())
		}
	})
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("after its test ended the context's err is %v, want Canceled", ctx.Err())
	}
}

func TestMetricValue(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	logins := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logins_total"}, []string{"reason", "group"})
	depth := prometheus.NewGauge(prometheus.GaugeOpts{Name: "depth"})
	reg.MustRegister(logins, depth)
	logins.WithLabelValues("exhausted", "a").Add(3)
	logins.WithLabelValues("exhausted", "b").Add(4)
	logins.WithLabelValues("invalid", "a").Add(5)
	depth.Set(-2)
	for _, tt := range []struct {
		name string
		want map[string]string
		sum  float64
	}{
		{"logins_total", nil, 12},
		{"logins_total", map[string]string{"reason": "exhausted"}, 7},
		{"logins_total", map[string]string{"reason": "exhausted", "group": "b"}, 4},
		{"logins_total", map[string]string{"reason": "other"}, 0},
		{"depth", nil, -2},
		{"absent", nil, 0},
	} {
		if got := MetricValue(t, reg, tt.name, tt.want); got != tt.sum {
			t.Errorf("MetricValue(%s, %v) = %v, want %v", tt.name, tt.want, got, tt.sum)
		}
	}
}
