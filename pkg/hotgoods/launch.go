package hotgoods

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/provider"
	"mkt/pkg/store"
)

// MaxShardTotal bounds --shard-total.
const MaxShardTotal = 1024

// ShardOf is the launch shard a row belongs to among total: CRC-32 (IEEE) of
// the row id written in decimal, modulo total — MySQL's CRC32(id) % total —
// so total launches with indexes 0..total-1 take every row exactly once.
func ShardOf(rowID uint64, total int) int {
	return int(crc32.ChecksumIEEE([]byte(strconv.FormatUint(rowID, 10))) % uint32(total))
}

// Run is a hot_goods_run: the launch of some of a day's rows, a campaign of
// kind hot_goods.
type Run struct {
	ID             uint64     `db:"id" json:"id"`
	RequestID      *string    `db:"request_id" json:"request_id,omitempty"`
	Name           string     `db:"name" json:"name"`
	RunDate        time.Time  `db:"run_date" json:"-"`
	Date           string     `db:"-" json:"date"`
	ShardIndex     int        `db:"shard_index" json:"shard_index"`
	ShardTotal     int        `db:"shard_total" json:"shard_total"`
	ChannelsRaw    string     `db:"channels" json:"-"`
	Status         string     `db:"status" json:"status"`
	StatusReason   string     `db:"status_reason" json:"status_reason,omitempty"`
	ShardSize      int        `db:"shard_size" json:"shard_size"`
	PlannedMembers int64      `db:"planned_members" json:"planned_members"`
	PlannedShards  int        `db:"planned_shards" json:"planned_shards"`
	CreatedBy      string     `db:"created_by" json:"created_by,omitempty"`
	PlannedAt      *time.Time `db:"planned_at" json:"planned_at,omitempty"`
	FinishedAt     *time.Time `db:"finished_at" json:"finished_at,omitempty"`
	CreatedAt      time.Time  `db:"created_at" json:"created_at"`
}

const runColumns = `id, request_id, name, run_date, shard_index, shard_total, channels, status, status_reason, shard_size,
	planned_members, planned_shards, created_by, planned_at, finished_at, created_at`

