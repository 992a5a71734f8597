package pushd_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mkt/pkg/childproc"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/store/storetest"
)

// TestSystemdNotify runs pushd as systemd's Type=notify would, with
// NOTIFY_SOCKET and WATCHDOG_USEC set: while MySQL is unreachable it says
// what it waits for and does not report READY=1; once MySQL answers it
// reports READY=1 when /readyz says ready, pets the watchdog at half the
// interval, and reports STOPPING=1 on SIGTERM.
func TestSystemdNotify(t *testing.T) {
	t.Parallel()
	s := newStack(t, 10, providersim.Config{})
	proxy, dsn := storetest.NewProxy(t, s.dsn)
	proxy.Cut()

	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	got := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(got)
				return
			}
			got <- string(buf[:n])
		}
	}()
	// next returns the next notification, failing after d.
	next := func(d time.Duration) string {
		t.Helper()
		select {
		case m, ok := <-got:
			if !ok {
				t.Fatal("notify socket closed")
			}
			return m
		case <-time.After(d):
			return ""
		}
	}

	logFile, err := os.Create(filepath.Join(s.logDir, "notify.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logFile.Close() })
	p, err := childproc.Start(childproc.Config{
		Bin:       pushdBinary(t),
		Instance:  "notify-1",
		MySQLDSN:  dsn,
		Namespace: s.ns,
		Env: []string{
			"MKT_PROVIDER_SMS_URL=" + s.sim.ChannelURL(provider.ChannelSMS),
			"NOTIFY_SOCKET=" + sock,
			"WATCHDOG_USEC=2000000", // pets every second
			"WATCHDOG_PID=",
		},
		Log: logFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.Exited() {
			_ = p.Kill()
		}
	})
	readyz := func() int {
		t.Helper()
		res, err := http.Get("http://" + p.OpsAddr() + "/readyz")
		if err != nil {
			t.Fatalf("/readyz: %v", err)
		}
		res.Body.Close()
		return res.StatusCode
	}

	// MySQL cut: status lines, no READY=1.
	var waiting string
	deadline := time.Now().Add(30 * time.Second)
	for waiting == "" && time.Now().Before(deadline) {
		m := next(time.Until(deadline))
		if strings.Contains(m, "READY=1") {
			t.Fatalf("READY=1 while MySQL is unreachable: %q", m)
		}
		if strings.HasPrefix(m, "STATUS=waiting for mysql (attempt 1,") {
			waiting = m
		}
	}
	if waiting == "" {
		t.Fatalf("no 'waiting for mysql' status within 30s (log: %s)", logFile.Name())
	}
	t.Logf("while MySQL is cut: %q", waiting)
	// A negative check: no READY=1 while MySQL stays cut, for 2s more.
	quiet := time.After(2 * time.Second)
wait:
	for {
		select {
		case m := <-got:
			if strings.Contains(m, "READY=1") {
				t.Fatalf("READY=1 while MySQL is unreachable: %q", m)
			}
		case <-quiet:
			break wait
		}
	}
	if code := readyz(); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d while MySQL is cut, want 503", code)
	}

	proxy.Restore()
	var ready time.Time
	for ready.IsZero() {
		m := next(time.Minute)
		switch {
		case m == "":
			t.Fatalf("no READY=1 within a minute of MySQL's return (log: %s)", logFile.Name())
		case strings.HasPrefix(m, "WATCHDOG=1"):
			t.Fatalf("WATCHDOG=1 before READY=1")
		case m == "READY=1\nSTATUS=running":
			ready = time.Now()
		}
	}
	if code := readyz(); code != http.StatusOK {
		t.Errorf("/readyz = %d right after READY=1, want 200", code)
	}
	if m := next(3 * time.Second); m != "WATCHDOG=1" {
		t.Errorf("after READY=1: %q, want WATCHDOG=1 within 3s (WatchdogSec=2s)", m)
	}

	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for {
		m := next(30 * time.Second)
		if m == "" {
			t.Fatal("no STOPPING=1 within 30s of SIGTERM")
		}
		if strings.HasPrefix(m, "STOPPING=1\nSTATUS=stopping: draining") {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if code, err := p.Wait(ctx); err != nil || code != 0 {
		t.Errorf("pushd exit %d, %v; want 0", code, err)
	}
}
