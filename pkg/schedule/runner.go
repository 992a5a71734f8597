package schedule

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mkt/pkg/campaign"
	"mkt/pkg/daemon"
	"mkt/pkg/hotgoods"
	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

// Runner defaults.
const (
	DefaultPollInterval = time.Second
	DefaultLease        = time.Minute
	DefaultRetryDelay   = 10 * time.Second
	DefaultMaxAttempts  = 5
	DefaultBatch        = 20
)

// Hold points of RunnerConfig.HoldAt.
const (
	HoldAfterClaim  = "claim"  // the firing is claimed, its action not started
	HoldAfterCreate = "create" // its campaign is created, the firing not yet marked fired
)

// RunnerConfig configures a Runner. Zero values take the defaults.
type RunnerConfig struct {
	// DB holds the schedules, firings and campaigns (required).
	DB *store.DB
	// Creator stores campaigns and hot-goods runs atomically with their
	// created event (required, with Tx set).
	Creator campaign.Creator
	// Owner names this runner in schedule_firing.owner (default
	// "<host>-<pid>"); a random suffix is added.
	Owner string
	// PollInterval is how often due schedules and abandoned firings are
	// looked for (default 1s).
	PollInterval time.Duration
	// Lease is how long a claimed firing stays with this runner before
	// another may take it over (this one died) (default 1m).
	Lease time.Duration
	// RetryDelay is the wait after a failed attempt (default 10s).
	RetryDelay time.Duration
	// MaxAttempts bounds the attempts of one firing (default 5).
	MaxAttempts int
	// Batch bounds the schedules and the abandoned firings handled per
	// pass (default 20 each).
	Batch int
	// Now is the clock (default: the database's, so every pushd agrees).
	Now func(ctx context.Context) (time.Time, error)
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger receives the logs (default slog.Default()).
	Logger *slog.Logger
	// Hold, when positive, holds every firing this long at HoldAt
	// (HoldAfterClaim or HoldAfterCreate): for fault tests that kill a
	// pushd in the middle of a firing.
	Hold   time.Duration
	HoldAt string
}

// Runner fires due schedules: every PollInterval it claims due schedules'
// firings (each once across every runner: see the package doc), performs
// their action, and takes over firings whose runner died (their lease
// ended). Start and Stop it once.
type Runner struct {
	daemon.StartStop

	cfg    RunnerConfig
	db     *store.DB
	log    *slog.Logger
	owner  string
	m      runnerMetrics
	passes atomic.Uint64
}

// runnerSuffixBytes is the random part, in bytes (written in hex), each
// Runner adds to its owner's name, so that two runners of one process never
// share a claim.
const runnerSuffixBytes = 3

type runnerMetrics struct {
	firings *prometheus.CounterVec
	errors  prometheus.Counter
	delay   prometheus.Histogram
}

// DBNow returns the database's clock (UTC), the clock every pushd and
// mktctl read schedules by.
func DBNow(ctx context.Context, h store.Handler) (time.Time, error) {
	var t time.Time
	if err := h.GetContext(ctx, &t, `SELECT UTC_TIMESTAMP(3)`); err != nil {
		return time.Time{}, fmt.Errorf("schedule: read the database clock: %w", store.MapError(err))
	}
	return t.UTC(), nil
}

