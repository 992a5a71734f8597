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
	admin   *adminClient
	log     *slog.Logger
	backoff daemon.Backoff
	max     int
	batch   int
	metrics *metrics

	mu       sync.Mutex
	pending  []Callback
	draining bool
	wake     chan struct{}
	done     chan struct{}
	cancel   context.CancelFunc
}

func newCallbackQueue(admin *adminClient, log *slog.Logger, b daemon.Backoff, maxPending, batch int, m *metrics) *callbackQueue {
	return &callbackQueue{admin: admin, log: log, backoff: b, max: maxPending, batch: batch, metrics: m,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
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

// start runs the sender until stop.
func (q *callbackQueue) start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	q.mu.Lock()
	q.cancel = cancel
	q.mu.Unlock()
	go q.run(ctx)
}

func (q *callbackQueue) run(ctx context.Context) {
	defer close(q.done)
	failures := 0
	for {
		q.mu.Lock()
		batch := append([]Callback(nil), q.pending[:min(len(q.pending), q.batch)]...)
		draining := q.draining
		q.mu.Unlock()
		if len(batch) == 0 {
			if draining {
				return
			}
			select {
			case <-q.wake:
				continue
			case <-ctx.Done():
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
	q.mu.Lock()
	q.draining = true
	cancel := q.cancel
	q.mu.Unlock()
	if cancel == nil {
		return q.left()
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	select {
	case <-q.done:
	case <-ctx.Done():
		cancel()
		<-q.done
	}
	cancel()
	return q.left()
}

func (q *callbackQueue) left() []Callback {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]Callback(nil), q.pending...)
}
