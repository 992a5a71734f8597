package xxljob_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mkt/pkg/daemon"
	"mkt/pkg/mkttest"
	"mkt/pkg/xxljob"
)

const testToken = "s3cret-token"

// gate is a handler whose runs block until released (or cancelled), and
// that records what it was given.
type gate struct {
	mu       sync.Mutex
	started  []int64 // logIds
	ended    []int64
	releases map[int64]chan struct{}
}

func newGate() *gate { return &gate{releases: map[int64]chan struct{}{}} }

func (g *gate) ch(logID int64) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.releases[logID]
	if !ok {
		c = make(chan struct{})
		g.releases[logID] = c
	}
	return c
}

func (g *gate) release(logID int64) { close(g.ch(logID)) }

func (g *gate) Execute(ctx context.Context, job *xxljob.Job) (string, error) {
	g.mu.Lock()
	g.started = append(g.started, job.LogID)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.ended = append(g.ended, job.LogID)
		g.mu.Unlock()
	}()
	job.Logf("gate %d waiting, shard %d of %d, params %q", job.LogID, job.ShardIndex, job.ShardTotal, job.Params)
	select {
	case <-g.ch(job.LogID):
		job.Logf("gate %d released", job.LogID)
		return fmt.Sprintf("done %d", job.LogID), nil
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

func (g *gate) startedRuns() []int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int64(nil), g.started...)
}

type testExecutor struct {
	*xxljob.Executor
	admin *adminDouble
	base  string
}

// startExecutor starts an executor on a free port registered with a new
// admin double of version, serving the handlers.
func startExecutor(t *testing.T, version string, handlers map[string]xxljob.Handler, edit ...func(*xxljob.Config)) *testExecutor {
	t.Helper()
	admin := newAdminDouble(t, version, testToken)
	cfg := xxljob.Config{
		AdminURLs:       []string{admin.URL()},
		AppName:         "mkt-pushd-test",
		AccessToken:     testToken,
		ListenAddr:      "127.0.0.1:0",
		Handlers:        handlers,
		Logger:          mkttest.Logger(),
		CallbackBackoff: daemon.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond},
	}
	for _, f := range edit {
		f(&cfg)
	}
	ex, err := xxljob.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	te := &testExecutor{Executor: ex, admin: admin, base: ex.AdvertiseURL()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = ex.Stop(ctx)
	})
	return te
}

func (te *testExecutor) stop(t *testing.T) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return te.Stop(ctx)
}

func trigger(jobID, logID int64, handler string) xxljob.TriggerParam {
	return xxljob.TriggerParam{JobID: jobID, LogID: logID, ExecutorHandler: handler, GlueType: "BEAN",
		ExecutorBlockStrategy: xxljob.SerialExecution, LogDateTime: time.Now().UnixMilli(), BroadcastTotal: 1}
}

func (te *testExecutor) run(t *testing.T, p xxljob.TriggerParam) answer {
	t.Helper()
	return te.admin.call(te.base, "/run", p)
}

func (te *testExecutor) mustRun(t *testing.T, p xxljob.TriggerParam) {
	t.Helper()
	if a := te.run(t, p); a.Code != 200 {
		t.Fatalf("run log %d: %+v", p.LogID, a)
	}
}

func (te *testExecutor) readLog(t *testing.T, logID int64, from int) xxljob.LogResult {
	t.Helper()
	a := te.admin.call(te.base, "/log", xxljob.LogParam{LogID: logID, LogDateTim: time.Now().UnixMilli(), FromLineNum: from})
	if a.Code != 200 {
		t.Fatalf("log %d: %+v", logID, a)
	}
	var lr xxljob.LogResult
	if err := json.Unmarshal(a.Payload, &lr); err != nil {
		t.Fatalf("log payload %s: %v", a.Payload, err)
	}
	return lr
}

