// Package watch is `mktctl watch`: the live view of campaign progress. A
// Source reads a Snapshot of the watched runs from MySQL (aggregates only,
// through the campaign package's reports) and the live counters in Redis; a
// Rates tracker turns successive snapshots into smoothed rates and ETAs; the
// Model (bubbletea) draws them full-screen and sends the operator's control
// keys to the code behind `mktctl campaign pause|resume|cancel|retry-failed`;
// WriteJSON prints one snapshot per refresh for pipes, cron and CI.
//
// Fetching and drawing stay apart: the Source runs only inside tea.Cmds that
// return typed messages, Update applies them, View is a pure function of the
// model (and so golden-tested).
package watch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/schedule"
	"mkt/pkg/store"
)

// Target names the run a watch is limited to; the zero Target watches every
// run.
type Target struct {
	Kind campaign.Kind `json:"kind"`
	ID   uint64        `json:"id"`
}

// All reports whether t watches every run.
func (t Target) All() bool { return t.ID == 0 }

func (t Target) String() string {
	if t.All() {
		return "all"
	}
	return fmt.Sprintf("%s:%d", t.Kind, t.ID)
}

// ParseTarget reads "ID" (a promotion) or "KIND:ID" (promotion, coupon,
// hot_goods).
func ParseTarget(s string) (Target, error) {
	kind, idText := string(campaign.KindPromotion), s
	if k, rest, ok := strings.Cut(s, ":"); ok {
		kind, idText = k, rest
	}
	k, err := campaign.ParseKind(kind)
	if err != nil {
		return Target{}, fmt.Errorf("campaign %q: %w", s, err)
	}
	id, err := store.ParseID(idText)
	if err != nil {
		return Target{}, fmt.Errorf("campaign %q: the id must be a positive integer", s)
	}
	return Target{Kind: k, ID: id}, nil
}

// Run is one watched run in a snapshot: what it is and its report.
type Run struct {
	campaign.Summary
	campaign.Report
	// Rate is members/s over the last seconds (Rates fills it), ETA the
	// time left at that rate.
	Rate       float64  `json:"rate_members_per_second"`
	ETASeconds *float64 `json:"eta_seconds,omitempty"`
	// ElapsedSeconds is the time since planning (or creation) until now or
	// the end.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
}

// Key identifies the run across snapshots.
func (r Run) Key() Target { return Target{Kind: r.Kind, ID: r.ID} }

// Worker is a pushd instance holding shards of the watched runs.
type Worker struct {
	campaign.Worker
	// Rate is the members/s it got through over the last seconds, from the
	// live counters.
	Rate float64 `json:"rate_members_per_second"`
}

// Detail is what the view shows of the focused run beyond its report: the
// failure reasons.
type Detail struct {
	Failures campaign.FailureSample `json:"failures"`
}

// Snapshot is the watched runs at one moment.
type Snapshot struct {
	At      time.Time `json:"at"`
	Target  Target    `json:"target"`
	Runs    []Run     `json:"runs"`
	Workers []Worker  `json:"workers"`
	// Focus is the run the detail and the heatmap are of, Detail its
	// failures; zero and nil when none.
	Focus  Target  `json:"focus"`
	Detail *Detail `json:"detail,omitempty"`
	// Upcoming are the next firings of the active schedules, soonest
	// first (an all-runs watch only).
	Upcoming []Upcoming `json:"upcoming_firings,omitempty"`
	// MySQLError and RedisError say why a dependency could not be read;
	// with MySQL unreadable Runs is empty (the view keeps what it had).
	MySQLError string `json:"mysql_error,omitempty"`
	RedisError string `json:"redis_error,omitempty"`
}

// Upcoming is the next firing of a schedule (mktctl schedule).
type Upcoming struct {
	ScheduleID uint64 `json:"schedule_id"`
	Name       string `json:"name"`
	// Does says what the firing does, e.g. "hot-goods run of the day".
	Does string `json:"does"`
	// FireAt is the firing's instant; Zone the schedule's time zone.
	FireAt time.Time `json:"fire_at"`
	Zone   string    `json:"time_zone"`
}

