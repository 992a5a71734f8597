package xxljob_test

// The XXL-Job admin is not published as a package and cannot run here: the
// tests talk to this double, written from the protocol's documented JSON
// (/work/shared/XXLJOB.md; xxl-job 2.4.x and 3.x: AdminBizClient, ReturnT,
// EmbedServer). It records the executor's calls to api/registry,
// api/registryRemove and api/callback, answers in the envelope of the
// version it plays, and plays the admin's side of the executor protocol:
// POSTs with the access token, reading the payload where that version does.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"mkt/pkg/mkttest"
	"mkt/pkg/xxljob"
)

// Admin versions the double plays.
const (
	v24 = "2.4" // {code,msg,content}
	v3  = "3.x" // {code,msg,data}
)

type adminDouble struct {
	t       *testing.T
	version string
	token   string
	srv     *httptest.Server

	mu            sync.Mutex
	registry      []xxljob.RegistryParam
	removes       []xxljob.RegistryParam
	callbacks     []xxljob.Callback
	callbackCalls int
	badTokens     int
	// failCallbacks makes the next callback calls fail: "http" answers HTTP
	// 503, "code" answers code 500 in the envelope.
	failCallbacks []string
}

func newAdminDouble(t *testing.T, version, token string) *adminDouble {
	a := &adminDouble{t: t, version: version, token: token}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

// URL is the admin's base address, as an operator would give it.
func (a *adminDouble) URL() string { return a.srv.URL + "/xxl-job-admin" }

// envelope answers in this version's shape; a nil payload is left out.
func (a *adminDouble) envelope(code int, msg string, payload any) []byte {
	m := map[string]any{"code": code, "msg": nil}
	if msg != "" {
		m["msg"] = msg
	}
	key := "content"
	if a.version == v3 {
		key = "data"
	}
	m[key] = payload
	b, err := json.Marshal(m)
	if err != nil {
		a.t.Error(err)
	}
	return b
}

func (a *adminDouble) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") == "" {
		a.t.Errorf("admin double: %s %s with Content-Type %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	if r.Header.Get(xxljob.TokenHeader) != a.token {
		a.badTokens++
		_, _ = w.Write(a.envelope(500, "The access token is wrong.", nil))
		return
	}
	switch strings.TrimPrefix(r.URL.Path, "/xxl-job-admin/api/") {
	case "registry", "registryRemove":
		var p xxljob.RegistryParam
		if err := strictDecode(body, &p); err != nil {
			a.t.Errorf("admin double: %s body %s: %v", r.URL.Path, body, err)
		}
		if strings.HasSuffix(r.URL.Path, "registry") {
			a.registry = append(a.registry, p)
		} else {
			a.removes = append(a.removes, p)
		}
	case "callback":
		a.callbackCalls++
		if len(a.failCallbacks) > 0 {
			f := a.failCallbacks[0]
			a.failCallbacks = a.failCallbacks[1:]
			if f == "http" {
				http.Error(w, "admin restarting", http.StatusServiceUnavailable)
			} else {
				_, _ = w.Write(a.envelope(500, "callback store failed", nil))
			}
			return
		}
		var cbs []xxljob.Callback
		if err := strictDecode(body, &cbs); err != nil {
			a.t.Errorf("admin double: callback body %s: %v", body, err)
		}
		a.callbacks = append(a.callbacks, cbs...)
	default:
		a.t.Errorf("admin double: unexpected call %s", r.URL.Path)
		http.NotFound(w, r)
		return
	}
	_, _ = w.Write(a.envelope(200, "", nil))
}

// strictDecode refuses unknown keys: the executor sends exactly the
// documented fields.
func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func (a *adminDouble) snapshot() (reg, rem []xxljob.RegistryParam, cbs []xxljob.Callback) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]xxljob.RegistryParam(nil), a.registry...), append([]xxljob.RegistryParam(nil), a.removes...),
		append([]xxljob.Callback(nil), a.callbacks...)
}

// callback returns the callback recorded for logID, waiting for it.
func (a *adminDouble) callback(logID int64) xxljob.Callback {
	a.t.Helper()
	var found xxljob.Callback
	mkttest.WaitFor(a.t, time.Minute, fmt.Sprintf("the callback of log %d", logID), func() bool {
		_, _, cbs := a.snapshot()
		for _, cb := range cbs {
			if cb.LogID == logID {
				found = cb
				return true
			}
		}
		return false
	})
	return found
}

// answer is an executor's answer as this admin version reads it.
type answer struct {
	Code    int
	Msg     string
	Payload json.RawMessage
}

// call POSTs body to the executor at base (the registered address) with
// the admin's token, as the admin does, and reads the answer.
func (a *adminDouble) call(base, path string, body any) answer {
	a.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case string:
		raw = []byte(b)
	case nil:
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			a.t.Fatal(err)
		}
	}
	return a.callWith(base, path, raw, a.token)
}

func (a *adminDouble) callWith(base, path string, raw []byte, token string) answer {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(base, "/")+path, bytes.NewReader(raw))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set(xxljob.TokenHeader, token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("POST %s: HTTP %d: %s", path, resp.StatusCode, b)
	}
	// Each version reads its own key; the executor must fill both.
	var env struct {
		Code    int             `json:"code"`
		Msg     *string         `json:"msg"`
		Content json.RawMessage `json:"content"`
		Data    json.RawMessage `json:"data"`
	}
	if err := strictDecode(b, &env); err != nil {
		a.t.Fatalf("POST %s: answer %s: %v", path, b, err)
	}
	ans := answer{Code: env.Code, Payload: env.Content}
	if a.version == v3 {
		ans.Payload = env.Data
	}
	if env.Msg != nil {
		ans.Msg = *env.Msg
	}
	return ans
}
