package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/daemon"
	"mkt/pkg/mq"
)

// Errors Handle returns; all but the Permanent ones make the broker
// redeliver the task later.
var (
	// ErrShardHeld: another worker holds a live lease on the shard. The task
	// comes back after a delay, when that worker has finished it (then it is
	// acknowledged) or died (then its lease has expired and it is taken over).
	ErrShardHeld = errors.New("push: shard held by another worker")
	// ErrDraining: the worker is stopping; the shard was released at a page
	// boundary with its checkpoint, for another worker to resume.
	ErrDraining = errors.New("push: worker draining")
	// ErrNoProvider: the campaign uses a channel this worker has no provider
	// for; the shard is left for a worker that has one.
	ErrNoProvider = errors.New("push: no provider for channel")
	// ErrUnsupportedKind: the task's campaign kind is not one the worker
	// sends (dead-lettered).
	ErrUnsupportedKind = errors.New("push: unsupported campaign kind")
	// ErrCouponNotYetValid: a coupon's window has not started by this
	// worker's clock, so nothing can be issued yet; the shard is released
	// and its task comes back later.
	ErrCouponNotYetValid = errors.New("push: coupon window not started yet")
)

// Worker is the fan-out worker: it handles shard tasks, streaming each
// shard's members page by page through the campaign's channels (a push-mode
// coupon's pages are issued the coupon first), recording every outcome and
// checkpointing the shard. One Worker serves every
// consumer goroutine of a process (its MaxInFlight semaphore is shared);
// it is safe for concurrent use.
type Worker struct {
	daemon.StartStop

	cfg    Config
	log    *slog.Logger
	sem    *gate
	status *statusCache
	window *failureWindow
	hot    hotDays
	// journal group-commits sends while pages are in flight (nil: pages
	// commit everything at their end).
	journal *journal

	// tasks admits shard tasks from the consumer's handlers until the
	// worker drains; a drain waits for the admitted ones.
	tasks daemon.Admission
	mu    sync.Mutex
	// running are the shards this worker is running now: a second copy of
	// a task (the broker may deliver one again while its handler runs, e.g.
	// after a rebalance) must not run the shard beside the first — the
	// lease, being ours, would let it.
	running map[shardKey]bool
	// onWire counts the recipients of provider calls in flight.
	onWire atomic.Int64
}

// RecipientsInFlight is how many recipients the worker's provider calls in
// flight carry now: what a kill -9 at this moment could have sent without
// knowing it (pushd's mkt_push_recipients_in_flight).
func (w *Worker) RecipientsInFlight() int64 { return w.onWire.Load() }

// NewWorker validates cfg, fills its defaults and returns a worker.
func NewWorker(cfg Config) (*Worker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	w := &Worker{
		cfg:     cfg,
		log:     cfg.Logger.With(slog.String("component", "push-worker"), slog.String("owner", cfg.Owner)),
		sem:     newGate(cfg.MaxInFlight, cfg.RampUp, rampIdle, cfg.Clock.Now),
		status:  newStatusCache(cfg.DB, cfg.StatusRefresh, cfg.Clock),
		window:  newFailureWindow(cfg.MinAttemptsForAutoPause, cfg.FailureThreshold),
		running: make(map[shardKey]bool),
	}
	if cfg.JournalInterval > 0 {
		w.journal = newJournal(cfg.DB, cfg.JournalInterval, w.log, cfg.Clock.Now, cfg.JournalFlushed)
	}
	w.tasks.Open() // a worker works before Start too
	return w, nil
}

// Owner returns the name this worker claims shards under.
func (w *Worker) Owner() string { return w.cfg.Owner }

// Name is the worker's name in daemon logs.
func (w *Worker) Name() string { return "push-worker" }

// Start implements the daemon component lifecycle (daemon.StartStop): it
// starts the journal's flusher (the worker itself runs inside the consumer's
// handlers). A worker never started still works; its pages commit their
// sends at their end.
func (w *Worker) Start(ctx context.Context) error {
	return w.StartWith(ctx, func(life *daemon.Lifetime) error {
		if w.journal != nil {
			life.Go(func() { w.journal.flushEvery(life.Stopping()) })
		}
		return nil
	})
}

// BeginStop makes the worker drain: shards in progress stop at their next
// page boundary, keeping their checkpoint, and are released for another
// worker (Handle returns ErrDraining, so their tasks are redelivered); new
// tasks are refused the same way.
func (w *Worker) BeginStop() { w.tasks.Close() }

// Stop drains (see BeginStop), waits until no task is being handled or ctx
// is done, then stops the journal's flusher (pages still open commit their
// own sends). It drains a worker never started too.
func (w *Worker) Stop(ctx context.Context) error {
	var err error
	if werr := w.tasks.CloseAndWait(ctx, "shards in progress"); werr != nil {
		err = fmt.Errorf("push: worker stopped with %w", werr)
	}
	// The flusher runs until the lifetime's Stopping: nothing more to drain.
	stopErr := w.StopWith(ctx, func(context.Context, *daemon.Lifetime) error { return nil })
	return errors.Join(err, stopErr)
}

