package coupon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/store"
)

const couponColumns = `id, request_id, name, kind, amount_cents, threshold_cents, percent_off, cap_cents,
	validity_kind, valid_from, valid_until, valid_days, total_quota, issued_count, per_member_limit,
	audience, issue_mode, status, message_template, channels, push_status, shard_size, planned_members,
	planned_shards, created_by, created_at, updated_at`

const itemColumns = `id, coupon_id, member_id, seq, status, order_id, valid_from, valid_until,
	issued_at, claimed_at, locked_at, redeemed_at, updated_at`

// CheckRequestID validates a creation request id: 1..64 characters from
// letters, digits and "_.:-" (the rule campaigns follow too).
func CheckRequestID(id string) error {
	if p := campaign.RequestIDProblem(id); p != "" {
		return fmt.Errorf("%w: %s", ErrInvalid, p)
	}
	return nil
}

// NewRequestID returns a random request id with the given prefix.
func NewRequestID(prefix string) string { return campaign.NewRequestID(prefix) }

// Insert stores a validated spec as an active coupon and returns its id.
// requestID may be empty (no idempotency key); a duplicate one fails with
// store.ErrDuplicate.
func Insert(ctx context.Context, h store.Handler, s Spec, requestID string) (int64, error) {
	s = s.WithDefaults()
	var rid, tmpl any
	if requestID != "" {
		rid = requestID
	}
	pushStatus := PushNone
	if s.Mode == ModePush {
		tmpl = s.Template
		pushStatus = campaign.StatusCreated
	}
	channels := make([]string, len(s.Channels))
	for i, c := range s.Channels {
		channels[i] = string(c)
	}
	res, err := h.ExecContext(ctx, `INSERT INTO sales_promotion_coupon
		(request_id, name, kind, amount_cents, threshold_cents, percent_off, cap_cents, validity_kind,
		 valid_from, valid_until, valid_days, total_quota, per_member_limit, audience, issue_mode,
		 status, message_template, channels, push_status, shard_size, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)`,
		rid, s.Name, s.Kind, s.AmountCents, s.ThresholdCents, s.PercentOff, s.CapCents, s.Validity,
		s.ValidFrom, s.ValidUntil, s.ValidDays, s.TotalQuota, s.PerMemberLimit, string(s.Audience.JSON()), s.Mode,
		tmpl, strings.Join(channels, ","), pushStatus, s.ShardSize, s.CreatedBy)
	if err != nil {
		return 0, fmt.Errorf("coupon: insert %q: %w", s.Name, store.MapError(err))
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("coupon: insert %q: read its id: %w", s.Name, err)
	}
	return id, nil
}

// Get loads coupon id; ErrNotFound if there is none.
func Get(ctx context.Context, h store.Handler, id int64) (*Coupon, error) {
	return getOne(ctx, h, `SELECT `+couponColumns+` FROM sales_promotion_coupon WHERE id = ?`, id)
}

// GetByRequestID loads the coupon created with requestID; ErrNotFound if none.
func GetByRequestID(ctx context.Context, h store.Handler, requestID string) (*Coupon, error) {
	return getOne(ctx, h, `SELECT `+couponColumns+` FROM sales_promotion_coupon WHERE request_id = ?`, requestID)
}

func getOne(ctx context.Context, h store.Handler, q string, arg any) (*Coupon, error) {
	var c Coupon
	if err := h.GetContext(ctx, &c, q, arg); err != nil {
		err = store.MapError(err)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: coupon %v", ErrNotFound, arg)
		}
		return nil, fmt.Errorf("coupon: load %v: %w", arg, err)
	}
	if err := c.decode(); err != nil {
		return nil, err
	}
	return &c, nil
}

// ListOptions filters List.
type ListOptions struct {
	// Status keeps coupons with this status; empty = all.
	Status Status
	// Mode keeps coupons with this issue mode; empty = all.
	Mode IssueMode
	// BeforeID pages backwards: only ids below it (0 = from the newest).
	BeforeID int64
	// Limit bounds the result; default store.DefaultListLimit, at most
	// store.MaxListLimit.
	Limit int
}

