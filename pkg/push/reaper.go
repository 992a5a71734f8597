package push

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/daemon"
	"mkt/pkg/mq"
	"mkt/pkg/store"
)

// Reaper defaults.
const (
	DefaultReapInterval    = 30 * time.Second
	DefaultReapGrace       = 2 * time.Minute
	DefaultReapMaxAttempts = 10
	DefaultReapBatch       = 500
)

// ReaperConfig configures a Reaper. Zero values take the defaults shown.
type ReaperConfig struct {
	// DB holds the shards (required).
	DB *store.DB
	// Publisher republishes tasks (required); *mq.Producer is one.
	Publisher campaign.Publisher
	// Topic receives republished tasks (default campaign.TopicShards).
	Topic string
	// Interval is the time between sweeps (default 30s).
	Interval time.Duration
	// Grace is how long a running shard's lease must have ended before the
	// shard counts as abandoned, and how long a paused shard of a running
	// campaign waits before its task is republished (default 2m: a dead
	// worker's unacknowledged task normally comes back well before).
	Grace time.Duration
	// MaxAttempts: an abandoned shard already claimed this many times is
	// marked failed instead of republished, so a poison shard stops
	// (default 10).
	MaxAttempts int
	// Batch bounds the shards handled per sweep and kind (default 500).
	Batch int
	// Logger receives the reaper's logs (default slog.Default()).
	Logger *slog.Logger
}

// SweepResult says what one sweep did.
type SweepResult struct {
	// Republished counts abandoned running shards whose task was published again.
	Republished int
	// Resumed counts paused shards of running campaigns republished.
	Resumed int
	// Failed counts abandoned shards marked failed after MaxAttempts.
	Failed int
}

// Reaper finds shards of the kinds the Worker sends (promotions and
// push-mode coupons) whose work stopped without anyone left to resume it — running with a lease long
// expired (the worker died and the task was dead-lettered or lost), or
// paused while their campaign runs again (a resume that missed them) — and
// republishes their tasks. Several Reapers
// (one per pushd) may run: each shard is republished by the one whose
// conditional update wins.
type Reaper struct {
	daemon.StartStop

	cfg ReaperConfig
	log *slog.Logger
}

// NewReaper validates cfg, fills its defaults and returns a reaper.
func NewReaper(cfg ReaperConfig) (*Reaper, error) {
	cfg.Interval = cmp.Or(cfg.Interval, DefaultReapInterval)
	cfg.Grace = cmp.Or(cfg.Grace, DefaultReapGrace)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultReapMaxAttempts)
	cfg.Batch = cmp.Or(cfg.Batch, DefaultReapBatch)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	cfg.Topic = cmp.Or(cfg.Topic, campaign.TopicShards)
	switch {
	case cfg.DB == nil:
		return nil, fmt.Errorf("%w: reaper needs a DB", ErrInvalidConfig)
	case cfg.Publisher == nil:
		return nil, fmt.Errorf("%w: reaper needs a Publisher", ErrInvalidConfig)
	case cfg.Interval <= 0 || cfg.Grace <= 0:
		return nil, fmt.Errorf("%w: reaper interval %v and grace %v must be positive", ErrInvalidConfig, cfg.Interval, cfg.Grace)
	case cfg.MaxAttempts < 1 || cfg.Batch < 1:
		return nil, fmt.Errorf("%w: reaper max attempts %d and batch %d must be positive", ErrInvalidConfig, cfg.MaxAttempts, cfg.Batch)
	}
	return &Reaper{cfg: cfg, log: cfg.Logger.With(slog.String("component", "push-reaper"))}, nil
}

// Name is the reaper's name in daemon logs.
func (r *Reaper) Name() string { return "push-reaper" }

// Start runs a sweep every Interval in the background until Stop, which
// lets a sweep in progress finish until its context ends (the lifecycle is
// daemon.StartStop's).
func (r *Reaper) Start(ctx context.Context) error {
	return r.StartWith(ctx, func(life *daemon.Lifetime) error {
		life.Every(r.cfg.Interval, false, r.sweepAndLog)
		return nil
	})
}

