package push_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/coupon"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/push"
)

// couponSegment matches about half of the seeded members.
var couponSegment = audience.Segment{Levels: []int{1, 2}, MinActiveDays: 1}

// couponSpec is a push-mode coupon for seg, open now.
func couponSpec(seg audience.Segment, shardSize int, quota *int64, template string, chans ...provider.Channel) coupon.Spec {
	now := time.Now()
	return coupon.Spec{
		Name: "Welcome back", Kind: coupon.KindAmount, AmountCents: 1000, ThresholdCents: 5000,
		ValidFrom: now.Add(-time.Minute), ValidUntil: now.Add(7 * 24 * time.Hour), TotalQuota: quota, PerMemberLimit: 1,
		Audience: seg, Mode: coupon.ModePush, Template: template, Channels: chans, ShardSize: shardSize,
	}
}

// launchCoupon stores a push-mode coupon, plans it into shards as the
// planner does (kind coupon) and marks its push running; it returns the
// coupon and its shard tasks.
func (e *testEnv) launchCoupon(s coupon.Spec) (*coupon.Coupon, []campaign.ShardTask) {
	e.t.Helper()
	ctx := context.Background()
	if err := s.Validate(time.Now()); err != nil {
		e.t.Fatalf("coupon spec: %v", err)
	}
	id, err := coupon.Insert(ctx, e.db, s, "")
	if err != nil {
		e.t.Fatalf("insert coupon: %v", err)
	}
	k := campaign.KindCoupon
	if err := k.Transition(ctx, e.db, uint64(id), []campaign.Status{campaign.StatusCreated}, campaign.StatusPlanning, ""); err != nil {
		e.t.Fatal(err)
	}
	plan, err := audience.Shard(ctx, e.db, s.Audience, s.ShardSize)
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	if _, err := campaign.InsertShards(ctx, e.db, k, uint64(id), plan.Shards); err != nil {
		e.t.Fatalf("insert shards: %v", err)
	}
	if err := k.SetPlanned(ctx, e.db, uint64(id), plan.Members, len(plan.Shards)); err != nil {
		e.t.Fatal(err)
	}
	tasks := make([]campaign.ShardTask, len(plan.Shards))
	for i, r := range plan.Shards {
		tasks[i] = campaign.ShardTask{Kind: k, CampaignID: uint64(id), ShardNo: r.No, StartID: r.Start, EndID: r.End, Mode: campaign.ModeSend}
	}
	return e.coupon(id), tasks
}

