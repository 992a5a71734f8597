package pushd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mkt/pkg/childproc"
	"mkt/pkg/hotgoods"
	"mkt/pkg/mkttest"
	"mkt/pkg/providersim"
	"mkt/pkg/xxljob"
)

// xxlAdmin is a minimal XXL-Job admin double (the admin cannot run here; see
// pkg/xxljob's tests for the full one): it records registrations, removals
// and callbacks, answering in the 3.x envelope.
type xxlAdmin struct {
	token string
	srv   *httptest.Server

	mu        sync.Mutex
	registry  map[string]bool // registryValue → registered
	removed   map[string]bool
	callbacks map[int64]xxljob.Callback
}

func newXXLAdmin(t *testing.T, token string) *xxlAdmin {
	a := &xxlAdmin{token: token, registry: map[string]bool{}, removed: map[string]bool{}, callbacks: map[int64]xxljob.Callback{}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get(xxljob.TokenHeader) != a.token {
			_, _ = w.Write([]byte(`{"code":500,"msg":"The access token is wrong.","data":null}`))
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		switch r.URL.Path {
		case "/xxl-job-admin/api/registry", "/xxl-job-admin/api/registryRemove":
			var p xxljob.RegistryParam
			if err := json.Unmarshal(body, &p); err != nil || p.RegistryKey != "mkt-e2e" || p.RegistryGroup != "EXECUTOR" {
				t.Errorf("admin double: %s %s: %v", r.URL.Path, body, err)
			}
			if strings.HasSuffix(r.URL.Path, "Remove") {
				a.removed[p.RegistryValue] = true
			} else {
				a.registry[p.RegistryValue] = true
			}
		case "/xxl-job-admin/api/callback":
			var cbs []xxljob.Callback
			if err := json.Unmarshal(body, &cbs); err != nil {
				t.Errorf("admin double: callback %s: %v", body, err)
			}
			for _, cb := range cbs {
				a.callbacks[cb.LogID] = cb
			}
		default:
			t.Errorf("admin double: unexpected %s", r.URL.Path)
		}
		_, _ = w.Write([]byte(`{"code":200,"msg":null,"data":null}`))
	}))
	t.Cleanup(a.srv.Close)
	return a
}

// trigger POSTs a /run to an executor as the admin does.
func (a *xxlAdmin) trigger(t *testing.T, executor string, p xxljob.TriggerParam) {
	t.Helper()
	b, _ := json.Marshal(p)
	req, _ := http.NewRequest(http.MethodPost, executor+"run", bytes.NewReader(b))
	req.Header.Set(xxljob.TokenHeader, a.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env xxljob.Envelope
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil || env.Code != 200 {
		t.Fatalf("run on %s: %+v %v", executor, env, err)
	}
}

// TestXXLJobExecutorE2E: two pushd processes register with the admin as
// executors; a sharding broadcast (index 0 and 1 of 2, one to each) launches
// a day's hot goods, every row once; the runs are planned and fanned out by
// the pushd; on SIGTERM each removes its registration.
func TestXXLJobExecutorE2E(t *testing.T) {
	t.Parallel()
	s := newStack(t, 500, providersim.Config{Latency: providersim.Latency{Min: time.Millisecond}})
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("e2e-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin := newXXLAdmin(t, "e2e-token")

	date := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	var lines strings.Builder
	for _, in := range hotgoods.Generate(12, 5) {
		b, _ := json.Marshal(in.JSONLine())
		lines.Write(b)
		lines.WriteByte('\n')
	}
	parsed, err := hotgoods.Parse(strings.NewReader(lines.String()), hotgoods.FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := hotgoods.Import(ctx, s.db, date, parsed); err != nil {
		t.Fatal(err)
	}

	var ps []*childproc.Proc
	var executors []string
	for i := range 2 {
		addr, err := childproc.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, s.startPushd(fmt.Sprintf("pushd-xxl-%d", i+1), "--xxl-job-admin", admin.srv.URL+"/xxl-job-admin",
			"--xxl-job-app", "mkt-e2e", "--xxl-job-token-file", token, "--xxl-job-listen", addr, "--xxl-job-zone", "UTC"))
		executors = append(executors, "http://"+addr+"/")
	}
	if err := childproc.WaitAllReady(ctx, ps); err != nil {
		t.Fatal(err)
	}
	mkttest.WaitFor(t, time.Minute, "both executors registered", func() bool {
		admin.mu.Lock()
		defer admin.mu.Unlock()
		return admin.registry[executors[0]] && admin.registry[executors[1]]
	})

	for i, ex := range executors {
		p := xxljob.TriggerParam{JobID: 1, LogID: int64(i + 1), ExecutorHandler: "hotgoods", GlueType: "BEAN",
			ExecutorBlockStrategy: xxljob.SerialExecution, LogDateTime: date.Add(10 * time.Hour).UnixMilli(),
			BroadcastIndex: i, BroadcastTotal: 2, ExecutorTimeout: 120}
		admin.trigger(t, ex, p)
	}
	mkttest.WaitFor(t, time.Minute, "both callbacks", func() bool {
		admin.mu.Lock()
		defer admin.mu.Unlock()
		return len(admin.callbacks) == 2
	})
	for id, cb := range admin.callbacks {
		if cb.HandleCode != 200 || !strings.Contains(cb.HandleMsg, "launched") {
			t.Errorf("callback %d: %+v", id, cb)
		}
	}
	rows, err := hotgoods.List(ctx, s.db, date)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.RunID == nil {
			t.Errorf("row %d not launched", r.ID)
		}
	}
	mkttest.WaitFor(t, 2*time.Minute, "both runs completed by the pushd", func() bool {
		runs, err := hotgoods.ListRuns(ctx, s.db, date)
		if err != nil || len(runs) != 2 {
			return false
		}
		for _, r := range runs {
			if r.Status != "completed" {
				return false
			}
		}
		return true
	})

	if _, err := childproc.StopAll(ctx, ps); err != nil {
		t.Fatal(err)
	}
	admin.mu.Lock()
	defer admin.mu.Unlock()
	for _, ex := range executors {
		if !admin.removed[ex] {
			t.Errorf("%s did not remove its registration", ex)
		}
	}
}
