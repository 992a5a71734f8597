package provider

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// backoff returns the pause before attempt+1 after attempt failed: base·2^(attempt-1)
// capped at max, with "equal jitter" (a uniformly random value in [d/2, d]) so
// that thousands of senders failing together do not retry in lockstep.
func backoff(attempt int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// parseRetryAfter reads a Retry-After header value, either delta-seconds
// ("120") or an HTTP date, relative to now. It returns 0 when the header is
// absent, malformed or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) { // absurd; avoid overflow
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// retryDelay is the pause after a failed attempt: the jittered backoff, or the
// provider's Retry-After (capped at maxRetryAfter) when that is longer.
func retryDelay(attempt int, retryAfter time.Duration, cfg *HTTPConfig) time.Duration {
	d := backoff(attempt, cfg.BackoffBase, cfg.BackoffMax)
	if retryAfter > 0 {
		d = max(d, min(retryAfter, cfg.MaxRetryAfter))
	}
	return d
}

// sleep pauses for d or until ctx is done, returning ctx's error in that case.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retryableStatus reports whether an HTTP status is worth retrying: 408, 425,
// 429 and every 5xx.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooEarly ||
		code == http.StatusTooManyRequests || code >= 500
}
