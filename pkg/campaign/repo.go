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
		reqID, strings.TrimSpace(s.Name), s.Offer, s.ThresholdCents, s.DiscountCents, s.PercentOff,
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
	Limit  int    // default store.DefaultListLimit, at most store.MaxListLimit
}

// List returns campaigns, newest first.
func List(ctx context.Context, h store.Handler, o ListOptions) ([]Campaign, error) {
	limit := store.ListLimit(o.Limit, store.DefaultListLimit)
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
// completed campaign). It is KindPromotion.Transition.
func Transition(ctx context.Context, h store.Handler, id uint64, from []Status, to Status, reason string) error {
	return KindPromotion.Transition(ctx, h, id, from, to, reason)
}

// SetPlanned records the planner's result and moves planning → running
// (KindPromotion.SetPlanned).
func SetPlanned(ctx context.Context, h store.Handler, id uint64, members int64, shards int) error {
	return KindPromotion.SetPlanned(ctx, h, id, members, shards)
}

// CompleteIfDone moves a running campaign to completed when none of its
// shards is unfinished, and reports whether it did
// (KindPromotion.CompleteIfDone).
func CompleteIfDone(ctx context.Context, h store.Handler, id uint64) (bool, error) {
	return KindPromotion.CompleteIfDone(ctx, h, id)
}

// Stale lists, oldest first, campaigns stuck before running for longer than
// age: created with their start time passed (or none) and created more than
// age ago (their event was dead-lettered), or planning with no update for
// age (their planner gave up) (KindPromotion.Stale).
func Stale(ctx context.Context, h store.Handler, age time.Duration, limit int) ([]uint64, error) {
	return KindPromotion.Stale(ctx, h, age, limit)
}
