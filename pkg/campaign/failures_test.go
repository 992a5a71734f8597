package campaign

import (
	"context"
	"testing"

	"mkt/pkg/store/storetest"
)

func TestListFailuresPagesInMemberOrder(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	rows := []struct {
		member        uint64
		channel, stat string
		reason        string
	}{
		{5, "sms", "failed", "HTTP 422: invalid number"},
		{2, "app", "failed", "no address"},
		{2, "sms", "sent", ""},
		{9, "app", "failed", "no address"},
		{7, "sms", "sent", ""},
	}
	for _, r := range rows {
		if _, err := db.ExecContext(ctx, `INSERT INTO push_message (campaign_kind, campaign_id, shard_no, member_id, channel, status, reason)
			VALUES ('promotion', 1, 0, ?, ?, ?, ?)`, r.member, r.channel, r.stat, r.reason); err != nil {
			t.Fatal(err)
		}
	}
	// Another campaign's failure must not show.
	if _, err := db.ExecContext(ctx, `INSERT INTO push_message (campaign_kind, campaign_id, shard_no, member_id, channel, status, reason)
		VALUES ('promotion', 2, 0, 3, 'sms', 'failed', 'x')`); err != nil {
		t.Fatal(err)
	}
	page, err := ListFailures(ctx, db, KindPromotion, 1, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].MemberID != 2 || page[1].MemberID != 5 {
		t.Fatalf("first page = %+v, want members 2, 5", page)
	}
	page, err = ListFailures(ctx, db, KindPromotion, 1, page[1].MemberID, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 1 || page[0].MemberID != 9 || page[0].Reason != "no address" {
		t.Fatalf("second page = %+v, want member 9", page)
	}
	reasons, err := CountFailureReasons(ctx, db, KindPromotion, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(reasons) != 2 || reasons[0].Reason != "no address" || reasons[0].Count != 2 {
		t.Fatalf("reasons = %+v", reasons)
	}
}

func TestSpreadBatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, max, want int }{
		{1, 100, 1},
		{50, 100, 2},     // 25 sends: spread over the queues
		{1000, 100, 32},  // 32 sends
		{3200, 100, 100}, // full batches from here on
		{10000, 100, 100},
		{10000, 1, 1},
	} {
		if got := SpreadBatch(tc.n, tc.max); got != tc.want {
			t.Errorf("SpreadBatch(%d, %d) = %d, want %d", tc.n, tc.max, got, tc.want)
		}
	}
}