// NewRunner returns a Runner; nothing runs before Start.
func NewRunner(cfg RunnerConfig) (*Runner, error) {
	if cfg.DB == nil || cfg.Creator.Tx == nil {
		return nil, errors.New("schedule: a runner needs DB and Creator.Tx")
	}
	if cfg.Creator.DB == nil {
		cfg.Creator.DB = cfg.DB
	}
	cfg.Owner = cmp.Or(cfg.Owner, campaign.DefaultOwner())
	cfg.PollInterval = cmp.Or(cfg.PollInterval, DefaultPollInterval)
	cfg.Lease = cmp.Or(cfg.Lease, DefaultLease)
	cfg.RetryDelay = cmp.Or(cfg.RetryDelay, DefaultRetryDelay)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.Batch = cmp.Or(cfg.Batch, DefaultBatch)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	if cfg.Now == nil {
		db := cfg.DB
		cfg.Now = func(ctx context.Context) (time.Time, error) { return DBNow(ctx, db) }
	}
	var errs []error
	if n := campaign.MaxOwnerLen - len("-") - 2*runnerSuffixBytes; len(cfg.Owner) > n {
		errs = append(errs, fmt.Errorf("schedule: owner %q is longer than %d bytes", cfg.Owner, n))
	}
	if cfg.PollInterval < 10*time.Millisecond || cfg.Lease < time.Second || cfg.RetryDelay < 0 || cfg.MaxAttempts < 1 || cfg.Batch < 1 {
		errs = append(errs, fmt.Errorf("schedule: runner poll %v, lease %v, retry delay %v, max attempts %d, batch %d out of range",
			cfg.PollInterval, cfg.Lease, cfg.RetryDelay, cfg.MaxAttempts, cfg.Batch))
	}
	if cfg.Hold > 0 && cfg.HoldAt != HoldAfterClaim && cfg.HoldAt != HoldAfterCreate {
		errs = append(errs, fmt.Errorf("schedule: hold at %q: want %s or %s", cfg.HoldAt, HoldAfterClaim, HoldAfterCreate))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var b [runnerSuffixBytes]byte
	_, _ = rand.Read(b[:])
	r := &Runner{cfg: cfg, db: cfg.DB, owner: cfg.Owner + "-" + hex.EncodeToString(b[:]),
		log: cfg.Logger.With(slog.String("component", "schedules"))}
	r.m = runnerMetrics{
		firings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mkt_schedule_firings_total",
			Help: "Schedule firings settled by this pushd, by outcome: fired (its campaign or run created), skipped (missed, too late or nothing to launch), failed."},
			[]string{"outcome"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_schedule_firing_errors_total",
			Help: "Failed attempts of schedule firings (retried until the firing's max attempts)."}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mkt_schedule_firing_delay_seconds",
			Help:    "Time from a firing's scheduled instant to the creation of its campaign, for fired firings.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600}}),
	}
	for _, o := range []FiringStatus{FiringFired, FiringSkipped, FiringFailed} {
		r.m.firings.WithLabelValues(string(o))
	}
	if err := daemon.RegisterMetrics(cfg.Registerer, r.m.firings, r.m.errors, r.m.delay); err != nil {
		return nil, fmt.Errorf("schedule: register metrics: %w", err)
	}
	return r, nil
}

// Name names the component in pushd's logs.
func (r *Runner) Name() string { return "schedules" }

// Start launches the polling loop; ctx bounds its work (cancelling it is a
// hard stop). Stop ends the loop: no new pass starts, the firing in progress
// may finish until Stop's context ends, then it is cancelled (another runner
// takes it over when its lease ends; its campaign is never created twice).
// The lifecycle is daemon.StartStop's.
func (r *Runner) Start(ctx context.Context) error {
	return r.StartWith(ctx, func(life *daemon.Lifetime) error {
		life.Every(r.cfg.PollInterval, true, func(ctx context.Context) {
			if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
				r.log.Error("schedule: firing pass", slog.String("error", err.Error()))
			}
		})
		r.log.Info("schedule: runner started", slog.String("owner", r.owner), slog.Duration("poll", r.cfg.PollInterval))
		return nil
	})
}

// Pass says what one pass did.
type Pass struct {
	// Claimed counts the firings this runner claimed (due or taken over),
	// Fired, Skipped and Failed how they settled (skipped includes missed
	// firings recorded), Retrying those left for a later attempt.
	Claimed, Fired, Skipped, Failed, Retrying int
}

