package planner_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
	"mkt/pkg/planner"
	"mkt/pkg/provider"
)

// createdDelivery is the delivery of the created event of kind's campaign
// with requestID.
func createdDelivery(kind campaign.Kind, requestID string) *mq.Delivery {
	ev := campaign.CreatedEvent{Kind: kind, RequestID: requestID}
	m := ev.Message("unused", time.Now())
	return &mq.Delivery{Topic: m.Topic, Tag: m.Tag, Keys: m.Keys, Body: m.Body, MsgID: "test"}
}

// checkTasks waits for want tasks of promotion id and checks them
// (checkShardTasks).
func checkTasks(t *testing.T, s *stack, id uint64, want int, perShard map[int]int) {
	t.Helper()
	checkShardTasks(t, s, campaign.KindPromotion, id, want, perShard)
}

func TestPlanEveryoneAndSegment(t *testing.T) {
	s := newStack(t, 5000)
	ctx := mkttest.Deadline(t, 2*time.Minute)
	for _, tc := range []struct {
		name string
		seg  audience.Segment
		size int
	}{
		{"everyone", audience.Segment{}, 10},
		{"segment", audience.Segment{Levels: []int{2, 3}, TagsAny: []string{"digital", "books"}}, 50},
	} {
		c := s.insert(t, tc.seg, tc.size, nil)
		want, err := audience.Shard(ctx, s.db, tc.seg, tc.size)
		if err != nil {
			t.Fatal(err)
		}
		if len(want.Shards) < 3 {
			t.Fatalf("%s: only %d shards, the test needs more", tc.name, len(want.Shards))
		}
		res, err := s.planner.Plan(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		batch := campaign.SpreadBatch(len(want.Shards), 100)
		wantSends := (len(want.Shards) + batch - 1) / batch
		if res.Status != campaign.StatusRunning || res.Members != want.Members || res.Shards != len(want.Shards) ||
			res.ShardsCreated != int64(len(want.Shards)) || res.Published != len(want.Shards) || res.Sends != wantSends ||
			res.Redo || res.Skipped != "" {
			t.Errorf("%s: result %+v; want %d members in %d shards, %d sends", tc.name, res, want.Members, len(want.Shards), wantSends)
		}
		t.Logf("%s: %d members, %d shards, %d sends, plan %v enqueue %v", tc.name, res.Members, res.Shards, res.Sends,
			res.PlanDuration, res.EnqueueDuration)
		rows := s.shards(t, c.ID)
		if len(rows) != len(want.Shards) {
			t.Fatalf("%s: %d shard rows, want %d", tc.name, len(rows), len(want.Shards))
		}
		for i, r := range want.Shards {
			got := rows[i]
			if got.No != r.No || got.StartID != r.Start || got.EndID != r.End || got.Expected != r.Expected ||
				got.Status != campaign.ShardPending {
				t.Errorf("%s: shard row %+v, want %+v pending", tc.name, got, r)
			}
		}
		after := s.get(t, c.ID)
		if after.Status != campaign.StatusRunning || after.PlannedMembers != want.Members ||
			after.PlannedShards != len(want.Shards) || after.PlannedAt == nil {
			t.Errorf("%s: campaign after planning %+v", tc.name, after)
		}
		checkTasks(t, s, c.ID, len(want.Shards), nil)
	}
}

func TestRedeliveredEventCreatesNothingTwice(t *testing.T) {
	s := newStack(t, 5000)
	ctx := mkttest.Deadline(t, 2*time.Minute)
	c := s.insert(t, audience.Segment{}, 100, nil) // 50 shards
	d := createdDelivery(campaign.KindPromotion, *c.RequestID)
	if err := s.planner.Handle(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := s.planner.Handle(ctx, d); err != nil { // running: nothing
		t.Fatal(err)
	}
	if n := len(s.shards(t, c.ID)); n != 50 {
		t.Fatalf("%d shard rows after two deliveries, want 50", n)
	}
	checkTasks(t, s, c.ID, 50, nil)

	// The planner died after storing the shards and publishing: the
	// campaign is still planning, workers have taken shards 0..19.
	mustExec(t, s, `UPDATE sales_promotion SET status = 'planning', planned_at = NULL WHERE id = ?`, c.ID)
	mustExec(t, s, `UPDATE campaign_shard SET status = 'done' WHERE campaign_id = ? AND shard_no < 10`, c.ID)
	mustExec(t, s, `UPDATE campaign_shard SET status = 'running' WHERE campaign_id = ? AND shard_no BETWEEN 10 AND 19`, c.ID)
	res, err := s.planner.Plan(ctx, s.get(t, c.ID))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Redo || res.ShardsCreated != 0 || res.Published != 30 || res.Shards != 50 || res.Members != 5000 ||
		res.Status != campaign.StatusRunning {
		t.Errorf("redo result %+v; want 30 pending shards republished, nothing created", res)
	}
	if n := len(s.shards(t, c.ID)); n != 50 {
		t.Fatalf("%d shard rows after the redo, want 50", n)
	}
	again := map[int]int{}
	for no := 20; no < 50; no++ {
		again[no] = 2
	}
	checkTasks(t, s, c.ID, 80, again)
	if got := s.get(t, c.ID); got.Status != campaign.StatusRunning || got.PlannedShards != 50 {
		t.Errorf("campaign after redo: %s with %d shards", got.Status, got.PlannedShards)
	}
}

func TestConcurrentPlannersStoreShardsOnce(t *testing.T) {
	s := newQuietStack(t, 3000)
	ctx := mkttest.Deadline(t, 2*time.Minute)
	c := s.insert(t, audience.Segment{MinActiveDays: 1}, 20, nil)
	_, rows := planConcurrently(t, s, campaign.KindPromotion, c.ID, func() (planner.PlanResult, error) { return s.planner.Plan(ctx, c) })
	if got := s.get(t, c.ID); got.Status != campaign.StatusRunning || got.PlannedShards != len(rows) {
		t.Errorf("campaign %s with %d planned shards, %d rows", got.Status, got.PlannedShards, len(rows))
	}
}

func TestHandleRejectsBadEvents(t *testing.T) {
	s := newQuietStack(t, 0)
	ctx := mkttest.Deadline(t, time.Minute)
	for _, tc := range []struct {
		name      string
		body      string
		permanent bool
		notFound  bool
	}{
		{"garbage", `{not json`, true, false},
		{"unknown field", `{"kind":"promotion","request_id":"x","where":"1=1"}`, true, false},
		{"unknown kind", `{"kind":"flyer","request_id":"x"}`, true, false},
		{"unknown hot-goods run", `{"kind":"hot_goods","request_id":"x"}`, false, true},
		{"unknown coupon", `{"kind":"coupon","request_id":"x"}`, false, true},
		{"unknown campaign", `{"kind":"promotion","request_id":"never-stored"}`, false, true},
		{"unknown id", `{"kind":"promotion","campaign_id":987654}`, false, true},
	} {
		err := s.planner.Handle(ctx, &mq.Delivery{Body: []byte(tc.body), MsgID: tc.name})
		if err == nil || mq.IsPermanent(err) != tc.permanent || errors.Is(err, campaign.ErrNotFound) != tc.notFound {
			t.Errorf("%s: Handle = %v; want permanent=%v not-found=%v", tc.name, err, tc.permanent, tc.notFound)
		}
	}
}

func TestEmptyAudienceCompletes(t *testing.T) {
	s := newQuietStack(t, 0)
	ctx := mkttest.Deadline(t, time.Minute)
	c := s.insert(t, audience.Segment{}, 1000, nil)
	res, err := s.planner.Plan(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	got := s.get(t, c.ID)
	if res.Status != campaign.StatusCompleted || res.Shards != 0 || res.Members != 0 ||
		got.Status != campaign.StatusCompleted || got.FinishedAt == nil || got.PlannedAt == nil {
		t.Errorf("empty audience: result %+v, campaign %s", res, got.Status)
	}
}

func TestPausedOrCancelledBeforePlanning(t *testing.T) {
	s := newStack(t, 2000)
	ctx := mkttest.Deadline(t, 2*time.Minute)
	// The planner's own consumer handles the created event resume sends.
	mqtest.StartConsumer(t, s.planner.ConsumerConfig(s.mq))
	ctl := &campaign.Control{DB: s.db, Publisher: s.producer, EventsTopic: s.eventsTopic,
		Publish: campaign.PublishOptions{Topic: s.shardTopic}, Logger: mkttest.Logger()}

	cancelled := s.insert(t, audience.Segment{}, 500, nil)
	if _, err := ctl.Cancel(ctx, cancelled.ID, ""); err != nil {
		t.Fatal(err)
	}
	paused := s.insert(t, audience.Segment{}, 500, nil)
	if _, err := ctl.Pause(ctx, paused.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*campaign.Campaign{cancelled, paused} {
		res, err := s.planner.Plan(ctx, s.get(t, c.ID))
		if err != nil || res.Skipped == "" || res.Published != 0 {
			t.Errorf("campaign %d: Plan = %+v, %v; want skipped", c.ID, res, err)
		}
		if n := len(s.shards(t, c.ID)); n != 0 {
			t.Errorf("campaign %d: %d shards stored", c.ID, n)
		}
	}
	// Resuming the never-planned campaign sends it back to the planner.
	res, err := ctl.Resume(ctx, paused.ID)
	if err != nil || !res.Replanned {
		t.Fatalf("resume = %+v, %v", res, err)
	}
	mkttest.WaitFor(t, 2*time.Minute, "the resumed campaign to be planned", func() bool {
		return s.get(t, paused.ID).Status == campaign.StatusRunning
	})
	checkTasks(t, s, paused.ID, 4, nil)
	if got := s.get(t, cancelled.ID); got.Status != campaign.StatusCancelled {
		t.Errorf("cancelled campaign is %s", got.Status)
	}
}

func TestPauseResumeCancelRetryFailed(t *testing.T) {
	s := newStack(t, 1000)
	ctx := mkttest.Deadline(t, 2*time.Minute)
	ctl := &campaign.Control{DB: s.db, Publisher: s.producer, EventsTopic: s.eventsTopic,
		Publish: campaign.PublishOptions{Topic: s.shardTopic}, Logger: mkttest.Logger()}
	c := s.insert(t, audience.Segment{}, 100, nil) // 10 shards
	if _, err := s.planner.Plan(ctx, c); err != nil {
		t.Fatal(err)
	}
	checkTasks(t, s, c.ID, 10, nil)

	// Workers hold shard 0 (running) and finished shard 1.
	mustExec(t, s, `UPDATE campaign_shard SET status = 'running', cursor_id = 50 WHERE campaign_id = ? AND shard_no = 0`, c.ID)
	mustExec(t, s, `UPDATE campaign_shard SET status = 'done' WHERE campaign_id = ? AND shard_no = 1`, c.ID)
	res, err := ctl.Pause(ctx, c.ID)
	if err != nil || res.Campaign.Status != campaign.StatusPaused || res.Shards != 8 {
		t.Fatalf("pause = %+v, %v; want paused with 8 pending shards parked", res, err)
	}
	// The worker parks shard 0, keeping its checkpoint.
	mustExec(t, s, `UPDATE campaign_shard SET status = 'paused' WHERE campaign_id = ? AND shard_no = 0`, c.ID)
	res, err = ctl.Resume(ctx, c.ID)
	if err != nil || res.Campaign.Status != campaign.StatusRunning || res.Shards != 9 || res.Published != 9 {
		t.Fatalf("resume = %+v, %v; want running, 9 shards republished", res, err)
	}
	per := map[int]int{1: 1}
	for no := 0; no < 10; no++ {
		if no != 1 {
			per[no] = 2
		}
	}
	checkTasks(t, s, c.ID, 19, per)
	if sh := s.shards(t, c.ID)[0]; sh.Status != campaign.ShardPending || sh.CursorID != 50 {
		t.Errorf("shard 0 after resume: %s at cursor %d", sh.Status, sh.CursorID)
	}

	// Everything finishes; shard 3 had failures.
	mustExec(t, s, `UPDATE campaign_shard SET status = 'done', failed = IF(shard_no = 3, 2, 0) WHERE campaign_id = ?`, c.ID)
	if err := campaign.RecordDeliveries(ctx, s.db, campaign.KindPromotion, c.ID, 3, []campaign.Delivery{
		{MemberID: 301, Channel: provider.ChannelSMS, Reason: "provider 500"},
		{MemberID: 302, Channel: provider.ChannelInbox, Reason: "timeout"},
	}, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	if done, err := campaign.CompleteIfDone(ctx, s.db, c.ID); err != nil || !done {
		t.Fatalf("CompleteIfDone = %v, %v", done, err)
	}
	if _, err := ctl.Resume(ctx, c.ID); !errors.Is(err, campaign.ErrConflict) {
		t.Errorf("resume of a completed campaign: %v, want ErrConflict", err)
	}
	res, err = ctl.RetryFailed(ctx, c.ID)
	if err != nil || res.Campaign.Status != campaign.StatusRunning || res.Published != 1 || res.Campaign.FinishedAt != nil {
		t.Fatalf("retry-failed = %+v, %v; want running with one retry task", res, err)
	}
	mkttest.WaitFor(t, 2*time.Minute, "the retry task", func() bool { return s.tasks.count(campaign.KindPromotion, c.ID) >= 20 })
	settle()
	got, n := s.tasks.forCampaign(campaign.KindPromotion, c.ID)
	if n != 20 || len(got[3]) != 3 || got[3][2].Mode != campaign.ModeRetryFailed {
		t.Errorf("after retry-failed: %d tasks, shard 3 got %+v", n, got[3])
	}
	if sh := s.shards(t, c.ID)[3]; sh.Status != campaign.ShardPending {
		t.Errorf("shard 3 after retry-failed: %s", sh.Status)
	}

	res, err = ctl.Cancel(ctx, c.ID, "")
	if err != nil || res.Campaign.Status != campaign.StatusCancelled || res.Shards != 1 {
		t.Fatalf("cancel = %+v, %v; want cancelled, shard 3 cancelled", res, err)
	}
	if _, err := ctl.Pause(ctx, c.ID); !errors.Is(err, campaign.ErrConflict) {
		t.Errorf("pause of a cancelled campaign: %v, want ErrConflict", err)
	}
}

func TestSchedulerLaunchesWhenDue(t *testing.T) {
	s := newStack(t, 1000)
	ctx := mkttest.Deadline(t, 2*time.Minute)
	start := time.Now().Add(2 * time.Second).Truncate(time.Millisecond)
	c := s.insert(t, audience.Segment{}, 100, &start)
	d := createdDelivery(campaign.KindPromotion, *c.RequestID)
	for range 2 { // redelivered: still one scheduled launch
		if err := s.planner.Handle(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := campaign.ListSchedules(ctx, s.db, campaign.KindPromotion, c.ID)
	if err != nil || len(rows) != 1 || rows[0].Status != campaign.SchedulePending || !rows[0].RunAt.Equal(start.UTC()) {
		t.Fatalf("schedules = %+v, %v", rows, err)
	}
	if got := s.get(t, c.ID); got.Status != campaign.StatusCreated || len(s.shards(t, c.ID)) != 0 {
		t.Fatalf("scheduled campaign was planned early: %s", got.Status)
	}
	// Two runners compete for the launch.
	for range 2 {
		sch, err := planner.NewScheduler(planner.SchedulerConfig{Planner: s.planner, PollInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sch.Stop(mkttest.Deadline(t, 10*time.Second)) })
	}
	mkttest.WaitFor(t, 2*time.Minute, "the scheduled launch", func() bool { return s.get(t, c.ID).Status == campaign.StatusRunning })
	got := s.get(t, c.ID)
	if got.PlannedAt == nil || got.PlannedAt.Before(start) {
		t.Errorf("launched at %v, before its start %v", got.PlannedAt, start)
	}
	checkTasks(t, s, c.ID, 10, nil)
	rows, _ = campaign.ListSchedules(ctx, s.db, campaign.KindPromotion, c.ID)
	if len(rows) != 1 || rows[0].Status != campaign.ScheduleDone || rows[0].Attempts != 1 {
		t.Errorf("schedule after launch: %+v", rows)
	}
}

func TestSweepPlansOrphans(t *testing.T) {
	s := newStack(t, 500)
	ctx := mkttest.Deadline(t, time.Minute)
	orphan := s.insert(t, audience.Segment{}, 100, nil)
	fresh := s.insert(t, audience.Segment{}, 100, nil)
	mustExec(t, s, `UPDATE sales_promotion SET created_at = CURRENT_TIMESTAMP(3) - INTERVAL 1 HOUR WHERE id = ?`, orphan.ID)
	sch, err := planner.NewScheduler(planner.SchedulerConfig{Planner: s.planner})
	if err != nil {
		t.Fatal(err)
	}
	n, err := sch.SweepOrphans(ctx)
	if err != nil || n != 1 {
		t.Fatalf("SweepOrphans = %d, %v; want 1", n, err)
	}
	if got := s.get(t, orphan.ID); got.Status != campaign.StatusRunning {
		t.Errorf("orphan is %s", got.Status)
	}
	if got := s.get(t, fresh.ID); got.Status != campaign.StatusCreated {
		t.Errorf("a fresh created campaign was swept: %s", got.Status)
	}
	checkTasks(t, s, orphan.ID, 5, nil)
}

func mustExec(t testing.TB, s *stack, q string, args ...any) {
	t.Helper()
	if _, err := s.db.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
