package campaign

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

// Runs. The push pipeline drives campaigns of three kinds through one status
// machine (created → planning → running → completed, with paused, cancelled
// and failed): promotions, whose status is sales_promotion.status;
// push-mode coupons, whose push run's status is
// sales_promotion_coupon.push_status (the coupon's own status, active or
// disabled, is another matter); and hot-goods runs (hot_goods_run.status,
// pkg/hotgoods). The methods of Kind below are the kind-aware forms
// of Transition, LockStatus, SetPlanned, CompleteIfDone and Stale; the
// planner, the workers, the reaper and Control use them, so one code path
// serves every kind.
//
// A coupon row has no status reason, planned_at or finished_at column: a
// coupon run's reasons are logged only, and it counts as planned once the
// planner recorded shards (planned_shards > 0) or it ran.

// PipelineKinds are the kinds of campaign the push pipeline drives — plans,
// fans out, reaps, controls and reports — in display order.
func PipelineKinds() []Kind { return []Kind{KindPromotion, KindCoupon, KindHotGoods} }

// ErrUnsupportedKind is returned for a campaign kind the push pipeline does
// not drive.
var ErrUnsupportedKind = errors.New("campaign: kind not driven by the push pipeline")

// runTable says where a kind keeps its run.
type runTable struct {
	table    string // the kind's table
	status   string // its run status column
	reason   string // status reason column, "" = none
	finished string // finished_at column, "" = none
	// plannedAt is the planned_at column to stamp, "" = none.
	plannedAt string
	// planned is an SQL condition on the row: it was planned.
	planned string
	// start is the column (or expression) of the earliest push time, NULL =
	// at once.
	start string
	// end is the column (or expression) of the time after which the run can
	// no longer be planned, NULL = none.
	end string
	// only restricts the rows that are runs ("" = every row).
	only string
}

func (k Kind) runs() (runTable, error) {
	switch k {
	case KindPromotion:
		return runTable{table: "sales_promotion", status: "status", reason: "status_reason", finished: "finished_at",
			plannedAt: "planned_at", planned: "planned_at IS NOT NULL", start: "start_at", end: "NULL"}, nil
	case KindHotGoods:
		return runTable{table: "hot_goods_run", status: "status", reason: "status_reason", finished: "finished_at",
			plannedAt: "planned_at", planned: "planned_at IS NOT NULL", start: "NULL", end: "NULL"}, nil
	case KindCoupon:
		return runTable{table: "sales_promotion_coupon", status: "push_status",
			planned: "(planned_shards > 0 OR push_status IN ('running','completed'))",
			start:   "valid_from", end: "valid_until", only: "issue_mode = 'push'"}, nil
	}
	return runTable{}, fmt.Errorf("%w: %q", ErrUnsupportedKind, k)
}

// where returns "cond AND <only>" (or cond alone).
func (t runTable) where(cond string) string {
	if t.only == "" {
		return cond
	}
	return cond + " AND " + t.only
}

// Run is the push pipeline's view of a campaign of any kind: its status and
// what planning needs, whatever the table it lives in.
type Run struct {
	Kind      Kind    `db:"-" json:"kind"`
	ID        uint64  `db:"id" json:"id"`
	RequestID *string `db:"request_id" json:"request_id,omitempty"`
	// Status is the run's status (a coupon's push_status).
	Status Status `db:"status" json:"status"`
	// Planned is true once the planner recorded its plan.
	Planned        bool  `db:"planned" json:"planned"`
	PlannedMembers int64 `db:"planned_members" json:"planned_members"`
	PlannedShards  int   `db:"planned_shards" json:"planned_shards"`
	ShardSize      int   `db:"shard_size" json:"shard_size"`
	// StartAt is the earliest push time (a promotion's start_at, a coupon's
	// valid_from); nil = at once.
	StartAt *time.Time `db:"start_at" json:"start_at,omitempty"`
	// EndAt is when the run can no longer be planned (a coupon's window
	// end); nil = never.
	EndAt       *time.Time `db:"end_at" json:"end_at,omitempty"`
	CreatedBy   string     `db:"created_by" json:"created_by,omitempty"`
	UpdatedAt   time.Time  `db:"updated_at" json:"updated_at"`
	AudienceRaw []byte     `db:"audience" json:"-"`
	// Audience is decoded from AudienceRaw.
	Audience audience.Segment `db:"-" json:"audience"`
}

