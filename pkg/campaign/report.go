package campaign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"mkt/pkg/provider"
	"mkt/pkg/store"
)

// Reports. `mktctl campaign show`, `coupon show` and `mktctl watch` show a
// run's progress from the functions here, so what one prints agrees with
// what the other draws. A report reads aggregates only (counts and sums over
// a campaign's shard rows, grouped by status or by heatmap cell; leases
// grouped by owner; a bounded sample of failures), never the shard rows one
// by one, so its cost stays flat as campaigns grow.

// Summary is a run of any kind as an operator sees it: what it is called,
// where it is in its life and its plan.
type Summary struct {
	Kind           Kind               `db:"-" json:"kind"`
	ID             uint64             `db:"id" json:"id"`
	Name           string             `db:"name" json:"name"`
	Status         Status             `db:"status" json:"status"`
	StatusReason   string             `db:"status_reason" json:"status_reason,omitempty"`
	ChannelsRaw    string             `db:"channels" json:"-"`
	Channels       []provider.Channel `db:"-" json:"channels"`
	PlannedMembers int64              `db:"planned_members" json:"planned_members"`
	PlannedShards  int                `db:"planned_shards" json:"planned_shards"`
	CreatedAt      time.Time          `db:"created_at" json:"created_at"`
	// PlannedAt is when the planner recorded the plan (promotions; nil for
	// coupon pushes, which do not record it).
	PlannedAt *time.Time `db:"planned_at" json:"planned_at,omitempty"`
	// FinishedAt is when the run finished (a coupon push's last update
	// once finished).
	FinishedAt *time.Time `db:"finished_at" json:"finished_at,omitempty"`
}

// Ref names the run: "promotion:7", "coupon:3".
func (s Summary) Ref() string { return fmt.Sprintf("%s:%d", s.Kind, s.ID) }

// Started is when the run's clock starts: planned, else created.
func (s Summary) Started() time.Time {
	if s.PlannedAt != nil {
		return *s.PlannedAt
	}
	return s.CreatedAt
}

// Elapsed is how long the run has gone (until it finished), at now.
func (s Summary) Elapsed(now time.Time) time.Duration {
	end := now
	if s.FinishedAt != nil && s.Status.Finished() {
		end = *s.FinishedAt
	}
	return max(end.Sub(s.Started()), 0)
}