// GetRun loads a run.
func GetRun(ctx context.Context, h store.Handler, id uint64) (*Run, error) {
	var r Run
	err := h.GetContext(ctx, &r, `SELECT `+runColumns+` FROM hot_goods_run WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: run %d", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("hotgoods: load run %d: %w", id, store.MapError(err))
	}
	r.Date = r.RunDate.Format(time.DateOnly)
	return &r, nil
}

// LaunchOptions says which of a day's rows to launch.
type LaunchOptions struct {
	Date time.Time
	// ShardIndex and ShardTotal take the rows with ShardOf(id, total) ==
	// index; 0 and 1 (or 0 and 0) take them all.
	ShardIndex, ShardTotal int
	// ShardSize is the members per shard of the run (default 1000).
	ShardSize int
	// CreatedBy names the operator or scheduler.
	CreatedBy string
	// RequestID is the launch's idempotency key (default: random).
	RequestID string
}

// Validate checks the options.
func (o LaunchOptions) Validate() error {
	var problems []string
	if o.Date.IsZero() {
		problems = append(problems, "a date is required")
	}
	if o.ShardTotal < 0 || o.ShardTotal > MaxShardTotal {
		problems = append(problems, fmt.Sprintf("shard total %d: want 1..%d", o.ShardTotal, MaxShardTotal))
	} else if o.ShardIndex < 0 || o.ShardIndex >= max(o.ShardTotal, 1) {
		problems = append(problems, fmt.Sprintf("shard index %d: want 0..%d", o.ShardIndex, max(o.ShardTotal, 1)-1))
	}
	if err := audience.CheckShardSize(o.ShardSize); o.ShardSize != 0 && err != nil {
		problems = append(problems, err.Error())
	}
	if len(o.CreatedBy) > campaign.MaxCreatedByLen {
		problems = append(problems, fmt.Sprintf("created-by is longer than %d characters", campaign.MaxCreatedByLen))
	}
	if o.RequestID != "" {
		if p := campaign.RequestIDProblem(o.RequestID); p != "" {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// LaunchResult says what a launch did.
type LaunchResult struct {
	Date       string `json:"date"`
	ShardIndex int    `json:"shard_index"`
	ShardTotal int    `json:"shard_total"`
	// Run is the run launched; nil when no pending row was assigned.
	Run *Run `json:"run,omitempty"`
	// Taken are the rows this launch took, Skipped the assigned rows an
	// earlier launch already took.
	Taken   []Row `json:"taken"`
	Skipped []Row `json:"skipped"`
}

// Launch takes the day's pending rows assigned to o's shard and launches
// them as one hot_goods run: in one database transaction, the run is stored
// and the rows marked as its own — only rows no other launch took, under a
// row lock — atomically with the run's created event (a RocketMQ
// transactional message through cr). A second launch, an overlapping
// assignment, two nodes given the same index or a retry after a crash find
// the rows taken and launch nothing for them.
func Launch(ctx context.Context, db *store.DB, cr campaign.Creator, o LaunchOptions) (LaunchResult, error) {
	total := max(o.ShardTotal, 1)
	res := LaunchResult{Date: o.Date.Format(time.DateOnly), ShardIndex: o.ShardIndex, ShardTotal: total,
		Taken: []Row{}, Skipped: []Row{}}
	if err := o.Validate(); err != nil {
		return res, err
	}
	assigned := func(ctx context.Context, h store.Handler, lock bool) ([]Row, error) {
		rows, err := dayRows(ctx, h, o.Date, lock)
		if err != nil {
			return nil, err
		}
		return slices.DeleteFunc(rows, func(r Row) bool { return ShardOf(r.ID, total) != o.ShardIndex }), nil
	}
	rows, err := assigned(ctx, db, false)
	if err != nil {
		return res, err
	}
	pending := 0
	for _, r := range rows {
		if !r.Launched() {
			pending++
		}
	}
	if pending == 0 {
		res.Skipped = rows
		return res, nil
	}
	requestID := o.RequestID
	if requestID == "" {
		requestID = campaign.NewRequestID("hotgoods")
	}
	var runID uint64
	err = cr.Announce(ctx, campaign.KindHotGoods, requestID, func(ctx context.Context) error {
		return db.InTx(ctx, func(tx store.Handler) error {
			rows, err := assigned(ctx, tx, true)
			if err != nil {
				return err
			}
			var take []Row
			for _, r := range rows {
				if !r.Launched() {
					take = append(take, r)
				}
			}
			if len(take) == 0 {
				return fmt.Errorf("%w: every assigned row was launched meanwhile", campaign.ErrNothingToAnnounce)
			}
			chans := map[provider.Channel]bool{}
			for _, r := range take {
				for _, c := range r.Channels {
					chans[c] = true
				}
			}
			var names []string
			for _, c := range provider.Channels() {
				if chans[c] {
					names = append(names, string(c))
				}
			}
			name := fmt.Sprintf("hot goods %s: %d segment rows", res.Date, len(take))
			if total > 1 {
				name += fmt.Sprintf(" (shard %d of %d)", o.ShardIndex, total)
			}
			ins, err := tx.ExecContext(ctx, `INSERT INTO hot_goods_run (request_id, name, run_date, shard_index, shard_total,
				channels, audience, shard_size, created_by) VALUES (?, ?, ?, ?, ?, ?, '{}', ?, ?)`,
				requestID, name, res.Date, o.ShardIndex, total, strings.Join(names, ","),
				cmp.Or(o.ShardSize, audience.DefaultShardSize), o.CreatedBy)
			if err != nil {
				return fmt.Errorf("hotgoods: insert run: %w", store.MapError(err))
			}
			id, err := ins.LastInsertId()
			if err != nil {
				return fmt.Errorf("hotgoods: run id: %w", err)
			}
			runID = uint64(id)
			args := []any{runID}
			for _, r := range take {
				args = append(args, r.ID)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE hot_goods_crontab SET run_id = ?, status = 'running'
				WHERE run_id IS NULL AND id IN (?`+strings.Repeat(",?", len(take)-1)+`)`, args...); err != nil {
				return fmt.Errorf("hotgoods: take rows: %w", store.MapError(err))
			}
			return nil
		})
	})
	switch {
	case errors.Is(err, campaign.ErrNothingToAnnounce):
	case err != nil:
		return res, err
	}
	if rows, err = assigned(ctx, db, false); err != nil {
		return res, err
	}
	for _, r := range rows {
		if runID != 0 && r.RunID != nil && *r.RunID == runID {
			res.Taken = append(res.Taken, r)
		} else {
			res.Skipped = append(res.Skipped, r)
		}
	}
	if runID != 0 {
		if res.Run, err = GetRun(ctx, db, runID); err != nil {
			return res, err
		}
	}
	return res, nil
}

// RunRows loads the rows a run launched.
func RunRows(ctx context.Context, h store.Handler, runID uint64) ([]Row, error) {
	var out []Row
	if err := h.SelectContext(ctx, &out, `SELECT `+rowColumns+` FROM hot_goods_crontab WHERE run_id = ? ORDER BY id`, runID); err != nil {
		return nil, fmt.Errorf("hotgoods: rows of run %d: %w", runID, store.MapError(err))
	}
	for i := range out {
		if err := out[i].decode(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ListRuns returns the runs of a day, oldest first.
func ListRuns(ctx context.Context, h store.Handler, date time.Time) ([]Run, error) {
	var out []Run
	if err := h.SelectContext(ctx, &out, `SELECT `+runColumns+` FROM hot_goods_run WHERE run_date = ? ORDER BY id`,
		date.Format(time.DateOnly)); err != nil {
		return nil, fmt.Errorf("hotgoods: runs of %s: %w", date.Format(time.DateOnly), store.MapError(err))
	}
	for i := range out {
		out[i].Date = out[i].RunDate.Format(time.DateOnly)
	}
	return out, nil
}
