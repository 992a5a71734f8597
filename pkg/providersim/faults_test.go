package providersim_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"mkt/pkg/provider"
	"mkt/pkg/providersim"
)

// put sends body to url with PUT and returns the status and answer.
func put(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestFaultsSwitchedAtRuntime: a healthy simulator answers 500, 429 or
// never for a spell after PUT /faults, and is healthy again after the next;
// the client's Faults and SetFaults do the same.
func TestFaultsSwitchedAtRuntime(t *testing.T) {
	t.Parallel()
	srv, c := start(t, providersim.Config{Seed: 3, MaxHang: 5 * time.Millisecond})
	ctx := context.Background()
	send := func(member uint64) int {
		code, _, _ := post(t, http.DefaultClient, srv.URL()+"/sms", msg(1, member, provider.ChannelSMS))
		return code
	}
	if code := send(1); code != http.StatusOK {
		t.Fatalf("healthy simulator answered %d", code)
	}
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"error_rate":1,"timeout_rate":0,"rate_limit_429_rate":0}`, http.StatusInternalServerError},
		{`{"error_rate":0,"timeout_rate":1,"rate_limit_429_rate":0}`, http.StatusGatewayTimeout}, // held MaxHang
		{`{"error_rate":0,"timeout_rate":0,"rate_limit_429_rate":1}`, http.StatusTooManyRequests},
		{`{"error_rate":0,"timeout_rate":0,"rate_limit_429_rate":0}`, http.StatusOK},
	} {
		if code, ans := put(t, srv.URL()+providersim.FaultsPath, tc.body); code != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", tc.body, code, ans)
		}
		for m := uint64(10); m < 15; m++ {
			if code := send(m); code != tc.want {
				t.Fatalf("after PUT %s: send answered %d, want %d", tc.body, code, tc.want)
			}
		}
	}
	st := srv.Simulator().Stats()
	if st.Errors != 5 || st.Timeouts != 5 || st.RateLimited != 5 || st.Delivered != 6 {
		t.Fatalf("stats %+v", st)
	}

	// Through the client, read back.
	want := providersim.Faults{ErrorRate: 0.25, TimeoutRate: 0.25, RateLimit429Rate: 0.5}
	if err := c.SetFaults(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Faults(ctx); err != nil || got != want {
		t.Fatalf("Faults() = %+v, %v; want %+v", got, err, want)
	}
	if got := srv.Simulator().Config(); got.ErrorRate != 0.25 || got.RateLimit429Rate != 0.5 {
		t.Fatalf("Config() does not show the rates in force: %+v", got)
	}
}

// TestFaultsRefusesBadInput: PUT /faults takes one strict JSON object of
// valid rates, nothing else, and keeps the rates in force when it refuses.
func TestFaultsRefusesBadInput(t *testing.T) {
	t.Parallel()
	srv, c := start(t, providersim.Config{Seed: 3, ErrorRate: 0.5})
	url := srv.URL() + providersim.FaultsPath
	for _, body := range []string{
		`{"error_rate":1.5}`,
		`{"error_rate":-0.1}`,
		`{"error_rate":0.6,"timeout_rate":0.6}`,
		`{"Error_Rate":1}`,
		`{"error_rate":1,"error_rate":0}`,
		`{"error_rate":1} trailing`,
		`{"error_rate":1,"latency":"1s"}`,
		`not json`,
	} {
		if code, ans := put(t, url, body); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d %s, want 400", body, code, ans)
		}
	}
	if f, err := c.Faults(context.Background()); err != nil || f != (providersim.Faults{ErrorRate: 0.5}) {
		t.Fatalf("rates after refused PUTs: %+v, %v", f, err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /faults answered %d, want 405", resp.StatusCode)
	}
	if err := srv.Simulator().SetFaults(providersim.Faults{TimeoutRate: 2}); err == nil {
		t.Fatal("SetFaults took a rate of 2")
	}
}
