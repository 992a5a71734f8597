package xxljob

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"mkt/pkg/daemon"
)

// callbackQueue sends run results to the admin's api/callback in batches,
// in order, retrying with exponential backoff while the admin is
// unreachable or refuses them. It holds at most max results; a result
// beyond that is dropped with an error log (the admin then sees the run as
// lost after its own timeout).
type callbackQueue struct {
	daemon.StartStop

	admin   *adminClient
	log     *slog.Logger
	backoff daemon.Backoff
	max     int
	batch   int
	metrics *metrics

	mu      sync.Mutex
	pending []Callback
	wake    chan struct{}
}

func newCallbackQueue(admin *adminClient, log *slog.Logger, b daemon.Backoff, maxPending, batch int, m *metrics) *callbackQueue {
	return &callbackQueue{admin: admin, log: log, backoff: b, max: maxPending, batch: batch, metrics: m,
		wake: make(chan struct{}, 1)}
}

// push queues a result.
func (q *callbackQueue) push(cb Callback) {
	q.mu.Lock()
	if len(q.pending) >= q.max {
		q.mu.Unlock()
		q.metrics.callbacksDropped.Inc()
		q.log.Error("xxl-job callback queue full, result dropped", "log_id", cb.LogID, "handle_code", cb.HandleCode, "max_pending", q.max)
		return
	}
	q.pending = append(q.pending, cb)
	q.metrics.callbacksPending.Set(float64(len(q.pending)))
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Start runs the sender until Stop (daemon.StartStop), which lets it send
// what is queued until Stop's context ends.
func (q *callbackQueue) Start(ctx context.Context) error {
	return q.StartWith(ctx, func(life *daemon.Lifetime) error {
		life.Go(func() { q.run(life) })
		return nil
	})
}

func (q *callbackQueue) run(life *daemon.Lifetime) {
	ctx := life.Context()
	failures := 0
	for {
		q.mu.Lock()
		batch := append([]Callback(nil), q.pending[:min(len(q.pending), q.batch)]...)
		q.mu.Unlock()
		if len(batch) == 0 {
			select {
			case <-q.wake:
				continue
			case <-life.Stopping().Done(): // and nothing left to send
				return
			}
		}
		err := q.admin.call(ctx, "callback", batch)
		if err == nil {
			q.mu.Lock()
			q.pending = q.pending[len(batch):] // only run removes: the first ones are still these
			q.metrics.callbacksPending.Set(float64(len(q.pending)))
			q.mu.Unlock()
			q.metrics.callbacksSent.Add(float64(len(batch)))
			if failures > 0 {
				q.log.Info("xxl-job callbacks delivered again", "failed_attempts", failures)
			}
			failures = 0
			continue
		}
		if ctx.Err() != nil {
			return
		}
		failures++
		q.metrics.callbackErrors.Inc()
		delay := q.backoff.Delay(failures)
		q.log.Warn("xxl-job callback failed, retrying", "results", len(batch), "attempt", failures,
			"next_in", delay.Round(time.Millisecond), "error", err.Error())
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// stop sends what is queued until it is empty or ctx is done, then stops;
// it returns the results that could not be sent.
func (q *callbackQueue) stop(ctx context.Context) []Callback {
	_ = q.Stop(ctx) // its error is ctx's: what is left says it
	return q.left()
}

func (q *callbackQueue) left() []Callback {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]Callback(nil), q.pending...)
}