// MaxUpcoming is how many upcoming firings an all-runs snapshot reads.
const MaxUpcoming = 3

// Finished reports whether every watched run finished (and there is at
// least one).
func (s Snapshot) Finished() bool { return len(s.Runs) > 0 && s.Unfinished() == 0 }

// Request says what a fetch must read beyond the runs' progress.
type Request struct {
	// Focus is the run to read the heatmap and failures of; zero = none.
	Focus Target
	// Cells is the most heatmap cells the view can draw.
	Cells int
	// Failures asks for the focused run's top failure reasons.
	Failures bool
	// FailureSample bounds the failed deliveries read for the top reasons
	// (default 1000); TopFailures is how many reasons are kept (default 5).
	FailureSample, TopFailures int
}

// Source reads snapshots. Fetch never fails: what it could not read is
// said in the snapshot, so the view keeps running through an outage. One
// fetch runs at a time (it connects lazily).
type Source struct {
	// DB holds the campaigns; when nil, OpenDB is called at every fetch
	// until it succeeds (the view may open while MySQL is down).
	DB store.Handler
	// OpenDB connects to MySQL when DB is nil.
	OpenDB func(ctx context.Context) (store.Handler, error)
	// Live opens the live counters (Redis); called at every fetch until it
	// succeeds, so Redis may come up later. Nil: no live counters.
	Live func(ctx context.Context) (campaign.LiveCounters, error)
	// Target limits the watch to one run; zero watches every run that is
	// planning, running or paused or finished within FinishedWithin.
	Target Target
	// FinishedWithin keeps finished runs in an all-runs watch (default 1 h).
	FinishedWithin time.Duration
	// Timeout bounds one fetch (default 5 s).
	Timeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time

	live campaign.LiveCounters
	// finished keeps the reports of finished runs: they change only when
	// the run does (retry-failed reopens it), so they are read once.
	finished map[Target]finishedReport
}

// finishedReport is a finished run's report and what it was read for.
type finishedReport struct {
	at    time.Time // the run's FinishedAt when read
	cells int       // the heatmap cells asked for
	rep   campaign.Report
}

// Fetch reads one snapshot.
func (s *Source) Fetch(ctx context.Context, req Request) Snapshot {
	now := s.Now
	if now == nil {
		now = time.Now
	}
	snap := Snapshot{At: now(), Target: s.Target, Focus: req.Focus}
	// failed records an unreadable MySQL: the runs read so far are dropped
	// (the view keeps its last snapshot).
	failed := func(err error) Snapshot {
		snap.MySQLError, snap.Runs = err.Error(), nil
		return snap
	}
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(s.Timeout, 5*time.Second))
	defer cancel()
	if s.DB == nil {
		if s.OpenDB == nil {
			snap.MySQLError = "no database configured"
			return snap
		}
		db, err := s.OpenDB(ctx)
		if err != nil {
			return failed(err)
		}
		s.DB = db
	}
	live := s.openLive(ctx, &snap)
	runs, err := s.summaries(ctx)
	if err != nil {
		return failed(err)
	}
	snap.Runs = make([]Run, 0, len(runs))
	for _, sum := range runs {
		o := campaign.ReportOptions{Channels: sum.Channels, Live: live, Shards: sum.PlannedShards}
		if sum.Kind == req.Focus.Kind && sum.ID == req.Focus.ID {
			o.Cells = req.Cells
		}
		rep, err := s.report(ctx, sum, o)
		if err != nil {
			return failed(err)
		}
		if rep.LiveError != "" && snap.RedisError == "" {
			snap.RedisError = rep.LiveError
		}
		snap.Runs = append(snap.Runs, Run{Summary: sum, Report: rep, ElapsedSeconds: sum.Elapsed(snap.At).Seconds()})
	}
	for k := range s.finished {
		if !slices.ContainsFunc(snap.Runs, func(r Run) bool { return r.Key() == k }) {
			delete(s.finished, k) // gone from the watch
		}
	}
	var scope []campaign.Summary
	if !s.Target.All() {
		scope = runs
	}
	if len(runs) > 0 {
		ws, err := campaign.Workers(ctx, s.DB, scope...)
		if err != nil {
			return failed(err)
		}
		snap.Workers = make([]Worker, len(ws))
		for i, w := range ws {
			snap.Workers[i] = Worker{Worker: w}
		}
	}
	if s.Target.All() {
		next, err := schedule.Upcoming(ctx, s.DB, MaxUpcoming)
		if err != nil {
			return failed(err)
		}
		for _, sc := range next {
			snap.Upcoming = append(snap.Upcoming, Upcoming{ScheduleID: sc.ID, Name: sc.Name, Does: sc.Describe(),
				FireAt: sc.NextFireAt.UTC(), Zone: sc.Zone})
		}
	}
	if req.Focus.ID != 0 && req.Failures {
		fs, err := campaign.SampleFailureReasons(ctx, s.DB, req.Focus.Kind, req.Focus.ID,
			cmp.Or(req.FailureSample, 1000), cmp.Or(req.TopFailures, 5))
		if err != nil {
			return failed(err)
		}
		snap.Detail = &Detail{Failures: fs}
	}
	return snap
}

