package coupon

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// issueItems creates a coupon (threshold 100.00, 10.00 off, limit n) and
// bulk-issues it to members; it returns the coupon and the items by member.
func issueItems(t *testing.T, e *testEnv, limit int, members ...int64) (*Coupon, map[int64][]Item) {
	t.Helper()
	ctx := t.Context()
	s := baseSpec(time.Now())
	s.PerMemberLimit = limit
	c := e.create(t, s)
	if _, err := IssueToMembers(ctx, e.db, c.ID, members, time.Now()); err != nil {
		t.Fatal(err)
	}
	var items []Item
	if err := e.db.SelectContext(ctx, &items, `SELECT `+itemColumns+` FROM sales_promotion_coupon_item WHERE coupon_id = ? ORDER BY id`, c.ID); err != nil {
		t.Fatal(err)
	}
	out := make(map[int64][]Item)
	for _, it := range items {
		out[it.MemberID] = append(out[it.MemberID], it)
	}
	return c, out
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	now := time.Now()
	_, items := issueItems(t, e, 1, 1, 2)
	it := items[1][0].ID

	_, err := Claim(ctx, e.db, it, 2, now)
	wantErr(t, "claim by another member", err, ErrNotOwner)
	_, err = Claim(ctx, e.db, 9999, 1, now)
	wantErr(t, "claim unknown item", err, ErrNotFound)
	tr, err := Claim(ctx, e.db, it, 1, now)
	if err != nil || !tr.Changed || tr.Item.Status != ItemClaimed || tr.Item.ClaimedAt == nil {
		t.Fatalf("claim = %+v, %v", tr, err)
	}
	if tr, err = Claim(ctx, e.db, it, 1, now); err != nil || tr.Changed {
		t.Fatalf("claim again = %+v, %v; want unchanged", tr, err)
	}

	lock := LockRequest{ItemID: it, MemberID: 1, OrderID: "order-A", OrderTotalCents: 9999}
	_, err = Lock(ctx, e.db, lock, now)
	wantErr(t, "lock below threshold", err, ErrThreshold)
	lock.OrderTotalCents = 25000
	_, err = Lock(ctx, e.db, LockRequest{ItemID: it, MemberID: 2, OrderID: "order-A", OrderTotalCents: 25000}, now)
	wantErr(t, "lock by another member", err, ErrNotOwner)
	_, err = Lock(ctx, e.db, LockRequest{ItemID: it, MemberID: 1, OrderID: "bad id", OrderTotalCents: 25000}, now)
	wantErr(t, "lock with a bad order id", err, ErrInvalid)
	tr, err = Lock(ctx, e.db, lock, now)
	if err != nil || !tr.Changed || tr.Item.Status != ItemLocked || tr.DiscountCents != 1000 || *tr.Item.OrderID != "order-A" {
		t.Fatalf("lock = %+v, %v", tr, err)
	}
	if tr, err = Lock(ctx, e.db, lock, now); err != nil || tr.Changed || tr.DiscountCents != 1000 {
		t.Fatalf("lock again by the same order = %+v, %v; want unchanged", tr, err)
	}
	_, err = Lock(ctx, e.db, LockRequest{ItemID: it, MemberID: 1, OrderID: "order-B", OrderTotalCents: 25000}, now)
	wantErr(t, "lock by another order", err, ErrConflict)
	_, err = Redeem(ctx, e.db, it, 0, "order-B", now)
	wantErr(t, "redeem by another order", err, ErrConflict)
	_, err = Release(ctx, e.db, it, 0, "order-B", now)
	wantErr(t, "release by another order", err, ErrConflict)

	tr, err = Release(ctx, e.db, it, 1, "order-A", now)
	if err != nil || !tr.Changed || tr.Item.Status != ItemClaimed || tr.Item.OrderID != nil {
		t.Fatalf("release = %+v, %v", tr, err)
	}
	if tr, err = Release(ctx, e.db, it, 1, "order-A", now); err != nil || tr.Changed {
		t.Fatalf("release again = %+v, %v; want unchanged", tr, err)
	}
	_, err = Redeem(ctx, e.db, it, 1, "order-A", now)
	wantErr(t, "redeem without a lock", err, ErrConflict)

	lock.OrderID = "order-B"
	if _, err = Lock(ctx, e.db, lock, now); err != nil {
		t.Fatalf("lock by order B after release: %v", err)
	}
	tr, err = Redeem(ctx, e.db, it, 1, "order-B", now)
	if err != nil || !tr.Changed || tr.Item.Status != ItemRedeemed || tr.Item.RedeemedAt == nil {
		t.Fatalf("redeem = %+v, %v", tr, err)
	}
	if tr, err = Redeem(ctx, e.db, it, 1, "order-B", now); err != nil || tr.Changed {
		t.Fatalf("redeem again = %+v, %v; want unchanged", tr, err)
	}
	_, err = Redeem(ctx, e.db, it, 1, "order-C", now)
	wantErr(t, "redeem by another order after redeem", err, ErrConflict)
	_, err = Release(ctx, e.db, it, 1, "order-B", now)
	wantErr(t, "release after redeem", err, ErrConflict)
	_, err = Lock(ctx, e.db, LockRequest{ItemID: it, MemberID: 1, OrderID: "order-C", OrderTotalCents: 25000}, now)
	wantErr(t, "lock after redeem", err, ErrConflict)

	// An unclaimed item is claimed by locking it.
	it2 := items[2][0].ID
	tr, err = Lock(ctx, e.db, LockRequest{ItemID: it2, MemberID: 2, OrderID: "order-D", OrderTotalCents: 10000}, now)
	if err != nil || tr.Item.Status != ItemLocked || tr.Item.ClaimedAt == nil {
		t.Fatalf("lock of an issued item = %+v, %v", tr, err)
	}
}