func (e *testEnv) coupon(id int64) *coupon.Coupon {
	e.t.Helper()
	c, err := coupon.Get(context.Background(), e.db, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// segmentMembers returns the active members matching seg, sorted.
func (e *testEnv) segmentMembers(seg audience.Segment) []uint64 {
	e.t.Helper()
	where, args := seg.Where("f")
	return e.ids(`SELECT a.id FROM membership_account a JOIN membership_filter f ON f.member_id = a.id
		WHERE a.status = 'active' AND `+where, args...)
}

// holders returns member → items held of coupon id.
func (e *testEnv) holders(id int64) map[uint64]int {
	e.t.Helper()
	out := map[uint64]int{}
	for _, m := range e.ids(`SELECT member_id FROM sales_promotion_coupon_item WHERE coupon_id = ?`, id) {
		out[m]++
	}
	return out
}

// couponSent returns member → push_message rows recorded sent of coupon id
// on ch.
func (e *testEnv) couponSent(id int64, ch provider.Channel) map[uint64]int {
	e.t.Helper()
	out := map[uint64]int{}
	for _, m := range e.ids(`SELECT member_id FROM push_message WHERE campaign_kind = 'coupon' AND campaign_id = ?
		AND channel = ? AND status = 'sent'`, id, ch) {
		out[m]++
	}
	return out
}

// couponInbox returns member → inbox rows of coupon id.
func (e *testEnv) couponInbox(id int64) map[uint64]int {
	e.t.Helper()
	out := map[uint64]int{}
	for _, m := range e.ids(`SELECT member_id FROM member_inbox WHERE campaign_kind = 'coupon' AND campaign_id = ?`, id) {
		out[m]++
	}
	return out
}

func keys(m map[uint64]int) []uint64 {
	out := make([]uint64, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkAnnounced checks that exactly the holders of coupon c were told once
// on sms (at the simulator and in push_message) and in the inbox.
func checkAnnounced(t *testing.T, e *testEnv, c *coupon.Coupon, holders []uint64) {
	t.Helper()
	expectExactlyOnce(t, "sms deliveries", delivered(t, e.sim, uint64(c.ID), provider.ChannelSMS), holders)
	expectExactlyOnce(t, "sms push_message sent", e.couponSent(c.ID, provider.ChannelSMS), holders)
	expectExactlyOnce(t, "inbox push_message sent", e.couponSent(c.ID, provider.ChannelInbox), holders)
	expectExactlyOnce(t, "inbox rows", e.couponInbox(c.ID), holders)
	if n := e.count(`SELECT COUNT(*) FROM push_message WHERE campaign_kind = 'coupon' AND campaign_id = ? AND status <> 'sent'`, c.ID); n != 0 {
		t.Errorf("%d coupon push_message rows not sent", n)
	}
}

func TestCouponPushIssuesAndAnnouncesExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 6000, providersim.Config{})
	ctx := context.Background()
	w := e.worker(push.Config{PageSize: 128, Providers: e.providers(50, 2)})
	c, tasks := e.launchCoupon(couponSpec(couponSegment, 500, nil, "{offer}: your coupon {name} is waiting, until {valid_until}",
		provider.ChannelSMS, provider.ChannelInbox))
	if len(tasks) < 4 {
		t.Fatalf("planned %d shards, want several", len(tasks))
	}
	handleAll(t, w, tasks)

	want := e.segmentMembers(couponSegment)
	if len(want) < 2000 {
		t.Fatalf("only %d members match the segment", len(want))
	}
	held := e.holders(c.ID)
	expectExactlyOnce(t, "coupon items", held, want)
	checkAnnounced(t, e, c, want)
	got := e.coupon(c.ID)
	if got.IssuedCount != int64(len(want)) || got.PushStatus != campaign.StatusCompleted {
		t.Errorf("coupon after the push: issued %d (want %d), push %s (want completed)", got.IssuedCount, len(want), got.PushStatus)
	}
	p, err := campaign.ShardProgress(ctx, e.db, campaign.KindCoupon, uint64(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if p.Done != len(tasks) || p.Sent != int64(2*len(want)) || p.FailedN != 0 {
		t.Errorf("shard progress = %+v, want %d done, %d sent", p, len(tasks), 2*len(want))
	}
	live, err := e.redis.HCounters(ctx, campaign.ProgressKey(campaign.KindCoupon, uint64(c.ID)))
	if err != nil {
		t.Fatal(err)
	}
	if live[campaign.FieldIssued] != int64(len(want)) || live[campaign.FieldNotIssued] != 0 || live[campaign.FieldSent] != int64(2*len(want)) {
		t.Errorf("live counters = %v", live)
	}
	msgs := e.couponInboxBody(c.ID, want[0])
	if msgs != "10.00 off orders from 50.00: your coupon Welcome back is waiting, until "+c.ValidUntil.Add(-time.Millisecond).UTC().Format(time.DateOnly) {
		t.Errorf("inbox text %q", msgs)
	}

	// Redelivered tasks — and a shard forced back to its start (lost
	// checkpoint) — issue and send nothing more.
	before := e.sim.Simulator().Stats().Delivered
	handleAll(t, w, tasks)
	mustExec(t, e, `UPDATE campaign_shard SET status = 'pending', cursor_id = 0 WHERE campaign_kind = 'coupon' AND campaign_id = ? AND shard_no = 1`, c.ID)
	mustExec(t, e, `UPDATE sales_promotion_coupon SET push_status = 'running' WHERE id = ?`, c.ID)
	handleAll(t, w, tasks[1:2])
	if after := e.sim.Simulator().Stats().Delivered; after != before {
		t.Errorf("redelivered tasks sent %d more messages", after-before)
	}
	expectExactlyOnce(t, "coupon items after redelivery", e.holders(c.ID), want)
	checkAnnounced(t, e, c, want)
	if got := e.coupon(c.ID); got.IssuedCount != int64(len(want)) || got.PushStatus != campaign.StatusCompleted {
		t.Errorf("coupon after redelivery: issued %d, push %s", got.IssuedCount, got.PushStatus)
	}
}

// couponInboxBody returns the inbox text of coupon id for member.
func (e *testEnv) couponInboxBody(id int64, member uint64) string {
	e.t.Helper()
	var body string
	if err := e.db.GetContext(context.Background(), &body, `SELECT body FROM member_inbox
		WHERE campaign_kind = 'coupon' AND campaign_id = ? AND member_id = ?`, id, member); err != nil {
		e.t.Fatal(err)
	}
	return body
}

func TestCouponPushQuotaSmallerThanTheSegment(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 5000, providersim.Config{Latency: providersim.Latency{Kind: providersim.LatencyUniform, Max: 5 * time.Millisecond}})
	ctx := context.Background()
	w := e.worker(push.Config{PageSize: 100, Providers: e.providers(20, 2)})
	const quota = 777
	q := int64(quota)
	c, tasks := e.launchCoupon(couponSpec(couponSegment, 300, &q, "Your coupon is waiting", provider.ChannelSMS, provider.ChannelInbox))
	handleAll(t, w, tasks) // every shard at once: grants race for the quota
	segment := e.segmentMembers(couponSegment)
	if len(segment) <= quota {
		t.Fatalf("segment of %d members is not above the quota", len(segment))
	}
	held := e.holders(c.ID)
	if len(held) != quota {
		t.Errorf("%d members hold the coupon, want exactly the quota %d", len(held), quota)
	}
	inSegment := map[uint64]bool{}
	for _, m := range segment {
		inSegment[m] = true
	}
	for m, n := range held {
		if n != 1 || !inSegment[m] {
			t.Errorf("member %d holds %d items (in segment: %v)", m, n, inSegment[m])
		}
	}
	holders := keys(held)
	checkAnnounced(t, e, c, holders)
	got := e.coupon(c.ID)
	if got.IssuedCount != quota || got.PushStatus != campaign.StatusCompleted {
		t.Errorf("coupon: issued %d (want %d), push %s", got.IssuedCount, quota, got.PushStatus)
	}
	live, err := e.redis.HCounters(ctx, campaign.ProgressKey(campaign.KindCoupon, uint64(c.ID)))
	if err != nil {
		t.Fatal(err)
	}
	if live[campaign.FieldIssued] != quota || live[campaign.FieldNotIssued] != int64(len(segment)-quota) {
		t.Errorf("live counters = %v, want %d issued, %d not issued", live, quota, len(segment)-quota)
	}
	// Redelivery changes nothing either.
	handleAll(t, w, tasks)
	if n := len(e.holders(c.ID)); n != quota {
		t.Errorf("after redelivery %d holders", n)
	}
	checkAnnounced(t, e, c, holders)
}

// slowCouponPush launches a push-mode coupon for every active member of a
// new env of 3,000, on sms and inbox in shards of 1,000, with each sms
// taking 20ms: slow enough for a test to act while it runs. It returns the
// env, a worker that rereads the push's status every 10ms, the coupon and
// its shard tasks.
func slowCouponPush(t *testing.T) (*testEnv, *push.Worker, *coupon.Coupon, []campaign.ShardTask) {
	t.Helper()
	e := newEnv(t, 3000, providersim.Config{Latency: providersim.Latency{Kind: providersim.LatencyFixed, Min: 20 * time.Millisecond}})
	w := e.worker(push.Config{PageSize: 50, StatusRefresh: 10 * time.Millisecond, Providers: e.providers(1, 2)})
	c, tasks := e.launchCoupon(couponSpec(audience.Segment{}, 1000, nil, "Your coupon is waiting", provider.ChannelSMS, provider.ChannelInbox))
	return e, w, c, tasks
}

// TestCouponDisabledMidPushStopsIt: disabling the coupon cancels its push;
// workers stop at their next page and nobody is told of a coupon they do
// not hold.
func TestCouponDisabledMidPushStopsIt(t *testing.T) {
	t.Parallel()
	e, w, c, tasks := slowCouponPush(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, len(tasks))
	for i, task := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.HandleTask(ctx, task)
		}()
	}
	mkttest.WaitFor(t, 20*time.Second, "some members told", func() bool { return e.sim.Simulator().Stats().Delivered >= 100 })
	if changed, err := coupon.SetStatus(ctx, e.db, c.ID, coupon.StatusDisabled); err != nil || !changed {
		t.Fatalf("disable: %v %v", changed, err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("task %d: %v", i, err)
		}
	}
	if got := e.coupon(c.ID); got.PushStatus != campaign.StatusCancelled {
		t.Errorf("push %s after disable, want cancelled", got.PushStatus)
	}
	p, err := campaign.ShardProgress(ctx, e.db, campaign.KindCoupon, uint64(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if p.Cancelled != len(tasks) {
		t.Errorf("shards = %+v, want all %d cancelled", p, len(tasks))
	}
	held := e.holders(c.ID)
	if len(held) == 0 || len(held) >= len(e.ids(activeIDs)) {
		t.Errorf("%d holders: the push should have stopped part-way", len(held))
	}
	// Every member told holds the coupon, each told at most once.
	for ch, got := range map[provider.Channel]map[uint64]int{
		provider.ChannelSMS:   delivered(t, e.sim, uint64(c.ID), provider.ChannelSMS),
		provider.ChannelInbox: e.couponInbox(c.ID),
	} {
		for m, n := range got {
			if n != 1 || held[m] == 0 {
				t.Errorf("%s: member %d told %d times, holds %d", ch, m, n, held[m])
			}
		}
	}
	// Redelivered tasks do nothing now.
	before := e.sim.Simulator().Stats().Delivered
	handleAll(t, w, tasks)
	if after := e.sim.Simulator().Stats().Delivered; after != before || len(e.holders(c.ID)) != len(held) {
		t.Errorf("tasks after the disable sent %d, issued %d", after-before, len(e.holders(c.ID))-len(held))
	}
}

// TestCouponPushPauseAndResume: Control with Kind coupon parks the shards at
// their checkpoint and resumes them; every holder is told exactly once.
func TestCouponPushPauseAndResume(t *testing.T) {
	t.Parallel()
	e, w, c, tasks := slowCouponPush(t)
	ctx := context.Background()
	pub := &capture{}
	ctl := &campaign.Control{DB: e.db, Kind: campaign.KindCoupon, Publisher: pub, Logger: e.log}
	done := make(chan struct{})
	go func() {
		defer close(done)
		handleAll(t, w, tasks)
	}()
	mkttest.WaitFor(t, 20*time.Second, "some members told", func() bool { return e.sim.Simulator().Stats().Delivered >= 100 })
	res, err := ctl.Pause(ctx, uint64(c.ID))
	if err != nil || res.Run == nil || res.Run.Status != campaign.StatusPaused {
		t.Fatalf("pause = %+v, %v", res, err)
	}
	<-done
	p, err := campaign.ShardProgress(ctx, e.db, campaign.KindCoupon, uint64(c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if p.Paused+p.Done != len(tasks) || p.Paused == 0 {
		t.Fatalf("after pause: %+v", p)
	}
	if _, err := ctl.Resume(ctx, uint64(c.ID)); err != nil {
		t.Fatal(err)
	}
	handleAll(t, w, pub.tasks(t))
	if got := e.coupon(c.ID); got.PushStatus != campaign.StatusCompleted {
		t.Fatalf("push %s after resume", got.PushStatus)
	}
	active := e.ids(activeIDs)
	expectExactlyOnce(t, "coupon items", e.holders(c.ID), active)
	checkAnnounced(t, e, c, active)
	if _, err := ctl.Resume(ctx, uint64(c.ID)); !errors.Is(err, campaign.ErrConflict) {
		t.Errorf("resume of a completed push: %v, want ErrConflict", err)
	}
}

func TestReaperRepublishesCouponShards(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 300, providersim.Config{})
	ctx := context.Background()
	c, tasks := e.launchCoupon(couponSpec(audience.Segment{}, 100, nil, "Your coupon is waiting", provider.ChannelSMS))
	if _, won, err := campaign.ClaimShard(ctx, e.db, campaign.KindCoupon, uint64(c.ID), 0,
		campaign.ClaimOptions{Owner: "dead", Lease: 10 * time.Millisecond}); err != nil || !won {
		t.Fatal(won, err)
	}
	pub := &capture{}
	r, err := push.NewReaper(push.ReaperConfig{DB: e.db, Publisher: pub, Grace: 50 * time.Millisecond, Interval: time.Hour, Logger: e.log})
	if err != nil {
		t.Fatal(err)
	}
	// The lease and the grace run on the database's clock (the reaper
	// compares with CURRENT_TIMESTAMP), which a test cannot move: wait them out.
	time.Sleep(100 * time.Millisecond)
	res, err := r.Sweep(ctx)
	if err != nil || res.Republished != 1 {
		t.Fatalf("sweep = %+v, %v", res, err)
	}
	if got := pub.tasks(t); len(got) != 1 || got[0] != tasks[0] {
		t.Fatalf("republished %+v, want %+v", got, tasks[0])
	}
	handleAll(t, e.worker(push.Config{}), tasks)
	if got := e.coupon(c.ID); got.PushStatus != campaign.StatusCompleted || got.IssuedCount != int64(len(e.ids(activeIDs))) {
		t.Errorf("coupon after the push: %s, %d issued", got.PushStatus, got.IssuedCount)
	}
}

func TestCouponTasksThatCannotWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 100, providersim.Config{})
	ctx := context.Background()
	w := e.worker(push.Config{})
	lazy := couponSpec(audience.Segment{}, 100, nil, "", provider.ChannelSMS)
	lazy.Mode, lazy.Template, lazy.Channels, lazy.ShardSize = coupon.ModeLazy, "", nil, 0
	id, err := coupon.Insert(ctx, e.db, lazy, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, task := range map[string]campaign.ShardTask{
		"lazy coupon":    {Kind: campaign.KindCoupon, CampaignID: uint64(id), StartID: 1, EndID: 9, Mode: campaign.ModeSend},
		"unknown coupon": {Kind: campaign.KindCoupon, CampaignID: uint64(id) + 99, StartID: 1, EndID: 9, Mode: campaign.ModeSend},
	} {
		if err := w.HandleTask(ctx, task); !mq.IsPermanent(err) {
			t.Errorf("%s: HandleTask = %v, want a permanent error", name, err)
		}
	}

	// A coupon whose window has not started (by this worker's clock) is
	// left for later: nothing issued, nothing sent, the task comes back.
	early := couponSpec(audience.Segment{}, 100, nil, "Soon", provider.ChannelSMS)
	c, tasks := e.launchCoupon(early)
	mustExec(t, e, `UPDATE sales_promotion_coupon SET valid_from = CURRENT_TIMESTAMP(3) + INTERVAL 1 HOUR WHERE id = ?`, c.ID)
	if err := w.HandleTask(ctx, tasks[0]); !errors.Is(err, push.ErrCouponNotYetValid) {
		t.Errorf("early coupon: HandleTask = %v, want ErrCouponNotYetValid", err)
	}
	if n := len(e.holders(c.ID)); n != 0 || e.sim.Simulator().Stats().Delivered != 0 {
		t.Errorf("early coupon: %d holders, %d delivered", n, e.sim.Simulator().Stats().Delivered)
	}
	if s, err := campaign.GetShard(ctx, e.db, campaign.KindCoupon, uint64(c.ID), 0); err != nil || s.Owner != "" || s.Status != campaign.ShardRunning {
		t.Errorf("early coupon's shard = %+v, %v; want released", s, err)
	}
}
