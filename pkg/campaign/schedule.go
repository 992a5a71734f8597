package campaign

import (
	"context"
	"fmt"
	"time"

	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

// ScheduleStatus is where a scheduled push (a push_message_crontab row) is.
type ScheduleStatus string

// Scheduled push statuses.
const (
	SchedulePending   ScheduleStatus = "pending"   // waiting for run_at
	ScheduleRunning   ScheduleStatus = "running"   // claimed by a runner until lease_until
	ScheduleDone      ScheduleStatus = "done"      // the campaign was launched
	ScheduleCancelled ScheduleStatus = "cancelled" // the campaign was cancelled or paused first
	ScheduleFailed    ScheduleStatus = "failed"    // launching failed too many times
)

// ScheduledPush is a push_message_crontab row: launch a stored campaign at
// RunAt.
type ScheduledPush struct {
	ID         uint64         `db:"id" json:"id"`
	Kind       Kind           `db:"campaign_kind" json:"kind"`
	CampaignID uint64         `db:"campaign_id" json:"campaign_id"`
	RunAt      time.Time      `db:"run_at" json:"run_at"`
	Status     ScheduleStatus `db:"status" json:"status"`
	Attempts   int            `db:"attempts" json:"attempts"`
	Owner      string         `db:"owner" json:"owner,omitempty"`
	LeaseUntil *time.Time     `db:"lease_until" json:"lease_until,omitempty"`
	LastError  string         `db:"last_error" json:"last_error,omitempty"`
}

const scheduleColumns = `id, campaign_kind, campaign_id, run_at, status, attempts, owner, lease_until, last_error`

// Schedule records that the campaign must be launched at runAt. It is
// idempotent: the row is keyed by (kind, campaign, run_at), so a redelivered
// event adds nothing. It reports whether a row was created.
func Schedule(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, runAt time.Time, createdBy string) (bool, error) {
	res, err := h.ExecContext(ctx, `INSERT IGNORE INTO push_message_crontab (campaign_kind, campaign_id, run_at, created_by)
		VALUES (?, ?, ?, ?)`, kind, campaignID, runAt.UTC(), createdBy)
	if err != nil {
		return false, fmt.Errorf("campaign %d: schedule at %s: %w", campaignID, runAt.UTC().Format(time.RFC3339), store.MapError(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ListSchedules returns the scheduled pushes of a campaign, oldest first.
func ListSchedules(ctx context.Context, h store.Handler, kind Kind, campaignID uint64) ([]ScheduledPush, error) {
	var out []ScheduledPush
	if err := h.SelectContext(ctx, &out, `SELECT `+scheduleColumns+` FROM push_message_crontab
		WHERE campaign_kind = ? AND campaign_id = ? ORDER BY run_at, id`, kind, campaignID); err != nil {
		return nil, fmt.Errorf("campaign %d: list schedules: %w", campaignID, store.MapError(err))
	}
	return out, nil
}

// ClaimDueSchedules claims up to limit scheduled pushes of kind whose run_at
// has passed and that are pending, or running with an expired lease (their
// runner died), for owner until lease from now (database clock). The claim is
// one conditional UPDATE, so two runners never both hold a row. It returns
// the claimed rows. owner must be unique per claim call.
func ClaimDueSchedules(ctx context.Context, h store.Handler, kind Kind, owner string, lease time.Duration, limit int) ([]ScheduledPush, error) {
	_, err := h.ExecContext(ctx, `UPDATE push_message_crontab
		SET status = 'running', owner = ?, lease_until = CURRENT_TIMESTAMP(3) + INTERVAL ? MICROSECOND, attempts = attempts + 1
		WHERE campaign_kind = ? AND run_at <= CURRENT_TIMESTAMP(3)
		  AND (status = 'pending' OR (status = 'running' AND lease_until < CURRENT_TIMESTAMP(3)))
		ORDER BY run_at LIMIT ?`, owner, lease.Microseconds(), kind, limit)
	if err != nil {
		return nil, fmt.Errorf("campaign: claim due schedules: %w", store.MapError(err))
	}
	var out []ScheduledPush
	if err := h.SelectContext(ctx, &out, `SELECT `+scheduleColumns+` FROM push_message_crontab
		WHERE owner = ? AND status = 'running' ORDER BY run_at, id`, owner); err != nil {
		return nil, fmt.Errorf("campaign: read claimed schedules: %w", store.MapError(err))
	}
	return out, nil
}

// FinishSchedule settles a claimed scheduled push held by owner: to done,
// cancelled or failed (recording note as last_error), or back to a retry
// after retryIn when to is ScheduleRunning (the lease is moved to now +
// retryIn so another claim takes it then). It reports whether owner still
// held the row.
func FinishSchedule(ctx context.Context, h store.Handler, id uint64, owner string, to ScheduleStatus, note string, retryIn time.Duration) (bool, error) {
	var q string
	args := []any{}
	if to == ScheduleRunning {
		q = `UPDATE push_message_crontab SET lease_until = CURRENT_TIMESTAMP(3) + INTERVAL ? MICROSECOND, last_error = ?
			WHERE id = ? AND owner = ? AND status = 'running'`
		args = append(args, retryIn.Microseconds(), textlimit.BytesMarked(note, MaxErrorLen), id, owner)
	} else {
		q = `UPDATE push_message_crontab SET status = ?, last_error = ?, lease_until = NULL,
			triggered_at = IF(? = 'done', CURRENT_TIMESTAMP(3), triggered_at)
			WHERE id = ? AND owner = ? AND status = 'running'`
		args = append(args, to, textlimit.BytesMarked(note, MaxErrorLen), to, id, owner)
	}
	res, err := h.ExecContext(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("campaign: settle schedule %d as %s: %w", id, to, store.MapError(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// CancelSchedules cancels the pending scheduled pushes of a campaign and
// returns how many.
func CancelSchedules(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, note string) (int64, error) {
	res, err := h.ExecContext(ctx, `UPDATE push_message_crontab SET status = 'cancelled', last_error = ?, lease_until = NULL
		WHERE campaign_kind = ? AND campaign_id = ? AND status = 'pending'`, textlimit.BytesMarked(note, MaxErrorLen), kind, campaignID)
	if err != nil {
		return 0, fmt.Errorf("campaign %d: cancel schedules: %w", campaignID, store.MapError(err))
	}
	return res.RowsAffected()
}
