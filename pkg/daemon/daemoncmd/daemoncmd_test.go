package daemoncmd

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"mkt/pkg/childproc"
	"mkt/pkg/config"
	"mkt/pkg/mkttest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := childproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

type readyz struct {
	Ready  bool `json:"ready"`
	Checks []struct {
		Name  string `json:"name"`
		State string `json:"state"`
	} `json:"checks"`
}

func getReady(addr string) (int, readyz, error) {
	var r readyz
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		return 0, r, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	err = json.Unmarshal(b, &r)
	return resp.StatusCode, r, err
}

// startDaemon runs a daemon built from spec in-process with args and returns
// its ops address and a stop function that reports how Run ended.
func startDaemon(t *testing.T, spec Spec, args ...string) (string, func() error) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := Command(spec, io.Discard)
	cmd.SetArgs(append([]string{"--ops-addr", addr, "--ready-interval", "200ms"}, args...))
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	return addr, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("daemon did not stop within 30s of its context ending")
			return nil
		}
	}
}

func testSpec() Spec {
	return Spec{Name: "testd", DefaultOpsAddr: "127.0.0.1:0", Topics: []string{"mkt_test_deps_ready"}}
}

func TestDaemonReadyAgainstRealServices(t *testing.T) {
	mkttest.Integration(t)
	config.UseLocalStackRedisPassword() // the in-process daemon reads the environment
	addr, stop := startDaemon(t, testSpec())
	mkttest.WaitFor(t, 60*time.Second, "/readyz 200", func() bool {
		code, r, err := getReady(addr)
		return err == nil && code == http.StatusOK && r.Ready && len(r.Checks) == 3
	})
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "go_goroutines") {
		t.Errorf("/metrics lacks the Go collector")
	}
	if err := stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
}

func TestDaemonUnreachableRedisIsNotReady(t *testing.T) {
	mkttest.Integration(t)
	dead := freeAddr(t) // nothing listens here
	addr, stop := startDaemon(t, testSpec(), "--redis-addr", dead)
	mkttest.WaitFor(t, 30*time.Second, "/readyz to report redis failing", func() bool {
		code, r, err := getReady(addr)
		if err != nil || code != http.StatusServiceUnavailable || r.Ready {
			return false
		}
		for _, c := range r.Checks {
			if c.Name == "redis" && c.State != "ok" {
				return true
			}
		}
		return false
	})
	// Still retrying, still serving: the process did not die.
	time.Sleep(1500 * time.Millisecond)
	if code, _, err := getReady(addr); err != nil || code != http.StatusServiceUnavailable {
		t.Fatalf("after retries /readyz = %d, %v; want 503", code, err)
	}
	if err := stop(); err != nil {
		t.Errorf("stop while connecting: %v", err)
	}
}

func TestDaemonRejectsBadConfig(t *testing.T) {
	cmd := Command(testSpec(), io.Discard)
	cmd.SetArgs([]string{"--log-level", "loud"})
	err := cmd.Execute()
	var u usageError
	if err == nil || !errorsAs(err, &u) {
		t.Fatalf("bad log level: err = %v, want a usage error", err)
	}
	t.Setenv("MKT_REDIS_DB", "not-a-number")
	cmd = Command(testSpec(), io.Discard)
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "redis-db") {
		t.Fatalf("bad MKT_REDIS_DB: err = %v", err)
	}
}

func errorsAs(err error, target *usageError) bool { return errors.As(err, target) }
