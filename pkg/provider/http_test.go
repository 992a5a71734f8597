package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mkt/pkg/provider"
	"mkt/pkg/providersim"
)

const testToken = "s3cr3t-T0ken-value"

// newProvider builds an HTTPProvider with fast backoff for tests.
func newProvider(t *testing.T, cfg provider.HTTPConfig) *provider.HTTPProvider {
	t.Helper()
	cfg.Channel = cmpOr(cfg.Channel, provider.ChannelSMS)
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase = time.Millisecond
		cfg.BackoffMax = 5 * time.Millisecond
	}
	p, err := provider.NewHTTP(cfg)
	if err != nil {
		t.Fatalf("NewHTTP: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

func cmpOr[T comparable](v, d T) T {
	var zero T
	if v == zero {
		return d
	}
	return v
}

// startSim runs a provider simulator on loopback for the test.
func startSim(t testing.TB, cfg providersim.Config) *providersim.Server {
	t.Helper()
	srv, err := providersim.Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("start simulator: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("simulator shutdown: %v", err)
		}
	})
	return srv
}

func smsMsg(campaign uint64) provider.Message {
	return provider.Message{CampaignID: campaign, Channel: provider.ChannelSMS, Title: "Sale", Body: "50% off today"}
}

func recipients(from, n int) []provider.Recipient {
	out := make([]provider.Recipient, n)
	for i := range out {
		id := uint64(from + i)
		out[i] = provider.Recipient{MemberID: id, Address: "+86138" + strconv.FormatUint(id, 10)}
	}
	return out
}

func TestSendSingleSuccess(t *testing.T) {
	t.Parallel()
	var got provider.WireMessage
	var hdr http.Header
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr, path = r.Header.Clone(), r.URL.Path
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Errorf("decode: %v", err)
		}
		_, _ = io.WriteString(w, `{"ok":true,"id":"prov-1"}`)
	}))
	defer srv.Close()
	p := newProvider(t, provider.HTTPConfig{URL: srv.URL + "/sms", Token: testToken})

	res := p.Send(context.Background(), smsMsg(42), []provider.Recipient{{MemberID: 1001, Address: "+8613800000000"}})
	if len(res) != 1 || !res[0].OK || res[0].ProviderID != "prov-1" || res[0].Attempts != 1 || res[0].MemberID != 1001 || res[0].Err != nil {
		t.Fatalf("result %+v", res)
	}
	want := provider.WireMessage{IdempotencyKey: "42:sms:1001", Channel: provider.ChannelSMS, To: "+8613800000000",
		MemberID: 1001, Title: "Sale", Body: "50% off today", CampaignID: 42}
	if got != want {
		t.Errorf("wire message %+v, want %+v", got, want)
	}
	if path != "/sms" {
		t.Errorf("path %q", path)
	}
	if h := hdr.Get("Authorization"); h != "Bearer "+testToken {
		t.Errorf("Authorization %q", h)
	}
	if h := hdr.Get("Idempotency-Key"); h != "42:sms:1001" {
		t.Errorf("Idempotency-Key %q", h)
	}
	if h := hdr.Get("Content-Type"); h != "application/json" {
		t.Errorf("Content-Type %q", h)
	}
	if p.MaxBatch() != 1 || p.Name() != "http-sms" {
		t.Errorf("MaxBatch %d Name %q", p.MaxBatch(), p.Name())
	}
}

