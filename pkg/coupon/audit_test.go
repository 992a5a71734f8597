package coupon

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestAuditItems: a coupon issued by the issuer audits clean; items written
// behind its back (a member above the limit, a seq beyond it, the counter
// not moved, the quota passed) are each reported.
func TestAuditItems(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	now := time.Now()
	s := baseSpec(now)
	s.PerMemberLimit = 2
	s.TotalQuota = quota(3)
	c := e.create(t, s)
	if got := processUntilSettled(t, e.issuer(t, nil), loginsOf(1, now)); got != 2 {
		t.Fatalf("issued %d, want 2", got)
	}
	a, err := AuditItems(ctx, e.db, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Items != 2 || a.Holders != 1 || a.Full != 1 || a.OverLimit != 0 || a.BadSeq != 0 || a.Broken() != nil {
		t.Fatalf("clean coupon: %+v, broken %q", a, a.Broken())
	}

	// Member 1 gets a third item (seq 3 of limit 2), member 2 a first one.
	for _, it := range []struct{ member, seq int64 }{{1, 3}, {2, 1}} {
		if _, err := e.db.ExecContext(ctx, `INSERT INTO sales_promotion_coupon_item
			(coupon_id, member_id, seq, valid_from, valid_until, issued_at) VALUES (?, ?, ?, ?, ?, ?)`,
			c.ID, it.member, it.seq, s.ValidFrom, s.ValidUntil, now); err != nil {
			t.Fatal(err)
		}
	}
	a, err = AuditItems(ctx, e.db, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Items != 4 || a.Holders != 2 || a.Full != 1 || a.OverLimit != 1 || a.BadSeq != 1 {
		t.Errorf("after the writes behind the issuer's back: %+v", a)
	}
	want := []string{
		fmt.Sprintf("coupon %d: 1 items beyond the per-member limit 2", c.ID),
		fmt.Sprintf("coupon %d: 1 items have a seq outside 1..2", c.ID),
		fmt.Sprintf("coupon %d: issued_count 2, items 4", c.ID),
		fmt.Sprintf("coupon %d: 4 items issued, quota 3", c.ID),
	}
	if got := a.Broken(); !slices.Equal(got, want) {
		t.Errorf("Broken() = %q\nwant %q", got, want)
	}

	if _, err := AuditItems(ctx, e.db, c.ID+1000); !errors.Is(err, ErrNotFound) {
		t.Errorf("audit of a missing coupon: %v", err)
	}
}