// ParseKind reads a campaign kind as the views name it.
func ParseKind(s string) (Kind, error) {
	for _, k := range PipelineKinds() {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, 0, 3)
	for _, k := range PipelineKinds() {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("%w: kind %q: want one of %s", ErrInvalid, s, strings.Join(names, ", "))
}

// summarySelect is the SELECT of a kind's summaries.
func (t runTable) summarySelect() string {
	reason := cmp.Or(t.reason, "''")
	plannedAt := cmp.Or(t.plannedAt, "NULL")
	finished := t.finishedExpr()
	return `SELECT id, name, ` + t.status + ` AS status, ` + reason + ` AS status_reason, channels,
		planned_members, planned_shards, created_at, ` + plannedAt + ` AS planned_at, ` + finished + ` AS finished_at
		FROM ` + t.table
}

// finishedExpr is the kind's finished time: its column, else its last
// update once finished.
func (t runTable) finishedExpr() string {
	if t.finished != "" {
		return t.finished
	}
	return `IF(` + t.status + ` IN ('cancelled','completed','failed'), updated_at, NULL)`
}

// GetSummary loads the summary of run id of kind k; ErrNotFound if none.
func (k Kind) GetSummary(ctx context.Context, h store.Handler, id uint64) (*Summary, error) {
	t, err := k.runs()
	if err != nil {
		return nil, err
	}
	var out []Summary
	if err := h.SelectContext(ctx, &out, t.summarySelect()+` WHERE `+t.where("id = ?"), id); err != nil {
		return nil, fmt.Errorf("campaign: load %s %d: %w", k, id, store.MapError(err))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s %d", ErrNotFound, k, id)
	}
	return &out[0], out[0].decode(k)
}

func (s *Summary) decode(k Kind) error {
	s.Kind, s.Channels = k, nil
	if s.ChannelsRaw == "" {
		return nil
	}
	chs, err := provider.ParseChannels(s.ChannelsRaw)
	if err != nil {
		return fmt.Errorf("%s %d: stored channels: %w", k, s.ID, err)
	}
	s.Channels = chs
	return nil
}

// maxListed bounds the summaries ListActive returns per kind.
const maxListed = 200

// ListActive returns the runs of every reported kind that are planning,
// running or paused, and those that finished within the last finishedWithin,
// unfinished first, then newest first.
func ListActive(ctx context.Context, h store.Handler, finishedWithin time.Duration) ([]Summary, error) {
	var all []Summary
	for _, k := range PipelineKinds() {
		t, _ := k.runs()
		var part []Summary
		err := h.SelectContext(ctx, &part, t.summarySelect()+` WHERE `+t.where(`(`+t.status+` IN ('planning','running','paused')
			OR (`+t.status+` IN ('cancelled','completed','failed') AND `+t.finishedExpr()+` >= CURRENT_TIMESTAMP(3) - INTERVAL ? MICROSECOND))`)+`
			ORDER BY id DESC LIMIT ?`, finishedWithin.Microseconds(), maxListed)
		if err != nil {
			return nil, fmt.Errorf("campaign: list active %s runs: %w", k, store.MapError(err))
		}
		for i := range part {
			if err := part[i].decode(k); err != nil {
				return nil, err
			}
		}
		all = append(all, part...)
	}
	slices.SortStableFunc(all, func(a, b Summary) int {
		if fa, fb := a.Status.Finished(), b.Status.Finished(); fa != fb {
			if fa {
				return 1
			}
			return -1
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	return all, nil
}

// DisplayStatus is the status as operators see it: "cancelling" while a
// cancelled run's shards are still running.
func DisplayStatus(s Status, runningShards int) string {
	if s == StatusCancelled && runningShards > 0 {
		return fmt.Sprintf("cancelling (%d shards stop at their next page)", runningShards)
	}
	return string(s)
}

// Report is a run's progress at one moment: its shards by status, the
// members processed, deliveries per channel and, when asked, a heatmap.
type Report struct {
	Progress Progress `json:"progress"`
	// Processed estimates the audience members the workers got through
	// (EstimateProcessed's rule).
	Processed int64 `json:"processed_members"`
	// Percent is Processed of the expected members.
	Percent float64 `json:"percent"`
	// Live holds the live counters (deliveries per channel, members per
	// worker); nil when not read.
	Live *Live `json:"live,omitempty"`
	// LiveError says why the live counters could not be read.
	LiveError string `json:"live_error,omitempty"`
	// Heatmap is the shards' statuses, when asked for.
	Heatmap *Heatmap `json:"heatmap,omitempty"`
}

// Heatmap is a run's shards laid out in cells: cell i holds shards
// i*PerCell .. (i+1)*PerCell-1 and shows the most urgent status among them
// (CellStatus).
type Heatmap struct {
	Shards  int           `json:"shards"`
	PerCell int           `json:"shards_per_cell"`
	Cells   []ShardStatus `json:"cells"`
}

// cellPrecedence orders statuses for a cell holding several shards: the
// first present wins. Failed and paused need the operator; running and
// pending are the work still to do; cancelled and done are settled.
var cellPrecedence = []ShardStatus{ShardFailed, ShardPaused, ShardRunning, ShardPending, ShardCancelled, ShardDone}

// ReportOptions tunes LoadReport.
type ReportOptions struct {
	// Cells is the most heatmap cells wanted; 0 = no heatmap.
	Cells int
	// Shards is the run's planned shard count, which sizes the heatmap's
	// cells; 0 counts the shard rows.
	Shards int
	// Live reads the live counters; nil leaves Report.Live nil.
	Live LiveCounters
	// Channels are the run's channels (for the live counters).
	Channels []provider.Channel
}

// LoadReport reads run id's progress: its shards counted by status (from
// an index), one pass over its shard rows for the sums, and one more
// grouped by heatmap cell (an index again) when a heatmap is asked for. An error of the live counters does not fail the report: it is
// recorded in LiveError.
func LoadReport(ctx context.Context, h store.Handler, kind Kind, id uint64, o ReportOptions) (Report, error) {
	var rep Report
	// Shards by status from the (campaign, status) index alone; the sums
	// in one pass over the rows, comparing the status once per row.
	var counts []struct {
		Status ShardStatus `db:"status"`
		N      int         `db:"n"`
	}
	if err := h.SelectContext(ctx, &counts, `SELECT status, COUNT(*) AS n FROM campaign_shard
		WHERE campaign_kind = ? AND campaign_id = ? GROUP BY status`, kind, id); err != nil {
		return rep, fmt.Errorf("%s %d: shards by status: %w", kind, id, store.MapError(err))
	}
	p := &rep.Progress
	for _, c := range counts {
		p.Shards += c.N
		switch c.Status {
		case ShardPending:
			p.Pending = c.N
		case ShardRunning:
			p.Running = c.N
		case ShardPaused:
			p.Paused = c.N
		case ShardDone:
			p.Done = c.N
		case ShardCancelled:
			p.Cancelled = c.N
		case ShardFailed:
			p.Failed = c.N
		}
	}
	var sums struct {
		Expected  int64   `db:"expected"`
		Sent      int64   `db:"sent"`
		Failed    int64   `db:"failed"`
		Processed float64 `db:"processed"`
	}
	if err := h.GetContext(ctx, &sums, `SELECT COALESCE(SUM(expected_members),0) AS expected, COALESCE(SUM(sent),0) AS sent,
		COALESCE(SUM(failed),0) AS failed, COALESCE(SUM(`+processedExpr+`),0) AS processed
		FROM campaign_shard WHERE campaign_kind = ? AND campaign_id = ?`, kind, id); err != nil {
		return rep, fmt.Errorf("%s %d: progress: %w", kind, id, store.MapError(err))
	}
	p.Expected, p.Sent, p.FailedN = sums.Expected, sums.Sent, sums.Failed
	rep.Processed = int64(sums.Processed)
	if p.Expected > 0 {
		rep.Percent = 100 * float64(rep.Processed) / float64(p.Expected)
	}
	var err error
	if o.Cells > 0 && rep.Progress.Shards > 0 {
		if rep.Heatmap, err = loadHeatmap(ctx, h, kind, id, max(o.Shards, rep.Progress.Shards), o.Cells); err != nil {
			return rep, err
		}
	}
	if o.Live != nil {
		live, err := ReadLive(ctx, o.Live, kind, id, o.Channels)
		if err != nil {
			rep.LiveError = err.Error()
		} else {
			rep.Live = &live
		}
	}
	return rep, nil
}

// loadHeatmap lays a run's shards out in at most cells cells, each showing
// the most urgent status of its shards (cellPrecedence), computed by the
// database.
func loadHeatmap(ctx context.Context, h store.Handler, kind Kind, id uint64, shards, cells int) (*Heatmap, error) {
	perCell := max(1, (shards+cells-1)/cells)
	hm := &Heatmap{Shards: shards, PerCell: perCell, Cells: make([]ShardStatus, (shards+perCell-1)/perCell)}
	order := make([]string, len(cellPrecedence))
	args := []any{perCell}
	for i, st := range cellPrecedence {
		order[i] = "?"
		args = append(args, st)
	}
	var rows []struct {
		Cell int `db:"cell"`
		Rank int `db:"rank"`
	}
	err := h.SelectContext(ctx, &rows, `SELECT shard_no DIV ? AS cell, MIN(FIELD(status, `+strings.Join(order, ",")+`)) AS `+"`rank`"+`
		FROM campaign_shard WHERE campaign_kind = ? AND campaign_id = ? GROUP BY cell`, append(args, kind, id)...)
	if err != nil {
		return nil, fmt.Errorf("%s %d: heatmap: %w", kind, id, store.MapError(err))
	}
	for _, r := range rows {
		if r.Cell >= 0 && r.Cell < len(hm.Cells) && r.Rank >= 1 && r.Rank <= len(cellPrecedence) {
			hm.Cells[r.Cell] = cellPrecedence[r.Rank-1]
		}
	}
	return hm, nil
}

// processedExpr estimates the members a shard's workers got through: all
// its expected members when done, else the share of its id range below the
// cursor (segment shards are id ranges too, so this is an estimate).
const processedExpr = `CASE
	WHEN status = 'done' THEN expected_members
	WHEN cursor_id >= start_id THEN expected_members * LEAST(cursor_id - start_id + 1, end_id - start_id) / (end_id - start_id)
	ELSE 0 END`

// ETA is the time left at rate members/s for the members not yet processed;
// nil when it cannot be told (no rate, nothing left).
func ETA(processed, expected int64, rate float64) *time.Duration {
	if rate <= 0 || processed >= expected {
		return nil
	}
	d := time.Duration(float64(expected-processed) / rate * float64(time.Second))
	return &d
}

// Worker is one pushd instance holding shards, from the shard leases.
type Worker struct {
	// Owner is the lease owner (host:pid:instance); empty for running
	// shards released by their worker and waiting to be republished.
	Owner string `db:"owner" json:"owner"`
	// Shards is the running shards it holds.
	Shards int `db:"shards" json:"shards"`
	// Expired is how many of them have a lease that ran out and that no
	// other worker took over (the owner is likely gone).
	Expired int `db:"expired" json:"expired_leases"`
}

// Workers lists the workers holding running shards of the given runs (every
// run when runs is empty), by owner.
func Workers(ctx context.Context, h store.Handler, runs ...Summary) ([]Worker, error) {
	q := `SELECT owner, COUNT(*) AS shards,
		COALESCE(SUM(lease_until IS NULL OR lease_until < CURRENT_TIMESTAMP(3)), 0) AS expired
		FROM campaign_shard WHERE status = 'running'`
	var args []any
	if len(runs) > 0 {
		var conds []string
		for _, r := range runs {
			conds = append(conds, "(campaign_kind = ? AND campaign_id = ?)")
			args = append(args, r.Kind, r.ID)
		}
		q += ` AND (` + strings.Join(conds, " OR ") + `)`
	}
	q += ` GROUP BY owner ORDER BY owner`
	var out []Worker
	if err := h.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("campaign: workers: %w", store.MapError(err))
	}
	return out, nil
}

// FailureSample is the most frequent failure reasons among a bounded sample
// of a run's failed deliveries.
type FailureSample struct {
	Reasons []FailureReason `json:"reasons"`
	// Sampled is how many failed deliveries were read (at most the sample
	// size asked for); fewer than the run's failures means a sample.
	Sampled int64 `json:"sampled"`
}

// SampleFailureReasons groups at most sample of run id's failed deliveries
// (the first by member id) by channel and reason and returns the top most
// frequent. Its cost is bounded by sample whatever the failures.
func SampleFailureReasons(ctx context.Context, h store.Handler, kind Kind, id uint64, sample, top int) (FailureSample, error) {
	if sample <= 0 {
		return FailureSample{}, errors.New("campaign: failure sample size must be positive")
	}
	rs, err := failureReasons(ctx, h, kind, id, sample, sample)
	var out FailureSample
	for _, r := range rs {
		out.Sampled += r.Count
	}
	out.Reasons = rs[:min(len(rs), max(top, 0))]
	return out, err
}
