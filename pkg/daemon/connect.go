package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Backoff is an exponential backoff with jitter. The zero value is usable.
type Backoff struct {
	// Initial is the delay after the first failure. Default 200ms.
	Initial time.Duration
	// Max bounds every delay. Default 30s.
	Max time.Duration
	// Multiplier grows the delay after each failure. Default 2.
	Multiplier float64
	// Jitter is the fraction of each delay taken off at random (0..1), so that
	// daemons restarted together do not retry in step. Default 0.2; negative
	// means none.
	Jitter float64
	// AttemptTimeout bounds each attempt. Default 10s.
	AttemptTimeout time.Duration
}

func (b Backoff) withDefaults() Backoff {
	b.Initial = cmp.Or(b.Initial, 200*time.Millisecond)
	b.Max = max(cmp.Or(b.Max, 30*time.Second), b.Initial)
	if b.Multiplier < 1 {
		b.Multiplier = 2
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = 0.2
	case b.Jitter < 0:
		b.Jitter = 0
	case b.Jitter > 1:
		b.Jitter = 1
	}
	b.AttemptTimeout = cmp.Or(b.AttemptTimeout, 10*time.Second)
	return b
}

// Delay returns the wait after the attempt-th consecutive failure (1-based):
// min(Initial × Multiplier^(attempt-1), Max), less a random fraction up to
// Jitter of it. It never exceeds Max.
func (b Backoff) Delay(attempt int) time.Duration {
	b = b.withDefaults()
	d := float64(b.Initial)
	for i := 1; i < attempt && d < float64(b.Max); i++ {
		d *= b.Multiplier
	}
	d = min(d, float64(b.Max))
	d -= d * b.Jitter * rand.Float64()
	return time.Duration(d)
}

// ErrNotConnected is wrapped by Connect's error when ctx ended before the
// dependency answered.
var ErrNotConnected = errors.New("dependency not connected")

// Connect calls fn until it succeeds or ctx is done, waiting Backoff delays
// between attempts, each attempt bounded by b.AttemptTimeout. Meanwhile the
// check name reports failing with the last error, so /readyz shows what the
// daemon waits for; each failure is logged at warn with the attempt number
// and the next delay. On success name turns ok (register a polled check of
// the same name with AddCheck to keep watching it afterwards). The error,
// when ctx ends first, wraps ErrNotConnected, ctx's cause and the last failure.
func (r *Readiness) Connect(ctx context.Context, name string, fn CheckFunc, b Backoff) error {
	b = b.withDefaults()
	r.Set(name, errors.New("connecting"))
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, b.AttemptTimeout)
		err := safeCall(actx, fn)
		cancel()
		if err == nil {
			r.Set(name, nil)
			r.log.Info("dependency connected", "dependency", name, "attempts", attempt)
			r.status("connected to " + name)
			return nil
		}
		if ctx.Err() != nil {
			r.Set(name, err)
			return fmt.Errorf("daemon: connect %s: gave up after %d attempts: %w",
				name, attempt, errors.Join(ErrNotConnected, context.Cause(ctx), err))
		}
		r.Set(name, err)
		delay := b.Delay(attempt)
		r.log.Warn("dependency not reachable, retrying",
			"dependency", name, "attempt", attempt, "next_delay", delay, "error", err)
		r.status(fmt.Sprintf("waiting for %s (attempt %d, next in %v): %v", name, attempt, delay.Round(time.Millisecond), err))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("daemon: connect %s: gave up after %d attempts: %w",
				name, attempt, errors.Join(ErrNotConnected, context.Cause(ctx), err))
		case <-t.C:
		}
	}
}

// status sets the service status line, logging a notification that failed.
func (r *Readiness) status(s string) {
	if err := r.notifier.Status(s); err != nil {
		r.log.Warn("sd_notify failed", "state", "STATUS", "error", err)
	}
}