// sweepAndLog is one round of the background loop.
func (r *Reaper) sweepAndLog(ctx context.Context) {
	res, err := r.Sweep(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		r.log.Error("push: reaper sweep failed", slog.String("error", err.Error()))
	case res != (SweepResult{}):
		r.log.Info("push: reaper swept", slog.Int("republished", res.Republished),
			slog.Int("resumed", res.Resumed), slog.Int("failed", res.Failed))
	}
}

// Sweep runs one pass: abandoned running shards are republished (or marked
// failed after MaxAttempts claims), stranded paused shards of running
// campaigns republished. A task is published only after the shard was
// marked (so no other reaper publishes it too); if publishing fails, the
// mark lapses after Grace and a later sweep tries again.
func (r *Reaper) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	var msgs []mq.Message
	var errs []error
	for _, kind := range campaign.PipelineKinds() {
		m, err := r.sweepKind(ctx, kind, &res)
		msgs = append(msgs, m...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(msgs) > 0 {
		if err := r.cfg.Publisher.SendBatch(ctx, msgs); err != nil {
			errs = append(errs, fmt.Errorf("push: republish %d shard tasks: %w", len(msgs), err))
			res.Republished, res.Resumed = 0, 0
		}
	}
	return res, errors.Join(errs...)
}

// sweepKind marks the abandoned and stranded shards of kind and returns
// their tasks to publish.
func (r *Reaper) sweepKind(ctx context.Context, kind campaign.Kind, res *SweepResult) ([]mq.Message, error) {
	var msgs []mq.Message
	var errs []error
	// republish marks the abandoned or stranded shard s republished and
	// queues its task. It reports false when there is nothing to publish: s
	// changed since it was listed, or marking it failed (the error is kept).
	republish := func(s campaign.Shard) bool {
		ok, err := campaign.MarkRepublished(ctx, r.cfg.DB, s, r.cfg.Grace)
		if err != nil {
			errs = append(errs, err)
			return false
		}
		if !ok {
			return false
		}
		mode := campaign.ModeSend
		if s.FinishedAt != nil {
			mode = campaign.ModeRetryFailed // it was done: a retry run died
		}
		msgs = append(msgs, s.Task(mode).Message(r.cfg.Topic))
		return true
	}
	abandoned, err := campaign.AbandonedShards(ctx, r.cfg.DB, kind, r.cfg.Grace, r.cfg.Batch)
	if err != nil {
		return nil, err
	}
	for _, s := range abandoned {
		log := r.log.With(slog.String("kind", string(s.Kind)), slog.Uint64("campaign_id", s.CampaignID), slog.Int("shard", s.No))
		if s.Attempts >= r.cfg.MaxAttempts {
			reason := fmt.Sprintf("abandoned after %d attempts; last error: %s", s.Attempts, s.LastError)
			ok, err := campaign.FailShard(ctx, r.cfg.DB, s.Kind, s.CampaignID, s.No, campaign.ShardRunning, reason)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if ok {
				res.Failed++
				log.Error("push: shard failed for good", slog.Int("attempts", s.Attempts), slog.String("last_error", s.LastError))
				if _, err := s.Kind.CompleteIfDone(ctx, r.cfg.DB, s.CampaignID); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		if republish(s) {
			res.Republished++
			log.Warn("push: republishing abandoned shard", slog.String("last_owner", s.Owner), slog.Int("attempts", s.Attempts))
		}
	}

	stranded, err := campaign.StrandedPausedShards(ctx, r.cfg.DB, kind, r.cfg.Grace, r.cfg.Batch)
	if err != nil {
		errs = append(errs, err)
	}
	for _, s := range stranded {
		if republish(s) {
			res.Resumed++
		}
	}
	return msgs, errors.Join(errs...)
}