// RunOnce runs one pass at the clock's now: the due schedules' firings are
// claimed and performed, then abandoned firings (lease ended) taken over.
func (r *Runner) RunOnce(ctx context.Context) (Pass, error) {
	var p Pass
	now, err := r.cfg.Now(ctx)
	if err != nil {
		return p, err
	}
	var due []Schedule
	if err := r.db.SelectContext(ctx, &due, `SELECT `+scheduleColumns+` FROM schedule
		WHERE status = 'active' AND next_fire_at <= ? ORDER BY next_fire_at LIMIT ?`, now, r.cfg.Batch); err != nil {
		return p, fmt.Errorf("schedule: due schedules: %w", store.MapError(err))
	}
	var errs []error
	for i := range due {
		s := &due[i]
		f, err := r.claimDue(ctx, s, now, &p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if f != nil {
			p.Claimed++
			r.fire(ctx, s, f, true, &p)
		}
	}
	var stale []uint64
	if err := r.db.SelectContext(ctx, &stale, `SELECT id FROM schedule_firing
		WHERE status = 'firing' AND lease_until < ? ORDER BY lease_until LIMIT ?`, now, r.cfg.Batch); err != nil {
		return p, errors.Join(append(errs, fmt.Errorf("schedule: abandoned firings: %w", store.MapError(err)))...)
	}
	for _, id := range stale {
		if err := r.takeOver(ctx, id, now, &p); err != nil {
			errs = append(errs, err)
		}
	}
	r.passes.Add(1)
	return p, errors.Join(errs...)
}

// errTaken rolls back a claim another runner made first.
var errTaken = errors.New("schedule: firing claimed by another runner")

// claimDue decides what to do with a due schedule and claims it: in one
// transaction the schedule's next_fire_at moves on (only if it still names
// the firing this runner saw), the missed firings are recorded skipped and
// the latest due firing inserted — firing (held by this runner) or skipped
// when too late. The firing row's unique key is the last word: if another
// runner inserted it, nothing is claimed. It returns the firing to perform,
// or nil.
func (r *Runner) claimDue(ctx context.Context, s *Schedule, now time.Time, p *Pass) (*Firing, error) {
	log := r.log.With(slog.Uint64("schedule_id", s.ID))
	c, err := s.Parse()
	if err != nil {
		log.Error("schedule: cannot read the schedule's expression; not fired", slog.String("error", err.Error()))
		return nil, nil
	}
	d := Decide(c, *s.NextFireAt, now, s.MaxLateness())
	var next any
	if !d.Next.IsZero() {
		next = d.Next.UTC()
	}
	loc := c.Location()
	f := &Firing{ScheduleID: s.ID, FireAt: d.FireAt.UTC(), RequestID: RequestID(s.ID, d.FireAt), Attempts: 1, Owner: r.owner}
	if d.Fire {
		f.Status = FiringInProgress
		lease := now.Add(r.cfg.Lease)
		f.LeaseUntil = &lease
	} else {
		f.Status = FiringSkipped
		f.Reason = fmt.Sprintf("late: due %s, reached %s later, beyond the max lateness of %s (no pushd fired it in time)",
			d.FireAt.In(loc).Format("2006-01-02 15:04 MST"), d.Late.Round(time.Second), s.MaxLateness())
		f.FinishedAt = &now
	}
	err = r.db.InTx(ctx, func(tx store.Handler) error {
		res, err := tx.ExecContext(ctx, `UPDATE schedule SET next_fire_at = ?
			WHERE id = ? AND status = 'active' AND next_fire_at = ?`, next, s.ID, s.NextFireAt.UTC())
		if err != nil {
			return fmt.Errorf("schedule %d: move next firing on: %w", s.ID, store.MapError(err))
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return errTaken
		}
		if len(d.Missed) > 0 {
			reason := fmt.Sprintf("missed: no pushd fired it in time; superseded by the firing at %s",
				d.FireAt.In(loc).Format("2006-01-02 15:04 MST"))
			q := `INSERT IGNORE INTO schedule_firing (schedule_id, fire_at, status, request_id, reason, owner, finished_at) VALUES `
			var args []any
			for i, m := range d.Missed {
				if i > 0 {
					q += ","
				}
				q += "(?, ?, 'skipped', ?, ?, ?, ?)"
				args = append(args, s.ID, m.UTC(), RequestID(s.ID, m), reason, r.owner, now)
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("schedule %d: record missed firings: %w", s.ID, store.MapError(err))
			}
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO schedule_firing (schedule_id, fire_at, status, request_id, reason,
			attempts, owner, lease_until, claimed_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ScheduleID, f.FireAt, f.Status, f.RequestID, f.Reason, f.Attempts, f.Owner, f.LeaseUntil, now, f.FinishedAt)
		if errors.Is(store.MapError(err), store.ErrDuplicate) {
			return errTaken // the unique key: fired already
		}
		if err != nil {
			return fmt.Errorf("schedule %d: claim firing %s: %w", s.ID, f.FireAt.Format(time.RFC3339), store.MapError(err))
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("schedule %d: firing id: %w", s.ID, err)
		}
		f.ID = uint64(id)
		return nil
	})
	if errors.Is(err, errTaken) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	f.ClaimedAt = now
	if d.MissedTotal > 0 {
		log.Warn("schedule: missed firings recorded skipped", slog.Int("missed", d.MissedTotal),
			slog.Bool("count_capped", d.MissedCapped), slog.Int("recorded", len(d.Missed)),
			slog.Time("latest_due", d.FireAt.UTC()))
		r.m.firings.WithLabelValues(string(FiringSkipped)).Add(float64(d.MissedTotal))
		p.Skipped += d.MissedTotal
	}
	if !d.Fire {
		log.Warn("schedule: firing skipped", slog.Time("fire_at", f.FireAt), slog.String("reason", f.Reason))
		r.m.firings.WithLabelValues(string(FiringSkipped)).Inc()
		p.Skipped++
		return nil, nil
	}
	log.Info("schedule: firing claimed", slog.Time("fire_at", f.FireAt), slog.String("request_id", f.RequestID),
		slog.Duration("late", d.Late))
	return f, nil
}

// takeOver claims an abandoned firing (its runner died or gave it back for
// a retry) and performs it again; its request id makes sure a campaign
// already created is found, not created twice.
func (r *Runner) takeOver(ctx context.Context, id uint64, now time.Time, p *Pass) error {
	res, err := r.db.ExecContext(ctx, `UPDATE schedule_firing SET owner = ?, lease_until = ?, attempts = attempts + 1
		WHERE id = ? AND status = 'firing' AND lease_until < ?`, r.owner, now.Add(r.cfg.Lease), id, now)
	if err != nil {
		return fmt.Errorf("schedule: take over firing %d: %w", id, store.MapError(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil
	}
	var f Firing
	if err := r.db.GetContext(ctx, &f, `SELECT `+firingColumns+` FROM schedule_firing WHERE id = ?`, id); err != nil {
		return fmt.Errorf("schedule: load firing %d: %w", id, store.MapError(err))
	}
	s, err := Get(ctx, r.db, f.ScheduleID)
	if err != nil {
		return err
	}
	p.Claimed++
	r.log.Info("schedule: abandoned firing taken over", slog.Uint64("schedule_id", s.ID), slog.Time("fire_at", f.FireAt),
		slog.Int("attempt", f.Attempts), slog.String("previous_error", f.Reason))
	// Created already, or still within the max lateness: go on.
	r.fire(ctx, s, &f, now.Sub(f.FireAt) <= s.MaxLateness(), p)
	return nil
}

// errTooLate is act's answer when it may no longer create anything and
// nothing was created.
var errTooLate = errors.New("schedule: too late to fire")

// fire performs a claimed firing and settles it: fired with what it
// created, skipped when there was nothing to launch (or it is too late for a
// retry), failed for good after a permanent error or MaxAttempts, or left
// for a retry after RetryDelay.
func (r *Runner) fire(ctx context.Context, s *Schedule, f *Firing, mayCreate bool, p *Pass) {
	log := r.log.With(slog.Uint64("schedule_id", s.ID), slog.Time("fire_at", f.FireAt), slog.Int("attempt", f.Attempts))
	if !r.hold(ctx, HoldAfterClaim, log) {
		return
	}
	kind, id, note, err := r.act(ctx, s, f, mayCreate)
	if err == nil && id != 0 && !r.hold(ctx, HoldAfterCreate, log) {
		return
	}
	now, nerr := r.cfg.Now(ctx)
	if nerr != nil {
		now = time.Now().UTC()
	}
	settle := func(to FiringStatus, reason string) {
		var k, cid any
		if id != 0 {
			k, cid = kind, id
		}
		res, err := r.db.ExecContext(ctx, `UPDATE schedule_firing SET status = ?, campaign_kind = ?, campaign_id = ?,
			reason = ?, lease_until = NULL, finished_at = ? WHERE id = ? AND owner = ? AND status = 'firing'`,
			to, k, cid, textlimit.BytesMarked(reason, campaign.MaxErrorLen), now, f.ID, r.owner)
		if err != nil {
			// The lease runs out and another runner settles it (the
			// campaign, if created, is found by its request id).
			log.Error("schedule: settle firing", slog.String("to", string(to)), slog.String("error", store.MapError(err).Error()))
			return
		}
		if n, _ := res.RowsAffected(); n != 1 {
			log.Warn("schedule: firing was taken over before it settled", slog.String("to", string(to)))
			return
		}
		r.m.firings.WithLabelValues(string(to)).Inc()
		switch to {
		case FiringFired:
			p.Fired++
			r.m.delay.Observe(now.Sub(f.FireAt).Seconds())
			log.Info("schedule: fired", slog.String("campaign_kind", string(kind)), slog.Uint64("campaign_id", id),
				slog.String("request_id", f.RequestID))
		case FiringSkipped:
			p.Skipped++
			log.Warn("schedule: firing skipped", slog.String("reason", reason))
		case FiringFailed:
			p.Failed++
			log.Error("schedule: firing failed", slog.String("reason", reason))
		}
	}
	switch {
	case err == nil && id != 0:
		settle(FiringFired, note)
	case err == nil:
		settle(FiringSkipped, note)
	case errors.Is(err, errTooLate):
		if f.Reason != "" {
			settle(FiringFailed, fmt.Sprintf("not fired within the max lateness of %s; last error: %s", s.MaxLateness(), f.Reason))
		} else {
			settle(FiringSkipped, fmt.Sprintf("late: its pushd stopped mid-firing and no pushd retried it within the max lateness of %s", s.MaxLateness()))
		}
	case permanent(err):
		settle(FiringFailed, err.Error())
	case ctx.Err() != nil:
		// Stopping: the lease runs out and another runner takes it over.
		log.Warn("schedule: firing interrupted by shutdown", slog.String("error", err.Error()))
	case f.Attempts >= r.cfg.MaxAttempts:
		r.m.errors.Inc()
		settle(FiringFailed, fmt.Sprintf("failed %d times: %v", f.Attempts, err))
	default:
		r.m.errors.Inc()
		p.Retrying++
		log.Warn("schedule: firing failed, will retry", slog.String("error", err.Error()), slog.Duration("retry_in", r.cfg.RetryDelay))
		if _, uerr := r.db.ExecContext(ctx, `UPDATE schedule_firing SET lease_until = ?, reason = ?
			WHERE id = ? AND owner = ? AND status = 'firing'`, now.Add(r.cfg.RetryDelay), textlimit.BytesMarked(err.Error(), campaign.MaxErrorLen), f.ID, r.owner); uerr != nil {
			log.Error("schedule: record failed attempt", slog.String("error", store.MapError(uerr).Error()))
		}
	}
}

// permanent reports errors that another attempt would repeat: invalid
// input (the template's copy, the launch options).
func permanent(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, campaign.ErrInvalid) || errors.Is(err, hotgoods.ErrInvalid)
}

// hold waits at point when the config asks to; false when ctx ended.
func (r *Runner) hold(ctx context.Context, point string, log *slog.Logger) bool {
	if r.cfg.Hold <= 0 || r.cfg.HoldAt != point {
		return true
	}
	log.Info("schedule: holding the firing (fault test)", slog.String("at", point), slog.Duration("hold", r.cfg.Hold))
	t := time.NewTimer(r.cfg.Hold)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// act performs the firing's action, idempotently: what an earlier attempt
// created under the firing's request id is returned, not created again.
// When mayCreate is false and nothing was created it returns errTooLate. It
// returns what was created, or, when there was nothing to launch, a note.
func (r *Runner) act(ctx context.Context, s *Schedule, f *Firing, mayCreate bool) (campaign.Kind, uint64, string, error) {
	kind := campaign.KindHotGoods
	if s.Action == ActionCampaign {
		kind = campaign.KindPromotion
	}
	if run, err := kind.GetRunByRequestID(ctx, r.db, f.RequestID); err == nil {
		return kind, run.ID, "", nil
	} else if !errors.Is(err, campaign.ErrNotFound) {
		return kind, 0, "", err
	}
	if !mayCreate {
		return kind, 0, "", errTooLate
	}
	loc, err := LoadZone(s.Zone)
	if err != nil {
		return kind, 0, "", err
	}
	switch s.Action {
	case ActionCampaign:
		if s.TemplateID == nil {
			return kind, 0, "", fmt.Errorf("%w: schedule %d has no template campaign", ErrInvalid, s.ID)
		}
		t, err := campaign.Get(ctx, r.db, *s.TemplateID)
		if errors.Is(err, campaign.ErrNotFound) {
			return kind, 0, "", fmt.Errorf("%w: template campaign %d no longer exists", ErrInvalid, *s.TemplateID)
		}
		if err != nil {
			return kind, 0, "", err
		}
		spec, err := TemplateSpec(t, s.ID, f.FireAt, loc)
		if err != nil {
			return kind, 0, "", err
		}
		res, err := r.cfg.Creator.Create(ctx, spec, f.RequestID)
		if err != nil {
			return kind, 0, "", err
		}
		return kind, res.Campaign.ID, "", nil
	case ActionHotGoods:
		local := f.FireAt.In(loc)
		date := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
		res, err := hotgoods.Launch(ctx, r.db, r.cfg.Creator, hotgoods.LaunchOptions{
			Date: date, CreatedBy: fmt.Sprintf("schedule:%d", s.ID), RequestID: f.RequestID,
		})
		if err != nil {
			return kind, 0, "", err
		}
		if res.Run != nil {
			return kind, res.Run.ID, "", nil
		}
		// A concurrent attempt may have launched it meanwhile.
		if run, err := kind.GetRunByRequestID(ctx, r.db, f.RequestID); err == nil {
			return kind, run.ID, "", nil
		}
		if len(res.Skipped) == 0 {
			return kind, 0, fmt.Sprintf("nothing to launch: no hot-goods rows imported for %s", res.Date), nil
		}
		return kind, 0, fmt.Sprintf("nothing to launch: all %d hot-goods rows of %s were launched already", len(res.Skipped), res.Date), nil
	}
	return kind, 0, "", fmt.Errorf("%w: schedule %d: unknown action %q", ErrInvalid, s.ID, s.Action)
}

// Passes returns how many passes the runner completed (for tests waiting on
// a condition).
func (r *Runner) Passes() uint64 { return r.passes.Load() }
