package providersim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"mkt/pkg/mkttest"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
)

// start runs a simulator on loopback for the test and returns it with a
// client of it.
func start(t testing.TB, cfg providersim.Config) (*providersim.Server, *providersim.Client) {
	t.Helper()
	srv, err := providersim.Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	c, err := providersim.NewClient(providersim.ClientConfig{BaseURL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func msg(campaign, member uint64, ch provider.Channel) provider.WireMessage {
	return provider.WireMessage{
		IdempotencyKey: fmt.Sprintf("%d:%s:%d", campaign, ch, member), Channel: ch,
		To: fmt.Sprint("addr-", member), MemberID: member, Body: "hi", CampaignID: campaign,
	}
}

// post sends v as JSON and returns the status, Retry-After and body.
func post(t *testing.T, hc *http.Client, url string, v any, hdr ...string) (int, string, []byte) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", []byte(err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), body
}

// getStatus sends a GET to url and returns the status of the answer.
func getStatus(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestCountsDuplicatesAndReset(t *testing.T) {
	t.Parallel()
	srv, c := start(t, providersim.Config{Seed: 1})
	ctx := context.Background()
	hc := http.DefaultClient
	for m := uint64(1); m <= 10; m++ {
		if m == 4 {
			continue // missing
		}
		if code, _, body := post(t, hc, srv.URL()+"/sms", msg(5, m, provider.ChannelSMS)); code != 200 || !strings.Contains(string(body), `"ok":true`) {
			t.Fatalf("member %d: %d %s", m, code, body)
		}
	}
	post(t, hc, srv.URL()+"/sms", msg(5, 6, provider.ChannelSMS))     // duplicate
	post(t, hc, srv.URL()+"/email", msg(5, 6, provider.ChannelEmail)) // other channel: not a duplicate
	post(t, hc, srv.URL()+"/sms/batch", provider.WireBatchRequest{Messages: []provider.WireMessage{msg(5, 6, provider.ChannelSMS), msg(5, 11, provider.ChannelSMS)}})
	post(t, hc, srv.URL()+"/sms", msg(6, 6, provider.ChannelSMS)) // other campaign

	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 13 || st.BatchRequests != 1 || st.Recipients != 14 || st.Delivered != 14 || st.Duplicates != 2 || st.Distinct != 12 {
		t.Fatalf("stats %+v", st)
	}
	rep, err := c.Deliveries(ctx, providersim.DeliveryQuery{CampaignID: 5, From: 1, To: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Channels) != 2 || rep.Channels[0].Channel != provider.ChannelEmail {
		t.Fatalf("channels %+v", rep.Channels)
	}
	sms := rep.Channel(provider.ChannelSMS)
	want := []providersim.MemberCount{{MemberID: 4, Count: 0}, {MemberID: 6, Count: 3}, {MemberID: 11, Count: 1}}
	if sms.Distinct != 10 || sms.Deliveries != 12 || sms.Duplicates != 2 || sms.Missing != 1 || sms.Unexpected != 1 ||
		sms.DuplicatedMembers != 1 || !slices.Equal(sms.Exceptions, want) {
		t.Fatalf("sms deliveries %+v", sms)
	}
	if n := srv.Simulator().Count(5, provider.ChannelSMS, 6); n != 3 {
		t.Fatalf("count %d", n)
	}
	if rep, err := c.Deliveries(ctx, providersim.DeliveryQuery{CampaignID: 99, Channel: provider.ChannelApp, From: 1, To: 3}); err != nil || rep.Channel(provider.ChannelApp).Missing != 3 {
		t.Fatalf("unknown campaign: %+v %v", rep, err)
	}
	if _, err := c.Deliveries(ctx, providersim.DeliveryQuery{}); err == nil {
		t.Fatal("query without campaign succeeded")
	}
	if code := getStatus(t, srv.URL()+"/deliveries?campaign_id=x"); code != http.StatusBadRequest {
		t.Fatalf("bad query answered %d", code)
	}

	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Stats(ctx); err != nil || st != (providersim.Stats{}) {
		t.Fatalf("after reset: %+v %v", st, err)
	}
	if rep, err := c.Deliveries(ctx, providersim.DeliveryQuery{CampaignID: 5}); err != nil || len(rep.Channels) != 0 {
		t.Fatalf("deliveries after reset: %+v %v", rep, err)
	}
}

func TestFailMembers(t *testing.T) {
	t.Parallel()
	srv, c := start(t, providersim.Config{Seed: 1, FailMembers: []uint64{2}})
	hc := http.DefaultClient
	code, _, body := post(t, hc, srv.URL()+"/app", msg(1, 2, provider.ChannelApp))
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), "rejected") {
		t.Fatalf("single: %d %s", code, body)
	}
	code, _, body = post(t, hc, srv.URL()+"/app/batch", provider.WireBatchRequest{Messages: []provider.WireMessage{
		msg(1, 1, provider.ChannelApp), msg(1, 2, provider.ChannelApp), msg(1, 3, provider.ChannelApp)}})
	var ans provider.WireBatchResponse
	if err := json.Unmarshal(body, &ans); code != 200 || err != nil || len(ans.Results) != 3 {
		t.Fatalf("batch: %d %s %v", code, body, err)
	}
	for _, r := range ans.Results {
		if r.OK != (r.MemberID != 2) || r.Retryable {
			t.Fatalf("batch result %+v", r)
		}
	}
	st, _ := c.Stats(context.Background())
	if st.Rejected != 2 || st.Delivered != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// fates sends n sequential single calls and returns their status codes.
func fates(t *testing.T, url string, n int) []int {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	out := make([]int, n)
	for i := range out {
		code, ra, body := post(t, hc, url+"/sms", msg(1, uint64(i+1), provider.ChannelSMS))
		if code == http.StatusTooManyRequests && ra != "2" {
			t.Fatalf("429 with Retry-After %q", ra)
		}
		if code == 0 {
			t.Fatalf("call %d: %s", i, body)
		}
		out[i] = code
	}
	return out
}

func TestFaultInjectionDeterministic(t *testing.T) {
	t.Parallel()
	cfg := providersim.Config{Seed: 7, ErrorRate: 0.1, TimeoutRate: 0.05, RateLimit429Rate: 0.1,
		RetryAfter: 2 * time.Second, MaxHang: 2 * time.Millisecond}
	srvA, cA := start(t, cfg)
	srvB, _ := start(t, cfg)
	const n = 2000
	a := fates(t, srvA.URL(), n)
	if b := fates(t, srvB.URL(), n); !slices.Equal(a, b) {
		t.Fatal("two simulators with the same seed disagree")
	}
	count := map[int]int{}
	for _, c := range a {
		count[c]++
	}
	// Expected 200/100/200 of 2000; allow wide statistical margins.
	near := func(got int, want float64) bool { return float64(got) > want*0.6 && float64(got) < want*1.4 }
	if !near(count[500], 200) || !near(count[504], 100) || !near(count[429], 200) || count[200]+count[500]+count[504]+count[429] != n {
		t.Fatalf("fates %v", count)
	}
	st, err := cA.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if int(st.Errors) != count[500] || int(st.Timeouts) != count[504] || int(st.RateLimited) != count[429] || int(st.Delivered) != count[200] {
		t.Fatalf("stats %+v vs fates %v", st, count)
	}
	// Reset restarts the sequence.
	if err := cA.Reset(context.Background()); err != nil {
		t.Fatal(err)
	}
	if again := fates(t, srvA.URL(), 200); !slices.Equal(again, a[:200]) {
		t.Fatal("fates after reset differ")
	}
}

func TestTimeoutHangsUntilClientGivesUp(t *testing.T) {
	t.Parallel()
	srv, c := start(t, providersim.Config{Seed: 1, TimeoutRate: 1})
	hc := &http.Client{Timeout: 100 * time.Millisecond}
	began := time.Now()
	if code, _, _ := post(t, hc, srv.URL()+"/sms", msg(1, 1, provider.ChannelSMS)); code != 0 {
		t.Fatalf("answered %d", code)
	}
	if el := time.Since(began); el < 100*time.Millisecond {
		t.Fatalf("gave up after %v", el)
	}
	st, _ := c.Stats(context.Background())
	if st.Timeouts != 1 || st.Delivered != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Close releases hanging calls at once.
	done := make(chan int)
	go func() {
		code, _, _ := post(t, http.DefaultClient, srv.URL()+"/sms", msg(1, 2, provider.ChannelSMS))
		done <- code
	}()
	mkttest.WaitFor(t, 10*time.Second, "the call in flight", func() bool { st, _ := c.Stats(context.Background()); return st.InFlight == 1 })
	srv.Simulator().Close()
	if code := <-done; code != http.StatusServiceUnavailable {
		t.Fatalf("released call answered %d", code)
	}
}

func TestLatencyAndAbandon(t *testing.T) {
	t.Parallel()
	srv, c := start(t, providersim.Config{Seed: 1, Latency: providersim.Latency{Min: 300 * time.Millisecond}})
	began := time.Now()
	if code, _, _ := post(t, http.DefaultClient, srv.URL()+"/sms", msg(1, 1, provider.ChannelSMS)); code != 200 {
		t.Fatalf("answered %d", code)
	}
	if el := time.Since(began); el < 300*time.Millisecond {
		t.Fatalf("answered after %v, want >= 300ms", el)
	}
	// A client giving up during the latency gets nothing delivered.
	hc := &http.Client{Timeout: 50 * time.Millisecond}
	post(t, hc, srv.URL()+"/sms", msg(1, 2, provider.ChannelSMS))
	mkttest.WaitFor(t, 10*time.Second, "the call abandoned", func() bool { st, _ := c.Stats(context.Background()); return st.Abandoned == 1 })
	if st, _ := c.Stats(context.Background()); st.Delivered != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	srv, c := start(t, providersim.Config{Seed: 1, Token: "tok"})
	hc := http.DefaultClient
	auth := []string{"Authorization", "Bearer tok"}
	if code, _, _ := post(t, hc, srv.URL()+"/sms", msg(1, 1, provider.ChannelSMS)); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code, _, _ := post(t, hc, srv.URL()+"/sms", msg(1, 1, provider.ChannelSMS), "Authorization", "Bearer nope"); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	bad := []any{
		"not an object",
		map[string]any{"idempotency_key": "k", "channel": "fax", "to": "x", "member_id": 1, "body": "b", "campaign_id": 1},
		map[string]any{"channel": "sms", "to": "x", "member_id": 1, "body": "b", "campaign_id": 1},
		map[string]any{"idempotency_key": "k", "channel": "sms", "to": "x", "body": "b", "campaign_id": 1},
	}
	for i, b := range bad {
		if code, _, body := post(t, hc, srv.URL()+"/sms", b, auth...); code != http.StatusBadRequest {
			t.Fatalf("bad message %d: %d %s", i, code, body)
		}
	}
	if code, _, _ := post(t, hc, srv.URL()+"/sms/batch", provider.WireBatchRequest{}, auth...); code != http.StatusBadRequest {
		t.Fatalf("empty batch: %d", code)
	}
	if code, _, _ := post(t, hc, srv.URL()+"/sms", msg(1, 1, provider.ChannelSMS), auth...); code != 200 {
		t.Fatalf("good call: %d", code)
	}
	if code := getStatus(t, srv.URL()+"/sms"); code != http.StatusMethodNotAllowed {
		t.Fatalf("GET send endpoint: %d", code)
	}
	st, _ := c.Stats(context.Background())
	if st.Unauthorized != 2 || st.BadRequests != 5 || st.Requests != 1 || st.Delivered != 1 {
		t.Fatalf("stats %+v", st)
	}
	if _, err := providersim.NewClient(providersim.ClientConfig{BaseURL: "localhost"}); !errors.Is(err, providersim.ErrInvalidConfig) {
		t.Fatalf("client config: %v", err)
	}
}
