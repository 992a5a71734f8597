package campaign

import (
	"context"
	"testing"
	"time"

	"mkt/pkg/provider"
	"mkt/pkg/store/storetest"
)

func TestListFailuresPagesInMemberOrder(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	now := time.Now().UTC()
	record := func(id uint64, ds ...Delivery) {
		t.Helper()
		if err := RecordDeliveries(ctx, db, KindPromotion, id, 0, ds, now); err != nil {
			t.Fatal(err)
		}
	}
	record(1,
		Delivery{MemberID: 2, Channel: provider.ChannelApp, Reason: "no address"},
		Delivery{MemberID: 2, Channel: provider.ChannelSMS, OK: true},
		Delivery{MemberID: 5, Channel: provider.ChannelSMS, Reason: "HTTP 422: invalid number"},
		Delivery{MemberID: 7, Channel: provider.ChannelSMS, OK: true},
		Delivery{MemberID: 9, Channel: provider.ChannelApp, Reason: "no address"},
	)
	// Another campaign's failure must not show.
	record(2, Delivery{MemberID: 3, Channel: provider.ChannelSMS, Reason: "x"})
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
