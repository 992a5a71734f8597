package coupon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"mkt/pkg/money"
	"mkt/pkg/store"
)

// The lifecycle of an item, each step one conditional UPDATE from the state
// it starts from, so that of two concurrent requests exactly one changes the
// row and the other sees the outcome and is told why it lost:
//
//	issued ──claim──▶ claimed ──lock(order)──▶ locked ──redeem(order)──▶ redeemed
//	   │                 ▲  ◀──release(order)──┘
//	   └──lock(order)────┼──────────────────────▶ (locking claims it)
//	issued, claimed ──expire (window ended)──▶ expired
//
// Repeating a step with the same arguments succeeds without changing
// anything (Changed false): claim of a claimed item, lock by the order that
// holds it, redeem by the order that redeemed it, release by an order that
// does not hold it.

var orderIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:/-]+$`)

// CheckOrderID validates an order id: 1..64 characters from letters, digits
// and "_.:/-".
func CheckOrderID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: order id is required", ErrInvalid)
	case len(id) > MaxOrderIDLen:
		return fmt.Errorf("%w: order id is longer than %d characters", ErrInvalid, MaxOrderIDLen)
	case !orderIDPattern.MatchString(id):
		return fmt.Errorf("%w: order id %q: use only letters, digits and _.:/-", ErrInvalid, id)
	}
	return nil
}

// Transition is the outcome of a lifecycle step.
type Transition struct {
	// Item is the item after the step.
	Item *Item `json:"item"`
	// Changed is false when the item already was where the step leads (an
	// idempotent repeat).
	Changed bool `json:"changed"`
	// DiscountCents is what the coupon takes off the order (Lock only).
	DiscountCents int64 `json:"discount_cents,omitempty"`
}

// exec runs a conditional UPDATE and reports whether it changed the row.
func exec(ctx context.Context, h store.Handler, what string, q string, args ...any) (bool, error) {
	res, err := h.ExecContext(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("coupon: %s: %w", what, store.MapError(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("coupon: %s: %w", what, err)
	}
	return n == 1, nil
}

// checkMember returns ErrNotOwner when memberID is set and not the item's.
func checkMember(it *Item, memberID int64) error {
	if memberID != 0 && it.MemberID != memberID {
		return fmt.Errorf("%w: item %d", ErrNotOwner, it.ID)
	}
	return nil
}

// expireIfDue marks an issued or claimed item whose window ended expired
// and returns ErrExpired; it returns nil when the item is still in its window.
func expireIfDue(ctx context.Context, h store.Handler, it *Item, now time.Time) error {
	if it.Status == ItemExpired {
		return fmt.Errorf("%w: item %d ended %s", ErrExpired, it.ID, fmtTime(it.ValidUntil))
	}
	if now.Before(it.ValidUntil) {
		return nil
	}
	if it.Status == ItemIssued || it.Status == ItemClaimed {
		if _, err := exec(ctx, h, fmt.Sprintf("expire item %d", it.ID),
			`UPDATE sales_promotion_coupon_item SET status = 'expired' WHERE id = ? AND status IN ('issued','claimed') AND valid_until <= ?`,
			it.ID, now); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: item %d ended %s", ErrExpired, it.ID, fmtTime(it.ValidUntil))
}

// Claim records that member accepted item (issued → claimed). now must be
// before the item's end.
func Claim(ctx context.Context, h store.Handler, itemID, memberID int64, now time.Time) (Transition, error) {
	if memberID <= 0 {
		return Transition{}, fmt.Errorf("%w: member id is required", ErrInvalid)
	}
	now = now.UTC()
	it, done, err := apply(ctx, h, itemID, memberID, fmt.Sprintf("claim item %d", itemID),
		`UPDATE sales_promotion_coupon_item SET status = 'claimed', claimed_at = ?
		WHERE id = ? AND member_id = ? AND status = 'issued' AND valid_until > ?`, now, itemID, memberID, now)
	if err != nil || done {
		return Transition{Item: it, Changed: done}, err
	}
	switch it.Status {
	case ItemClaimed, ItemLocked, ItemRedeemed:
		return Transition{Item: it}, nil
	}
	if err := expireIfDue(ctx, h, it, now); err != nil {
		return Transition{}, err
	}
	return Transition{}, fmt.Errorf("%w: item %d is %s, cannot be claimed", ErrConflict, it.ID, it.Status)
}

// LockRequest asks to hold an item for an order.
type LockRequest struct {
	ItemID   int64  `json:"item_id"`
	MemberID int64  `json:"member_id"`
	OrderID  string `json:"order_id"`
	// OrderTotalCents is the order's total before the coupon; it must reach
	// the coupon's threshold.
	OrderTotalCents int64 `json:"order_total_cents"`
}

// Lock holds item for an order (issued|claimed → locked): the member must
// own it, now must be inside the item's window and the order total must
// reach the coupon's threshold. Locking again for the same order succeeds
// without change; an item locked or redeemed by another order fails with
// ErrConflict. It returns the discount the coupon gives the order.
func Lock(ctx context.Context, h store.Handler, r LockRequest, now time.Time) (Transition, error) {
	if err := CheckOrderID(r.OrderID); err != nil {
		return Transition{}, err
	}
	if r.MemberID <= 0 {
		return Transition{}, fmt.Errorf("%w: member id is required", ErrInvalid)
	}
	if r.OrderTotalCents < 0 || r.OrderTotalCents > MaxMoneyCents {
		return Transition{}, fmt.Errorf("%w: order total %s", ErrInvalid, money.Format(r.OrderTotalCents))
	}
	now = now.UTC()
	it, err := GetItem(ctx, h, r.ItemID)
	if err != nil {
		return Transition{}, err
	}
	if err := checkMember(it, r.MemberID); err != nil {
		return Transition{}, err
	}
	c, err := Get(ctx, h, it.CouponID)
	if err != nil {
		return Transition{}, err
	}
	heldByUs := func(it *Item) bool {
		return it.Status == ItemLocked && it.OrderID != nil && *it.OrderID == r.OrderID
	}
	// The threshold holds for every lock, a repeated one by the same order
	// too (its total may have dropped): no discount below it.
	if r.OrderTotalCents < c.ThresholdCents {
		return Transition{}, fmt.Errorf("%w: order total %s, the coupon needs %s", ErrThreshold,
			money.Format(r.OrderTotalCents), money.Format(c.ThresholdCents))
	}
	if heldByUs(it) {
		return Transition{Item: it, DiscountCents: c.Discount(r.OrderTotalCents)}, nil
	}
	changed, err := exec(ctx, h, fmt.Sprintf("lock item %d for order %s", r.ItemID, r.OrderID),
		`UPDATE sales_promotion_coupon_item SET status = 'locked', order_id = ?, locked_at = ?, claimed_at = COALESCE(claimed_at, ?)
		WHERE id = ? AND member_id = ? AND status IN ('issued','claimed') AND valid_from <= ? AND valid_until > ?`,
		r.OrderID, now, now, r.ItemID, r.MemberID, now, now)
	if err != nil {
		return Transition{}, err
	}
	if it, err = GetItem(ctx, h, r.ItemID); err != nil {
		return Transition{}, err
	}
	if changed || heldByUs(it) {
		return Transition{Item: it, Changed: changed, DiscountCents: c.Discount(r.OrderTotalCents)}, nil
	}
	switch {
	case it.Status == ItemLocked:
		return Transition{}, fmt.Errorf("%w: item %d is locked by another order", ErrConflict, it.ID)
	case it.Status == ItemRedeemed:
		return Transition{}, fmt.Errorf("%w: item %d is already redeemed", ErrConflict, it.ID)
	case now.Before(it.ValidFrom):
		return Transition{}, fmt.Errorf("%w: item %d is usable from %s", ErrNotYetValid, it.ID, fmtTime(it.ValidFrom))
	}
	if err := expireIfDue(ctx, h, it, now); err != nil {
		return Transition{}, err
	}
	return Transition{}, fmt.Errorf("%w: item %d is %s, cannot be locked", ErrConflict, it.ID, it.Status)
}

// Release gives back an item the order holds (locked → claimed, or expired
// when its window ended meanwhile): the order was cancelled. An item the
// order does not hold is left alone and the call succeeds (Changed false),
// unless it is locked by another order or redeemed (ErrConflict). memberID
// is checked when not 0.
func Release(ctx context.Context, h store.Handler, itemID, memberID int64, orderID string, now time.Time) (Transition, error) {
	if err := checkOrderRequest(ctx, h, itemID, memberID, orderID); err != nil {
		return Transition{}, err
	}
	now = now.UTC()
	it, done, err := apply(ctx, h, itemID, memberID, fmt.Sprintf("release item %d from order %s", itemID, orderID),
		`UPDATE sales_promotion_coupon_item SET status = IF(valid_until > ?, 'claimed', 'expired'), order_id = NULL, locked_at = NULL
		WHERE id = ? AND status = 'locked' AND order_id = ?`, now, itemID, orderID)
	if err != nil || done {
		return Transition{Item: it, Changed: done}, err
	}
	switch it.Status {
	case ItemLocked:
		return Transition{}, fmt.Errorf("%w: item %d is locked by another order", ErrConflict, it.ID)
	case ItemRedeemed:
		return Transition{}, fmt.Errorf("%w: item %d is redeemed, it cannot be released", ErrConflict, it.ID)
	}
	return Transition{Item: it}, nil
}

// Redeem consumes an item the order holds (locked → redeemed): the order was
// paid. Redeeming again for the same order succeeds without change; any
// other state fails with ErrConflict (lock it for the order first). An item
// locked before its window ended may be redeemed after. memberID is checked
// when not 0.
func Redeem(ctx context.Context, h store.Handler, itemID, memberID int64, orderID string, now time.Time) (Transition, error) {
	if err := checkOrderRequest(ctx, h, itemID, memberID, orderID); err != nil {
		return Transition{}, err
	}
	now = now.UTC()
	it, done, err := apply(ctx, h, itemID, memberID, fmt.Sprintf("redeem item %d for order %s", itemID, orderID),
		`UPDATE sales_promotion_coupon_item SET status = 'redeemed', redeemed_at = ?
		WHERE id = ? AND status = 'locked' AND order_id = ?`, now, itemID, orderID)
	if err != nil || done {
		return Transition{Item: it, Changed: done}, err
	}
	ours := it.OrderID != nil && *it.OrderID == orderID
	switch {
	case it.Status == ItemRedeemed && ours:
		return Transition{Item: it}, nil
	case it.Status == ItemRedeemed:
		return Transition{}, fmt.Errorf("%w: item %d was redeemed by another order", ErrConflict, it.ID)
	case it.Status == ItemLocked:
		return Transition{}, fmt.Errorf("%w: item %d is locked by another order", ErrConflict, it.ID)
	case it.Status == ItemExpired:
		return Transition{}, fmt.Errorf("%w: item %d ended %s", ErrExpired, it.ID, fmtTime(it.ValidUntil))
	}
	return Transition{}, fmt.Errorf("%w: item %d is %s: lock it for order %s first", ErrConflict, it.ID, it.Status, orderID)
}

// ExpireDue marks expired every issued or claimed item whose window ended at
// or before now, in statements of at most batch rows (default 1000), and
// returns how many it marked. Locked items are left to their order.
func ExpireDue(ctx context.Context, h store.Handler, now time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 1000
	}
	return updateInBatches(ctx, h, "expire items", `UPDATE sales_promotion_coupon_item SET status = 'expired'
		WHERE status IN ('issued','claimed') AND valid_until <= ? LIMIT ?`, now.UTC(), batch)
}

// ReleaseStaleLocks gives back coupons held by orders that never finished:
// items locked at or before now - timeout go back to claimed (their order
// id cleared), so a member's coupon is not held forever by an abandoned
// order; redeeming one later answers a conflict and the shop locks again.
// It returns how many were released.
func ReleaseStaleLocks(ctx context.Context, h store.Handler, now time.Time, timeout time.Duration, batch int) (int64, error) {
	if timeout <= 0 {
		return 0, fmt.Errorf("%w: lock timeout %v", ErrInvalid, timeout)
	}
	batch = cmp.Or(max(batch, 0), 1000)
	return updateInBatches(ctx, h, "release stale locks", `UPDATE sales_promotion_coupon_item SET status = 'claimed', order_id = NULL, locked_at = NULL
		WHERE status = 'locked' AND locked_at <= ? LIMIT ?`, now.UTC().Add(-timeout), batch)
}

// updateInBatches runs query, an UPDATE of the rows at or before cutoff
// LIMIT batch, until a statement changes fewer than batch rows or ctx ends,
// and returns how many rows it changed in all; what ("expire items") names
// the work in errors.
func updateInBatches(ctx context.Context, h store.Handler, what, query string, cutoff time.Time, batch int) (int64, error) {
	var total int64
	for {
		res, err := h.ExecContext(ctx, query, cutoff, batch)
		if err != nil {
			return total, fmt.Errorf("coupon: %s (%d so far): %w", what, total, store.MapError(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("coupon: %s: %w", what, err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// IsClientError reports whether err is the caller's doing (bad input, wrong
// owner or state, expired, below threshold, unknown id) rather than a
// failure of the service.
func IsClientError(err error) bool {
	for _, e := range []error{ErrInvalid, ErrNotFound, ErrNotOwner, ErrConflict, ErrExpired, ErrNotYetValid, ErrThreshold} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// checkOrderRequest validates an order's request on an item: the order id,
// and the item's owner when memberID is not 0.
func checkOrderRequest(ctx context.Context, h store.Handler, itemID, memberID int64, orderID string) error {
	if err := CheckOrderID(orderID); err != nil {
		return err
	}
	if memberID == 0 {
		return nil
	}
	it, err := GetItem(ctx, h, itemID)
	if err != nil {
		return err
	}
	return checkMember(it, memberID)
}

// apply runs the conditional update q on item itemID and reloads the item.
// done is true when the update applied; otherwise the item is returned for
// the caller to judge from its status, after checking it is memberID's
// (when memberID is not 0). On error the item is nil.
func apply(ctx context.Context, h store.Handler, itemID, memberID int64, what, q string, args ...any) (*Item, bool, error) {
	changed, err := exec(ctx, h, what, q, args...)
	if err != nil {
		return nil, false, err
	}
	it, err := GetItem(ctx, h, itemID)
	if err != nil {
		return nil, false, err
	}
	if changed {
		return it, true, nil
	}
	if err := checkMember(it, memberID); err != nil {
		return nil, false, err
	}
	return it, false, nil
}