// List returns coupons, newest first.
func List(ctx context.Context, h store.Handler, o ListOptions) ([]Coupon, error) {
	limit := store.ListLimit(o.Limit, store.DefaultListLimit)
	var conds []string
	var args []any
	if o.Status != "" {
		conds = append(conds, "status = ?")
		args = append(args, o.Status)
	}
	if o.Mode != "" {
		conds = append(conds, "issue_mode = ?")
		args = append(args, o.Mode)
	}
	if o.BeforeID > 0 {
		conds = append(conds, "id < ?")
		args = append(args, o.BeforeID)
	}
	q := `SELECT ` + couponColumns + ` FROM sales_promotion_coupon`
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	return selectCoupons(ctx, h, q, args...)
}

// ListIssuable returns the active coupons of mode whose window has not ended
// at now (it may not have started yet), oldest first.
func ListIssuable(ctx context.Context, h store.Handler, mode IssueMode, now time.Time) ([]Coupon, error) {
	return selectCoupons(ctx, h, `SELECT `+couponColumns+` FROM sales_promotion_coupon
		WHERE status = 'active' AND issue_mode = ? AND valid_until > ? ORDER BY id`, mode, now.UTC())
}

func selectCoupons(ctx context.Context, h store.Handler, q string, args ...any) ([]Coupon, error) {
	var out []Coupon
	if err := h.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("coupon: list coupons: %w", store.MapError(err))
	}
	for i := range out {
		if err := out[i].decode(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SetStatus moves coupon id to status (active or disabled) and reports
// whether it changed; ErrNotFound if there is no such coupon. Disabling a
// push-mode coupon also cancels its push run: in the same statement its
// unfinished push_status becomes cancelled, then its pending and paused
// shards and its pending scheduled launch are cancelled (workers stop the
// shards they hold at their next page, and every issuance re-checks the
// status anyway). Enabling it again does not restart a cancelled push.
func SetStatus(ctx context.Context, h store.Handler, id int64, status Status) (bool, error) {
	if status != StatusActive && status != StatusDisabled {
		return false, fmt.Errorf("%w: status %q", ErrInvalid, status)
	}
	res, err := h.ExecContext(ctx, `UPDATE sales_promotion_coupon SET status = ?,
		push_status = IF(? = 'disabled' AND push_status IN ('created','planning','running','paused'), 'cancelled', push_status)
		WHERE id = ? AND status <> ?`, status, status, id, status)
	if err != nil {
		return false, fmt.Errorf("coupon: set coupon %d %s: %w", id, status, store.MapError(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("coupon: set coupon %d %s: %w", id, status, err)
	}
	if n == 0 {
		if _, err := Get(ctx, h, id); err != nil {
			return false, err
		}
	}
	if status == StatusDisabled {
		if err := cancelPush(ctx, h, id); err != nil {
			return n == 1, err
		}
	}
	return n == 1, nil
}

// cancelPush cancels the pending and paused shards and the pending
// scheduled launches of coupon id's push run once it is cancelled. It is
// idempotent (a disable repeated after a failure here finishes the job).
func cancelPush(ctx context.Context, h store.Handler, id int64) error {
	st, err := campaign.KindCoupon.ReadStatus(ctx, h, uint64(id))
	if errors.Is(err, campaign.ErrNotFound) {
		return nil // a lazy coupon: no push run
	}
	if err != nil {
		return fmt.Errorf("coupon: cancel push of coupon %d: %w", id, err)
	}
	if st != campaign.StatusCancelled {
		return nil
	}
	if _, err := campaign.SetShardsStatus(ctx, h, campaign.KindCoupon, uint64(id),
		[]campaign.ShardStatus{campaign.ShardPending, campaign.ShardPaused}, campaign.ShardCancelled); err != nil {
		return fmt.Errorf("coupon: cancel push of coupon %d: %w", id, err)
	}
	if _, err := campaign.CancelSchedules(ctx, h, campaign.KindCoupon, uint64(id), "coupon disabled"); err != nil {
		return fmt.Errorf("coupon: cancel push of coupon %d: %w", id, err)
	}
	return nil
}

// HoldersBetween returns, in id order, the members with ids in lo..hi
// (inclusive) who hold at least one item of coupon id: one range scan of
// the item table's unique key (coupon_id, member_id, seq). The push
// pipeline announces a coupon to exactly these members of each page.
func HoldersBetween(ctx context.Context, h store.Handler, id, lo, hi int64) ([]int64, error) {
	var out []int64
	if err := h.SelectContext(ctx, &out, `SELECT DISTINCT member_id FROM sales_promotion_coupon_item
		WHERE coupon_id = ? AND member_id BETWEEN ? AND ? ORDER BY member_id`, id, lo, hi); err != nil {
		return nil, fmt.Errorf("coupon: read holders of coupon %d among members %d..%d: %w", id, lo, hi, store.MapError(err))
	}
	return out, nil
}

// ItemCounts counts coupon id's items by status (every status present).
func ItemCounts(ctx context.Context, h store.Handler, id int64) (map[ItemStatus]int64, error) {
	var rows []struct {
		Status ItemStatus `db:"status"`
		N      int64      `db:"n"`
	}
	if err := h.SelectContext(ctx, &rows,
		`SELECT status, COUNT(*) AS n FROM sales_promotion_coupon_item WHERE coupon_id = ? GROUP BY status`, id); err != nil {
		return nil, fmt.Errorf("coupon: count items of coupon %d: %w", id, store.MapError(err))
	}
	out := make(map[ItemStatus]int64, 5)
	for _, s := range ItemStatuses() {
		out[s] = 0
	}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}

// MemberItem is an item with what its holder needs to know of its coupon.
type MemberItem struct {
	Item
	CouponName     string `db:"coupon_name" json:"coupon_name"`
	Kind           Kind   `db:"kind" json:"kind"`
	AmountCents    int64  `db:"amount_cents" json:"amount_cents"`
	ThresholdCents int64  `db:"threshold_cents" json:"threshold_cents"`
	PercentOff     int    `db:"percent_off" json:"percent_off"`
	CapCents       int64  `db:"cap_cents" json:"cap_cents"`
}

// DefaultMemberItemsLimit is how many of a member's items MemberItems
// returns unless asked: more than a page of coupons, as a member holds
// several of each.
const DefaultMemberItemsLimit = 100

// MemberItemsOptions filters MemberItems.
type MemberItemsOptions struct {
	// Status keeps items with this status; empty = all.
	Status ItemStatus
	// Limit bounds the result; default DefaultMemberItemsLimit, at most
	// store.MaxListLimit.
	Limit int
}

// MemberItems lists a member's items, newest first.
func MemberItems(ctx context.Context, h store.Handler, memberID int64, o MemberItemsOptions) ([]MemberItem, error) {
	limit := store.ListLimit(o.Limit, DefaultMemberItemsLimit)
	q := `SELECT i.id, i.coupon_id, i.member_id, i.seq, i.status, i.order_id, i.valid_from, i.valid_until,
			i.issued_at, i.claimed_at, i.locked_at, i.redeemed_at, i.updated_at,
			c.name AS coupon_name, c.kind, c.amount_cents, c.threshold_cents, c.percent_off, c.cap_cents
		FROM sales_promotion_coupon_item i JOIN sales_promotion_coupon c ON c.id = i.coupon_id
		WHERE i.member_id = ?`
	args := []any{memberID}
	if o.Status != "" {
		q += " AND i.status = ?"
		args = append(args, o.Status)
	}
	q += " ORDER BY i.id DESC LIMIT ?"
	args = append(args, limit)
	var out []MemberItem
	if err := h.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("coupon: list items of member %d: %w", memberID, store.MapError(err))
	}
	return out, nil
}

// GetItem loads item id; ErrNotFound if there is none.
func GetItem(ctx context.Context, h store.Handler, id int64) (*Item, error) {
	var it Item
	if err := h.GetContext(ctx, &it, `SELECT `+itemColumns+` FROM sales_promotion_coupon_item WHERE id = ?`, id); err != nil {
		err = store.MapError(err)
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: item %d", ErrNotFound, id)
		}
		return nil, fmt.Errorf("coupon: load item %d: %w", id, err)
	}
	return &it, nil
}
