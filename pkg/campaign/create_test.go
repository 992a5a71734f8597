package campaign

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/mq"
	"mkt/pkg/provider"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

func validSpec() Spec {
	return Spec{
		Name: "Spring sale", Offer: OfferPercentageOff, PercentOff: 15, Template: "{percent} off: {name}",
		Channels: []provider.Channel{provider.ChannelSMS}, Audience: audience.Segment{Levels: []int{3}}, ShardSize: 1000,
	}
}

func TestCheckRequestID(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{
		"mktctl-0a1b": true, "order:42.v1_x": true, "": false, "has space": false, "ünï": false,
		string(make([]byte, 65)): false,
	} {
		if err := CheckRequestID(id); (err == nil) != ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("CheckRequestID(%q) = %v, want ok=%v", id, err, ok)
		}
	}
}

// TestTxCheckAnswers checks every answer of the check-back against a real
// database.
func TestTxCheckAnswers(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Insert(ctx, db, validSpec(), "stored"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	check := TxCheck(db, nil, func() time.Time { return now })
	msg := func(reqID string, born time.Time) mq.Message {
		return CreatedEvent{Kind: KindPromotion, RequestID: reqID}.Message("t", born)
	}
	noBorn := msg("missing", now)
	delete(noBorn.Properties, PropBornMs)
	coupon := CreatedEvent{Kind: KindCoupon, RequestID: "c-1"}.Message("t", now.Add(-time.Hour))
	for name, tc := range map[string]struct {
		m    mq.Message
		want mq.TxState
	}{
		"stored":               {msg("stored", now.Add(-time.Hour)), mq.TxCommit},
		"missing, fresh":       {msg("missing", now.Add(-10*time.Second)), mq.TxUnknown},
		"missing, old":         {msg("missing", now.Add(-2*time.Minute)), mq.TxRollback},
		"missing, no born":     {noBorn, mq.TxUnknown},
		"unreadable":           {mq.Message{Topic: "t", Body: []byte("{")}, mq.TxRollback},
		"coupon missing, old":  {coupon, mq.TxRollback},
		"by id, stored":        {CreatedEvent{Kind: KindPromotion, CampaignID: 1}.Message("t", now), mq.TxCommit},
		"by id, missing, old":  {CreatedEvent{Kind: KindPromotion, CampaignID: 99}.Message("t", now.Add(-time.Hour)), mq.TxRollback},
		"born ms is malformed": {func() mq.Message { m := msg("missing", now); m.Properties[PropBornMs] = "x"; return m }(), mq.TxUnknown},
	} {
		if got := check(ctx, tc.m); got != tc.want {
			t.Errorf("%s: check = %s, want %s", name, got, tc.want)
		}
	}
	// A database that cannot answer: unknown, the broker asks again.
	db.Close()
	if got := check(ctx, msg("stored", now.Add(-time.Hour))); got != mq.TxUnknown {
		t.Errorf("closed database: check = %s, want unknown", got)
	}
}

// fakeTx runs the local transaction like TxProducer does, without a broker
// (the real producer is exercised in pkg/planner's tests).
type fakeTx struct{ sent []mq.Message }

func (f *fakeTx) SendInTx(ctx context.Context, m mq.Message, local func(context.Context) error) error {
	f.sent = append(f.sent, m)
	if err := local(ctx); err != nil {
		return err
	}
	return nil
}

func TestCreateIdempotentAndValidated(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tx := &fakeTx{}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	cr := Creator{DB: db, Tx: tx, Topic: "events", Now: func() time.Time { return now }}
	got, err := cr.Create(ctx, validSpec(), "req-1")
	if err != nil || !got.New || got.Campaign.Status != StatusCreated {
		t.Fatalf("Create = %+v, %v", got, err)
	}
	if len(tx.sent) != 1 {
		t.Fatalf("%d events sent", len(tx.sent))
	}
	m := tx.sent[0]
	ev, err := DecodeCreatedEvent(m.Body)
	if err != nil || ev.RequestID != "req-1" || ev.Kind != KindPromotion || m.Topic != "events" || m.Tag != TagCreated ||
		m.Keys[0] != "req-1" || m.Properties[PropBornMs] != strconv.FormatInt(now.UnixMilli(), 10) {
		t.Errorf("event %+v (%+v, %v)", m, ev, err)
	}
	again, err := cr.Create(ctx, validSpec(), "req-1")
	if err != nil || again.New || again.Campaign.ID != got.Campaign.ID || len(tx.sent) != 1 {
		t.Errorf("second Create = %+v, %v, %d sends", again, err, len(tx.sent))
	}
	bad := validSpec()
	bad.PercentOff = 0
	bad.Channels = nil
	_, err = cr.Create(ctx, bad, "req-2")
	if !errors.Is(err, ErrInvalid) || len(tx.sent) != 1 {
		t.Errorf("invalid spec: %v, %d sends", err, len(tx.sent))
	}
	// A concurrent create with the same key won between the look-up and the
	// insert: the duplicate is rolled back and the winner returned.
	if _, err := Insert(ctx, db, validSpec(), "req-3"); err != nil {
		t.Fatal(err)
	}
	calls := 0
	race := Creator{DB: noLookup{db, &calls}, Tx: tx, Now: cr.Now}
	got3, err := race.Create(ctx, validSpec(), "req-3")
	if err != nil || got3.New || got3.Campaign == nil || *got3.Campaign.RequestID != "req-3" {
		t.Errorf("lost race: %+v, %v", got3, err)
	}
}

// noLookup hides existing campaigns from the first look-up, as if a
// concurrent create inserted its row just after it.
type noLookup struct {
	store.Handler
	calls *int
}

func (n noLookup) GetContext(ctx context.Context, dest any, q string, args ...any) error {
	*n.calls++
	if *n.calls == 1 {
		return sql.ErrNoRows
	}
	return n.Handler.GetContext(ctx, dest, q, args...)
}
