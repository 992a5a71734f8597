package campaign

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sync/errgroup"

	"mkt/pkg/mq"
	"mkt/pkg/store"
)

// Publishing defaults.
const (
	// DefaultTaskBatch is the shard tasks per SendBatch call (the seed: 100
	// per send, so 10,000 shards = 100 sends).
	DefaultTaskBatch = 100
	// DefaultSendConcurrency is how many SendBatch calls run at once.
	DefaultSendConcurrency = 16
)

// Publisher sends messages in batches; *mq.Producer is one (it also splits a
// call's messages by count and bytes).
type Publisher interface {
	SendBatch(ctx context.Context, msgs []mq.Message) error
}

// Message returns the task as a message on topic: tag TagShard, key Key().
func (t ShardTask) Message(topic string) mq.Message {
	return mq.Message{Topic: topic, Tag: TagShard, Keys: []string{t.Key()}, Body: Encode(t)}
}

// PublishOptions tunes PublishTasks.
type PublishOptions struct {
	// Topic receives the tasks. Default TopicShards.
	Topic string
	// Batch is the tasks per SendBatch call. Default DefaultTaskBatch.
	Batch int
	// Concurrency is the SendBatch calls in flight. Default
	// DefaultSendConcurrency.
	Concurrency int
}

// minSpreadSends is the fewest sends a campaign's tasks are cut into when
// it has fewer than that many full batches. A batch lands on one queue of
// the topic, and a queue is consumed by one pushd, so a small campaign sent
// in one or two batches would be worked by one or two processes; 32 sends
// cover every queue of a 8- or 16-queue topic several times over.
const minSpreadSends = 32

// SpreadBatch is the batch size for n tasks: at most max, and small enough
// that small campaigns still make minSpreadSends sends (10,000 tasks still
// go in 100 sends of 100).
func SpreadBatch(n, maxBatch int) int {
	return min(maxBatch, max(1, (n+minSpreadSends-1)/minSpreadSends))
}

// PublishTasks sends tasks in batches of at most o.Batch, o.Concurrency batches at a
// time, and returns the number of SendBatch calls made. On error some
// batches may have been sent: callers republish, consumers are idempotent.
func PublishTasks(ctx context.Context, pub Publisher, o PublishOptions, tasks []ShardTask) (int, error) {
	if len(tasks) == 0 {
		return 0, nil
	}
	topic := cmp.Or(o.Topic, TopicShards)
	batch := SpreadBatch(len(tasks), max(cmp.Or(o.Batch, DefaultTaskBatch), 1))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(cmp.Or(o.Concurrency, DefaultSendConcurrency), 1))
	sends := 0
	for lo := 0; lo < len(tasks); lo += batch {
		chunk := tasks[lo:min(lo+batch, len(tasks))]
		msgs := make([]mq.Message, len(chunk))
		for i, t := range chunk {
			msgs[i] = t.Message(topic)
		}
		sends++
		g.Go(func() error {
			if err := pub.SendBatch(gctx, msgs); err != nil {
				return fmt.Errorf("campaign %d: publish shard tasks %d..%d: %w",
					chunk[0].CampaignID, chunk[0].ShardNo, chunk[len(chunk)-1].ShardNo, err)
			}
			return nil
		})
	}
	return sends, g.Wait()
}

// Control changes a running campaign on an operator's request: pause,
// resume, cancel and retry-failed. Every change is a conditional status
// update (see Transition), so concurrent operators and daemons cannot both
// win; the workers read the status and act within seconds. It drives
// promotions by default, or the push runs of push-mode coupons with Kind
// KindCoupon (their push_status).
type Control struct {
	// DB holds the campaigns. Required.
	DB *store.DB
	// Kind is the kind of campaign controlled: KindPromotion (default) or
	// KindCoupon.
	Kind Kind
	// Publisher sends shard tasks and created events (resume, retry-failed).
	// Required for those two.
	Publisher Publisher
	// Publish tunes task publishing (topic, batch, concurrency).
	Publish PublishOptions
	// EventsTopic receives created events. Default TopicEvents.
	EventsTopic string
	// Logger records every change. Default slog.Default().
	Logger *slog.Logger
}

func (c *Control) logger() *slog.Logger {
	return cmp.Or(c.Logger, slog.Default()).With(slog.String("kind", string(c.kind())))
}

func (c *Control) kind() Kind { return cmp.Or(c.Kind, KindPromotion) }

// Action is an operator's control operation on a run, named as the mktctl
// commands and the keys of mktctl watch name it.
type Action string

// The control actions.
const (
	ActionPause       Action = "pause"
	ActionResume      Action = "resume"
	ActionCancel      Action = "cancel"
	ActionRetryFailed Action = "retry-failed"
)

// Actions lists the control actions in the order mktctl shows them.
func Actions() []Action {
	return []Action{ActionPause, ActionResume, ActionCancel, ActionRetryFailed}
}

// Publishes reports whether a sends shard tasks or created events (resume,
// retry-failed), and so needs Control.Publisher.
func (a Action) Publishes() bool { return a == ActionResume || a == ActionRetryFailed }

