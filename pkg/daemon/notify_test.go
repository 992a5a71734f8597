package daemon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mkt/pkg/mkttest"
)

// notifySocket listens on a unixgram socket at addr, sets it as
// NOTIFY_SOCKET for the test and returns the Notifier made from the
// environment with a reader of one datagram. Tests using it cannot be
// parallel.
func notifySocket(t *testing.T, addr string) (*Notifier, func() string) {
	t.Helper()
	read := listenNotify(t, addr)
	t.Setenv("NOTIFY_SOCKET", addr)
	t.Setenv("WATCHDOG_USEC", "")
	n, err := NotifierFromEnv()
	if err != nil || n == nil {
		t.Fatalf("NotifierFromEnv = %v, %v", n, err)
	}
	return n, read
}

func TestNotifier(t *testing.T) {
	for _, addr := range []string{
		filepath.Join(t.TempDir(), "notify.sock"),
		fmt.Sprintf("@mkt-test-notify-%d", rand.Int64()), // abstract namespace
	} {
		n, read := notifySocket(t, addr)
		if err := n.Ready("running"); err != nil {
			t.Fatalf("%s: Ready: %v", addr, err)
		}
		if got := read(); got != "READY=1\nSTATUS=running" {
			t.Errorf("%s: got %q", addr, got)
		}
		if err := n.Status("two\nlines"); err != nil {
			t.Fatal(err)
		}
		if got := read(); got != "STATUS=two lines" {
			t.Errorf("%s: got %q", addr, got)
		}
		if err := n.Notify("STATUS=draining", "WATCHDOG=1"); err != nil {
			t.Fatal(err)
		}
		if got := read(); got != "STATUS=draining\nWATCHDOG=1" {
			t.Errorf("%s: got %q", addr, got)
		}
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "absent.sock"))
	n, err := NotifierFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Ready("running"); err == nil {
		t.Error("notifying a missing socket should fail")
	}
}

// TestNotifierOutsideSystemd: without NOTIFY_SOCKET there is no Notifier,
// and the nil one is a silent no-op.
func TestNotifierOutsideSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "3000000")
	n, err := NotifierFromEnv()
	if n != nil || err != nil {
		t.Fatalf("NotifierFromEnv = %v, %v; want nil, nil", n, err)
	}
	if n.Enabled() || n.WatchdogInterval() != 0 || n.Ready("x") != nil || n.Stopping("x") != nil ||
		n.Status("x") != nil || n.Watchdog() != nil {
		t.Error("a nil Notifier should be a silent no-op")
	}
}

func TestNotifierWatchdogFromEnv(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "/run/systemd/notify")
	t.Setenv("WATCHDOG_USEC", "3000000")
	t.Setenv("WATCHDOG_PID", "")
	if n, err := NotifierFromEnv(); err != nil || !n.Enabled() || n.WatchdogInterval() != 3*time.Second {
		t.Errorf("got %+v, %v", n, err)
	}
	t.Setenv("WATCHDOG_PID", "1") // someone else's watchdog
	if n, err := NotifierFromEnv(); err != nil || n.WatchdogInterval() != 0 {
		t.Errorf("watchdog for another pid enabled: %+v, %v", n, err)
	}
	t.Setenv("WATCHDOG_PID", "")
	t.Setenv("WATCHDOG_USEC", "soon")
	if n, err := NotifierFromEnv(); err == nil || !n.Enabled() || n.WatchdogInterval() != 0 {
		t.Errorf("malformed WATCHDOG_USEC: got %+v, %v; want a Notifier without watchdog and an error", n, err)
	}
}

// TestRunPetsWatchdog: with WATCHDOG_USEC set, Run sends WATCHDOG=1 at half
// the interval once ready.
func TestRunPetsWatchdog(t *testing.T) {
	addr := filepath.Join(t.TempDir(), "notify.sock")
	read := listenNotify(t, addr)
	t.Setenv("NOTIFY_SOCKET", addr)
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "")
	n, err := NotifierFromEnv()
	if err != nil || n.WatchdogInterval() != 200*time.Millisecond {
		t.Fatalf("NotifierFromEnv = %+v, %v", n, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, RunConfig{Notifier: n}, &fakeComponent{name: "c", rec: &recorder{}}) }()
	var ready time.Time
	pets := 0
	for pets < 3 {
		got := read()
		switch {
		case got == "":
			t.Fatal("no notification")
		case strings.HasPrefix(got, "READY=1"):
			ready = time.Now()
		case got == "WATCHDOG=1":
			if ready.IsZero() {
				t.Fatal("WATCHDOG=1 before READY=1")
			}
			pets++
		}
	}
	if took := time.Since(ready); took < 250*time.Millisecond {
		t.Errorf("3 pets %v after READY, want about 300ms (every 100ms)", took)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestReadinessStatus: failed Connect attempts and polled checks going bad
// and recovering set the status line.
func TestReadinessStatus(t *testing.T) {
	n, read := notifySocket(t, filepath.Join(t.TempDir(), "notify.sock"))
	r, err := NewReadiness(ReadinessConfig{Interval: 20 * time.Millisecond, Timeout: time.Second, Notifier: n})
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	err = r.Connect(t.Context(), "mysql", func(context.Context) error {
		if attempts++; attempts == 1 {
			return errors.New("connection refused")
		}
		return nil
	}, Backoff{Initial: time.Millisecond, Jitter: -1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := read(), "STATUS=waiting for mysql (attempt 1, next in 1ms): connection refused"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := read(), "STATUS=connected to mysql"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var failing atomic.Bool
	r.AddCheck("mysql", func(context.Context) error {
		if failing.Load() {
			return errors.New("ping: broken pipe")
		}
		return nil
	})
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	failing.Store(true)
	if got, want := read(), "STATUS=degraded: mysql failing: ping: broken pipe (see /readyz)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	failing.Store(false)
	if got, want := read(), "STATUS=running"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	r.BeginStop() // Run owns the status line from here
	failing.Store(true)
	mkttest.WaitFor(t, 10*time.Second, "mysql failing", func() bool { return r.Report().Checks[0].State == StateFailing })
	if err := n.Status("sentinel"); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "STATUS=sentinel" {
		t.Errorf("status %q sent while stopping", got)
	}
}
