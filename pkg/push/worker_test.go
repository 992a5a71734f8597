package push_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/inbox"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/push"
)

const activeIDs = `SELECT id FROM membership_account WHERE status = 'active'`

func TestEveryoneOverSMSAndInboxExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5000, providersim.Config{})
	ctx := context.Background()
	w := e.worker(push.Config{PageSize: 200, Providers: e.providers(50, 2)}) // sms through the batch endpoint
	c, tasks := e.launch(audience.Segment{}, 1000, "{discount} off everything this weekend", provider.ChannelSMS, provider.ChannelInbox)
	if len(tasks) != 5 {
		t.Fatalf("planned %d shards, want 5", len(tasks))
	}
	handleAll(t, w, tasks)

	active := e.ids(activeIDs)
	if len(active) < 4500 {
		t.Fatalf("only %d active members seeded", len(active))
	}
	expectExactlyOnce(t, "sms deliveries", delivered(t, e.sim, c.ID, provider.ChannelSMS), active)
	for _, ch := range []string{"sms", "inbox"} {
		sent := e.ids(`SELECT member_id FROM push_message WHERE campaign_id = ? AND channel = ? AND status = 'sent'`, c.ID, ch)
		got := map[uint64]int{}
		for _, id := range sent {
			got[id]++
		}
		expectExactlyOnce(t, ch+" push_message sent", got, active)
	}
	if n := e.count(`SELECT COUNT(*) FROM push_message WHERE campaign_id = ? AND status <> 'sent'`, c.ID); n != 0 {
		t.Errorf("%d push_message rows not sent", n)
	}
	rows := map[uint64]int{}
	for _, id := range e.ids(`SELECT member_id FROM member_inbox WHERE campaign_kind = 'promotion' AND campaign_id = ?`, c.ID) {
		rows[id]++
	}
	expectExactlyOnce(t, "inbox rows", rows, active)
	msgs, err := inbox.List(ctx, e.db, active[0], 10)
	if err != nil || len(msgs) != 1 || msgs[0].Body != "5.00 off everything this weekend" || msgs[0].Title != c.Name {
		t.Errorf("inbox of member %d = %+v, %v", active[0], msgs, err)
	}

	p, err := campaign.ShardProgress(ctx, e.db, campaign.KindPromotion, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Done != 5 || p.Sent != int64(2*len(active)) || p.FailedN != 0 {
		t.Errorf("progress = %+v, want 5 done shards, %d sent, 0 failed", p, 2*len(active))
	}
	if got := e.campaign(c.ID).Status; got != campaign.StatusCompleted {
		t.Errorf("campaign status %s, want completed", got)
	}
	live, err := e.redis.HCounters(ctx, campaign.ProgressKey(campaign.KindPromotion, c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if live[campaign.FieldSent] != int64(2*len(active)) || live[campaign.FieldFailed] != 0 {
		t.Errorf("live counters = %v, want sent %d", live, 2*len(active))
	}
	// Split by channel, and the members the (one) worker went through.
	var members []int64
	for f, v := range live {
		if strings.HasPrefix(f, campaign.FieldMembersPrefix) {
			members = append(members, v)
		}
	}
	for _, ch := range []provider.Channel{provider.ChannelSMS, provider.ChannelInbox} {
		if live[campaign.ChannelField(campaign.FieldSent, ch)] != int64(len(active)) || live[campaign.ChannelField(campaign.FieldFailed, ch)] != 0 {
			t.Errorf("live counters of %s = %v, want %d sent", ch, live, len(active))
		}
	}
	if len(members) != 1 || members[0] != int64(len(active)) {
		t.Errorf("live member counters = %v, want one worker with %d", members, len(active))
	}

	// The same tasks again — a redelivery — send nothing.
	before := e.sim.Simulator().Stats().Delivered
	handleAll(t, w, tasks)
	// Even a shard forced back to pending from scratch (lost checkpoint)
	// skips every member push_message records as sent.
	if _, err := e.db.ExecContext(ctx, `UPDATE campaign_shard SET status = 'pending', cursor_id = 0 WHERE campaign_id = ? AND shard_no = 2`, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ExecContext(ctx, `UPDATE sales_promotion SET status = 'running' WHERE id = ?`, c.ID); err != nil {
		t.Fatal(err)
	}
	handleAll(t, w, tasks[2:3])
	if after := e.sim.Simulator().Stats().Delivered; after != before {
		t.Errorf("redelivered tasks sent %d more messages", after-before)
	}
	if n := e.count(`SELECT COUNT(*) FROM member_inbox WHERE campaign_id = ?`, c.ID); n != int64(len(active)) {
		t.Errorf("inbox rows after redelivery = %d, want %d", n, len(active))
	}
	if s := e.shard(c.ID, 2); s.Status != campaign.ShardDone || s.Sent != 2*int(s.EndID-s.StartID)-2*disabledIn(e, s) {
		t.Errorf("re-run shard = %+v", s)
	}
	if got := e.campaign(c.ID).Status; got != campaign.StatusCompleted {
		t.Errorf("campaign status after re-run %s, want completed", got)
	}
}

// disabledIn counts the disabled members of a shard's range.
func disabledIn(e *testEnv, s *campaign.Shard) int {
	return int(e.count(`SELECT COUNT(*) FROM membership_account WHERE status <> 'active' AND id >= ? AND id < ?`, s.StartID, s.EndID))
}

func TestSegmentReachesExactlyTheMatchingMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 4000, providersim.Config{})
	ctx := context.Background()
	seg := audience.Segment{Levels: []int{1, 2}, MinActiveDays: 3}
	w := e.worker(push.Config{PageSize: 64})
	c, tasks := e.launch(seg, 100, "Hello member {member_id}: {discount} off", provider.ChannelEmail, provider.ChannelApp, provider.ChannelInbox)
	handleAll(t, w, tasks)

	where, args := seg.Where("f")
	q := `SELECT a.id FROM membership_account a JOIN membership_filter f ON f.member_id = a.id
		WHERE a.status = 'active' AND ` + where
	matching := e.ids(q, args...)
	if len(matching) < 200 || len(matching) > 3000 {
		t.Fatalf("segment holds %d members: pick another segment", len(matching))
	}
	var sent, noAddr int
	for _, ch := range []struct {
		ch     provider.Channel
		column string
	}{{provider.ChannelEmail, "email"}, {provider.ChannelApp, "push_token"}} {
		with := e.ids(q+` AND a.`+ch.column+` <> ''`, args...)
		without := e.ids(q+` AND a.`+ch.column+` = ''`, args...)
		if len(without) == 0 {
			t.Fatalf("every member of the segment has a %s", ch.column)
		}
		expectExactlyOnce(t, string(ch.ch)+" deliveries", delivered(t, e.sim, c.ID, ch.ch), with)
		failed := map[uint64]int{}
		for _, id := range e.ids(`SELECT member_id FROM push_message WHERE campaign_id = ? AND channel = ? AND status = 'failed' AND reason = ?`,
			c.ID, ch.ch, push.ReasonNoAddress) {
			failed[id]++
		}
		expectExactlyOnce(t, string(ch.ch)+" no-address failures", failed, without)
		sent, noAddr = sent+len(with), noAddr+len(without)
	}
	rows := map[uint64]int{}
	for _, id := range e.ids(`SELECT member_id FROM member_inbox WHERE campaign_id = ?`, c.ID) {
		rows[id]++
	}
	expectExactlyOnce(t, "inbox rows", rows, matching)
	sent += len(matching)
	// {member_id}: each member's own text.
	msgs, err := inbox.List(ctx, e.db, matching[7], 1)
	if err != nil || len(msgs) != 1 || msgs[0].Body != fmt.Sprintf("Hello member %d: 5.00 off", matching[7]) {
		t.Errorf("inbox of member %d = %+v, %v", matching[7], msgs, err)
	}
	p, _ := campaign.ShardProgress(ctx, e.db, campaign.KindPromotion, c.ID)
	if p.Sent != int64(sent) || p.FailedN != int64(noAddr) || p.Done != p.Shards {
		t.Errorf("progress = %+v, want sent %d failed %d", p, sent, noAddr)
	}
	live, _ := e.redis.HCounters(ctx, campaign.ProgressKey(campaign.KindPromotion, c.ID))
	if live[campaign.FieldNoAddress] != int64(noAddr) || live[campaign.FieldFailed] != int64(noAddr) || live[campaign.FieldSent] != int64(sent) {
		t.Errorf("live counters = %v", live)
	}

}

func TestRunTwiceConcurrentlyHoldsOffTheSecond(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 600, providersim.Config{Latency: providersim.Latency{Kind: providersim.LatencyFixed, Min: 20 * time.Millisecond}})
	w1 := e.worker(push.Config{PageSize: 50, Owner: "w1"})
	w2 := e.worker(push.Config{PageSize: 50, Owner: "w2"})
	c, tasks := e.launch(audience.Segment{}, 1000, "Flash sale", provider.ChannelSMS)
	done := make(chan error, 1)
	go func() { done <- w1.HandleTask(context.Background(), tasks[0]) }()
	mkttest.WaitFor(t, 10*time.Second, "w1 to claim", func() bool { return e.shard(c.ID, 0).Owner == "w1" })
	err := w2.HandleTask(context.Background(), tasks[0])
	if !errors.Is(err, push.ErrShardHeld) || mq.IsPermanent(err) {
		t.Errorf("second handler: %v, want a retryable ErrShardHeld", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := w2.HandleTask(context.Background(), tasks[0]); err != nil {
		t.Errorf("redelivery after the shard is done: %v", err)
	}
	expectExactlyOnce(t, "sms", delivered(t, e.sim, c.ID, provider.ChannelSMS), e.ids(activeIDs))
}

// crashTest runs one shard on worker A, stops A after a few pages in the way
// stop says, then lets worker B (another owner) finish the shard, and checks
// that no member is lost and duplicates stay within the documented window.
func crashTest(t *testing.T, stop func(e *testEnv, a *push.Worker, cancel context.CancelFunc, dbA interface{ Close() error }), wantHeld bool, maxDup int) {
	const page = 100
	// Spread latencies, so that a stop finds part of the page delivered.
	e := newEnv(t, 3000, providersim.Config{Latency: providersim.Latency{Kind: providersim.LatencyUniform, Min: 2 * time.Millisecond, Max: 80 * time.Millisecond}})
	dbA := e.openDB()
	a := e.worker(push.Config{DB: dbA, Owner: "worker-a", Lease: time.Second, PageSize: page,
		Providers: map[provider.Channel]push.Sender{provider.ChannelSMS: e.httpProvider(e.sim, provider.ChannelSMS, 1, 1)}})
	b := e.worker(push.Config{Owner: "worker-b", Lease: time.Second, PageSize: page})
	c, tasks := e.launch(audience.Segment{}, 3000, "Members' week: {discount} off", provider.ChannelSMS)
	s0 := e.shard(c.ID, 0)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errA := make(chan error, 1)
	go func() { errA <- a.HandleTask(ctx, tasks[0]) }()
	mkttest.WaitFor(t, 20*time.Second, "a few pages", func() bool { return e.shard(c.ID, 0).CursorID >= s0.StartID+3*page })
	stop(e, a, cancel, dbA)
	err := <-errA
	if err == nil {
		t.Fatal("worker A returned nil after being stopped mid-shard")
	}
	mid := e.shard(c.ID, 0)
	if mid.Status != campaign.ShardRunning || mid.CursorID >= s0.EndID-1 {
		t.Fatalf("after the stop the shard is %s at cursor %d (end %d)", mid.Status, mid.CursorID, s0.EndID)
	}

	err = b.HandleTask(context.Background(), tasks[0])
	if wantHeld {
		if !errors.Is(err, push.ErrShardHeld) {
			t.Fatalf("B before A's lease expired: %v, want ErrShardHeld", err)
		}
		mkttest.WaitFor(t, 5*time.Second, "A's lease to expire", func() bool {
			s := e.shard(c.ID, 0)
			return s.LeaseUntil == nil || time.Now().After(s.LeaseUntil.Add(50*time.Millisecond))
		})
		err = b.HandleTask(context.Background(), tasks[0])
	}
	if err != nil {
		t.Fatalf("B: %v", err)
	}
	end := e.shard(c.ID, 0)
	active := e.ids(activeIDs)
	if end.Status != campaign.ShardDone || end.Sent != len(active) || end.Failed != 0 || end.Attempts != 2 {
		t.Errorf("shard after takeover = %+v, want done, sent %d, 2 attempts", end, len(active))
	}
	got := delivered(t, e.sim, c.ID, provider.ChannelSMS)
	dups := 0
	for _, id := range active {
		switch n := got[id]; {
		case n == 0:
			t.Errorf("member %d never delivered", id)
		case n > 1:
			dups += n - 1
		}
	}
	if len(got) != len(active) {
		t.Errorf("delivered to %d distinct members, want %d", len(got), len(active))
	}
	if dups > maxDup {
		t.Errorf("%d duplicate deliveries, over the documented window of %d", dups, maxDup)
	}
	t.Logf("cursor at stop %d, duplicates %d (window %d)", mid.CursorID-s0.StartID, dups, maxDup)
	if n := e.count(`SELECT COUNT(*) FROM push_message WHERE campaign_id = ? AND status = 'sent'`, c.ID); n != int64(len(active)) {
		t.Errorf("%d sent records, want %d", n, len(active))
	}
}

func TestCrashMidShardIsTakenOverAfterLeaseExpiry(t *testing.T) {
	t.Parallel()
	// A dies hard: its context ends and its database connections are gone,
	// so it can neither commit nor release; B must wait out the lease. One
	// page (one channel) in flight is the window.
	crashTest(t, func(e *testEnv, a *push.Worker, cancel context.CancelFunc, dbA interface{ Close() error }) {
		_ = dbA.Close()
		cancel()
	}, true, 100)
}

func TestStoppedMidShardIsResumedAtOnce(t *testing.T) {
	t.Parallel()
	// A's context ends (hard stop): it abandons the page in flight and
	// releases its lease, so B resumes at once from the checkpoint.
	crashTest(t, func(e *testEnv, a *push.Worker, cancel context.CancelFunc, _ interface{ Close() error }) {
		cancel()
	}, false, 100)
}

func TestDrainStopsAtPageBoundaryWithoutDuplicates(t *testing.T) {
	t.Parallel()
	crashTest(t, func(e *testEnv, a *push.Worker, _ context.CancelFunc, _ interface{ Close() error }) {
		a.BeginStop()
	}, false, 0)
}

func TestPauseParksWithCheckpointAndResumeFinishes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 4000, providersim.Config{Latency: providersim.Latency{Kind: providersim.LatencyFixed, Min: 30 * time.Millisecond}})
	ctx := context.Background()
	w := e.worker(push.Config{PageSize: 100, StatusRefresh: 50 * time.Millisecond})
	c, tasks := e.launch(audience.Segment{}, 2000, "Mid-season sale", provider.ChannelSMS, provider.ChannelInbox)
	if len(tasks) != 2 {
		t.Fatalf("%d shards", len(tasks))
	}
	s0, errc := e.startShard(ctx, w, tasks[0], 100)
	ctl := &campaign.Control{DB: e.db, Logger: e.log}
	if _, err := ctl.Pause(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("paused shard: %v", err)
	}
	parked := e.shard(c.ID, 0)
	if parked.Status != campaign.ShardPaused || parked.CursorID >= s0.EndID-1 || parked.Owner != "" {
		t.Fatalf("parked shard = %+v", parked)
	}
	// Everything sent so far is recorded: sends = checkpointed counters.
	sms := delivered(t, e.sim, c.ID, provider.ChannelSMS)
	if len(sms)*2 != parked.Sent {
		t.Errorf("%d members got sms but the shard counts %d sent (sms+inbox)", len(sms), parked.Sent)
	}
	// A task arriving while paused (shard 1 was pending) does nothing.
	if err := w.HandleTask(ctx, tasks[1]); err != nil {
		t.Fatal(err)
	}
	if s1 := e.shard(c.ID, 1); s1.Status != campaign.ShardPaused || s1.Sent != 0 {
		t.Errorf("shard 1 while paused = %+v", s1)
	}

	// Resume republishes (here: we hand the tasks over directly).
	pub := &capture{}
	ctl.Publisher = pub
	res, err := ctl.Resume(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res.Published != 2 {
		t.Errorf("resume published %d tasks", res.Published)
	}
	handleAll(t, w, pub.tasks(t))
	active := e.ids(activeIDs)
	expectExactlyOnce(t, "sms after resume", delivered(t, e.sim, c.ID, provider.ChannelSMS), active)
	if n := e.count(`SELECT COUNT(*) FROM member_inbox WHERE campaign_id = ?`, c.ID); n != int64(len(active)) {
		t.Errorf("%d inbox rows, want %d", n, len(active))
	}
	if got := e.campaign(c.ID).Status; got != campaign.StatusCompleted {
		t.Errorf("campaign %s after resume, want completed", got)
	}
}

func TestCancelStopsTheShard(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 3000, providersim.Config{Latency: providersim.Latency{Kind: providersim.LatencyFixed, Min: 30 * time.Millisecond}})
	ctx := context.Background()
	w := e.worker(push.Config{PageSize: 100, StatusRefresh: 50 * time.Millisecond})
	c, tasks := e.launch(audience.Segment{}, 1500, "Last call", provider.ChannelSMS)
	s0, errc := e.startShard(ctx, w, tasks[0], 100)
	ctl := &campaign.Control{DB: e.db, Logger: e.log}
	if _, err := ctl.Cancel(ctx, c.ID, "wrong price"); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s := e.shard(c.ID, 0)
	if s.Status != campaign.ShardCancelled || s.CursorID >= s0.EndID-1 {
		t.Errorf("cancelled shard = %+v", s)
	}
	before := e.sim.Simulator().Stats().Delivered
	if int(before) != s.Sent {
		t.Errorf("%d delivered but the shard records %d sent", before, s.Sent)
	}
	for _, task := range tasks {
		if err := w.HandleTask(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	if after := e.sim.Simulator().Stats().Delivered; after != before {
		t.Errorf("%d sends after cancel", after-before)
	}
	if s1 := e.shard(c.ID, 1); s1.Status != campaign.ShardCancelled {
		t.Errorf("shard 1 after cancel = %s", s1.Status)
	}
}

func TestRetryFailedReachesExactlyTheFailedMembers(t *testing.T) {
	t.Parallel()
	var failing []uint64
	for id := uint64(3); id <= 2000; id += 7 {
		failing = append(failing, id)
	}
	// First run: some members always refused, and 20% of calls answered 500
	// without a retry.
	e := newEnv(t, 2000, providersim.Config{FailMembers: failing, ErrorRate: 0.2})
	ctx := context.Background()
	w := e.worker(push.Config{PageSize: 100, Providers: map[provider.Channel]push.Sender{
		provider.ChannelSMS:   e.httpProvider(e.sim, provider.ChannelSMS, 1, 1),
		provider.ChannelInbox: e.inboxProvider(e.db),
	}})
	c, tasks := e.launch(audience.Segment{}, 500, "Coupon week", provider.ChannelSMS, provider.ChannelInbox)
	handleAll(t, w, tasks)
	failed := e.ids(`SELECT member_id FROM push_message WHERE campaign_id = ? AND channel = 'sms' AND status = 'failed'`, c.ID)
	if len(failed) < len(failing) {
		t.Fatalf("only %d failed deliveries", len(failed))
	}
	for _, id := range e.ids(`SELECT member_id FROM push_message WHERE campaign_id = ? AND status = 'failed' AND reason NOT LIKE '%rejected%' AND reason NOT LIKE '%unavailable%'`, c.ID) {
		t.Errorf("member %d failed for an unexpected reason", id)
		break
	}
	p, _ := campaign.ShardProgress(ctx, e.db, campaign.KindPromotion, c.ID)
	if p.FailedN != int64(len(failed)) {
		t.Errorf("shards count %d failed, push_message %d", p.FailedN, len(failed))
	}
	listed := e.ids(`SELECT member_id FROM push_failure WHERE campaign_id = ? AND channel = 'sms'`, c.ID)
	if !slices.Equal(listed, failed) {
		t.Errorf("push_failure lists %d sms failures, push_message has %d", len(listed), len(failed))
	}
	if got := e.campaign(c.ID).Status; got != campaign.StatusCompleted {
		t.Fatalf("campaign %s", got)
	}

	// The provider is fixed: a clean simulator. Retry-failed republishes.
	fixed := e.startSim(providersim.Config{})
	w2 := e.worker(push.Config{PageSize: 100, Providers: map[provider.Channel]push.Sender{
		provider.ChannelSMS:   e.httpProvider(fixed, provider.ChannelSMS, 1, 1),
		provider.ChannelInbox: e.inboxProvider(e.db),
	}})
	pub := &capture{}
	ctl := &campaign.Control{DB: e.db, Publisher: pub, Logger: e.log}
	if _, err := ctl.RetryFailed(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	retry := pub.tasks(t)
	if len(retry) == 0 || retry[0].Mode != campaign.ModeRetryFailed {
		t.Fatalf("retry tasks = %+v", retry)
	}
	handleAll(t, w2, retry)
	expectExactlyOnce(t, "retried sms", delivered(t, fixed, c.ID, provider.ChannelSMS), failed)
	if n := e.count(`SELECT COUNT(*) FROM push_message WHERE campaign_id = ? AND status = 'failed'`, c.ID); n != 0 {
		t.Errorf("%d failed records after the retry", n)
	}
	if n := e.count(`SELECT COUNT(*) FROM push_failure WHERE campaign_id = ?`, c.ID); n != 0 {
		t.Errorf("%d failures still listed after the retry", n)
	}
	active := e.ids(activeIDs)
	p, _ = campaign.ShardProgress(ctx, e.db, campaign.KindPromotion, c.ID)
	if p.FailedN != 0 || p.Sent != int64(2*len(active)) || p.Done != p.Shards {
		t.Errorf("progress after retry = %+v, want sent %d", p, 2*len(active))
	}
	live, _ := e.redis.HCounters(ctx, campaign.ProgressKey(campaign.KindPromotion, c.ID))
	if live[campaign.FieldFailed] != 0 || live[campaign.FieldSent] != int64(2*len(active)) ||
		live["failed.sms"] != 0 || live["sent.sms"] != int64(len(active)) || live["sent.inbox"] != int64(len(active)) {
		t.Errorf("live counters after retry = %v", live)
	}
	if got := e.campaign(c.ID).Status; got != campaign.StatusCompleted {
		t.Errorf("campaign %s after retry", got)
	}
	// A retry task for a done shard with nothing failed sends nothing.
	before := fixed.Simulator().Stats().Delivered
	handleAll(t, w2, retry)
	if after := fixed.Simulator().Stats().Delivered; after != before {
		t.Errorf("second retry sent %d", after-before)
	}
}

func TestAutoPauseOnHighFailureRate(t *testing.T) {
	t.Parallel()
	var failing []uint64
	for id := uint64(1); id <= 3000; id++ {
		if id%5 != 0 {
			failing = append(failing, id) // 80% refused
		}
	}
	e := newEnv(t, 3000, providersim.Config{FailMembers: failing})
	w := e.worker(push.Config{PageSize: 100, FailureThreshold: 0.5, MinAttemptsForAutoPause: 300, StatusRefresh: time.Millisecond})
	c, tasks := e.launch(audience.Segment{}, 3000, "Weekend deal", provider.ChannelSMS)
	if err := w.HandleTask(context.Background(), tasks[0]); err != nil {
		t.Fatal(err)
	}
	got := e.campaign(c.ID)
	if got.Status != campaign.StatusPaused || !strings.Contains(got.StatusReason, "auto-paused") {
		t.Fatalf("campaign = %s (%q), want auto-paused", got.Status, got.StatusReason)
	}
	s := e.shard(c.ID, 0)
	if s.Status != campaign.ShardPaused || s.Sent+s.Failed > 600 {
		t.Errorf("shard = %+v, want parked after about 300 attempts", s)
	}
	t.Logf("auto-paused: %q after %d sends", got.StatusReason, s.Sent+s.Failed)
}

func TestPoisonTasksAreDeadLettered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 50, providersim.Config{})
	w := e.worker(push.Config{})
	c, tasks := e.launch(audience.Segment{}, 50, "Hi", provider.ChannelSMS)
	ctx := context.Background()
	for name, d := range map[string]*mq.Delivery{
		"garbage":        {Body: []byte("not json")},
		"unknown field":  {Body: []byte(`{"kind":"promotion","campaign_id":1,"shard_no":0,"start_id":1,"end_id":9,"mode":"send","x":1}`)},
		"empty range":    {Body: campaign.Encode(campaign.ShardTask{Kind: campaign.KindPromotion, CampaignID: c.ID, StartID: 5, EndID: 5, Mode: campaign.ModeSend})},
		"no campaign":    {Body: campaign.Encode(campaign.ShardTask{Kind: campaign.KindPromotion, CampaignID: c.ID + 99, StartID: 1, EndID: 9, Mode: campaign.ModeSend})},
		"no shard":       {Body: campaign.Encode(campaign.ShardTask{Kind: campaign.KindPromotion, CampaignID: c.ID, ShardNo: 7, StartID: 1, EndID: 9, Mode: campaign.ModeSend})},
		"unhandled kind": {Body: campaign.Encode(campaign.ShardTask{Kind: campaign.KindHotGoods, CampaignID: 1, StartID: 1, EndID: 9, Mode: campaign.ModeSend})},
	} {
		if err := w.Handle(ctx, d); !mq.IsPermanent(err) {
			t.Errorf("%s: %v, want a permanent error", name, err)
		}
	}
	if err := w.Handle(ctx, &mq.Delivery{Body: campaign.Encode(tasks[0])}); err != nil {
		t.Errorf("good task: %v", err)
	}
	// A channel without a provider: retryable, the shard untouched.
	w2 := e.worker(push.Config{Providers: map[provider.Channel]push.Sender{provider.ChannelInbox: e.inboxProvider(e.db)}})
	c2, tasks2 := e.launch(audience.Segment{}, 50, "Hi", provider.ChannelSMS)
	if err := w2.HandleTask(ctx, tasks2[0]); !errors.Is(err, push.ErrNoProvider) || mq.IsPermanent(err) {
		t.Errorf("missing provider: %v", err)
	}
	if s := e.shard(c2.ID, 0); s.Status != campaign.ShardPending {
		t.Errorf("shard without provider = %s", s.Status)
	}
}

// capture is a campaign.Publisher that keeps what it is given.
type capture struct {
	mu   sync.Mutex
	msgs []mq.Message
}

func (c *capture) SendBatch(_ context.Context, msgs []mq.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
	return nil
}

// count returns how many messages are captured, keeping them.
func (c *capture) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

// tasks decodes and forgets the captured messages.
func (c *capture) tasks(t testing.TB) []campaign.ShardTask {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]campaign.ShardTask, 0, len(c.msgs))
	for _, m := range c.msgs {
		if m.Topic != campaign.TopicShards || m.Tag != campaign.TagShard {
			t.Errorf("message on %s/%s", m.Topic, m.Tag)
		}
		task, err := campaign.DecodeShardTask(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, task)
	}
	c.msgs = nil
	return out
}
