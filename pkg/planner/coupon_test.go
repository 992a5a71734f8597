package planner_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/coupon"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/planner"
	"mkt/pkg/provider"
)

// pushCoupon is a push-mode coupon for seg, open from from.
func pushCoupon(seg audience.Segment, shardSize int, from time.Time) coupon.Spec {
	return coupon.Spec{
		Name: "Welcome back", Kind: coupon.KindAmount, AmountCents: 1000, ThresholdCents: 5000,
		ValidFrom: from, ValidUntil: from.Add(7 * 24 * time.Hour), PerMemberLimit: 1, Audience: seg,
		Mode: coupon.ModePush, Template: "Your coupon {name} is waiting", ShardSize: shardSize,
		Channels: []provider.Channel{provider.ChannelApp, provider.ChannelInbox}, CreatedBy: "test",
	}
}

// insertCoupon stores a push-mode coupon directly (no event).
func (s *stack) insertCoupon(t testing.TB, spec coupon.Spec) *coupon.Coupon {
	t.Helper()
	ctx := mkttest.Deadline(t, 30*time.Second)
	id, err := coupon.Insert(ctx, s.db, spec, coupon.NewRequestID("t"))
	if err != nil {
		t.Fatal(err)
	}
	return s.getCoupon(t, id)
}

