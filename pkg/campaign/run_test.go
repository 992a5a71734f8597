package campaign_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// couponFixture stores a push-mode coupon (push_status created) with the
// same id as a promotion, and returns the id.
func couponFixture(t *testing.T, db *store.DB, id uint64) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), `INSERT INTO sales_promotion_coupon
		(id, request_id, name, kind, amount_cents, valid_from, valid_until, audience, issue_mode, message_template,
		 channels, push_status, shard_size)
		VALUES (?, 'req-c', 'run test', 'amount', 100, CURRENT_TIMESTAMP(3) - INTERVAL 1 HOUR,
		 CURRENT_TIMESTAMP(3) + INTERVAL 1 DAY, '{"levels":[1]}', 'push', 'hi', 'app', 'created', 50)`, id); err != nil {
		t.Fatal(err)
	}
}

// TestRunsOfBothKinds: the kind-aware status machine reads and moves a
// coupon's push_status without touching the promotion with the same id.
func TestRunsOfBothKinds(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	id := leaseFixture(t, db) // a running, planned promotion
	couponFixture(t, db, id)
	p, c := campaign.KindPromotion, campaign.KindCoupon

	r, err := c.GetRunByRequestID(ctx, db, "req-c")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != c || r.ID != id || r.Status != campaign.StatusCreated || r.Planned || r.ShardSize != 50 ||
		r.StartAt == nil || r.EndAt == nil || len(r.Audience.Levels) != 1 {
		t.Errorf("coupon run = %+v", r)
	}
	if pr, err := p.GetRun(ctx, db, id); err != nil || pr.Status != campaign.StatusRunning || !pr.Planned || pr.EndAt != nil {
		t.Errorf("promotion run = %+v, %v", pr, err)
	}
	// Hot-goods runs live in hot_goods_run (none here); other kinds are
	// not driven.
	if _, err := campaign.KindHotGoods.GetRun(ctx, db, id); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("hot goods run: %v", err)
	}
	if _, err := campaign.Kind("flyer").GetRun(ctx, db, id); !errors.Is(err, campaign.ErrUnsupportedKind) {
		t.Errorf("flyer run: %v", err)
	}

	if err := c.Transition(ctx, db, id, []campaign.Status{campaign.StatusCreated}, campaign.StatusPlanning, "why"); err != nil {
		t.Fatal(err)
	}
	if err := c.Transition(ctx, db, id, []campaign.Status{campaign.StatusCreated}, campaign.StatusRunning, ""); !errors.Is(err, campaign.ErrConflict) {
		t.Errorf("transition from the wrong status: %v", err)
	}
	if st, _ := p.ReadStatus(ctx, db, id); st != campaign.StatusRunning {
		t.Errorf("the promotion moved with the coupon: %s", st)
	}
	// Planned with two shards, one unfinished: not complete yet.
	if _, err := campaign.InsertShards(ctx, db, c, id, []audience.Range{{No: 0, Start: 1, End: 10}, {No: 1, Start: 10, End: 20}}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetPlanned(ctx, db, id, 15, 2); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.GetRun(ctx, db, id); r.Status != campaign.StatusRunning || !r.Planned || r.PlannedMembers != 15 {
		t.Errorf("planned coupon run = %+v", r)
	}
	if done, err := c.CompleteIfDone(ctx, db, id); err != nil || done {
		t.Errorf("CompleteIfDone with pending shards = %v, %v", done, err)
	}
	// The promotion's shards finishing does not complete the coupon, and
	// vice versa.
	if _, err := campaign.SetShardsStatus(ctx, db, p, id, []campaign.ShardStatus{campaign.ShardPending}, campaign.ShardDone); err != nil {
		t.Fatal(err)
	}
	if done, _ := c.CompleteIfDone(ctx, db, id); done {
		t.Error("the coupon completed on the promotion's shards")
	}
	// A paused coupon shard of a running push is stranded.
	if _, err := db.ExecContext(ctx, `UPDATE campaign_shard SET status = 'paused', updated_at = CURRENT_TIMESTAMP(3) - INTERVAL 1 HOUR
		WHERE campaign_kind = 'coupon' AND campaign_id = ? AND shard_no = 1`, id); err != nil {
		t.Fatal(err)
	}
	if got, err := campaign.StrandedPausedShards(ctx, db, c, time.Minute, 10); err != nil || len(got) != 1 || got[0].Kind != c || got[0].No != 1 {
		t.Errorf("stranded coupon shards = %+v, %v", got, err)
	}
	if got, err := campaign.StrandedPausedShards(ctx, db, p, time.Minute, 10); err != nil || len(got) != 0 {
		t.Errorf("stranded promotion shards = %+v, %v", got, err)
	}
	if _, err := campaign.SetShardsStatus(ctx, db, c, id, []campaign.ShardStatus{campaign.ShardPending, campaign.ShardPaused}, campaign.ShardDone); err != nil {
		t.Fatal(err)
	}
	if done, err := c.CompleteIfDone(ctx, db, id); err != nil || !done {
		t.Errorf("CompleteIfDone with every shard done = %v, %v", done, err)
	}
	if done, _ := p.CompleteIfDone(ctx, db, id); !done {
		t.Error("the promotion did not complete")
	}
	if st, _ := c.ReadStatus(ctx, db, id); st != campaign.StatusCompleted {
		t.Errorf("coupon push %s", st)
	}
}

func TestStaleCouponRuns(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	couponFixture(t, db, 7)
	c := campaign.KindCoupon
	if ids, err := c.Stale(ctx, db, time.Minute, 10); err != nil || len(ids) != 0 {
		t.Fatalf("fresh coupon is stale: %v %v", ids, err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE sales_promotion_coupon SET created_at = CURRENT_TIMESTAMP(3) - INTERVAL 1 HOUR`); err != nil {
		t.Fatal(err)
	}
	if ids, err := c.Stale(ctx, db, time.Minute, 10); err != nil || len(ids) != 1 || ids[0] != 7 {
		t.Errorf("stale coupon runs = %v, %v", ids, err)
	}
	// Not before its window opens.
	if _, err := db.ExecContext(ctx, `UPDATE sales_promotion_coupon SET valid_from = CURRENT_TIMESTAMP(3) + INTERVAL 1 HOUR`); err != nil {
		t.Fatal(err)
	}
	if ids, _ := c.Stale(ctx, db, time.Minute, 10); len(ids) != 0 {
		t.Errorf("coupon before its window is stale: %v", ids)
	}
	if ids, _ := campaign.KindPromotion.Stale(ctx, db, time.Minute, 10); len(ids) != 0 {
		t.Errorf("promotion stale runs: %v", ids)
	}
}