// Do runs action a on run id: Pause, Resume, Cancel (with reason) or
// RetryFailed. An unknown action is an error that names it.
func (c *Control) Do(ctx context.Context, a Action, id uint64, reason string) (ControlResult, error) {
	switch a {
	case ActionPause:
		return c.Pause(ctx, id)
	case ActionResume:
		return c.Resume(ctx, id)
	case ActionCancel:
		return c.Cancel(ctx, id, reason)
	case ActionRetryFailed:
		return c.RetryFailed(ctx, id)
	}
	return ControlResult{}, fmt.Errorf("campaign: unknown control action %q", a)
}

// ControlResult reports what a control operation did.
type ControlResult struct {
	// Campaign is the promotion after the operation (nil for other kinds).
	Campaign *Campaign `json:"campaign"`
	// Run is the run after the operation, for kinds other than promotions.
	Run *Run `json:"run,omitempty"`
	// Shards is the number of shards whose status the operation changed.
	Shards int64 `json:"shards_changed"`
	// Published is the number of shard tasks (or created events) published.
	Published int `json:"published"`
	// Replanned is true when resume sent the campaign back to the planner
	// (it was paused before it was ever planned).
	Replanned bool `json:"replanned,omitempty"`
	// Note says, for the operator, what happened when it was not obvious.
	Note string `json:"note,omitempty"`
}

// Pause moves a created, planning or running campaign to paused and its
// pending shards to paused. Workers notice within seconds and park the
// shards they hold, keeping their checkpoint. Pausing a paused campaign is a
// no-op; a finished one fails with ErrConflict.
func (c *Control) Pause(ctx context.Context, id uint64) (ControlResult, error) {
	var res ControlResult
	err := c.DB.InTx(ctx, func(tx store.Handler) error {
		if err := c.kind().Transition(ctx, tx, id, []Status{StatusCreated, StatusPlanning, StatusRunning}, StatusPaused, "paused by operator"); err != nil {
			return err
		}
		n, err := SetShardsStatus(ctx, tx, c.kind(), id, []ShardStatus{ShardPending}, ShardPaused)
		res.Shards = n
		return err
	})
	if err != nil {
		return res, err
	}
	c.logger().Info("campaign: paused", slog.Uint64("campaign_id", id), slog.Int64("shards", res.Shards))
	return c.reload(ctx, id, res)
}

// Resume continues a paused campaign: paused → running, paused shards →
// pending, and a send task is republished for every pending shard (a shard
// resumes from its checkpoint, so nothing sent is sent again). A campaign
// paused before it was planned goes back to created and its created event is
// published again. Resuming a running campaign republishes its pending
// shards (it repairs a resume interrupted before publishing). Any other
// status fails with ErrConflict.
func (c *Control) Resume(ctx context.Context, id uint64) (ControlResult, error) {
	var res ControlResult
	k := c.kind()
	cur, err := k.GetRun(ctx, c.DB, id)
	if err != nil {
		return res, err
	}
	switch {
	case cur.Status == StatusPaused && !cur.Planned:
		if err := k.Transition(ctx, c.DB, id, []Status{StatusPaused}, StatusCreated, "resumed before planning"); err != nil {
			return res, err
		}
		ev := CreatedEvent{Kind: k, CampaignID: id}
		if cur.RequestID != nil {
			ev.RequestID = *cur.RequestID
		}
		if err := c.Publisher.SendBatch(ctx, []mq.Message{ev.Message(cmp.Or(c.EventsTopic, TopicEvents), time.Now())}); err != nil {
			return res, fmt.Errorf("campaign %d: publish created event again (the campaign is created; resume again): %w", id, err)
		}
		res.Replanned, res.Published = true, 1
		res.Note = "paused before planning: sent back to the planner"
	case cur.Status == StatusPaused || cur.Status == StatusRunning:
		err := c.DB.InTx(ctx, func(tx store.Handler) error {
			if err := k.Transition(ctx, tx, id, []Status{StatusPaused, StatusRunning}, StatusRunning, ""); err != nil {
				return err
			}
			n, err := SetShardsStatus(ctx, tx, k, id, []ShardStatus{ShardPaused}, ShardPending)
			res.Shards = n
			return err
		})
		if err != nil {
			return res, err
		}
		if cur.Status == StatusRunning {
			res.Note = "already running: pending shards republished"
		}
		n, err := c.publishShards(ctx, id, ModeSend, ShardPending)
		res.Published = n
		if err != nil {
			return res, fmt.Errorf("%w (the campaign is running; resume again to republish)", err)
		}
		if _, err := k.CompleteIfDone(ctx, c.DB, id); err != nil {
			return res, err
		}
	default:
		return res, fmt.Errorf("%w: %s %d is %s, only a paused one can be resumed", ErrConflict, k, id, cur.Status)
	}
	c.logger().Info("campaign: resumed", slog.Uint64("campaign_id", id), slog.Int64("shards", res.Shards),
		slog.Int("published", res.Published), slog.Bool("replanned", res.Replanned))
	return c.reload(ctx, id, res)
}