func (s *stack) getCoupon(t testing.TB, id int64) *coupon.Coupon {
	t.Helper()
	c, err := coupon.Get(context.Background(), s.db, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// couponShards returns the stored shards of coupon id's push.
func (s *stack) couponShards(t testing.TB, id int64) []campaign.Shard {
	t.Helper()
	return s.shardsOf(t, campaign.KindCoupon, uint64(id))
}

// couponDelivery is the delivery of coupon c's created event.
func couponDelivery(c *coupon.Coupon) *mq.Delivery {
	return createdDelivery(campaign.KindCoupon, *c.RequestID)
}

// checkCouponTasks waits for want tasks of coupon id's push and checks them
// (checkShardTasks).
func checkCouponTasks(t *testing.T, s *stack, id int64, want int, perShard map[int]int) {
	t.Helper()
	checkShardTasks(t, s, campaign.KindCoupon, uint64(id), want, perShard)
}

// TestCouponCreateIsAnnouncedAndPlanned: a push-mode coupon is stored and
// its created event published atomically; the planner shards its segment
// (kind coupon), publishes one task per shard and tracks push_status; a
// redelivered event or a second planner creates no shard twice.
func TestCouponCreateIsAnnouncedAndPlanned(t *testing.T) {
	s := newStack(t, 4000)
	ctx := mkttest.Deadline(t, 2*time.Minute)
	tx, events := txStack(t, s)
	cr := coupon.Creator{DB: s.db, Tx: tx, Topic: s.eventsTopic}
	seg := audience.Segment{Levels: []int{1, 2}, MinActiveDays: 1}
	reqID := coupon.NewRequestID("test")
	got, err := cr.Create(ctx, pushCoupon(seg, 200, time.Now().Add(-time.Minute)), reqID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.New || got.Coupon.PushStatus != campaign.StatusCreated || *got.Coupon.RequestID != reqID {
		t.Fatalf("Create = %+v", got)
	}
	id := got.Coupon.ID
	mkttest.WaitFor(t, 2*time.Minute, "the planner to plan the coupon", func() bool { return s.getCoupon(t, id).PushStatus == campaign.StatusRunning })
	c := s.getCoupon(t, id)
	members, err := audience.Count(ctx, s.db, seg)
	if err != nil {
		t.Fatal(err)
	}
	shards := s.couponShards(t, id)
	if c.PlannedMembers != members || c.PlannedShards != len(shards) || len(shards) < 5 {
		t.Errorf("coupon planned %d members in %d shards; the segment has %d, the table %d shards",
			c.PlannedMembers, c.PlannedShards, members, len(shards))
	}
	checkCouponTasks(t, s, id, len(shards), nil)
	if n := len(s.shards(t, uint64(id))); n != 0 {
		t.Errorf("%d promotion shards for the coupon's id", n)
	}

	// The same request id again: the coupon that exists, no second event.
	again, err := cr.Create(ctx, pushCoupon(seg, 200, time.Now().Add(-time.Minute)), reqID)
	if err != nil || again.New || again.Coupon.ID != id {
		t.Fatalf("second Create = %+v, %v; want the existing coupon", again, err)
	}
	// A redelivered event: running, so nothing.
	if err := s.planner.Handle(ctx, couponDelivery(c)); err != nil {
		t.Fatal(err)
	}
	settle()
	if n := events.Load(); n != 1 {
		t.Errorf("%d created events handled, want 1", n)
	}
	if n := len(s.couponShards(t, id)); n != len(shards) {
		t.Errorf("%d shard rows after redelivery, want %d", n, len(shards))
	}
	checkCouponTasks(t, s, id, len(shards), nil)

	// The planner died while planning: a redelivered event redoes it from
	// the stored shards, republishing the pending ones only.
	mustExec(t, s, `UPDATE sales_promotion_coupon SET push_status = 'planning' WHERE id = ?`, id)
	mustExec(t, s, `UPDATE campaign_shard SET status = 'done' WHERE campaign_kind = 'coupon' AND campaign_id = ? AND shard_no = 0`, id)
	if err := s.planner.Handle(ctx, couponDelivery(c)); err != nil {
		t.Fatal(err)
	}
	if n := len(s.couponShards(t, id)); n != len(shards) {
		t.Errorf("%d shard rows after the redo, want %d", n, len(shards))
	}
	twice := map[int]int{}
	for no := 1; no < len(shards); no++ {
		twice[no] = 2
	}
	checkCouponTasks(t, s, id, 2*len(shards)-1, twice)
	if st := s.getCoupon(t, id).PushStatus; st != campaign.StatusRunning {
		t.Errorf("push %s after the redo", st)
	}

	// Invalid and unpublishable creates store nothing.
	bad := pushCoupon(seg, 200, time.Now())
	bad.Template = "Hi {nickname}"
	if _, err := cr.Create(ctx, bad, coupon.NewRequestID("test")); !errors.Is(err, coupon.ErrInvalid) {
		t.Errorf("unknown placeholder: %v, want ErrInvalid", err)
	}
	if _, err := (coupon.Creator{DB: s.db}).Create(ctx, pushCoupon(seg, 200, time.Now()), coupon.NewRequestID("test")); !errors.Is(err, coupon.ErrNoPublisher) {
		t.Errorf("push coupon without a producer: %v, want ErrNoPublisher", err)
	}
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM sales_promotion_coupon`); err != nil || n != 1 {
		t.Errorf("%d coupons stored (%v), want 1", n, err)
	}
}

func TestConcurrentCouponPlannersStoreShardsOnce(t *testing.T) {
	s := newQuietStack(t, 3000)
	ctx := mkttest.Deadline(t, 2*time.Minute)
	c := s.insertCoupon(t, pushCoupon(audience.Segment{MinActiveDays: 1}, 50, time.Now().Add(-time.Minute)))
	r, err := campaign.KindCoupon.GetRun(ctx, s.db, uint64(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	results, rows := planConcurrently(t, s, campaign.KindCoupon, uint64(c.ID), func() (planner.PlanResult, error) { return s.planner.PlanRun(ctx, r) })
	for _, res := range results {
		if res.Kind != campaign.KindCoupon {
			t.Errorf("result kind %s", res.Kind)
		}
	}
	if got := s.getCoupon(t, c.ID); got.PushStatus != campaign.StatusRunning || got.PlannedShards != len(rows) {
		t.Errorf("coupon push %s with %d planned shards, %d rows", got.PushStatus, got.PlannedShards, len(rows))
	}
}

// TestCouponPushStartsWithItsWindow: a coupon whose window starts later is
// scheduled for then; one whose window ended is failed; a disabled one is
// not planned; a lazy one is dead-lettered.
func TestCouponPushStartsWithItsWindow(t *testing.T) {
	s := newQuietStack(t, 500)
	ctx := mkttest.Deadline(t, 2*time.Minute)
	from := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	later := s.insertCoupon(t, pushCoupon(audience.Segment{}, 100, from))
	for range 2 { // redelivered: still one scheduled launch
		if err := s.planner.Handle(ctx, couponDelivery(later)); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := campaign.ListSchedules(ctx, s.db, campaign.KindCoupon, uint64(later.ID))
	if err != nil || len(rows) != 1 || !rows[0].RunAt.Equal(from.UTC()) || rows[0].Status != campaign.SchedulePending {
		t.Fatalf("schedules = %+v, %v", rows, err)
	}
	if st := s.getCoupon(t, later.ID).PushStatus; st != campaign.StatusCreated || len(s.couponShards(t, later.ID)) != 0 {
		t.Fatalf("coupon planned before its window: %s", st)
	}
	// Its window opens: the scheduler launches it.
	mustExec(t, s, `UPDATE sales_promotion_coupon SET valid_from = CURRENT_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE id = ?`, later.ID)
	mustExec(t, s, `UPDATE push_message_crontab SET run_at = CURRENT_TIMESTAMP(3) - INTERVAL 1 SECOND WHERE campaign_kind = 'coupon'`)
	sch, err := planner.NewScheduler(planner.SchedulerConfig{Planner: s.planner})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := sch.RunDue(ctx); err != nil || n != 1 {
		t.Fatalf("RunDue = %d, %v", n, err)
	}
	if got := s.getCoupon(t, later.ID); got.PushStatus != campaign.StatusRunning || len(s.couponShards(t, later.ID)) != 5 {
		t.Errorf("launched coupon: push %s, %d shards", got.PushStatus, len(s.couponShards(t, later.ID)))
	}
	rows, _ = campaign.ListSchedules(ctx, s.db, campaign.KindCoupon, uint64(later.ID))
	if len(rows) != 1 || rows[0].Status != campaign.ScheduleDone {
		t.Errorf("schedule after launch: %+v", rows)
	}

	// The window ended before the event was handled: failed, no shard.
	ended := s.insertCoupon(t, pushCoupon(audience.Segment{}, 100, time.Now().Add(-time.Minute)))
	mustExec(t, s, `UPDATE sales_promotion_coupon SET valid_from = CURRENT_TIMESTAMP(3) - INTERVAL 2 DAY,
		valid_until = CURRENT_TIMESTAMP(3) - INTERVAL 1 DAY WHERE id = ?`, ended.ID)
	if err := s.planner.Handle(ctx, couponDelivery(ended)); err != nil {
		t.Fatal(err)
	}
	if st := s.getCoupon(t, ended.ID).PushStatus; st != campaign.StatusFailed || len(s.couponShards(t, ended.ID)) != 0 {
		t.Errorf("coupon whose window ended: push %s", st)
	}

	// Disabled before planning: its push is cancelled and never planned.
	off := s.insertCoupon(t, pushCoupon(audience.Segment{}, 100, time.Now().Add(-time.Minute)))
	if _, err := coupon.SetStatus(ctx, s.db, off.ID, coupon.StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if err := s.planner.Handle(ctx, couponDelivery(off)); err != nil {
		t.Fatal(err)
	}
	if st := s.getCoupon(t, off.ID).PushStatus; st != campaign.StatusCancelled || len(s.couponShards(t, off.ID)) != 0 {
		t.Errorf("disabled coupon: push %s", st)
	}

	// A lazy coupon has no push: its event is dead-lettered at once.
	lazy := pushCoupon(audience.Segment{}, 0, time.Now())
	lazy.Mode, lazy.Template, lazy.Channels = coupon.ModeLazy, "", nil
	lc := s.insertCoupon(t, lazy)
	if err := s.planner.Handle(ctx, couponDelivery(lc)); !mq.IsPermanent(err) {
		t.Errorf("lazy coupon event: %v, want permanent", err)
	}

	// An orphaned coupon (its event dead-lettered) is swept.
	orphan := s.insertCoupon(t, pushCoupon(audience.Segment{}, 100, time.Now().Add(-time.Minute)))
	mustExec(t, s, `UPDATE sales_promotion_coupon SET created_at = CURRENT_TIMESTAMP(3) - INTERVAL 1 HOUR WHERE id = ?`, orphan.ID)
	if n, err := sch.SweepOrphans(ctx); err != nil || n != 1 {
		t.Fatalf("SweepOrphans = %d, %v; want 1", n, err)
	}
	if st := s.getCoupon(t, orphan.ID).PushStatus; st != campaign.StatusRunning {
		t.Errorf("orphan coupon: push %s", st)
	}
}
