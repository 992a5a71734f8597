package provider

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999999", 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	base, limit := 100*time.Millisecond, time.Second
	for attempt, full := range map[int]time.Duration{
		1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 30: time.Second,
	} {
		for range 200 {
			d := backoff(attempt, base, limit)
			if d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v outside [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
	if d := backoff(3, 0, 0); d != 0 {
		t.Fatalf("zero backoff = %v", d)
	}
}

func TestRetryDelayHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	cfg := &HTTPConfig{BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond, MaxRetryAfter: 5 * time.Second}
	if d := retryDelay(1, 2*time.Second, cfg); d != 2*time.Second {
		t.Errorf("Retry-After 2s gave %v", d)
	}
	if d := retryDelay(1, time.Hour, cfg); d != 5*time.Second {
		t.Errorf("Retry-After 1h gave %v, want the 5s cap", d)
	}
	if d := retryDelay(1, 0, cfg); d > time.Millisecond {
		t.Errorf("no Retry-After gave %v", d)
	}
}

func TestRetryableStatus(t *testing.T) {
	t.Parallel()
	for code, want := range map[int]bool{400: false, 401: false, 403: false, 404: false, 408: true, 409: false,
		422: false, 425: true, 429: true, 500: true, 502: true, 503: true, 504: true} {
		if got := retryableStatus(code); got != want {
			t.Errorf("retryableStatus(%d) = %v", code, got)
		}
	}
}
