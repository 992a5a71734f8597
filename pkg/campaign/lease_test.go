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

// leaseFixture stores a campaign with two shards and returns its id.
func leaseFixture(t *testing.T, db *store.DB) uint64 {
	t.Helper()
	ctx := context.Background()
	res, err := db.ExecContext(ctx, `INSERT INTO sales_promotion (name, kind, discount_cents, message_template, channels, audience, status, planned_at)
		VALUES ('lease test', 'flat_discount', 100, 'hi', 'sms', '{}', 'running', CURRENT_TIMESTAMP(3))`)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := res.LastInsertId()
	id := uint64(n)
	if _, err := campaign.InsertShards(ctx, db, campaign.KindPromotion, id, []audience.Range{
		{No: 0, Start: 1, End: 101, Expected: 100}, {No: 1, Start: 101, End: 201, Expected: 100},
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestShardLeases(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	id := leaseFixture(t, db)
	const k = campaign.KindPromotion
	claim := func(no int, owner string, lease time.Duration, o campaign.ClaimOptions) (*campaign.Shard, bool) {
		t.Helper()
		o.Owner, o.Lease = owner, lease
		s, won, err := campaign.ClaimShard(ctx, db, k, id, no, o)
		if err != nil {
			t.Fatal(err)
		}
		return s, won
	}

	s, won := claim(0, "a", time.Minute, campaign.ClaimOptions{})
	if !won || s.Status != campaign.ShardRunning || s.Owner != "a" || s.Attempts != 1 || s.StartedAt == nil {
		t.Fatalf("first claim = %v %+v", won, s)
	}
	if s, won := claim(0, "b", time.Minute, campaign.ClaimOptions{}); won || s.Owner != "a" {
		t.Errorf("claim of a live lease by b won: %+v", s)
	}
	if _, won := claim(0, "a", time.Minute, campaign.ClaimOptions{}); !won {
		t.Error("the holder could not claim again (redelivery to the same worker)")
	}
	if err := campaign.RenewLease(ctx, db, k, id, 0, "a", time.Minute); err != nil {
		t.Errorf("renew: %v", err)
	}
	if err := campaign.RenewLease(ctx, db, k, id, 0, "b", time.Minute); !errors.Is(err, campaign.ErrLeaseLost) {
		t.Errorf("renew by a non-holder: %v", err)
	}

	// Checkpoints move forward only, under the lease, in the caller's
	// transaction.
	cp := campaign.Checkpoint{Kind: k, CampaignID: id, No: 0, Owner: "a", Lease: time.Minute, Cursor: 50, Sent: 40, Failed: 10}
	if st, err := campaign.CheckpointShard(ctx, db, cp); err != nil || st != campaign.ShardRunning {
		t.Fatalf("checkpoint: %s %v", st, err)
	}
	cp.Cursor, cp.Sent, cp.Failed = 20, 5, -3 // a retry page: cursor kept, failed down
	if st, err := campaign.CheckpointShard(ctx, db, cp); err != nil || st != campaign.ShardRunning {
		t.Fatalf("checkpoint: %s %v", st, err)
	}
	if s, _ := campaign.GetShard(ctx, db, k, id, 0); s.CursorID != 50 || s.Sent != 45 || s.Failed != 7 {
		t.Errorf("after checkpoints: cursor %d sent %d failed %d", s.CursorID, s.Sent, s.Failed)
	}
	bad := cp
	bad.Owner = "b"
	if _, err := campaign.CheckpointShard(ctx, db, bad); !errors.Is(err, campaign.ErrLeaseLost) {
		t.Errorf("checkpoint by a non-holder: %v", err)
	}

	// Expiry: b takes over a lapsed lease.
	claim(1, "a", 20*time.Millisecond, campaign.ClaimOptions{})
	time.Sleep(50 * time.Millisecond) // leases run on the database's clock, which a test cannot move
	if s, won := claim(1, "b", time.Minute, campaign.ClaimOptions{}); !won || s.Attempts != 2 {
		t.Fatalf("takeover of an expired lease: %v %+v", won, s)
	}
	if ok, _ := campaign.FinishShard(ctx, db, k, id, 1, "a"); ok {
		t.Error("the former holder finished the shard")
	}
	if ok, err := campaign.FinishShard(ctx, db, k, id, 1, "b"); !ok || err != nil {
		t.Fatalf("finish: %v %v", ok, err)
	}
	if _, won := claim(1, "c", time.Minute, campaign.ClaimOptions{}); won {
		t.Error("claimed a done shard without Done")
	}
	if s, won := claim(1, "c", time.Minute, campaign.ClaimOptions{Done: true}); !won || s.FinishedAt == nil {
		t.Errorf("retry claim of a done shard: %v %+v", won, s)
	}

	// Release: anyone may claim at once.
	if ok, err := campaign.ReleaseShard(ctx, db, k, id, 1, "c", "stopping"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if _, won := claim(1, "d", time.Minute, campaign.ClaimOptions{}); !won {
		t.Error("released shard not claimable")
	}

	// Parking by the holder, and by an operator under the holder.
	if ok, _ := campaign.ParkShard(ctx, db, k, id, 1, "d", campaign.ShardPaused, "campaign paused"); !ok {
		t.Fatal("park")
	}
	if _, won := claim(1, "e", time.Minute, campaign.ClaimOptions{}); won {
		t.Error("claimed a paused shard without Paused")
	}
	if _, won := claim(1, "e", time.Minute, campaign.ClaimOptions{Paused: true}); !won {
		t.Error("could not resume a paused shard")
	}
	if _, err := campaign.SetShardsStatus(ctx, db, k, id, []campaign.ShardStatus{campaign.ShardRunning}, campaign.ShardCancelled); err != nil {
		t.Fatal(err)
	}
	st, err := campaign.CheckpointShard(ctx, db, campaign.Checkpoint{Kind: k, CampaignID: id, No: 1, Owner: "e", Lease: time.Minute, Cursor: 150, Sent: 7})
	if err != nil || st != campaign.ShardCancelled {
		t.Errorf("checkpoint of a shard cancelled under its holder = %s, %v; want the page kept and cancelled", st, err)
	}
	if s, _ := campaign.GetShard(ctx, db, k, id, 1); s.CursorID != 150 || s.Status != campaign.ShardCancelled {
		t.Errorf("cancelled shard = %+v", s)
	}
	if ok, _ := campaign.SetShardStatusIf(ctx, db, k, id, 1, []campaign.ShardStatus{campaign.ShardPending}, campaign.ShardPaused); ok {
		t.Error("moved a cancelled shard from pending")
	}
}

func TestAbandonedShardsAndRepublishMarks(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	id := leaseFixture(t, db)
	if _, won, err := campaign.ClaimShard(ctx, db, campaign.KindPromotion, id, 0, campaign.ClaimOptions{Owner: "dead", Lease: 10 * time.Millisecond}); !won || err != nil {
		t.Fatal(won, err)
	}
	time.Sleep(60 * time.Millisecond) // the lease lapses on the database's clock, which a test cannot move
	got, err := campaign.AbandonedShards(ctx, db, campaign.KindPromotion, time.Hour, 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("abandoned within the grace: %v %v", got, err)
	}
	got, err = campaign.AbandonedShards(ctx, db, campaign.KindPromotion, 20*time.Millisecond, 10)
	if err != nil || len(got) != 1 || got[0].No != 0 {
		t.Fatalf("abandoned = %+v, %v", got, err)
	}
	if ok, err := campaign.MarkRepublished(ctx, db, got[0], 20*time.Millisecond); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, _ := campaign.MarkRepublished(ctx, db, got[0], 20*time.Millisecond); ok {
		t.Error("a second reaper marked the same shard")
	}
	if ok, err := campaign.FailShard(ctx, db, campaign.KindPromotion, id, 0, campaign.ShardRunning, "poison"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if s, _ := campaign.GetShard(ctx, db, campaign.KindPromotion, id, 0); s.Status != campaign.ShardFailed || s.LastError != "poison" || s.FinishedAt == nil {
		t.Errorf("failed shard = %+v", s)
	}
}