// TestProtocol: against a 2.4.x and a 3.x admin, the executor registers
// (app name, advertised address, token), answers /beat, /idleBeat, /run,
// /kill and /log in the admin's envelope, calls the results back, and on
// stop removes its registration after answering everything it took.
func TestProtocol(t *testing.T) {
	for _, version := range []string{v24, v3} {
		t.Run(version, func(t *testing.T) {
			g := newGate()
			te := startExecutor(t, version, map[string]xxljob.Handler{"gate": g})
			mkttest.WaitFor(t, time.Minute, "the registration", func() bool { reg, _, _ := te.admin.snapshot(); return len(reg) > 0 })
			reg, _, _ := te.admin.snapshot()
			want := xxljob.RegistryParam{RegistryGroup: "EXECUTOR", RegistryKey: "mkt-pushd-test", RegistryValue: te.base}
			if reg[0] != want || !strings.HasPrefix(te.base, "http://127.0.0.1:") || !strings.HasSuffix(te.base, "/") {
				t.Errorf("registered %+v, want %+v", reg[0], want)
			}

			if a := te.admin.call(te.base, "/beat", nil); a.Code != 200 {
				t.Errorf("beat: %+v", a)
			}
			if a := te.admin.call(te.base, "/idleBeat", map[string]any{"jobId": 7}); a.Code != 200 {
				t.Errorf("idleBeat of an idle job: %+v", a)
			}
			p := trigger(7, 101, "gate")
			p.ExecutorParams = "2026-12-02"
			p.BroadcastIndex, p.BroadcastTotal = 1, 3
			te.mustRun(t, p)
			mkttest.WaitFor(t, time.Minute, "the run to start", func() bool { return len(g.startedRuns()) == 1 })
			if a := te.admin.call(te.base, "/idleBeat", map[string]any{"jobId": 7}); a.Code != 500 || !strings.Contains(a.Msg, "running") {
				t.Errorf("idleBeat of a running job: %+v", a)
			}
			lr := te.readLog(t, 101, 1)
			if lr.IsEnd || lr.FromLineNum != 1 || lr.ToLineNum < 2 || !strings.Contains(lr.LogContent, `gate 101 waiting, shard 1 of 3, params "2026-12-02"`) {
				t.Errorf("log while running: %+v", lr)
			}
			from := lr.ToLineNum + 1
			g.release(101)
			cb := te.admin.callback(101)
			if cb.HandleCode != 200 || cb.HandleMsg != "done 101" || cb.LogDateTim != p.LogDateTime {
				t.Errorf("callback %+v", cb)
			}
			lr = te.readLog(t, 101, from)
			if !lr.IsEnd || lr.FromLineNum != from || !strings.Contains(lr.LogContent, "gate 101 released") ||
				strings.Contains(lr.LogContent, "waiting") {
				t.Errorf("log from line %d after the end: %+v", from, lr)
			}
			if lr := te.readLog(t, 999, 1); !lr.IsEnd || !strings.Contains(lr.LogContent, "no log kept") {
				t.Errorf("log of an unknown run: %+v", lr)
			}
			if a := te.admin.call(te.base, "/kill", map[string]any{"jobId": 7}); a.Code != 200 || a.Msg != "job thread already killed." {
				t.Errorf("kill of an idle job: %+v", a)
			}

			// A run still going at stop finishes and is answered before the
			// executor leaves; the registration is removed.
			te.mustRun(t, trigger(8, 102, "gate"))
			mkttest.WaitFor(t, time.Minute, "the second run to start", func() bool { return len(g.startedRuns()) == 2 })
			stopped := make(chan error, 1)
			go func() { stopped <- te.stop(t) }()
			mkttest.WaitFor(t, time.Minute, "the registration removal", func() bool { _, rem, _ := te.admin.snapshot(); return len(rem) == 1 })
			if a := te.run(t, trigger(9, 103, "gate")); a.Code != 500 || !strings.Contains(a.Msg, "stopping") {
				t.Errorf("run while stopping: %+v", a)
			}
			g.release(102)
			if err := <-stopped; err != nil {
				t.Errorf("stop: %v", err)
			}
			if cb := te.admin.callback(102); cb.HandleCode != 200 {
				t.Errorf("callback of the run drained at stop: %+v", cb)
			}
			_, rem, _ := te.admin.snapshot()
			if rem[0] != want {
				t.Errorf("removed %+v", rem[0])
			}
			if te.admin.badTokens != 0 {
				t.Errorf("%d calls to the admin without the token", te.admin.badTokens)
			}
		})
	}
}