func TestSendPerRecipientAgainstSimulator(t *testing.T) {
	t.Parallel()
	sim := startSim(t, providersim.Config{Token: testToken, Seed: 1})
	p := newProvider(t, provider.HTTPConfig{URL: sim.URL() + "/sms", Token: testToken})
	to := recipients(1, 20)
	res := p.Send(context.Background(), smsMsg(7), to)
	for i, r := range res {
		if !r.OK || r.MemberID != to[i].MemberID || r.ProviderID == "" {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	st := sim.Simulator().Stats()
	if st.Requests != 20 || st.Delivered != 20 || st.Distinct != 20 || st.Duplicates != 0 || st.Unauthorized != 0 {
		t.Fatalf("simulator stats %+v", st)
	}
}

func TestSendBatchAgainstSimulator(t *testing.T) {
	t.Parallel()
	sim := startSim(t, providersim.Config{Seed: 1})
	p := newProvider(t, provider.HTTPConfig{URL: sim.URL() + "/sms", BatchSize: 100})
	if p.MaxBatch() != 100 {
		t.Fatalf("MaxBatch %d", p.MaxBatch())
	}
	to := recipients(1, 250)
	res := p.Send(context.Background(), smsMsg(8), to)
	if len(res) != 250 {
		t.Fatalf("%d results", len(res))
	}
	for i, r := range res {
		if !r.OK || r.MemberID != to[i].MemberID || r.Attempts != 1 {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	st := sim.Simulator().Stats()
	if st.BatchRequests != 3 || st.Recipients != 250 || st.Distinct != 250 || st.Duplicates != 0 {
		t.Fatalf("simulator stats %+v", st)
	}
}

func TestSendBatchPartialFailure(t *testing.T) {
	t.Parallel()
	sim := startSim(t, providersim.Config{Seed: 1, FailMembers: []uint64{3, 7}})
	p := newProvider(t, provider.HTTPConfig{URL: sim.URL() + "/sms", BatchSize: 10})
	res := p.Send(context.Background(), smsMsg(9), recipients(1, 10))
	for _, r := range res {
		failing := r.MemberID == 3 || r.MemberID == 7
		if r.OK == failing || r.Attempts != 1 {
			t.Fatalf("member %d: %+v", r.MemberID, r)
		}
		if failing && (!errors.Is(r.Err, provider.ErrRejected) || r.Retryable || !strings.Contains(r.Err.Error(), "rejected")) {
			t.Fatalf("member %d: err %v retryable %v", r.MemberID, r.Err, r.Retryable)
		}
	}
	if st := sim.Simulator().Stats(); st.Requests != 1 || st.Distinct != 8 || st.Rejected != 2 {
		t.Fatalf("simulator stats %+v", st)
	}
}

// TestSendBatchRetriesOnlyPending checks that per-recipient retryable
// failures and missing results are resent, and only those.
func TestSendBatchRetriesOnlyPending(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls [][]uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/push/batch" {
			t.Errorf("path %q", r.URL.Path)
		}
		var req provider.WireBatchRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("decode: %v", err)
		}
		mu.Lock()
		var ids []uint64
		for _, m := range req.Messages {
			ids = append(ids, m.MemberID)
		}
		calls = append(calls, ids)
		first := len(calls) == 1
		mu.Unlock()
		var ans provider.WireBatchResponse
		for _, m := range req.Messages {
			switch {
			case first && m.MemberID == 2:
				ans.Results = append(ans.Results, provider.WireResult{MemberID: 2, Error: "busy", Retryable: true})
			case first && m.MemberID == 3:
				// no result at all
			case m.MemberID == 4:
				ans.Results = append(ans.Results, provider.WireResult{MemberID: 4, Error: "bad token"})
			default:
				ans.Results = append(ans.Results, provider.WireResult{MemberID: m.MemberID, OK: true, ID: "x" + strconv.FormatUint(m.MemberID, 10)})
			}
		}
		_ = json.NewEncoder(w).Encode(ans)
	}))
	defer srv.Close()
	p := newProvider(t, provider.HTTPConfig{Channel: provider.ChannelApp, URL: srv.URL + "/push", BatchSize: 5})
	msg := provider.Message{CampaignID: 1, Channel: provider.ChannelApp, Body: "hi"}
	res := p.Send(context.Background(), msg, []provider.Recipient{
		{MemberID: 1, Address: "t1"}, {MemberID: 2, Address: "t2"}, {MemberID: 3, Address: "t3"},
		{MemberID: 4, Address: "t4"}, {MemberID: 5, Address: "t5"},
	})
	wantAttempts := map[uint64]int{1: 1, 2: 2, 3: 2, 4: 1, 5: 1}
	for _, r := range res {
		if r.Attempts != wantAttempts[r.MemberID] {
			t.Errorf("member %d attempts %d, want %d", r.MemberID, r.Attempts, wantAttempts[r.MemberID])
		}
		if r.MemberID == 4 {
			if r.OK || !errors.Is(r.Err, provider.ErrRejected) || r.Retryable {
				t.Errorf("member 4: %+v", r)
			}
		} else if !r.OK || r.ProviderID != "x"+strconv.FormatUint(r.MemberID, 10) {
			t.Errorf("member %d: %+v", r.MemberID, r)
		}
	}
	if len(calls) != 2 || len(calls[1]) != 2 || calls[1][0] != 2 || calls[1][1] != 3 {
		t.Fatalf("calls %v, want second call with members 2 and 3 only", calls)
	}
}

