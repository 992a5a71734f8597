package coupon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/provider"
	"mkt/pkg/store/storetest"
)

func pushSpec(now time.Time) Spec {
	s := baseSpec(now)
	s.Mode, s.Template, s.Channels, s.ShardSize = ModePush, "Your coupon is waiting", []provider.Channel{"app", "inbox"}, 100
	return s
}

func TestPushTemplate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	s := pushSpec(now)
	s.Template = "{name}: {offer} ({amount} off {threshold}), until {valid_until}, for {member_id}"
	if err := s.Validate(now); err != nil {
		t.Fatalf("valid template: %v", err)
	}
	s.Template = "Hi {nickname}, {offer}"
	if err := s.Validate(now); err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "{nickname} is unknown") {
		t.Errorf("unknown placeholder: %v", err)
	}
	tmpl := "{name}: {offer} ({amount} off {threshold}), until {valid_until}, for {member_id}"
	c := &Coupon{Name: "Welcome", Kind: KindAmount, AmountCents: 1000, ThresholdCents: 10000, Template: &tmpl,
		ValidUntil: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)}
	if got, want := c.Render(42), "Welcome: 10.00 off orders from 100.00 (10.00 off 100.00), until 2026-12-07, for 42"; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
	if !c.HasMemberPlaceholder() {
		t.Error("HasMemberPlaceholder = false")
	}
	pct := "{percent} off, at most {cap}"
	c = &Coupon{Kind: KindPercent, PercentOff: 15, CapCents: 3000, Template: &pct}
	if got := c.Render(1); got != "15% off, at most 30.00" || c.HasMemberPlaceholder() {
		t.Errorf("Render = %q", got)
	}
	if got := (&Coupon{}).Render(1); got != "" {
		t.Errorf("Render without a template = %q", got)
	}
}

// TestDisableCancelsThePush: disabling a push-mode coupon cancels its push
// run, its pending and paused shards and its scheduled launch; a lazy
// coupon's disable touches no push.
func TestDisableCancelsThePush(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	now := time.Now()
	id, err := Insert(ctx, db, pushSpec(now), "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Get(ctx, db, id)
	if err != nil || c.PushStatus != campaign.StatusCreated || c.PlannedShards != 0 {
		t.Fatalf("push coupon = %+v, %v", c, err)
	}
	k, cid := campaign.KindCoupon, uint64(id)
	if err := k.Transition(ctx, db, cid, []campaign.Status{campaign.StatusCreated}, campaign.StatusPlanning, ""); err != nil {
		t.Fatal(err)
	}
	ranges := []audience.Range{{No: 0, Start: 1, End: 100}, {No: 1, Start: 100, End: 200}, {No: 2, Start: 200, End: 300}}
	if _, err := campaign.InsertShards(ctx, db, k, cid, ranges); err != nil {
		t.Fatal(err)
	}
	if err := k.SetPlanned(ctx, db, cid, 250, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := campaign.SetShardStatusIf(ctx, db, k, cid, 1, []campaign.ShardStatus{campaign.ShardPending}, campaign.ShardDone); err != nil {
		t.Fatal(err)
	}
	if _, err := campaign.SetShardStatusIf(ctx, db, k, cid, 2, []campaign.ShardStatus{campaign.ShardPending}, campaign.ShardPaused); err != nil {
		t.Fatal(err)
	}
	if _, err := campaign.Schedule(ctx, db, k, cid, now.Add(time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	if c, _ := Get(ctx, db, id); c.PushStatus != campaign.StatusRunning || c.PlannedShards != 3 || c.PlannedMembers != 250 {
		t.Fatalf("planned coupon = %+v", c)
	}

	changed, err := SetStatus(ctx, db, id, StatusDisabled)
	if err != nil || !changed {
		t.Fatalf("disable = %v, %v", changed, err)
	}
	if c, _ := Get(ctx, db, id); c.Status != StatusDisabled || c.PushStatus != campaign.StatusCancelled {
		t.Errorf("disabled coupon: %s, push %s", c.Status, c.PushStatus)
	}
	shards, err := campaign.ListShards(ctx, db, k, cid)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []campaign.ShardStatus{campaign.ShardCancelled, campaign.ShardDone, campaign.ShardCancelled} {
		if shards[i].Status != want {
			t.Errorf("shard %d is %s, want %s", i, shards[i].Status, want)
		}
	}
	if rows, _ := campaign.ListSchedules(ctx, db, k, cid); len(rows) != 1 || rows[0].Status != campaign.ScheduleCancelled {
		t.Errorf("schedules after disable: %+v", rows)
	}
	// Enabling it again does not restart the push; a finished push stays.
	if _, err := SetStatus(ctx, db, id, StatusActive); err != nil {
		t.Fatal(err)
	}
	if c, _ := Get(ctx, db, id); c.PushStatus != campaign.StatusCancelled {
		t.Errorf("re-enabled coupon's push %s", c.PushStatus)
	}

	lazyID, err := Insert(ctx, db, baseSpec(now), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := SetStatus(ctx, db, lazyID, StatusDisabled); err != nil {
		t.Fatal(err)
	}
	if c, _ := Get(ctx, db, lazyID); c.PushStatus != PushNone {
		t.Errorf("lazy coupon's push %s, want none", c.PushStatus)
	}
	if _, err := k.GetRun(ctx, db, uint64(lazyID)); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("a lazy coupon has a push run: %v", err)
	}
}

func TestHoldersBetween(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	s := pushSpec(time.Now())
	s.PerMemberLimit = 2
	s.TotalQuota = quota(7)
	id, err := Insert(ctx, db, s, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := IssueToMembers(ctx, db, id, []int64{5, 3, 9, 11, 20}, time.Now())
	if err != nil || res.Issued != 7 || res.Short != 2 {
		t.Fatalf("IssueToMembers = %+v, %v", res, err)
	}
	got, err := HoldersBetween(ctx, db, id, 4, 11)
	if err != nil {
		t.Fatal(err)
	}
	// Members served in order 5, 3, 9, 11 (2+2+2+1): 20 gets nothing.
	if len(got) != 3 || got[0] != 5 || got[1] != 9 || got[2] != 11 {
		t.Errorf("HoldersBetween(4, 11) = %v, want [5 9 11]", got)
	}
	if got, _ := HoldersBetween(ctx, db, id, 12, 30); len(got) != 0 {
		t.Errorf("HoldersBetween(12, 30) = %v, want none", got)
	}
}