// TestBlockStrategies: SERIAL_EXECUTION queues behind the running trigger,
// DISCARD_LATER refuses while the job runs, COVER_EARLY kills the running
// and queued triggers and runs the new one; a repeated logId is refused.
func TestBlockStrategies(t *testing.T) {
	g := newGate()
	te := startExecutor(t, v24, map[string]xxljob.Handler{"gate": g})

	te.mustRun(t, trigger(1, 1, "gate"))
	mkttest.WaitFor(t, time.Minute, "run 1", func() bool { return len(g.startedRuns()) == 1 })
	te.mustRun(t, trigger(1, 2, "gate")) // serial: queued
	if a := te.run(t, trigger(1, 2, "gate")); a.Code != 500 || !strings.Contains(a.Msg, "repeate trigger job, logId:2") {
		t.Errorf("repeated logId: %+v", a)
	}
	discard := trigger(1, 3, "gate")
	discard.ExecutorBlockStrategy = xxljob.DiscardLater
	if a := te.run(t, discard); a.Code != 500 || !strings.Contains(a.Msg, "Discard Later") {
		t.Errorf("discard later while running: %+v", a)
	}
	// Another job is not blocked by job 1.
	other := trigger(2, 4, "gate")
	other.ExecutorBlockStrategy = xxljob.DiscardLater
	te.mustRun(t, other)
	g.release(4)

	g.release(1)
	if cb := te.admin.callback(1); cb.HandleCode != 200 {
		t.Errorf("run 1: %+v", cb)
	}
	mkttest.WaitFor(t, time.Minute, "queued run 2 to start after run 1", func() bool { return slices.Contains(g.startedRuns(), 2) })
	if s := g.startedRuns(); slices.Index(s, 2) < slices.Index(s, 1) {
		t.Errorf("started %v, want run 2 after run 1", s)
	}
	te.mustRun(t, trigger(1, 5, "gate")) // queued behind 2
	cover := trigger(1, 6, "gate")
	cover.ExecutorBlockStrategy = xxljob.CoverEarly
	te.mustRun(t, cover)
	if cb := te.admin.callback(2); cb.HandleCode != 500 || cb.HandleMsg != "block strategy effect: Cover Early [job running, killed]" {
		t.Errorf("covered running run: %+v", cb)
	}
	if cb := te.admin.callback(5); cb.HandleCode != 500 || !strings.Contains(cb.HandleMsg, "Cover Early [job not executed, in the job queue, killed.]") {
		t.Errorf("covered queued run: %+v", cb)
	}
	mkttest.WaitFor(t, time.Minute, "run 6", func() bool { s := g.startedRuns(); return s[len(s)-1] == 6 })
	g.release(6)
	if cb := te.admin.callback(6); cb.HandleCode != 200 {
		t.Errorf("covering run: %+v", cb)
	}
	for _, logID := range g.startedRuns() {
		if logID == 5 || logID == 3 {
			t.Errorf("run %d ran", logID)
		}
	}
	// DISCARD_LATER on an idle job runs.
	idle := trigger(1, 7, "gate")
	idle.ExecutorBlockStrategy = xxljob.DiscardLater
	mkttest.WaitFor(t, time.Minute, "job 1 idle", func() bool { return te.admin.call(te.base, "/idleBeat", map[string]any{"jobId": 1}).Code == 200 })
	te.mustRun(t, idle)
	g.release(7)
	if cb := te.admin.callback(7); cb.HandleCode != 200 {
		t.Errorf("discard later on an idle job: %+v", cb)
	}
}

// TestTimeoutAndKill: a run past its executorTimeout is cancelled and
// called back 502; /kill cancels the running run (500, killed) and answers
// its queued ones as not run; the job runs again afterwards.
func TestTimeoutAndKill(t *testing.T) {
	g := newGate()
	te := startExecutor(t, v3, map[string]xxljob.Handler{"gate": g})

	p := trigger(3, 10, "gate")
	p.ExecutorTimeout = 1
	te.mustRun(t, p)
	if cb := te.admin.callback(10); cb.HandleCode != 502 || cb.HandleMsg != "job execute timeout" {
		t.Errorf("timed out run: %+v", cb)
	}
	if lr := te.readLog(t, 10, 1); !lr.IsEnd || !strings.Contains(lr.LogContent, "run stopped") {
		t.Errorf("log of the timed out run: %+v", lr)
	}

	te.mustRun(t, trigger(3, 11, "gate"))
	te.mustRun(t, trigger(3, 12, "gate"))
	mkttest.WaitFor(t, time.Minute, "run 11", func() bool { s := g.startedRuns(); return s[len(s)-1] == 11 })
	if a := te.admin.call(te.base, "/kill", map[string]any{"jobId": 3}); a.Code != 200 || a.Msg != "" {
		t.Errorf("kill: %+v", a)
	}
	if cb := te.admin.callback(11); cb.HandleCode != 500 || cb.HandleMsg != "scheduling center kill job. [job running, killed]" {
		t.Errorf("killed run: %+v", cb)
	}
	if cb := te.admin.callback(12); cb.HandleCode != 500 || !strings.Contains(cb.HandleMsg, "[job not executed, in the job queue, killed.]") {
		t.Errorf("queued run of a killed job: %+v", cb)
	}
	te.mustRun(t, trigger(3, 13, "gate"))
	g.release(13)
	if cb := te.admin.callback(13); cb.HandleCode != 200 {
		t.Errorf("run after kill: %+v", cb)
	}
	for _, id := range g.startedRuns() {
		if id == 12 {
			t.Error("the queued run of the killed job ran")
		}
	}
}

