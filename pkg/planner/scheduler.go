package planner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/daemon"
)

// Scheduler defaults.
const (
	DefaultPollInterval  = 2 * time.Second
	DefaultLaunchLease   = 2 * time.Minute
	DefaultMaxAttempts   = 5
	DefaultRetryDelay    = 30 * time.Second
	DefaultClaimBatch    = 20
	DefaultOrphanAge     = 10 * time.Minute
	DefaultSweepInterval = time.Minute
)

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	// Planner plans the launched campaigns; its DB and Logger are used.
	// Required.
	Planner *Planner
	// Owner names this runner in push_message_crontab.owner. Default
	// "<host>-<pid>-<random>".
	Owner string
	// PollInterval is how often due launches are looked for. Default
	// DefaultPollInterval.
	PollInterval time.Duration
	// Lease is how long a claimed launch stays with this runner before
	// another may take it over (this one died). Default DefaultLaunchLease.
	Lease time.Duration
	// MaxAttempts bounds the launch attempts of one scheduled push; after
	// it the push and its campaign are marked failed. Default
	// DefaultMaxAttempts.
	MaxAttempts int
	// RetryDelay is the wait after a failed launch attempt. Default
	// DefaultRetryDelay.
	RetryDelay time.Duration
	// ClaimBatch bounds the launches claimed per poll. Default DefaultClaimBatch.
	ClaimBatch int
	// OrphanAge is how long a due campaign may stay created (its event was
	// dead-lettered) or planning (its planner gave up) before the sweep plans
	// it. Default DefaultOrphanAge; negative disables the sweep.
	OrphanAge time.Duration
	// SweepInterval is how often the orphan sweep runs. Default
	// DefaultSweepInterval.
	SweepInterval time.Duration
}

// Scheduler launches scheduled runs — promotions and push-mode coupons —
// when due: every PollInterval it claims due push_message_crontab rows with
// a lease (one conditional UPDATE, so two pushd never both launch one) and
// plans their runs. Every SweepInterval it also plans orphans: due runs left
// created or planning for OrphanAge (their event was dead-lettered), so a
// run is never stuck.
type Scheduler struct {
	daemon.StartStop

	cfg   SchedulerConfig
	p     *Planner
	log   *slog.Logger
	claim atomic.Uint64
}

// NewScheduler returns a Scheduler.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	if cfg.Planner == nil {
		return nil, fmt.Errorf("%w: scheduler needs a Planner", ErrInvalidConfig)
	}
	cfg.Owner = cmp.Or(cfg.Owner, campaign.DefaultOwner())
	cfg.PollInterval = cmp.Or(cfg.PollInterval, DefaultPollInterval)
	cfg.Lease = cmp.Or(cfg.Lease, DefaultLaunchLease)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.RetryDelay = cmp.Or(cfg.RetryDelay, DefaultRetryDelay)
	cfg.ClaimBatch = cmp.Or(cfg.ClaimBatch, DefaultClaimBatch)
	cfg.OrphanAge = cmp.Or(cfg.OrphanAge, DefaultOrphanAge)
	cfg.SweepInterval = cmp.Or(cfg.SweepInterval, DefaultSweepInterval)
	var errs []error
	if n := campaign.MaxOwnerLen - claimSuffixLen; len(cfg.Owner) > n {
		errs = append(errs, fmt.Errorf("%w: owner %q is longer than %d bytes", ErrInvalidConfig, cfg.Owner, n))
	}
	if cfg.PollInterval < 10*time.Millisecond || cfg.Lease < time.Second || cfg.RetryDelay < 0 || cfg.SweepInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("%w: poll %v, lease %v, retry delay %v, sweep %v out of range",
			ErrInvalidConfig, cfg.PollInterval, cfg.Lease, cfg.RetryDelay, cfg.SweepInterval))
	}
	if cfg.MaxAttempts < 1 || cfg.ClaimBatch < 1 {
		errs = append(errs, fmt.Errorf("%w: max attempts %d and claim batch %d must be positive",
			ErrInvalidConfig, cfg.MaxAttempts, cfg.ClaimBatch))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Scheduler{cfg: cfg, p: cfg.Planner, log: cfg.Planner.log.With(slog.String("component", "scheduler"))}, nil
}

// Name names the component in pushd's logs.
func (s *Scheduler) Name() string { return "planner-scheduler" }

// Start launches the polling loop; ctx bounds its work (cancelling it is a
// hard stop). Stop ends the loop: no new pass starts, the pass in progress
// may finish until Stop's context ends, then it is cancelled (its claimed
// launches are taken over by another runner when their lease expires). The
// lifecycle is daemon.StartStop's.
func (s *Scheduler) Start(ctx context.Context) error {
	return s.StartWith(ctx, func(life *daemon.Lifetime) error {
		var lastSweep time.Time
		life.Every(s.cfg.PollInterval, true, func(ctx context.Context) {
			if _, err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("planner: scheduled launches", slog.String("error", err.Error()))
			}
			if s.cfg.OrphanAge > 0 && time.Since(lastSweep) >= s.cfg.SweepInterval {
				lastSweep = time.Now()
				if _, err := s.SweepOrphans(ctx); err != nil && ctx.Err() == nil {
					s.log.Error("planner: orphan sweep", slog.String("error", err.Error()))
				}
			}
		})
		s.log.Info("planner: scheduler started", slog.String("owner", s.cfg.Owner),
			slog.Duration("poll", s.cfg.PollInterval))
		return nil
	})
}

