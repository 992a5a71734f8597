package inbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/inbox"
	"mkt/pkg/provider"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

func TestInboxProviderIsIdempotent(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	p, err := inbox.New(inbox.Config{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	msg := provider.Message{CampaignID: 77, Channel: provider.ChannelInbox, Title: "Sale", Body: "20% off"}
	to := []provider.Recipient{{MemberID: 1}, {MemberID: 2}, {MemberID: 3}}
	for range 2 {
		for _, r := range p.Send(ctx, msg, to) {
			if !r.OK || r.Err != nil {
				t.Fatalf("result %+v", r)
			}
		}
	}
	if n, err := inbox.Count(ctx, db, campaign.KindPromotion, 77); err != nil || n != 3 {
		t.Errorf("count = %d, %v; want 3", n, err)
	}
	// Same id, other kind: another message.
	p.SendCampaign(ctx, campaign.KindCoupon, msg, to[:1])
	msgs, err := inbox.List(ctx, db, 1, 10)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("list = %+v, %v", msgs, err)
	}
	if ok, err := inbox.MarkRead(ctx, db, 1, msgs[0].ID); !ok || err != nil {
		t.Errorf("mark read: %v %v", ok, err)
	}
	if ok, _ := inbox.MarkRead(ctx, db, 2, msgs[0].ID); ok {
		t.Error("marked another member's message")
	}
	bad := p.Send(ctx, provider.Message{CampaignID: 77, Channel: provider.ChannelSMS, Body: "x"}, to)
	if bad[0].OK || !errors.Is(bad[0].Err, provider.ErrInvalidMessage) {
		t.Errorf("wrong channel: %+v", bad[0])
	}
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	if _, err := inbox.New(inbox.Config{}); !errors.Is(err, inbox.ErrInvalidConfig) {
		t.Errorf("no DB: %v", err)
	}
}

// TestInboxRidesThroughADatabaseOutage: with RetryFor, a write that meets
// a database outage waits for the database and succeeds; without it, the
// recipients fail at once, retryable.
func TestInboxRidesThroughADatabaseOutage(t *testing.T) {
	t.Parallel()
	dsn := storetest.NewDatabase(t)
	proxy, pdsn := storetest.NewProxy(t, dsn)
	db := storetest.Open(t, store.Config{DSN: pdsn})
	msg := provider.Message{CampaignID: 78, Channel: provider.ChannelInbox, Title: "Sale", Body: "20% off"}
	to := []provider.Recipient{{MemberID: 1}, {MemberID: 2}}

	once, err := inbox.New(inbox.Config{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	proxy.Cut()
	for _, r := range once.Send(context.Background(), msg, to) {
		if r.OK || !r.Retryable {
			t.Fatalf("without RetryFor, during the outage: %+v", r)
		}
	}

	patient, err := inbox.New(inbox.Config{DB: db, RetryFor: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []provider.Result, 1)
	go func() { got <- patient.Send(context.Background(), msg, to) }()
	select {
	case res := <-got:
		t.Fatalf("returned during the outage: %+v", res)
	case <-time.After(time.Second): // the outage lasts a second
	}
	proxy.Restore()
	for _, r := range <-got {
		if !r.OK {
			t.Errorf("after the outage: %+v", r)
		}
	}
	if n, err := inbox.Count(context.Background(), db, campaign.KindPromotion, 78); err != nil || n != 2 {
		t.Errorf("count = %d, %v; want 2", n, err)
	}
}