// report loads a run's report, or takes a finished run's from the cache.
func (s *Source) report(ctx context.Context, sum campaign.Summary, o campaign.ReportOptions) (campaign.Report, error) {
	key := Target{Kind: sum.Kind, ID: sum.ID}
	if !sum.Status.Finished() || sum.FinishedAt == nil {
		delete(s.finished, key)
		return campaign.LoadReport(ctx, s.DB, sum.Kind, sum.ID, o)
	}
	if c, ok := s.finished[key]; ok && c.at.Equal(*sum.FinishedAt) && c.cells == o.Cells &&
		c.rep.LiveError == "" && (c.rep.Live != nil) == (o.Live != nil) {
		return c.rep, nil
	}
	rep, err := campaign.LoadReport(ctx, s.DB, sum.Kind, sum.ID, o)
	if err != nil {
		return rep, err
	}
	if s.finished == nil {
		s.finished = map[Target]finishedReport{}
	}
	s.finished[key] = finishedReport{at: *sum.FinishedAt, cells: o.Cells, rep: rep}
	return rep, nil
}

// openLive returns the live counters, opening them if need be; a failure is
// recorded in the snapshot and retried at the next fetch.
func (s *Source) openLive(ctx context.Context, snap *Snapshot) campaign.LiveCounters {
	if s.Live == nil {
		return nil
	}
	if s.live == nil {
		lc, err := s.Live(ctx)
		if err != nil {
			snap.RedisError = err.Error()
			return nil
		}
		s.live = lc
	}
	return s.live
}

func (s *Source) summaries(ctx context.Context) ([]campaign.Summary, error) {
	if s.Target.All() {
		return campaign.ListActive(ctx, s.DB, cmp.Or(s.FinishedWithin, time.Hour))
	}
	sum, err := s.Target.Kind.GetSummary(ctx, s.DB, s.Target.ID)
	if err != nil {
		return nil, err
	}
	return []campaign.Summary{*sum}, nil
}

// ErrNotFound is returned by Check when the watched run does not exist.
var ErrNotFound = errors.New("watch: no such campaign")

// Check tells, before the view opens, whether the target exists.
func (s *Source) Check(ctx context.Context) error {
	if s.Target.All() {
		return nil
	}
	_, err := s.Target.Kind.GetSummary(ctx, s.DB, s.Target.ID)
	if errors.Is(err, campaign.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNotFound, s.Target)
	}
	return err
}
