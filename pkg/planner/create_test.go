package planner_test

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
	"mkt/pkg/provider"
	"mkt/pkg/store"
)

func testSpec() campaign.Spec {
	return campaign.Spec{
		Name: "Spring sale", Offer: campaign.OfferFullReduction, ThresholdCents: 10000, DiscountCents: 1500,
		Template: "Spend {threshold}, save {discount}", Channels: []provider.Channel{provider.ChannelEmail},
		Audience: audience.Segment{}, ShardSize: 200, CreatedBy: "test",
	}
}

// txStack adds a transactional producer (check-back campaign.TxCheck) and
// the planner's consumer, counting the created events it handles.
func txStack(t *testing.T, s *stack) (*mq.TxProducer, *atomic.Int64) {
	t.Helper()
	tx, err := mq.NewTxProducer(mq.TxProducerConfig{Config: s.mq, Group: "plantest_tx_" + s.sfx,
		Check: campaign.TxCheck(s.db, mkttest.Logger(), nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Shutdown() })
	var events atomic.Int64
	cfg := s.planner.ConsumerConfig(s.mq)
	handle := cfg.Handler
	cfg.Handler = func(ctx context.Context, d *mq.Delivery) error {
		events.Add(1)
		return handle(ctx, d)
	}
	mqtest.StartConsumer(t, cfg)
	return tx, &events
}

func TestCreateStoresAndPublishesAtomically(t *testing.T) {
	s := newStack(t, 1000)
	ctx := mkttest.Deadline(t, 2*time.Minute)
	tx, events := txStack(t, s)
	cr := campaign.Creator{DB: s.db, Tx: tx, Topic: s.eventsTopic}

	reqID := campaign.NewRequestID("test")
	got, err := cr.Create(ctx, testSpec(), reqID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.New || got.Campaign.ID == 0 || *got.Campaign.RequestID != reqID || got.Campaign.Status != campaign.StatusCreated {
		t.Fatalf("Create = %+v", got)
	}
	mkttest.WaitFor(t, 2*time.Minute, "the planner to run the created campaign", func() bool {
		return s.get(t, got.Campaign.ID).Status == campaign.StatusRunning
	})
	checkTasks(t, s, got.Campaign.ID, 5, nil)

	again, err := cr.Create(ctx, testSpec(), reqID)
	if err != nil || again.New || again.Campaign.ID != got.Campaign.ID {
		t.Fatalf("second Create with the same request id = %+v, %v; want the existing campaign", again, err)
	}
	settle()
	if n := events.Load(); n != 1 {
		t.Errorf("%d created events handled, want 1", n)
	}
	var n int
	if err := s.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM sales_promotion`); err != nil || n != 1 {
		t.Errorf("%d campaigns stored (%v), want 1", n, err)
	}

	// Bad input: nothing stored, nothing sent.
	bad := testSpec()
	bad.DiscountCents = 20000
	if _, err := cr.Create(ctx, bad, campaign.NewRequestID("test")); !errors.Is(err, campaign.ErrInvalid) {
		t.Errorf("invalid spec: %v, want ErrInvalid", err)
	}
	if _, err := cr.Create(ctx, testSpec(), "has space"); !errors.Is(err, campaign.ErrInvalid) {
		t.Errorf("invalid request id: %v, want ErrInvalid", err)
	}
}

// failingInsert fails every statement as the server would refuse it.
type failingInsert struct{ store.Handler }

func (failingInsert) ExecContext(context.Context, string, ...any) (sql.Result, error) {
	return nil, &mysql.MySQLError{Number: 1406, Message: "injected: data too long"}
}

func TestCreateRolledBackStoresAndSendsNothing(t *testing.T) {
	s := newStack(t, 0)
	ctx := mkttest.Deadline(t, time.Minute)
	tx, events := txStack(t, s)
	cr := campaign.Creator{DB: failingInsert{s.db}, Tx: tx, Topic: s.eventsTopic}
	reqID := campaign.NewRequestID("test")
	_, err := cr.Create(ctx, testSpec(), reqID)
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1406 {
		t.Fatalf("Create with a failing insert = %v, want the server error", err)
	}
	if _, err := campaign.GetByRequestID(ctx, s.db, reqID); !errors.Is(err, campaign.ErrNotFound) {
		t.Errorf("campaign after a rolled-back create: %v", err)
	}
	// A committed control message sent afterwards arrives; the rolled-back
	// one, sent before it on the same topic, must not.
	ok := campaign.NewRequestID("test")
	if _, err := (campaign.Creator{DB: s.db, Tx: tx, Topic: s.eventsTopic}).Create(ctx, testSpec(), ok); err != nil {
		t.Fatal(err)
	}
	mkttest.WaitFor(t, 2*time.Minute, "the committed event", func() bool { return events.Load() >= 1 })
	settle()
	if n := events.Load(); n != 1 {
		t.Errorf("%d created events handled, want only the committed one", n)
	}
}