func TestRetry500ThenSuccess(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			http.Error(w, `{"error":"upstream down"}`, http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted) // 2xx without body is success too
	}))
	defer srv.Close()
	var observed []int
	var mu sync.Mutex
	p := newProvider(t, provider.HTTPConfig{URL: srv.URL, Observer: func(a provider.Attempt) {
		mu.Lock()
		observed = append(observed, a.StatusCode)
		mu.Unlock()
	}})
	res := p.Send(context.Background(), smsMsg(1), recipients(1, 1))
	if !res[0].OK || res[0].Attempts != 2 || hits.Load() != 2 {
		t.Fatalf("result %+v after %d hits", res[0], hits.Load())
	}
	if len(observed) != 2 || observed[0] != 500 || observed[1] != 202 {
		t.Fatalf("observer saw %v", observed)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var answered429 time.Time
	var waited time.Duration
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		hits++
		if hits == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			answered429 = time.Now()
			return
		}
		waited = time.Since(answered429)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	p := newProvider(t, provider.HTTPConfig{URL: srv.URL})
	res := p.Send(context.Background(), smsMsg(1), recipients(1, 1))
	if !res[0].OK || res[0].Attempts != 2 {
		t.Fatalf("result %+v", res[0])
	}
	mu.Lock()
	defer mu.Unlock()
	if waited < time.Second {
		t.Fatalf("retried %v after a 429 with Retry-After: 1", waited)
	}
}

func TestRetryAfterCapped(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	p := newProvider(t, provider.HTTPConfig{URL: srv.URL, MaxRetryAfter: 20 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res := p.Send(ctx, smsMsg(1), recipients(1, 1)); !res[0].OK || res[0].Attempts != 2 {
		t.Fatalf("result %+v", res[0])
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"invalid mobile number"}`)
	}))
	defer srv.Close()
	p := newProvider(t, provider.HTTPConfig{URL: srv.URL, MaxAttempts: 5})
	res := p.Send(context.Background(), smsMsg(1), recipients(1, 1))[0]
	if res.OK || res.Retryable || res.Attempts != 1 || hits.Load() != 1 {
		t.Fatalf("result %+v after %d hits", res, hits.Load())
	}
	var se *provider.StatusError
	if !errors.Is(res.Err, provider.ErrRejected) || !errors.As(res.Err, &se) || se.StatusCode != http.StatusBadRequest || se.Reason != "invalid mobile number" {
		t.Fatalf("error %v (%#v)", res.Err, se)
	}
}

func TestSingleOKFalseIsRejection(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"ok":false,"error":"unsubscribed"}`)
	}))
	defer srv.Close()
	p := newProvider(t, provider.HTTPConfig{URL: srv.URL})
	res := p.Send(context.Background(), smsMsg(1), recipients(1, 1))[0]
	if res.OK || res.Retryable || res.Attempts != 1 || !errors.Is(res.Err, provider.ErrRejected) || !strings.Contains(res.Err.Error(), "unsubscribed") {
		t.Fatalf("result %+v", res)
	}
}

func TestTimeoutRetriedThenFails(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body) // else the server never notices the client leaving
		<-r.Context().Done()               // hang until the client gives up
	}))
	defer srv.Close()
	p := newProvider(t, provider.HTTPConfig{URL: srv.URL, Timeout: 50 * time.Millisecond, MaxAttempts: 3})
	res := p.Send(context.Background(), smsMsg(1), recipients(1, 1))[0]
	if res.OK || !res.Retryable || res.Attempts != 3 || !errors.Is(res.Err, provider.ErrTimeout) {
		t.Fatalf("result %+v", res)
	}
	if n := hits.Load(); n != 3 {
		t.Fatalf("server saw %d calls, want 3", n)
	}
}