// TestStopCancelsAtTheDrainDeadline: a run that outlives the drain budget is
// cancelled and still called back before the executor leaves.
func TestStopCancelsAtTheDrainDeadline(t *testing.T) {
	g := newGate()
	te := startExecutor(t, v24, map[string]xxljob.Handler{"gate": g})
	te.mustRun(t, trigger(4, 20, "gate"))
	te.mustRun(t, trigger(4, 21, "gate"))
	mkttest.WaitFor(t, time.Minute, "run 20", func() bool { return len(g.startedRuns()) == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the drain budget is already spent
	if err := te.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
	_, _, cbs := te.admin.snapshot()
	got := map[int64]xxljob.Callback{}
	for _, cb := range cbs {
		got[cb.LogID] = cb
	}
	if cb := got[20]; cb.HandleCode != 500 || !strings.Contains(cb.HandleMsg, "executor stopping [job running, killed]") {
		t.Errorf("run cancelled at stop: %+v", cb)
	}
	if cb := got[21]; cb.HandleCode != 500 || !strings.Contains(cb.HandleMsg, "not executed") {
		t.Errorf("run queued at stop: %+v", cb)
	}
}

// TestCallbackRetry: callbacks the admin fails (HTTP 503, code 500) are
// retried with backoff, in order, and delivered once.
func TestCallbackRetry(t *testing.T) {
	done := xxljob.HandlerFunc(func(_ context.Context, job *xxljob.Job) (string, error) {
		if job.Params == "fail" {
			return "", errors.New("the handler failed")
		}
		return "ok", nil
	})
	te := startExecutor(t, v3, map[string]xxljob.Handler{"done": done})
	te.admin.mu.Lock()
	te.admin.failCallbacks = []string{"http", "code", "http"}
	te.admin.mu.Unlock()
	p := trigger(5, 30, "done")
	te.mustRun(t, p)
	p = trigger(5, 31, "done")
	p.ExecutorParams = "fail"
	te.mustRun(t, p)
	if cb := te.admin.callback(31); cb.HandleCode != 500 || cb.HandleMsg != "the handler failed" {
		t.Errorf("failed run: %+v", cb)
	}
	_, _, cbs := te.admin.snapshot()
	if len(cbs) != 2 || cbs[0].LogID != 30 || cbs[0].HandleCode != 200 || cbs[0].HandleMsg != "ok" {
		t.Errorf("callbacks %+v, want log 30 then 31, once each", cbs)
	}
	te.admin.mu.Lock()
	calls := te.admin.callbackCalls
	te.admin.mu.Unlock()
	if calls < 4 {
		t.Errorf("%d callback calls, want the 3 failures and a success", calls)
	}
}

// TestTokenRefused: a request without the token or with a wrong one is
// refused with a 500 envelope and runs nothing.
func TestTokenRefused(t *testing.T) {
	var ran atomic.Int64
	h := xxljob.HandlerFunc(func(context.Context, *xxljob.Job) (string, error) { ran.Add(1); return "", nil })
	te := startExecutor(t, v24, map[string]xxljob.Handler{"h": h})
	body, _ := json.Marshal(trigger(6, 40, "h"))
	for _, tok := range []string{"", "wrong", testToken + "x", strings.ToUpper(testToken)} {
		for _, path := range []string{"/run", "/beat", "/kill", "/log", "/idleBeat"} {
			if a := te.admin.callWith(te.base, path, body, tok); a.Code != 500 || a.Msg != "The access token is wrong." {
				t.Errorf("%s with token %q: %+v", path, tok, a)
			}
		}
	}
	if a := te.admin.callWith(te.base, "/beat", nil, testToken); a.Code != 200 {
		t.Errorf("beat with the token: %+v", a)
	}
	if n := ran.Load(); n != 0 {
		t.Errorf("%d runs with a bad token", n)
	}
}

// TestMalformedRequests: bad requests get a 500 envelope naming the
// problem, and the executor keeps serving.
func TestMalformedRequests(t *testing.T) {
	var ran atomic.Int64
	h := xxljob.HandlerFunc(func(context.Context, *xxljob.Job) (string, error) { ran.Add(1); return "", nil })
	checked := checkedHandler{h}
	te := startExecutor(t, v3, map[string]xxljob.Handler{"h": h, "checked": checked}, func(c *xxljob.Config) { c.MaxBodyBytes = 4096 })
	good, _ := json.Marshal(trigger(6, 50, "h"))
	edit := func(from, to string) string {
		if !strings.Contains(string(good), from) {
			t.Fatalf("%q not in %s", from, good)
		}
		return strings.Replace(string(good), from, to, 1)
	}
	cases := []struct{ path, body, want string }{
		{"/run", ``, "invalid request body"},
		{"/run", `not json`, "invalid request body"},
		{"/run", `[1,2]`, "invalid request body"},
		{"/run", string(good) + `{}`, "invalid request body"},
		{"/run", edit(`"jobId":6`, `"jobId":6,"jobId":7`), "twice"},
		{"/run", edit(`"jobId":6`, `"JobId":6`), "case"},
		{"/run", edit(`"jobId":6`, `"jobId":"6"`), "invalid request body"},
		{"/run", edit(`"jobId":6`, `"jobId":1e99`), "invalid request body"},
		{"/run", edit(`"jobId":6`, `"jobId":0`), "jobId 0"},
		{"/run", edit(`"logId":50`, `"logId":-1`), "logId -1"},
		{"/run", edit(`"executorHandler":"h"`, `"executorHandler":"nope"`), "job handler [nope] not found."},
		{"/run", edit(`"executorHandler":"h"`, `"executorHandler":""`), "executorHandler is empty"},
		{"/run", edit(`"glueType":"BEAN"`, `"glueType":"GLUE_SHELL"`), "glueType[GLUE_SHELL] is not valid"},
		{"/run", edit(`"SERIAL_EXECUTION"`, `"FASTEST"`), "executorBlockStrategy"},
		{"/run", edit(`"executorTimeout":0`, `"executorTimeout":-5`), "executorTimeout"},
		{"/run", edit(`"broadcastTotal":1`, `"broadcastTotal":2000`), "broadcastTotal"},
		{"/run", edit(`"broadcastIndex":0`, `"broadcastIndex":1`), "broadcastIndex 1"},
		{"/run", edit(`"executorHandler":"h"`, `"executorHandler":"checked"`), ""}, // fine: empty params
		{"/run", strings.Replace(edit(`"executorHandler":"h"`, `"executorHandler":"checked"`), `"executorParams":""`, `"executorParams":"2026-13-40"`, 1), `executorParams "2026-13-40": want`},
		{"/run", `{"jobId":6,"logId":51,"executorHandler":"h","glueSource":"` + strings.Repeat("x", 5000) + `"}`, "body larger than 4096 bytes"},
		{"/kill", `{"jobId":"x"}`, "invalid request body"},
		{"/idleBeat", `{}{}`, "invalid request body"},
		{"/log", `{"logId":1,"logId":2}`, "twice"},
		{"/nope", `{}`, "uri-mapping(/nope) not found"},
	}
	for _, c := range cases {
		a := te.admin.callWith(te.base, c.path, []byte(c.body), testToken)
		switch {
		case c.want == "" && a.Code != 200:
			t.Errorf("%s %.80s: %+v, want 200", c.path, c.body, a)
		case c.want != "" && (a.Code != 500 || !strings.Contains(a.Msg, c.want)):
			t.Errorf("%s %.80s: %+v, want 500 …%s…", c.path, c.body, a, c.want)
		}
	}
	// A GET is refused the same way.
	resp, err := httpGet(te.base + "beat")
	if err != nil || !strings.Contains(resp, `"code":500`) || !strings.Contains(resp, "HttpMethod not support") {
		t.Errorf("GET /beat: %s %v", resp, err)
	}
	if a := te.admin.call(te.base, "/beat", nil); a.Code != 200 {
		t.Errorf("beat after the bad requests: %+v", a)
	}
	te.admin.callback(int64(50)) // the one good run (the "checked" handler's)
	if n := ran.Load(); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
}

type checkedHandler struct{ xxljob.HandlerFunc }

func (checkedHandler) CheckParams(params string) error {
	if params == "" {
		return nil
	}
	if _, err := time.Parse(time.DateOnly, params); err != nil {
		return errors.New("want a date")
	}
	return nil
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