// claimSuffixLen is the longest suffix RunDue adds to the owner for a
// claim: "-" and a uint64.
const claimSuffixLen = len("-18446744073709551615")

// RunDue claims the due scheduled launches and launches them, returning how
// many it claimed. A launch whose campaign was cancelled or paused first is
// cancelled; one already launched (by its event or the sweep) is done; a
// failed launch is retried after RetryDelay, and after MaxAttempts it and
// its campaign are marked failed.
func (s *Scheduler) RunDue(ctx context.Context) (int, error) {
	var errs []error
	claimed := 0
	for _, kind := range campaign.PipelineKinds() {
		owner := fmt.Sprintf("%s-%d", s.cfg.Owner, s.claim.Add(1))
		rows, err := campaign.ClaimDueSchedules(ctx, s.p.db, kind, owner, s.cfg.Lease, s.cfg.ClaimBatch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		claimed += len(rows)
		for _, row := range rows {
			if err := s.launch(ctx, owner, row); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return claimed, errors.Join(errs...)
}

func (s *Scheduler) launch(ctx context.Context, owner string, row campaign.ScheduledPush) error {
	log := s.log.With(slog.String("kind", string(row.Kind)), slog.Uint64("campaign_id", row.CampaignID),
		slog.Uint64("schedule_id", row.ID), slog.Int("attempt", row.Attempts))
	settle := func(to campaign.ScheduleStatus, note string, retryIn time.Duration) error {
		held, err := campaign.FinishSchedule(ctx, s.p.db, row.ID, owner, to, note, retryIn)
		if err == nil && !held {
			log.Warn("planner: scheduled launch was taken over before it settled")
		}
		return err
	}
	c, err := row.Kind.GetRun(ctx, s.p.db, row.CampaignID)
	if errors.Is(err, campaign.ErrNotFound) {
		log.Error("planner: scheduled launch of an unknown campaign")
		return settle(campaign.ScheduleFailed, "campaign not found", 0)
	}
	if err != nil {
		return s.retry(ctx, log, row, settle, err)
	}
	switch c.Status {
	case campaign.StatusCreated, campaign.StatusPlanning:
	case campaign.StatusCancelled:
		return settle(campaign.ScheduleCancelled, "campaign cancelled", 0)
	case campaign.StatusPaused:
		return settle(campaign.ScheduleCancelled, "campaign paused before its start; resume launches it", 0)
	default:
		return settle(campaign.ScheduleDone, "already launched", 0)
	}
	res, err := s.p.PlanRun(ctx, c)
	if err != nil {
		return s.retry(ctx, log, row, settle, err)
	}
	log.Info("planner: scheduled campaign launched", slog.String("status", string(res.Status)),
		slog.Int("shards", res.Shards), slog.Int64("members", res.Members))
	return settle(campaign.ScheduleDone, res.Skipped, 0)
}

func (s *Scheduler) retry(ctx context.Context, log *slog.Logger, row campaign.ScheduledPush,
	settle func(campaign.ScheduleStatus, string, time.Duration) error, cause error) error {
	if row.Attempts >= s.cfg.MaxAttempts {
		log.Error("planner: scheduled launch failed for the last time", slog.String("error", cause.Error()))
		reason := fmt.Sprintf("scheduled launch failed %d times: %v", row.Attempts, cause)
		if err := row.Kind.Transition(ctx, s.p.db, row.CampaignID,
			[]campaign.Status{campaign.StatusCreated, campaign.StatusPlanning}, campaign.StatusFailed, reason); err != nil &&
			!errors.Is(err, campaign.ErrConflict) {
			return errors.Join(cause, err)
		}
		return errors.Join(cause, settle(campaign.ScheduleFailed, cause.Error(), 0))
	}
	log.Warn("planner: scheduled launch failed, will retry", slog.String("error", cause.Error()),
		slog.Duration("retry_in", s.cfg.RetryDelay))
	return errors.Join(cause, settle(campaign.ScheduleRunning, cause.Error(), s.cfg.RetryDelay))
}

// SweepOrphans plans due runs (promotions and push-mode coupons) that
// stayed created or planning longer than OrphanAge and returns how many it
// planned.
func (s *Scheduler) SweepOrphans(ctx context.Context) (int, error) {
	var errs []error
	n := 0
	for _, kind := range campaign.PipelineKinds() {
		ids, err := kind.Stale(ctx, s.p.db, s.cfg.OrphanAge, s.cfg.ClaimBatch)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n += len(ids)
		for _, id := range ids {
			c, err := kind.GetRun(ctx, s.p.db, id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			s.log.Warn("planner: planning a campaign left unplanned", slog.String("kind", string(kind)),
				slog.Uint64("campaign_id", id), slog.String("status", string(c.Status)), slog.Time("updated_at", c.UpdatedAt))
			if _, err := s.p.PlanRun(ctx, c); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return n, errors.Join(errs...)
}