func TestSimulatorTimeoutsAndErrorsRetried(t *testing.T) {
	t.Parallel()
	sim := startSim(t, providersim.Config{Seed: 42, ErrorRate: 0.2, TimeoutRate: 0.1, RateLimit429Rate: 0.1})
	p := newProvider(t, provider.HTTPConfig{URL: sim.URL() + "/email", Channel: provider.ChannelEmail,
		Timeout: 100 * time.Millisecond, MaxAttempts: 20, MaxRetryAfter: time.Millisecond, BatchSize: 5})
	msg := provider.Message{CampaignID: 3, Channel: provider.ChannelEmail, Body: "hello"}
	to := make([]provider.Recipient, 50)
	for i := range to {
		to[i] = provider.Recipient{MemberID: uint64(i + 1), Address: "m" + strconv.Itoa(i) + "@example.com"}
	}
	var wg sync.WaitGroup
	for start := 0; start < len(to); start += 5 {
		wg.Go(func() {
			for _, r := range p.Send(context.Background(), msg, to[start:start+5]) {
				if !r.OK {
					t.Errorf("member %d: %+v", r.MemberID, r)
				}
			}
		})
	}
	wg.Wait()
	rep, err := sim.Simulator().Deliveries(providersim.DeliveryQuery{CampaignID: 3, Channel: provider.ChannelEmail, From: 1, To: 50})
	if err != nil {
		t.Fatal(err)
	}
	if c := rep.Channels[0]; c.Distinct != 50 || c.Missing != 0 || c.Duplicates != 0 || len(c.Exceptions) != 0 {
		t.Fatalf("deliveries %+v", c)
	}
	if st := sim.Simulator().Stats(); st.Errors+st.Timeouts+st.RateLimited == 0 {
		t.Fatalf("no fault injected: %+v", st)
	}
}

func TestRateLimitPerRecipient(t *testing.T) {
	t.Parallel()
	sim := startSim(t, providersim.Config{Seed: 1})
	// 20/s with a burst of 1: 11 sends need at least 10 intervals of 50ms.
	p := newProvider(t, provider.HTTPConfig{URL: sim.URL() + "/sms", RateLimit: 20, RateBurst: 1})
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 11 {
		wg.Go(func() { p.Send(context.Background(), smsMsg(1), recipients(i+1, 1)) })
	}
	wg.Wait()
	if el := time.Since(start); el < 450*time.Millisecond {
		t.Fatalf("11 sends at 20/s burst 1 took %v, want >= 500ms", el)
	}
	if st := sim.Simulator().Stats(); st.Delivered != 11 {
		t.Fatalf("delivered %d", st.Delivered)
	}
}

func TestRateLimitCountsBatchRecipients(t *testing.T) {
	t.Parallel()
	sim := startSim(t, providersim.Config{Seed: 1})
	// 100 recipients/s, burst 10, batches of 10: 50 recipients = 10 at once
	// and 40 more tokens at 100/s, so at least 400ms.
	p := newProvider(t, provider.HTTPConfig{URL: sim.URL() + "/sms", BatchSize: 10, RateLimit: 100, RateBurst: 10})
	start := time.Now()
	res := p.Send(context.Background(), smsMsg(1), recipients(1, 50))
	if el := time.Since(start); el < 350*time.Millisecond {
		t.Fatalf("50 recipients at 100/s took %v, want >= 400ms", el)
	}
	for _, r := range res {
		if !r.OK {
			t.Fatalf("%+v", r)
		}
	}
	// Per call: the same 5 calls at 10 calls/s, burst 1, take at least 400ms.
	p = newProvider(t, provider.HTTPConfig{URL: sim.URL() + "/sms", BatchSize: 10, RateLimit: 10, RateUnit: provider.RatePerCall})
	start = time.Now()
	p.Send(context.Background(), smsMsg(2), recipients(1, 50))
	if el := time.Since(start); el < 350*time.Millisecond {
		t.Fatalf("5 calls at 10/s took %v, want >= 400ms", el)
	}
}

