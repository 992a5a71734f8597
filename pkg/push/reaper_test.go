package push_test

import (
	"context"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/mkttest"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/push"
)

func TestReaperRepublishesAbandonedShards(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 300, providersim.Config{})
	ctx := context.Background()
	c, tasks := e.launch(audience.Segment{}, 100, "Back in stock", provider.ChannelSMS)
	if len(tasks) != 3 {
		t.Fatalf("%d shards", len(tasks))
	}
	// Shard 0: its worker died holding a 50ms lease. Shard 1: the same, but
	// it was already claimed 10 times (poison). Shard 2: parked paused while
	// its campaign runs.
	for no, owner := range []string{"dead-0", "dead-1"} {
		if _, won, err := campaign.ClaimShard(ctx, e.db, campaign.KindPromotion, c.ID, no, campaign.ClaimOptions{Owner: owner, Lease: 50 * time.Millisecond}); err != nil || !won {
			t.Fatalf("claim shard %d: %v %v", no, won, err)
		}
	}
	mustExec(t, e, `UPDATE campaign_shard SET attempts = 10, last_error = 'boom' WHERE campaign_id = ? AND shard_no = 1`, c.ID)
	mustExec(t, e, `UPDATE campaign_shard SET status = 'paused', updated_at = CURRENT_TIMESTAMP(3) - INTERVAL 1 HOUR WHERE campaign_id = ? AND shard_no = 2`, c.ID)

	pub := &capture{}
	// A grace long enough that "immediately" below stays inside it on a
	// loaded machine (the suite runs many packages at once).
	const grace = 2 * time.Second
	r, err := push.NewReaper(push.ReaperConfig{DB: e.db, Publisher: pub, Grace: grace, Interval: time.Hour, Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Republished != 0 || res.Failed != 0 || res.Resumed != 1 {
		t.Errorf("sweep within the grace = %+v, want only the paused shard", res)
	}
	// Past the grace on the database's clock (the reaper compares with
	// CURRENT_TIMESTAMP), which a test cannot move: wait it out.
	time.Sleep(grace + 100*time.Millisecond)
	res, err = r.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The still-paused shard is republished again: once per Grace while
	// nobody resumes it.
	if res != (push.SweepResult{Republished: 1, Resumed: 1, Failed: 1}) {
		t.Errorf("sweep after the grace = %+v, want 1 republished, 1 resumed, 1 failed", res)
	}
	if res, _ := r.Sweep(ctx); res != (push.SweepResult{}) {
		t.Errorf("immediate third sweep = %+v, want nothing (tasks in flight)", res)
	}
	got := pub.tasks(t)
	if len(got) != 3 || got[0] != tasks[2] || got[1] != tasks[0] || got[2] != tasks[2] {
		t.Fatalf("republished %+v, want shards 2, 0, 2", got)
	}
	if s := e.shard(c.ID, 1); s.Status != campaign.ShardFailed || s.LastError == "" {
		t.Errorf("poison shard = %+v", s)
	}
	if s := e.shard(c.ID, 0); s.Owner != "" || s.Status != campaign.ShardRunning {
		t.Errorf("republished shard = %+v", s)
	}

	// The republished tasks finish the campaign (the failed shard counts
	// as finished).
	w := e.worker(push.Config{})
	handleAll(t, w, got[:2])
	if st := e.campaign(c.ID).Status; st != campaign.StatusCompleted {
		t.Errorf("campaign %s", st)
	}

	// The background loop sweeps too.
	c2, _ := e.launch(audience.Segment{}, 300, "Again", provider.ChannelSMS)
	if _, won, err := campaign.ClaimShard(ctx, e.db, campaign.KindPromotion, c2.ID, 0, campaign.ClaimOptions{Owner: "dead", Lease: 10 * time.Millisecond}); err != nil || !won {
		t.Fatal(won, err)
	}
	r2, err := push.NewReaper(push.ReaperConfig{DB: e.db, Publisher: pub, Grace: 10 * time.Millisecond, Interval: 20 * time.Millisecond, Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// The sweep marks the shard, then publishes: wait for both before
	// stopping it.
	mkttest.WaitFor(t, 5*time.Second, "a background sweep", func() bool { return e.shard(c2.ID, 0).Owner == "" && pub.count() > 0 })
	stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r2.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	if n := len(pub.tasks(t)); n < 1 {
		t.Errorf("background sweep published %d", n)
	}
}

func TestShardParkedUnderTheWorkerKeepsItsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2000, providersim.Config{Latency: providersim.Latency{Kind: providersim.LatencyUniform, Min: 5 * time.Millisecond, Max: 60 * time.Millisecond}})
	ctx := context.Background()
	// A lease short enough for the heartbeat to notice first, sometimes.
	w := e.worker(push.Config{PageSize: 100, Lease: 300 * time.Millisecond})
	c, tasks := e.launch(audience.Segment{}, 2000, "Parked", provider.ChannelSMS)
	_, errc := e.startShard(ctx, w, tasks[0], 100)
	// An operator moves the running shard itself (not the campaign).
	if _, err := campaign.SetShardsStatus(ctx, e.db, campaign.KindPromotion, c.ID, []campaign.ShardStatus{campaign.ShardRunning}, campaign.ShardPaused); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s := e.shard(c.ID, 0)
	got := delivered(t, e.sim, c.ID, provider.ChannelSMS)
	if s.Status != campaign.ShardPaused || len(got) != s.Sent {
		t.Errorf("parked shard %+v: %d members delivered, %d recorded", s, len(got), s.Sent)
	}
	// Resumed: every member exactly once.
	mustExec(t, e, `UPDATE campaign_shard SET status = 'pending' WHERE campaign_id = ?`, c.ID)
	handleAll(t, w, tasks)
	expectExactlyOnce(t, "sms", delivered(t, e.sim, c.ID, provider.ChannelSMS), e.ids(activeIDs))
}

func mustExec(t testing.TB, e *testEnv, q string, args ...any) {
	t.Helper()
	if _, err := e.db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