// Handle is the mq.Handler of the shard topic: it decodes a ShardTask
// (an unparseable one is dead-lettered at once) and runs HandleTask.
func (w *Worker) Handle(ctx context.Context, d *mq.Delivery) error {
	t, err := campaign.DecodeShardTask(d.Body)
	if err != nil {
		w.log.Error("push: bad shard task", slog.String("msg_id", d.MsgID), slog.String("error", err.Error()))
		return mq.Permanent(fmt.Errorf("push: shard task %s: %w", d.MsgID, err))
	}
	return w.HandleTask(ctx, t)
}

// HandleTask runs one shard task to its end: the shard done (then the
// campaign completed if it was the last), parked (paused or cancelled
// campaign), or left to another worker. It returns nil when the task needs
// no redelivery, mq.Permanent errors for tasks that can never succeed
// (unknown campaign or shard, unsupported kind), and other errors — among
// them ErrShardHeld, ErrDraining, ErrNoProvider — when the task must come
// back later.
func (w *Worker) HandleTask(ctx context.Context, t campaign.ShardTask) error {
	if !w.tasks.Enter() {
		return ErrDraining
	}
	defer w.tasks.Leave()
	key := shardKey{t.Kind, t.CampaignID, t.ShardNo}
	w.mu.Lock()
	if w.running[key] {
		w.mu.Unlock()
		return fmt.Errorf("%w: task %s is being run by this worker already", ErrShardHeld, t.Key())
	}
	w.running[key] = true
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		delete(w.running, key)
		w.mu.Unlock()
	}()

	log := w.log.With(slog.String("kind", string(t.Kind)), slog.Uint64("campaign_id", t.CampaignID),
		slog.Int("shard", t.ShardNo), slog.String("mode", string(t.Mode)))
	c, err := w.loadTarget(ctx, t)
	if err != nil {
		if mq.IsPermanent(err) {
			log.Error("push: shard task of an unknown campaign or an unsupported kind", slog.String("error", err.Error()))
		}
		return err
	}
	w.status.put(c.kind, c.id, c.status)

	workable := c.status != campaign.StatusPaused && c.status != campaign.StatusCancelled && c.status != campaign.StatusFailed
	if c.status == campaign.StatusCompleted && t.Mode == campaign.ModeSend {
		log.Debug("push: campaign already completed")
		return nil
	}
	if workable {
		for _, ch := range c.channels {
			if w.cfg.Providers[ch] == nil {
				log.Error("push: no provider for a channel of the campaign", slog.String("channel", string(ch)))
				return fmt.Errorf("%w %s (task %s)", ErrNoProvider, ch, t.Key())
			}
		}
	}
	s, won, err := campaign.ClaimShard(ctx, w.cfg.DB, t.Kind, t.CampaignID, t.ShardNo, campaign.ClaimOptions{
		Owner:  w.cfg.Owner,
		Lease:  w.cfg.Lease,
		Paused: c.status != campaign.StatusPaused, // resume, or cancel below
		Done:   t.Mode == campaign.ModeRetryFailed && workable,
	})
	if errors.Is(err, campaign.ErrNotFound) {
		log.Error("push: shard task of an unknown shard")
		return mq.Permanent(fmt.Errorf("push: task %s: %w", t.Key(), err))
	}
	if err != nil {
		return fmt.Errorf("push: task %s: %w", t.Key(), err)
	}
	if !won {
		if s.Status == campaign.ShardRunning {
			until := "-"
			if s.LeaseUntil != nil {
				until = s.LeaseUntil.UTC().Format(time.RFC3339Nano)
			}
			log.Info("push: shard held by another worker, task will come back", slog.String("holder", s.Owner), slog.String("lease_until", until))
			return fmt.Errorf("%w: task %s held by %q until %s", ErrShardHeld, t.Key(), s.Owner, until)
		}
		log.Debug("push: shard needs no work", slog.String("shard_status", string(s.Status)))
		if s.Status == campaign.ShardDone && c.status == campaign.StatusRunning {
			// A redelivery after the last shard finished but before the
			// campaign was completed: complete it now.
			if _, err := c.kind.CompleteIfDone(ctx, w.cfg.DB, c.id); err != nil {
				return fmt.Errorf("push: task %s: %w", t.Key(), err)
			}
		}
		return nil
	}
	if s.StartID != t.StartID || s.EndID != t.EndID {
		log.Warn("push: task range differs from the stored shard, using the stored one",
			slog.Uint64("start_id", s.StartID), slog.Uint64("end_id", s.EndID))
	}
	mode := t.Mode
	if mode == campaign.ModeSend && s.FinishedAt != nil {
		// Finished once, then claimed running or paused: a retry run was
		// interrupted; finish it.
		mode = campaign.ModeRetryFailed
		log = log.With(slog.String("run_mode", string(mode)))
	}
	return w.runShard(ctx, log, c, s, mode)
}