// Run returns the campaign's run view.
func (c *Campaign) Run() *Run {
	return &Run{
		Kind: KindPromotion, ID: c.ID, RequestID: c.RequestID, Status: c.Status, Planned: c.PlannedAt != nil,
		PlannedMembers: c.PlannedMembers, PlannedShards: c.PlannedShards, ShardSize: c.ShardSize,
		StartAt: c.StartAt, CreatedBy: c.CreatedBy, UpdatedAt: c.UpdatedAt, AudienceRaw: c.AudienceRaw, Audience: c.Audience,
	}
}

// GetRun loads the run of campaign id of kind k; ErrNotFound if there is
// none (for coupons: no push-mode coupon with that id).
func (k Kind) GetRun(ctx context.Context, h store.Handler, id uint64) (*Run, error) {
	return k.getRun(ctx, h, "id = ?", id)
}

// GetRunByRequestID loads the run of kind k created with requestID.
func (k Kind) GetRunByRequestID(ctx context.Context, h store.Handler, requestID string) (*Run, error) {
	return k.getRun(ctx, h, "request_id = ?", requestID)
}

func (k Kind) getRun(ctx context.Context, h store.Handler, where string, arg any) (*Run, error) {
	t, err := k.runs()
	if err != nil {
		return nil, err
	}
	var r Run
	err = h.GetContext(ctx, &r, `SELECT id, request_id, `+t.status+` AS status, `+t.planned+` AS planned,
		planned_members, planned_shards, shard_size, `+t.start+` AS start_at, `+t.end+` AS end_at, created_by, updated_at, audience
		FROM `+t.table+` WHERE `+t.where(where), arg)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s %v", ErrNotFound, k, arg)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: load %s %v: %w", k, arg, store.MapError(err))
	}
	r.Kind = k
	if r.Audience, err = audience.Parse(r.AudienceRaw); err != nil {
		return nil, fmt.Errorf("%s %d: stored audience: %w", k, r.ID, err)
	}
	return &r, nil
}

// ReadStatus returns the status of run id of kind k; ErrNotFound if none.
func (k Kind) ReadStatus(ctx context.Context, h store.Handler, id uint64) (Status, error) {
	return k.readStatus(ctx, h, id, false)
}

// LockStatus reads run id's status with a row lock (SELECT … FOR UPDATE);
// use it inside a transaction to serialise with status changes.
func (k Kind) LockStatus(ctx context.Context, tx store.Handler, id uint64) (Status, error) {
	return k.readStatus(ctx, tx, id, true)
}

func (k Kind) readStatus(ctx context.Context, h store.Handler, id uint64, lock bool) (Status, error) {
	t, err := k.runs()
	if err != nil {
		return "", err
	}
	q := `SELECT ` + t.status + ` FROM ` + t.table + ` WHERE ` + t.where("id = ?")
	if lock {
		q += ` FOR UPDATE`
	}
	var st Status
	err = h.GetContext(ctx, &st, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: %s %d", ErrNotFound, k, id)
	}
	if err != nil {
		return "", fmt.Errorf("%s %d: read status: %w", k, id, store.MapError(err))
	}
	return st, nil
}