func TestTokenNeverInErrors(t *testing.T) {
	t.Parallel()
	// A hostile or careless provider echoes the Authorization header back.
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		switch {
		case strings.HasSuffix(r.URL.Path, "/batch"):
			_ = json.NewEncoder(w).Encode(provider.WireBatchResponse{Results: []provider.WireResult{
				{MemberID: 1, Error: "bad auth " + auth},
			}})
		case hits.Add(1)%2 == 1:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, strings.Repeat("x", 185)+"got "+auth) // token across the truncation point
		default:
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(provider.WireError{Error: "forbidden for " + auth})
		}
	}))
	defer srv.Close()
	check := func(res []provider.Result) {
		t.Helper()
		for _, r := range res {
			if r.Err == nil {
				t.Fatalf("member %d succeeded", r.MemberID)
			}
			if msg := r.Err.Error(); strings.Contains(msg, testToken) || strings.Contains(msg, testToken[:4]) {
				t.Fatalf("token leaked in error: %s", msg)
			}
		}
	}
	p := newProvider(t, provider.HTTPConfig{URL: srv.URL + "/?key=" + testToken, Token: testToken, MaxAttempts: 1})
	check(p.Send(context.Background(), smsMsg(1), recipients(1, 1))) // 500 with a text body
	check(p.Send(context.Background(), smsMsg(1), recipients(1, 1))) // 403 with a JSON body

	pb := newProvider(t, provider.HTTPConfig{URL: srv.URL, Token: testToken, BatchSize: 2})
	check(pb.Send(context.Background(), smsMsg(1), recipients(1, 1)))

	// A network failure mentioning the URL.
	pn := newProvider(t, provider.HTTPConfig{URL: "http://127.0.0.1:1/x?key=" + testToken, Token: testToken, MaxAttempts: 1})
	check(pn.Send(context.Background(), smsMsg(1), recipients(1, 1)))

	// Other secrets in the URL (a key in the query, user information) do not
	// reach the stored reason either.
	for _, u := range []string{"http://127.0.0.1:1/x?api_key=sekrit-42&sig=abc", "http://user:sekrit-42@127.0.0.1:1/x"} {
		pu := newProvider(t, provider.HTTPConfig{URL: u, MaxAttempts: 1})
		for _, r := range pu.Send(context.Background(), smsMsg(1), recipients(1, 1)) {
			if r.Err == nil || strings.Contains(r.Err.Error(), "sekrit-42") || !strings.Contains(r.Err.Error(), "127.0.0.1:1/x") {
				t.Errorf("%s: error %v", u, r.Err)
			}
		}
	}

	if _, err := provider.NewHTTP(provider.HTTPConfig{Channel: provider.ChannelSMS, URL: "ftp://x/" + testToken}); err == nil || strings.Contains(err.Error(), testToken) {
		t.Fatalf("config error %v", err)
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer srv.Close()
	p := newProvider(t, provider.HTTPConfig{URL: srv.URL, Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	res := p.Send(ctx, smsMsg(1), recipients(1, 3))
	for i, r := range res {
		if r.OK || !r.Retryable || !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if res[0].Attempts != 1 || res[1].Attempts != 0 || res[2].Attempts != 0 {
		t.Fatalf("attempts %d %d %d", res[0].Attempts, res[1].Attempts, res[2].Attempts)
	}

	// Cancellation also ends a rate-limit wait.
	pl := newProvider(t, provider.HTTPConfig{URL: srv.URL, RateLimit: 0.001, RateBurst: 1})
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	// The limiter has no hook that says a Send waits: 20 ms lets the first
	// Send reach its wait before the cancel.
	go func() { time.Sleep(20 * time.Millisecond); cancel2() }()
	_ = pl.Send(ctx2, smsMsg(1), recipients(1, 2)) // first takes the burst token and hangs until cancel
	if r := pl.Send(ctx2, smsMsg(1), recipients(3, 1))[0]; r.OK || !r.Retryable || r.Attempts != 0 || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("after cancel: %+v", r)
	}
}

func TestInvalidMessages(t *testing.T) {
	t.Parallel()
	sim := startSim(t, providersim.Config{Seed: 1})
	p := newProvider(t, provider.HTTPConfig{URL: sim.URL() + "/sms"})
	wrong := provider.Message{CampaignID: 1, Channel: provider.ChannelEmail, Body: "x"}
	if r := p.Send(context.Background(), wrong, recipients(1, 2)); r[0].OK || !errors.Is(r[1].Err, provider.ErrInvalidMessage) || r[1].Retryable {
		t.Fatalf("wrong channel: %+v", r)
	}
	if r := p.Send(context.Background(), provider.Message{CampaignID: 1, Channel: provider.ChannelSMS}, recipients(1, 1)); !errors.Is(r[0].Err, provider.ErrInvalidMessage) {
		t.Fatalf("empty body: %+v", r)
	}
	r := p.Send(context.Background(), smsMsg(1), []provider.Recipient{{MemberID: 5}, {MemberID: 6, Address: "+86"}})
	if !errors.Is(r[0].Err, provider.ErrInvalidMessage) || r[0].Attempts != 0 || !r[1].OK {
		t.Fatalf("no address: %+v", r)
	}

	pb := newProvider(t, provider.HTTPConfig{URL: sim.URL() + "/sms", BatchSize: 10})
	r = pb.Send(context.Background(), smsMsg(2), []provider.Recipient{{MemberID: 5, Address: "a"}, {MemberID: 5, Address: "b"}, {MemberID: 6}})
	if !r[0].OK || !errors.Is(r[1].Err, provider.ErrInvalidMessage) || !errors.Is(r[2].Err, provider.ErrInvalidMessage) {
		t.Fatalf("batch duplicate/no address: %+v", r)
	}

	// The inbox channel addresses members by id.
	pi := newProvider(t, provider.HTTPConfig{URL: sim.URL() + "/inbox", Channel: provider.ChannelInbox})
	r = pi.Send(context.Background(), provider.Message{CampaignID: 3, Channel: provider.ChannelInbox, Body: "x"}, []provider.Recipient{{MemberID: 77}})
	if !r[0].OK || sim.Simulator().Count(3, provider.ChannelInbox, 77) != 1 {
		t.Fatalf("inbox: %+v", r)
	}
}

func TestNewHTTPValidation(t *testing.T) {
	t.Parallel()
	ok := provider.HTTPConfig{Channel: provider.ChannelSMS, URL: "http://127.0.0.1:9/sms"}
	tests := map[string]func(c *provider.HTTPConfig){
		"unknown channel":   func(c *provider.HTTPConfig) { c.Channel = "fax" },
		"no url":            func(c *provider.HTTPConfig) { c.URL = "" },
		"relative url":      func(c *provider.HTTPConfig) { c.URL = "/sms" },
		"negative batch":    func(c *provider.HTTPConfig) { c.BatchSize = -1 },
		"negative rate":     func(c *provider.HTTPConfig) { c.RateLimit = -1 },
		"burst below batch": func(c *provider.HTTPConfig) { c.BatchSize, c.RateLimit, c.RateBurst = 100, 10, 5 },
		"bad unit":          func(c *provider.HTTPConfig) { c.RateUnit = "bytes" },
		"negative attempts": func(c *provider.HTTPConfig) { c.MaxAttempts = -1 },
		"backoff max<base":  func(c *provider.HTTPConfig) { c.BackoffBase, c.BackoffMax = time.Second, time.Millisecond },
		"bad batch url":     func(c *provider.HTTPConfig) { c.BatchSize, c.BatchURL = 10, "nope" },
	}
	for name, mutate := range tests {
		c := ok
		mutate(&c)
		if _, err := provider.NewHTTP(c); !errors.Is(err, provider.ErrInvalidConfig) {
			t.Errorf("%s: err %v", name, err)
		}
	}
	if _, err := provider.NewHTTP(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}
