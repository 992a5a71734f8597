package campaign_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/provider"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// reportFixture stores a running promotion of n shards of 100 members (ids
// 1..100n) and returns its id.
func reportFixture(t *testing.T, db *store.DB, name string, n int) uint64 {
	t.Helper()
	ctx := context.Background()
	res, err := db.ExecContext(ctx, `INSERT INTO sales_promotion (name, kind, discount_cents, message_template, channels, audience,
		status, planned_members, planned_shards, planned_at)
		VALUES (?, 'flat_discount', 100, 'hi', 'sms,inbox', '{}', 'running', ?, ?, CURRENT_TIMESTAMP(3))`, name, 100*n, n)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	ranges := make([]audience.Range, n)
	for i := range ranges {
		ranges[i] = audience.Range{No: i, Start: uint64(100*i + 1), End: uint64(100*i + 101), Expected: 100}
	}
	if _, err := campaign.InsertShards(ctx, db, campaign.KindPromotion, uint64(id), ranges); err != nil {
		t.Fatal(err)
	}
	return uint64(id)
}

// setShard puts shard no in a status with a cursor and counters.
func setShard(t *testing.T, db *store.DB, id uint64, no int, st campaign.ShardStatus, cursor uint64, sent, failed int, owner string, lease time.Duration) {
	t.Helper()
	var leaseUntil any
	if owner != "" {
		leaseUntil = time.Now().UTC().Add(lease)
	}
	if _, err := db.ExecContext(context.Background(), `UPDATE campaign_shard SET status = ?, cursor_id = ?, sent = ?, failed = ?,
		owner = ?, lease_until = ? WHERE campaign_kind = 'promotion' AND campaign_id = ? AND shard_no = ?`,
		st, cursor, sent, failed, owner, leaseUntil, id, no); err != nil {
		t.Fatal(err)
	}
}

