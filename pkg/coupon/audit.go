package coupon

import (
	"context"
	"fmt"

	"mkt/pkg/store"
)

// Audit is what MySQL holds of one coupon's items, counted member by
// member, beside the coupon row that counts them: the figures that show
// whether issuance kept its guarantees. The coupon benchmark, the fault
// suite and the tests judge a run by it, so they judge it the same way.
type Audit struct {
	// Coupon is the coupon row as read with the counts.
	Coupon *Coupon
	// Items counts the coupon's items, Holders the members holding one or
	// more, Full those holding the per-member limit.
	Items   int64 `db:"items"`
	Holders int64 `db:"holders"`
	Full    int64 `db:"full"`
	// OverLimit is the items beyond a member's limit, summed over members;
	// BadSeq the items whose seq is outside 1..limit. Both are 0 unless a
	// guarantee broke.
	OverLimit int64 `db:"over_limit"`
	BadSeq    int64 `db:"bad_seq"`
}

// AuditItems counts coupon id's items per member in one pass over the
// coupon's part of the item index (cost grows with its items; meant for
// checks after a run, not for a hot path). ErrNotFound if there is no such
// coupon.
func AuditItems(ctx context.Context, h store.Handler, id int64) (Audit, error) {
	c, err := Get(ctx, h, id)
	if err != nil {
		return Audit{}, err
	}
	a := Audit{Coupon: c}
	limit := c.PerMemberLimit
	if err := h.GetContext(ctx, &a, `SELECT COALESCE(SUM(n), 0) AS items, COUNT(*) AS holders,
			COALESCE(SUM(n >= ?), 0) AS full, COALESCE(SUM(GREATEST(n - ?, 0)), 0) AS over_limit,
			COALESCE(SUM(bad_seq), 0) AS bad_seq
		FROM (SELECT COUNT(*) AS n, SUM(seq < 1 OR seq > ?) AS bad_seq
			FROM sales_promotion_coupon_item WHERE coupon_id = ? GROUP BY member_id) per_member`,
		limit, limit, limit, id); err != nil {
		return Audit{}, fmt.Errorf("coupon: audit the items of coupon %d: %w", id, store.MapError(err))
	}
	return a, nil
}

// Broken lists the guarantees the audit shows broken, in words; nil when
// every one holds: no member above the per-member limit, every seq within
// 1..limit, issued_count equal to the items, the items within the quota.
func (a Audit) Broken() []string {
	var out []string
	c := a.Coupon
	if a.OverLimit > 0 {
		out = append(out, fmt.Sprintf("coupon %d: %d items beyond the per-member limit %d", c.ID, a.OverLimit, c.PerMemberLimit))
	}
	if a.BadSeq > 0 {
		out = append(out, fmt.Sprintf("coupon %d: %d items have a seq outside 1..%d", c.ID, a.BadSeq, c.PerMemberLimit))
	}
	if c.IssuedCount != a.Items {
		out = append(out, fmt.Sprintf("coupon %d: issued_count %d, items %d", c.ID, c.IssuedCount, a.Items))
	}
	if c.TotalQuota != nil && a.Items > *c.TotalQuota {
		out = append(out, fmt.Sprintf("coupon %d: %d items issued, quota %d", c.ID, a.Items, *c.TotalQuota))
	}
	return out
}
