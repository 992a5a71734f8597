package campaign

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"mkt/pkg/store"
)

const campaignColumns = `id, request_id, name, kind, threshold_cents, discount_cents, percent_off,
	gift_text, message_template, channels, audience, status, status_reason, shard_size,
	planned_members, planned_shards, start_at, created_by, planned_at, finished_at, created_at, updated_at`

// Insert stores a validated spec as a new campaign in status created and
// returns its id. requestID is the client's idempotency key (may be empty);
// a second Insert with the same key fails with store.ErrDuplicate.
func Insert(ctx context.Context, h store.Handler, s Spec, requestID string) (uint64, error) {
	channels := make([]string, len(s.Channels))
	for i, c := range s.Channels {
		channels[i] = string(c)
	}
	var reqID *string
	if requestID != "" {
		reqID = &requestID
	}
	var startAt *time.Time
	if s.StartAt != nil {
		t := s.StartAt.UTC()
		startAt = &t
	}
	res, err := h.ExecContext(ctx, `INSERT INTO sales_promotion
		(request_id, name, kind, threshold_cents, discount_cents, percent_off, gift_text,
		 message_template, channels, audience, status, shard_size, start_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'created', ?, ?, ?)`,
		reqID, strings.TrimSpace(s.Name), s.Kind, s.ThresholdCents, s.DiscountCents, s.PercentOff,
		strings.TrimSpace(s.GiftText), strings.TrimSpace(s.Template), strings.Join(channels, ","),
		string(s.Audience.JSON()), s.ShardSize, startAt, s.CreatedBy)
	if err != nil {
		return 0, fmt.Errorf("campaign: insert %q: %w", s.Name, store.MapError(err))
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("campaign: insert id: %w", err)
	}
	return uint64(id), nil
}

// Get loads a campaign by id; ErrNotFound if there is none.
func Get(ctx context.Context, h store.Handler, id uint64) (*Campaign, error) {
	return getWhere(ctx, h, "id = ?", id)
}

// GetByRequestID loads a campaign by its creation request id.
func GetByRequestID(ctx context.Context, h store.Handler, requestID string) (*Campaign, error) {
	return getWhere(ctx, h, "request_id = ?", requestID)
}

func getWhere(ctx context.Context, h store.Handler, where string, arg any) (*Campaign, error) {
	var c Campaign
	err := h.GetContext(ctx, &c, `SELECT `+campaignColumns+` FROM sales_promotion WHERE `+where, arg)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, arg)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign: load %v: %w", arg, store.MapError(err))
	}
	if err := c.decode(); err != nil {
		return nil, err
	}
	return &c, nil
}

// ListOptions filters List.
type ListOptions struct {
	Status Status // empty = any
	Limit  int    // default 50, at most 1000
}

// List returns campaigns, newest first.
func List(ctx context.Context, h store.Handler, o ListOptions) ([]Campaign, error) {
	limit := o.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	q := `SELECT ` + campaignColumns + ` FROM sales_promotion`
	var args []any
	if o.Status != "" {
		q += ` WHERE status = ?`
		args = append(args, o.Status)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	var out []Campaign
	if err := h.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("campaign: list: %w", store.MapError(err))
	}
	for i := range out {
		if err := out[i].decode(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Transition moves a campaign to status to if its current status is one of
// from, recording reason; otherwise it returns ErrConflict naming the
// current status (or ErrNotFound). Every status change is this conditional
// update, so two operators or processes cannot both win. finished_at is set
// when to is a finished status and cleared otherwise (retry-failed reopens a
// completed campaign).
func Transition(ctx context.Context, h store.Handler, id uint64, from []Status, to Status, reason string) error {
	if len(from) == 0 {
		return fmt.Errorf("campaign: transition to %s without a from status", to)
	}
	args := []any{to, truncateReason(reason), to}
	for _, f := range from {
		args = append(args, f)
	}
	args = append(args, id)
	res, err := h.ExecContext(ctx, `UPDATE sales_promotion SET status = ?, status_reason = ?,
		finished_at = IF(? IN ('cancelled','completed','failed'), CURRENT_TIMESTAMP(3), NULL)
		WHERE status IN (?`+strings.Repeat(",?", len(from)-1)+`) AND id = ?`, args...)
	if err != nil {
		return fmt.Errorf("campaign %d: set %s: %w", id, to, store.MapError(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var cur Status
	if err := h.GetContext(ctx, &cur, `SELECT status FROM sales_promotion WHERE id = ?`, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %d", ErrNotFound, id)
		}
		return fmt.Errorf("campaign %d: read status: %w", id, store.MapError(err))
	}
	if cur == to {
		return nil // already there: idempotent
	}
	return fmt.Errorf("%w: campaign %d is %s, cannot become %s", ErrConflict, id, cur, to)
}

// SetPlanned records the planner's result and moves planning → running.
func SetPlanned(ctx context.Context, h store.Handler, id uint64, members int64, shards int) error {
	_, err := h.ExecContext(ctx, `UPDATE sales_promotion SET planned_members = ?, planned_shards = ?,
		planned_at = COALESCE(planned_at, CURRENT_TIMESTAMP(3)),
		status = IF(status = 'planning', 'running', status)
		WHERE id = ?`, members, shards, id)
	if err != nil {
		return fmt.Errorf("campaign %d: record plan: %w", id, store.MapError(err))
	}
	return nil
}

// CompleteIfDone moves a running campaign to completed when none of its
// shards is unfinished, and reports whether it did.
func CompleteIfDone(ctx context.Context, h store.Handler, id uint64) (bool, error) {
	res, err := h.ExecContext(ctx, `UPDATE sales_promotion p SET p.status = 'completed', p.finished_at = CURRENT_TIMESTAMP(3)
		WHERE p.id = ? AND p.status = 'running' AND p.planned_at IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM campaign_shard s WHERE s.campaign_kind = 'promotion' AND s.campaign_id = p.id
			AND s.status IN ('pending','running','paused'))`, id)
	if err != nil {
		return false, fmt.Errorf("campaign %d: complete: %w", id, store.MapError(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func truncateReason(s string) string { return truncate(s, 255) }

// LockStatus reads a campaign's status with a row lock (SELECT … FOR
// UPDATE); use it inside a transaction to serialise with status changes.
func LockStatus(ctx context.Context, tx store.Handler, id uint64) (Status, error) {
	var st Status
	err := tx.GetContext(ctx, &st, `SELECT status FROM sales_promotion WHERE id = ? FOR UPDATE`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return "", fmt.Errorf("campaign %d: lock status: %w", id, store.MapError(err))
	}
	return st, nil
}

// Stale lists, oldest first, campaigns stuck before running for longer than
// age: created with their start time passed (or none) and created more than
// age ago (their event was dead-lettered), or planning with no update for
// age (their planner gave up).
func Stale(ctx context.Context, h store.Handler, age time.Duration, limit int) ([]uint64, error) {
	var ids []uint64
	err := h.SelectContext(ctx, &ids, `SELECT id FROM sales_promotion
		WHERE (status = 'created' AND (start_at IS NULL OR start_at <= CURRENT_TIMESTAMP(3))
		       AND created_at < CURRENT_TIMESTAMP(3) - INTERVAL ? MICROSECOND)
		   OR (status = 'planning' AND updated_at < CURRENT_TIMESTAMP(3) - INTERVAL ? MICROSECOND)
		ORDER BY id LIMIT ?`, age.Microseconds(), age.Microseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("campaign: stale campaigns: %w", store.MapError(err))
	}
	return ids, nil
}