func TestLifecycleWindows(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	now := time.Now()
	_, items := issueItems(t, e, 1, 1, 2, 3, 4, 5)
	setWindow := func(id int64, from, until time.Time) {
		if _, err := e.db.ExecContext(ctx, `UPDATE sales_promotion_coupon_item SET valid_from = ?, valid_until = ? WHERE id = ?`, from, until, id); err != nil {
			t.Fatal(err)
		}
	}
	ended := items[1][0].ID
	setWindow(ended, now.Add(-48*time.Hour), now.Add(-time.Hour))
	_, err := Claim(ctx, e.db, ended, 1, now)
	wantErr(t, "claim of an ended item", err, ErrExpired)
	if it, _ := GetItem(ctx, e.db, ended); it.Status != ItemExpired {
		t.Errorf("ended item is %s after a claim, want expired", it.Status)
	}
	_, err = Lock(ctx, e.db, LockRequest{ItemID: ended, MemberID: 1, OrderID: "o1", OrderTotalCents: 20000}, now)
	wantErr(t, "lock of an expired item", err, ErrExpired)

	future := items[2][0].ID
	setWindow(future, now.Add(time.Hour), now.Add(48*time.Hour))
	_, err = Lock(ctx, e.db, LockRequest{ItemID: future, MemberID: 2, OrderID: "o2", OrderTotalCents: 20000}, now)
	wantErr(t, "lock before the window", err, ErrNotYetValid)

	// Locked while valid, paid after the end: redeem still works.
	late := items[3][0].ID
	if _, err := Lock(ctx, e.db, LockRequest{ItemID: late, MemberID: 3, OrderID: "o3", OrderTotalCents: 20000}, now); err != nil {
		t.Fatal(err)
	}
	setWindow(late, now.Add(-48*time.Hour), now.Add(-time.Minute))
	if _, err := Redeem(ctx, e.db, late, 3, "o3", now); err != nil {
		t.Errorf("redeem after the end of a locked item: %v", err)
	}
	// Released after the end: expired, not claimed.
	rel := items[4][0].ID
	if _, err := Lock(ctx, e.db, LockRequest{ItemID: rel, MemberID: 4, OrderID: "o4", OrderTotalCents: 20000}, now); err != nil {
		t.Fatal(err)
	}
	setWindow(rel, now.Add(-48*time.Hour), now.Add(-time.Minute))
	if tr, err := Release(ctx, e.db, rel, 4, "o4", now); err != nil || tr.Item.Status != ItemExpired {
		t.Errorf("release after the end = %+v, %v; want expired", tr, err)
	}
	// The sweep expires issued and claimed items whose window ended.
	sweep := items[5][0].ID
	setWindow(sweep, now.Add(-48*time.Hour), now.Add(-time.Minute))
	n, err := ExpireDue(ctx, e.db, now, 1)
	if err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d, %v; want 1", n, err)
	}
	if it, _ := GetItem(ctx, e.db, sweep); it.Status != ItemExpired {
		t.Errorf("swept item is %s", it.Status)
	}
}