// Cancel moves an unfinished campaign to cancelled, its pending and paused
// shards to cancelled and its pending scheduled launches to cancelled.
// Running shards are stopped by their workers within seconds. Cancelling a
// cancelled campaign is a no-op; a completed or failed one fails with
// ErrConflict.
func (c *Control) Cancel(ctx context.Context, id uint64, reason string) (ControlResult, error) {
	var res ControlResult
	reason = cmp.Or(reason, "cancelled by operator")
	err := c.DB.InTx(ctx, func(tx store.Handler) error {
		if err := c.kind().Transition(ctx, tx, id, []Status{StatusCreated, StatusPlanning, StatusRunning, StatusPaused}, StatusCancelled, reason); err != nil {
			return err
		}
		n, err := SetShardsStatus(ctx, tx, c.kind(), id, []ShardStatus{ShardPending, ShardPaused}, ShardCancelled)
		if err != nil {
			return err
		}
		res.Shards = n
		_, err = CancelSchedules(ctx, tx, c.kind(), id, reason)
		return err
	})
	if err != nil {
		return res, err
	}
	c.logger().Info("campaign: cancelled", slog.Uint64("campaign_id", id), slog.Int64("shards", res.Shards))
	// Shards in progress send until their next page boundary: say so, and
	// show and watch say "cancelling" until they stopped.
	if p, err := ShardProgress(ctx, c.DB, c.kind(), id); err == nil && p.Running > 0 {
		res.Note = fmt.Sprintf("cancelling: %d running shards stop at their next page", p.Running)
	}
	return c.reload(ctx, id, res)
}

// RetryFailed re-sends to the members whose delivery failed: every finished
// shard with a failed push_message row goes back to pending and gets a
// ModeRetryFailed task (the worker re-sends only to those members); a
// completed campaign goes back to running. Shards still pending or running
// are left to finish first (retry again afterwards). A campaign that is not
// running or completed fails with ErrConflict.
func (c *Control) RetryFailed(ctx context.Context, id uint64) (ControlResult, error) {
	var res ControlResult
	k := c.kind()
	cur, err := k.GetRun(ctx, c.DB, id)
	if err != nil {
		return res, err
	}
	if cur.Status != StatusRunning && cur.Status != StatusCompleted {
		return res, fmt.Errorf("%w: %s %d is %s, retry-failed needs a running or completed one", ErrConflict, k, id, cur.Status)
	}
	nos, err := FailedShardNos(ctx, c.DB, k, id)
	if err != nil {
		return res, err
	}
	if len(nos) == 0 {
		res.Note = "no failed deliveries"
		return c.reload(ctx, id, res)
	}
	var shards []Shard
	err = c.DB.InTx(ctx, func(tx store.Handler) error {
		n, err := ReopenShards(ctx, tx, k, id, nos)
		if err != nil {
			return err
		}
		res.Shards = n
		if err := k.Transition(ctx, tx, id, []Status{StatusRunning, StatusCompleted}, StatusRunning, ""); err != nil {
			return err
		}
		shards, err = ShardsByNo(ctx, tx, k, id, nos)
		return err
	})
	if err != nil {
		return res, err
	}
	tasks := make([]ShardTask, 0, len(shards))
	for _, s := range shards {
		if s.Status == ShardPending {
			tasks = append(tasks, s.Task(ModeRetryFailed))
		}
	}
	if skipped := len(nos) - len(tasks); skipped > 0 {
		res.Note = fmt.Sprintf("%d shard(s) with failures are still running; retry again once they finish", skipped)
	}
	if _, err := PublishTasks(ctx, c.Publisher, c.Publish, tasks); err != nil {
		return res, fmt.Errorf("%w (shards reopened; run retry-failed again to republish)", err)
	}
	res.Published = len(tasks)
	c.logger().Info("campaign: retrying failed deliveries", slog.Uint64("campaign_id", id),
		slog.Int("shards", len(tasks)))
	return c.reload(ctx, id, res)
}

// publishShards publishes a mode task for every shard of the campaign in
// one of statuses and returns how many.
func (c *Control) publishShards(ctx context.Context, id uint64, mode TaskMode, statuses ...ShardStatus) (int, error) {
	shards, err := ListShards(ctx, c.DB, c.kind(), id, statuses...)
	if err != nil {
		return 0, err
	}
	tasks := make([]ShardTask, len(shards))
	for i, s := range shards {
		tasks[i] = s.Task(mode)
	}
	if _, err := PublishTasks(ctx, c.Publisher, c.Publish, tasks); err != nil {
		return 0, err
	}
	return len(tasks), nil
}

func (c *Control) reload(ctx context.Context, id uint64, res ControlResult) (ControlResult, error) {
	if k := c.kind(); k != KindPromotion {
		r, err := k.GetRun(ctx, c.DB, id)
		if err != nil {
			return res, err
		}
		res.Run = r
		return res, nil
	}
	cur, err := Get(ctx, c.DB, id)
	if err != nil {
		return res, err
	}
	res.Campaign = cur
	return res, nil
}