// TestLoadReportAgreesWithShardRows: the report's counts and sums are the
// shard rows', and the heatmap shows the most urgent status of each cell's
// shards.
func TestLoadReportAgreesWithShardRows(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	id := reportFixture(t, db, "report", 10)
	other := reportFixture(t, db, "other", 3) // must not count
	setShard(t, db, other, 0, campaign.ShardFailed, 0, 0, 0, "", 0)
	// Shards 0-3 done; 4 running half way (cursor 450 of 401..500); 5 paused;
	// 6 failed; 7 cancelled; 8-9 pending.
	for no := range 4 {
		setShard(t, db, id, no, campaign.ShardDone, uint64(100*no+100), 190, 10, "", 0)
	}
	setShard(t, db, id, 4, campaign.ShardRunning, 450, 100, 0, "w1", time.Minute)
	setShard(t, db, id, 5, campaign.ShardPaused, 0, 0, 0, "", 0)
	setShard(t, db, id, 6, campaign.ShardFailed, 0, 0, 0, "", 0)
	setShard(t, db, id, 7, campaign.ShardCancelled, 0, 0, 0, "", 0)

	rep, err := campaign.LoadReport(ctx, db, campaign.KindPromotion, id, campaign.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Shards and sums counted by hand from the rows set above.
	want := campaign.Progress{Shards: 10, Pending: 2, Running: 1, Paused: 1, Done: 4, Cancelled: 1, Failed: 1,
		Expected: 1000, Sent: 4*190 + 100, FailedN: 4 * 10}
	if rep.Progress != want || rep.Processed != 450 || rep.Heatmap != nil || rep.Live != nil {
		t.Errorf("report = %+v processed %d, want %+v processed 450", rep.Progress, rep.Processed, want)
	}
	if rep.Percent != 45 {
		t.Errorf("percent = %v, want 45", rep.Percent)
	}

	// One cell per shard, then two shards per cell, then all in one.
	for _, tc := range []struct {
		cells int
		want  []campaign.ShardStatus
	}{
		{10, []campaign.ShardStatus{"done", "done", "done", "done", "running", "paused", "failed", "cancelled", "pending", "pending"}},
		{5, []campaign.ShardStatus{"done", "done", "paused", "failed", "pending"}},
		{4, []campaign.ShardStatus{"done", "paused", "failed", "pending"}}, // 3 shards per cell
		{1, []campaign.ShardStatus{"failed"}},
	} {
		rep, err := campaign.LoadReport(ctx, db, campaign.KindPromotion, id, campaign.ReportOptions{Cells: tc.cells})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Heatmap == nil || rep.Heatmap.Shards != 10 || fmt.Sprint(rep.Heatmap.Cells) != fmt.Sprint(tc.want) || rep.Progress != want {
			t.Errorf("%d cells: %+v, want %v", tc.cells, rep.Heatmap, tc.want)
		}
	}
}

func TestWorkersFromLeases(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	a, b := reportFixture(t, db, "a", 4), reportFixture(t, db, "b", 2)
	setShard(t, db, a, 0, campaign.ShardRunning, 0, 0, 0, "w1", time.Minute)
	setShard(t, db, a, 1, campaign.ShardRunning, 0, 0, 0, "w1", -time.Minute) // expired, not taken over
	setShard(t, db, a, 2, campaign.ShardRunning, 0, 0, 0, "w2", time.Minute)
	setShard(t, db, a, 3, campaign.ShardDone, 0, 0, 0, "", 0)
	setShard(t, db, b, 0, campaign.ShardRunning, 0, 0, 0, "w3", time.Minute)

	all, err := campaign.Workers(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(all); got != "[{w1 2 1} {w2 1 0} {w3 1 0}]" {
		t.Errorf("all workers = %s", got)
	}
	sa, err := campaign.KindPromotion.GetSummary(ctx, db, a)
	if err != nil {
		t.Fatal(err)
	}
	ofA, err := campaign.Workers(ctx, db, *sa)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ofA); got != "[{w1 2 1} {w2 1 0}]" {
		t.Errorf("workers of a = %s", got)
	}
}

func TestSampleFailureReasonsIsBounded(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	var ds []campaign.Delivery
	for m := uint64(1); m <= 30; m++ {
		reason := "HTTP 500"
		if m > 20 {
			reason = "no address"
		}
		ds = append(ds, campaign.Delivery{MemberID: m, Channel: provider.ChannelSMS, Reason: reason})
	}
	if err := campaign.RecordDeliveries(ctx, db, campaign.KindPromotion, 1, 0, ds, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	all, err := campaign.SampleFailureReasons(ctx, db, campaign.KindPromotion, 1, 1000, 5)
	if err != nil {
		t.Fatal(err)
	}
	if all.Sampled != 30 || fmt.Sprint(all.Reasons) != "[{sms HTTP 500 20} {sms no address 10}]" {
		t.Errorf("sample of all = %+v", all)
	}
	// The first 25 by member id: 20 HTTP 500, 5 no address; top 1 kept.
	some, err := campaign.SampleFailureReasons(ctx, db, campaign.KindPromotion, 1, 25, 1)
	if err != nil {
		t.Fatal(err)
	}
	if some.Sampled != 25 || fmt.Sprint(some.Reasons) != "[{sms HTTP 500 20}]" {
		t.Errorf("sample of 25 = %+v", some)
	}
	if _, err := campaign.SampleFailureReasons(ctx, db, campaign.KindPromotion, 1, 0, 1); err == nil {
		t.Error("a sample of 0 was accepted")
	}
}

// TestListActiveCoversEveryKind: running, paused and planning runs of both
// kinds, and those finished within the window, unfinished first.
func TestListActiveCoversEveryKind(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	running := reportFixture(t, db, "running", 1)
	paused := reportFixture(t, db, "paused", 1)
	recent := reportFixture(t, db, "done recently", 1)
	old := reportFixture(t, db, "done long ago", 1)
	created := reportFixture(t, db, "created", 1)
	for _, x := range []struct {
		id     uint64
		status string
		ago    time.Duration
	}{{paused, "paused", 0}, {recent, "completed", 10 * time.Minute}, {old, "cancelled", 3 * time.Hour}, {created, "created", 0}} {
		var finished any
		if x.ago > 0 {
			finished = time.Now().UTC().Add(-x.ago)
		}
		if _, err := db.ExecContext(ctx, `UPDATE sales_promotion SET status = ?, status_reason = ?, finished_at = ? WHERE id = ?`,
			x.status, "because "+x.status, finished, x.id); err != nil {
			t.Fatal(err)
		}
	}
	couponFixture(t, db, 900)
	if _, err := db.ExecContext(ctx, `UPDATE sales_promotion_coupon SET push_status = 'running', created_at = CURRENT_TIMESTAMP(3) + INTERVAL 1 SECOND WHERE id = 900`); err != nil {
		t.Fatal(err)
	}
	list, err := campaign.ListActive(ctx, db, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range list {
		got = append(got, fmt.Sprintf("%s:%s", s.Ref(), s.Status))
	}
	want := fmt.Sprintf("[coupon:900:running promotion:%d:paused promotion:%d:running promotion:%d:completed]", paused, running, recent)
	if fmt.Sprint(got) != want {
		t.Errorf("active = %v, want %s", got, want)
	}
	c, err := campaign.KindCoupon.GetSummary(ctx, db, 900)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "run test" || fmt.Sprint(c.Channels) != "[app]" || c.PlannedAt != nil || c.FinishedAt != nil {
		t.Errorf("coupon summary = %+v", c)
	}
	p, err := campaign.KindPromotion.GetSummary(ctx, db, paused)
	if err != nil {
		t.Fatal(err)
	}
	if p.StatusReason != "because paused" || fmt.Sprint(p.Channels) != "[sms inbox]" || p.PlannedAt == nil {
		t.Errorf("promotion summary = %+v", p)
	}
	if _, err := campaign.KindPromotion.GetSummary(ctx, db, 99999); err == nil {
		t.Error("summary of a missing campaign")
	}
}

// TestCancelSaysCancellingWhileShardsRun: a campaign cancelled with shards
// in progress is shown cancelling until its workers stopped them.
func TestCancelSaysCancellingWhileShardsRun(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	id := reportFixture(t, db, "to cancel", 3)
	setShard(t, db, id, 0, campaign.ShardRunning, 50, 0, 0, "w1", time.Minute)
	ctl := &campaign.Control{DB: db}
	res, err := ctl.Cancel(ctx, id, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.Campaign.Status != campaign.StatusCancelled || res.Note != "cancelling: 1 running shards stop at their next page" {
		t.Errorf("cancel = %s, %q", res.Campaign.Status, res.Note)
	}
	if got := campaign.DisplayStatus(campaign.StatusCancelled, 1); got != "cancelling (1 shards stop at their next page)" {
		t.Errorf("display = %q", got)
	}
	if got := campaign.DisplayStatus(campaign.StatusCancelled, 0); got != "cancelled" {
		t.Errorf("display once stopped = %q", got)
	}
}