// Concurrent orders fight over the same items: exactly one lock and one
// redeem succeed per item, the others are told why.
func TestNoDoubleSpend(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	now := time.Now()
	members := memberRange(1, 20)
	_, items := issueItems(t, e, 1, members...)
	const orders = 6
	for _, m := range members {
		it := items[m][0]
		var locked, redeemed atomic.Int64
		var wg sync.WaitGroup
		var mu sync.Mutex
		var unexpected []error
		for o := range orders {
			wg.Go(func() {
				order := fmt.Sprintf("m%d-o%d", m, o)
				_, err := Lock(ctx, e.db, LockRequest{ItemID: it.ID, MemberID: m, OrderID: order, OrderTotalCents: 50000}, now)
				switch {
				case err == nil:
					locked.Add(1)
				case !errors.Is(err, ErrConflict):
					mu.Lock()
					unexpected = append(unexpected, err)
					mu.Unlock()
				}
				// Every order tries to pay with it, twice.
				for range 2 {
					tr, err := Redeem(ctx, e.db, it.ID, m, order, now)
					switch {
					case err == nil && tr.Changed:
						redeemed.Add(1)
					case err == nil:
					case !errors.Is(err, ErrConflict):
						mu.Lock()
						unexpected = append(unexpected, err)
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		if len(unexpected) > 0 {
			t.Fatalf("item %d: unexpected errors %v", it.ID, unexpected)
		}
		if locked.Load() != 1 || redeemed.Load() != 1 {
			t.Fatalf("item %d: %d locks and %d redeems succeeded, want exactly 1 each", it.ID, locked.Load(), redeemed.Load())
		}
		got, _ := GetItem(ctx, e.db, it.ID)
		if got.Status != ItemRedeemed {
			t.Errorf("item %d ends %s", it.ID, got.Status)
		}
	}
	// Lock and release racing on one item with one order: it ends in a
	// state both agree on, never redeemed twice.
	c, more := issueItems(t, e, 1, 100)
	_ = c
	it := more[100][0]
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			if g%2 == 0 {
				_, _ = Lock(ctx, e.db, LockRequest{ItemID: it.ID, MemberID: 100, OrderID: "solo", OrderTotalCents: 50000}, now)
			} else {
				_, _ = Release(ctx, e.db, it.ID, 100, "solo", now)
			}
		})
	}
	wg.Wait()
	got, _ := GetItem(ctx, e.db, it.ID)
	if got.Status != ItemLocked && got.Status != ItemClaimed {
		t.Errorf("after lock/release races the item is %s", got.Status)
	}
	if (got.Status == ItemLocked) != (got.OrderID != nil) {
		t.Errorf("status %s with order %v", got.Status, got.OrderID)
	}
}

// TestStaleLocksAreReleased: a coupon locked by an order that never
// finished goes back to its member after the lock timeout; a fresh lock
// stays.
func TestStaleLocksAreReleased(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := t.Context()
	now := time.Now()
	_, items := issueItems(t, e, 1, 1, 2)
	lock := func(member int64, order string, at time.Time) int64 {
		t.Helper()
		it := items[member][0].ID
		if _, err := Lock(ctx, e.db, LockRequest{ItemID: it, MemberID: member, OrderID: order, OrderTotalCents: 25000}, at); err != nil {
			t.Fatal(err)
		}
		return it
	}
	stale := lock(1, "order-old", now.Add(-45*time.Minute))
	fresh := lock(2, "order-new", now.Add(-5*time.Minute))
	n, err := ReleaseStaleLocks(ctx, e.db, now, 30*time.Minute, 0)
	if err != nil || n != 1 {
		t.Fatalf("released %d, %v; want 1", n, err)
	}
	for id, want := range map[int64]ItemStatus{stale: ItemClaimed, fresh: ItemLocked} {
		it, err := GetItem(ctx, e.db, id)
		if err != nil || it.Status != want || (want == ItemClaimed) != (it.OrderID == nil) {
			t.Errorf("item %d = %+v, %v; want %s", id, it, err, want)
		}
	}
	if _, err := Redeem(ctx, e.db, stale, 1, "order-old", now); !errors.Is(err, ErrConflict) {
		t.Errorf("redeem by the order that lost its lock: %v", err)
	}
	if _, err := ReleaseStaleLocks(ctx, e.db, now, 0, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("a zero timeout: %v", err)
	}
}