// Transition moves run id of kind k to status to if its current status is
// one of from, recording reason where the kind keeps one; otherwise it
// returns ErrConflict naming the current status (or ErrNotFound). Moving to
// the status it already has is a no-op.
func (k Kind) Transition(ctx context.Context, h store.Handler, id uint64, from []Status, to Status, reason string) error {
	t, err := k.runs()
	if err != nil {
		return err
	}
	if len(from) == 0 {
		return fmt.Errorf("%s %d: transition to %s without a from status", k, id, to)
	}
	set := t.status + ` = ?`
	args := []any{to}
	if t.reason != "" {
		set += `, ` + t.reason + ` = ?`
		args = append(args, textlimit.BytesMarked(reason, 255))
	}
	if t.finished != "" {
		set += `, ` + t.finished + ` = IF(? IN ('cancelled','completed','failed'), CURRENT_TIMESTAMP(3), NULL)`
		args = append(args, to)
	}
	for _, f := range from {
		args = append(args, f)
	}
	args = append(args, id)
	res, err := h.ExecContext(ctx, `UPDATE `+t.table+` SET `+set+`
		WHERE `+t.status+` IN (?`+strings.Repeat(",?", len(from)-1)+`) AND `+t.where("id = ?"), args...)
	if err != nil {
		return fmt.Errorf("%s %d: set %s: %w", k, id, to, store.MapError(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	cur, err := k.ReadStatus(ctx, h, id)
	if err != nil {
		return err
	}
	if cur == to {
		return nil // already there: idempotent
	}
	return fmt.Errorf("%w: %s %d is %s, cannot become %s", ErrConflict, k, id, cur, to)
}

// SetPlanned records the planner's result on run id and moves planning →
// running.
func (k Kind) SetPlanned(ctx context.Context, h store.Handler, id uint64, members int64, shards int) error {
	t, err := k.runs()
	if err != nil {
		return err
	}
	set := `planned_members = ?, planned_shards = ?, ` + t.status + ` = IF(` + t.status + ` = 'planning', 'running', ` + t.status + `)`
	if t.plannedAt != "" {
		set += `, ` + t.plannedAt + ` = COALESCE(` + t.plannedAt + `, CURRENT_TIMESTAMP(3))`
	}
	if _, err := h.ExecContext(ctx, `UPDATE `+t.table+` SET `+set+` WHERE id = ?`, members, shards, id); err != nil {
		return fmt.Errorf("%s %d: record plan: %w", k, id, store.MapError(err))
	}
	return nil
}

// CompleteIfDone moves running run id to completed when it was planned and
// none of its shards is unfinished, and reports whether it did.
func (k Kind) CompleteIfDone(ctx context.Context, h store.Handler, id uint64) (bool, error) {
	t, err := k.runs()
	if err != nil {
		return false, err
	}
	set := `p.` + t.status + ` = 'completed'`
	if t.finished != "" {
		set += `, p.` + t.finished + ` = CURRENT_TIMESTAMP(3)`
	}
	res, err := h.ExecContext(ctx, `UPDATE `+t.table+` p SET `+set+`
		WHERE p.id = ? AND p.`+t.status+` = 'running' AND `+t.planned+` AND NOT EXISTS (
			SELECT 1 FROM campaign_shard s WHERE s.campaign_kind = ? AND s.campaign_id = p.id
			AND s.status IN ('pending','running','paused'))`, id, k)
	if err != nil {
		return false, fmt.Errorf("%s %d: complete: %w", k, id, store.MapError(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// Stale lists, oldest first, runs of kind k stuck before running for
// longer than age: created with their start time passed (or none) and
// created more than age ago (their event was dead-lettered), or planning
// with no update for age (their planner gave up).
func (k Kind) Stale(ctx context.Context, h store.Handler, age time.Duration, limit int) ([]uint64, error) {
	t, err := k.runs()
	if err != nil {
		return nil, err
	}
	var ids []uint64
	err = h.SelectContext(ctx, &ids, `SELECT id FROM `+t.table+`
		WHERE `+t.where(`((`+t.status+` = 'created' AND (`+t.start+` IS NULL OR `+t.start+` <= CURRENT_TIMESTAMP(3))
		       AND created_at < CURRENT_TIMESTAMP(3) - INTERVAL ? MICROSECOND)
		   OR (`+t.status+` = 'planning' AND updated_at < CURRENT_TIMESTAMP(3) - INTERVAL ? MICROSECOND))`)+`
		ORDER BY id LIMIT ?`, age.Microseconds(), age.Microseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("campaign: stale %s runs: %w", k, store.MapError(err))
	}
	return ids, nil
}