// shardKey names a shard.
type shardKey struct {
	kind     campaign.Kind
	campaign uint64
	no       int
}

// end is how a shard run ended without error.
type end int

const (
	endNone     end = iota // keep going
	endDone                // every page processed
	endParked              // campaign paused or cancelled: shard parked
	endDraining            // worker stopping: release the shard
)

// runShard works a claimed shard with a lease heartbeat and settles the
// shard according to how the run ended.
func (w *Worker) runShard(ctx context.Context, log *slog.Logger, c *target, s *campaign.Shard, mode campaign.TaskMode) error {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		w.heartbeat(sctx, cancel, log, s)
	}()
	started := w.cfg.Clock.Now()
	j := w.newJob(ctx, c, s, mode, log)
	e, err := j.run(sctx)
	if err == nil && sctx.Err() != nil {
		err = context.Cause(sctx)
	}
	cause := context.Cause(sctx)
	cancel(nil)
	<-hbDone

	attrs := []any{slog.Int64("sent", j.total.sent), slog.Int64("failed", j.total.failed),
		slog.Int("pages", j.pages), slog.Duration("took", w.cfg.Clock.Now().Sub(started))}
	if c.coupon != nil {
		attrs = append(attrs, slog.Int64("issued", j.total.issued), slog.Int64("not_issued", j.total.notIssued))
	}
	switch {
	case err == nil && e == endDone:
		ok, err := campaign.FinishShard(ctx, w.cfg.DB, s.Kind, s.CampaignID, s.No, w.cfg.Owner)
		if err != nil {
			return w.release(log, s, err)
		}
		if !ok {
			log.Warn("push: shard finished after its lease was lost", attrs...)
			return nil
		}
		log.Info("push: shard done", attrs...)
		if done, err := s.Kind.CompleteIfDone(ctx, w.cfg.DB, s.CampaignID); err != nil {
			return fmt.Errorf("push: shard %d done, completing campaign %d: %w", s.No, s.CampaignID, err)
		} else if done {
			log.Info("push: campaign completed")
		}
		return nil
	case err == nil && e == endParked:
		log.Info("push: shard parked", attrs...)
		return nil
	case err == nil && e == endDraining:
		log.Info("push: shard released, worker draining", attrs...)
		_ = w.release(log, s, ErrDraining)
		return ErrDraining
	case errors.Is(err, campaign.ErrLeaseLost) || errors.Is(cause, campaign.ErrLeaseLost):
		log.Warn("push: shard lease lost, stopped", append(attrs, slog.String("error", errors.Join(err, cause).Error()))...)
		return nil
	default:
		if ctx.Err() != nil {
			log.Warn("push: shard interrupted", append(attrs, slog.String("error", err.Error()))...)
		} else {
			log.Error("push: shard failed, task will come back", append(attrs, slog.String("error", err.Error()))...)
		}
		return w.release(log, s, err)
	}
}

// release gives the shard's lease up after err (bounded even if ctx ended)
// and returns err.
func (w *Worker) release(log *slog.Logger, s *campaign.Shard, err error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, rerr := campaign.ReleaseShard(ctx, w.cfg.DB, s.Kind, s.CampaignID, s.No, w.cfg.Owner, err.Error()); rerr != nil {
		log.Warn("push: could not release shard; its lease will expire", slog.String("error", rerr.Error()))
	}
	return err
}

// heartbeat renews the lease every Lease/3 until ctx ends. A lost lease
// (another owner, or the shard moved) cancels the shard's run at once; a
// renewal that fails because the database is unreachable does not.
func (w *Worker) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, log *slog.Logger, s *campaign.Shard) {
	every := w.cfg.Lease / 3
	t := time.NewTicker(every)
	defer t.Stop()
	lastOK := w.cfg.Clock.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := campaign.RenewLease(ctx, w.cfg.DB, s.Kind, s.CampaignID, s.No, w.cfg.Owner, w.cfg.Lease)
		now := w.cfg.Clock.Now()
		switch {
		case err == nil:
			lastOK = now
		case ctx.Err() != nil:
			return
		case errors.Is(err, campaign.ErrLeaseLost):
			if cur, gerr := campaign.GetShard(ctx, w.cfg.DB, s.Kind, s.CampaignID, s.No); gerr == nil && cur.Owner == "" &&
				(cur.Status == campaign.ShardPaused || cur.Status == campaign.ShardCancelled) {
				// An operator parked the shard: let the page in flight
				// finish; its checkpoint records it and stops the run.
				return
			}
			cancel(err)
			return
		default:
			// The database is unreachable: nobody can take the shard over
			// meanwhile (a claim needs the database too), so the page in
			// flight goes on; its commit keeps the outcomes until the
			// database is back, and checks the lease then.
			log.Warn("push: lease renewal failed, will retry", slog.String("error", err.Error()),
				slog.Duration("since_renewed", now.Sub(lastOK).Round(time.Millisecond)))
		}
	}
}
