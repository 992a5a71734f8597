// Package planner turns stored campaigns into shard work: it consumes
// campaign created events — of promotions, and of push-mode coupons — cuts
// the run's audience into shards (audience.Shard), stores the shard rows
// idempotently in campaign_shard (kind promotion or coupon) and publishes one
// shard task per shard in batches. Runs that start later (a promotion's
// start time, a coupon's window start) are recorded in push_message_crontab
// and launched by the Scheduler when due. Everything here is safe to run
// twice and on several pushd at once. Both kinds follow the same status
// machine (campaign.Kind's methods): a promotion's status column, a
// coupon's push_status.
//
// Planning a run (PlanRun), by its status:
//
//   - created: → planning; shards computed and inserted in one transaction
//     under the run's row lock (all or none); a send task published per
//     shard; → running (planned_members, planned_shards, planned_at set). An
//     empty audience ends completed with 0 members. A coupon whose window
//     has already ended is failed instead (nothing could be issued).
//   - planning (a planner died or failed mid-way, or runs right now on
//     another pushd): redone. Stored shards are kept as they are (never
//     recomputed, so a segment that changed meanwhile cannot yield
//     overlapping ranges); tasks are republished for the shards still
//     pending. A concurrent duplicate therefore costs at most one extra task
//     per pending shard, which the workers' shard leases absorb.
//   - paused before it was ever planned: nothing; resume sends it back to
//     created and republishes the created event.
//   - paused or cancelled while planning: the shards are stored (a cancelled
//     run stores none once it is seen cancelled under the row lock),
//     pending shards follow the run (paused / cancelled) and no task is
//     published; resume republishes them.
//   - running, completed, cancelled, failed, paused after planning: nothing.
package planner

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/coupon"
	"mkt/pkg/mq"
	"mkt/pkg/store"
)

// Publisher sends messages in batches; *mq.Producer is one.
type Publisher interface {
	SendBatch(ctx context.Context, msgs []mq.Message) error
}

// Config configures a Planner.
type Config struct {
	// DB holds members, campaigns and shards. Required.
	DB *store.DB
	// Publisher sends the shard tasks. Required.
	Publisher Publisher
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// EventsTopic is the topic of created events. Default campaign.TopicEvents.
	EventsTopic string
	// Group is the planners' consumer group. Default campaign.GroupPlanner.
	Group string
	// ShardTopic receives shard tasks. Default campaign.TopicShards.
	ShardTopic string
	// BatchSize is the shard tasks per send. Default campaign.DefaultTaskBatch
	// (100); the producer also splits a send by bytes.
	BatchSize int
	// SendConcurrency is the sends in flight. Default
	// campaign.DefaultSendConcurrency.
	SendConcurrency int
	// Now is the clock deciding whether a start time is in the future.
	// Default time.Now.
	Now func() time.Time
}

// ErrInvalidConfig is wrapped by configuration errors.
var ErrInvalidConfig = errors.New("planner: invalid config")

func (c Config) withDefaults() Config {
	c.Logger = cmp.Or(c.Logger, slog.Default())
	c.EventsTopic = cmp.Or(c.EventsTopic, campaign.TopicEvents)
	c.Group = cmp.Or(c.Group, campaign.GroupPlanner)
	c.ShardTopic = cmp.Or(c.ShardTopic, campaign.TopicShards)
	c.BatchSize = cmp.Or(c.BatchSize, campaign.DefaultTaskBatch)
	c.SendConcurrency = cmp.Or(c.SendConcurrency, campaign.DefaultSendConcurrency)
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, fmt.Errorf("%w: DB is required", ErrInvalidConfig))
	}
	if c.Publisher == nil {
		errs = append(errs, fmt.Errorf("%w: Publisher is required", ErrInvalidConfig))
	}
	if c.BatchSize < 1 || c.BatchSize > 1024 {
		errs = append(errs, fmt.Errorf("%w: batch size %d, want 1..1024", ErrInvalidConfig, c.BatchSize))
	}
	if c.SendConcurrency < 1 || c.SendConcurrency > 64 {
		errs = append(errs, fmt.Errorf("%w: send concurrency %d, want 1..64", ErrInvalidConfig, c.SendConcurrency))
	}
	return errors.Join(errs...)
}

// Planner plans campaigns. It is safe for concurrent use.
type Planner struct {
	cfg Config
	db  *store.DB
	log *slog.Logger
}

// New returns a Planner.
func New(cfg Config) (*Planner, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Planner{cfg: cfg, db: cfg.DB, log: cfg.Logger}, nil
}

// ConsumerConfig returns the consumer of created events for this planner:
// base's connection settings, the planner group and events topic, tag
// campaign.TagCreated, handler Handle. Set the remaining knobs (instance,
// retries) on the result before mq.NewConsumer.
func (p *Planner) ConsumerConfig(base mq.Config) mq.ConsumerConfig {
	return mq.ConsumerConfig{
		Config:  base,
		Group:   p.cfg.Group,
		Topic:   p.cfg.EventsTopic,
		Tags:    campaign.TagCreated,
		Handler: p.Handle,
	}
}

// Topics returns the topics the planner consumes and publishes to, for
// mq.EnsureTopics.
func (p *Planner) Topics() []string { return []string{p.cfg.EventsTopic, p.cfg.ShardTopic} }

// Handle processes one created event, of a promotion or of a push-mode
// coupon: an unreadable event, one of another kind, or one naming a lazy
// coupon is dead-lettered at once (mq.Permanent); an unknown campaign is an
// ordinary error wrapping campaign.ErrNotFound, so the event is retried a
// bounded number of times (the campaign's transaction may be settling) and
// then dead-lettered; a run that starts in the future (a promotion's start
// time, a coupon's window start) is recorded in push_message_crontab for the
// Scheduler; any other is planned (PlanRun).
func (p *Planner) Handle(ctx context.Context, d *mq.Delivery) error {
	log := p.log.With(slog.String("msg_id", d.MsgID), slog.Int("reconsume_times", d.ReconsumeTimes))
	ev, err := campaign.DecodeCreatedEvent(d.Body)
	if err != nil {
		log.Error("planner: unreadable created event", slog.String("error", err.Error()))
		return mq.Permanent(fmt.Errorf("planner: %w", err))
	}
	if !slices.Contains(campaign.PipelineKinds(), ev.Kind) {
		err := fmt.Errorf("planner: created event for a %s campaign: only %v are planned here", ev.Kind, campaign.PipelineKinds())
		log.Error("planner: created event of another kind", slog.String("kind", string(ev.Kind)))
		return mq.Permanent(err)
	}
	r, err := p.load(ctx, ev)
	if err != nil {
		if errors.Is(err, campaign.ErrNotFound) {
			log.Warn("planner: created event names an unknown campaign, will retry", slog.String("kind", string(ev.Kind)),
				slog.String("request_id", ev.RequestID), slog.Uint64("campaign_id", ev.CampaignID))
		}
		return err
	}
	if r.Status == campaign.StatusCreated && r.StartAt != nil && r.StartAt.After(p.cfg.Now()) {
		added, err := campaign.Schedule(ctx, p.db, r.Kind, r.ID, *r.StartAt, r.CreatedBy)
		if err != nil {
			return err
		}
		log.Info("planner: campaign scheduled", slog.String("kind", string(r.Kind)), slog.Uint64("campaign_id", r.ID),
			slog.Time("start_at", *r.StartAt), slog.Bool("new", added))
		return nil
	}
	_, err = p.PlanRun(ctx, r)
	return err
}

// load reads the run an event names. A coupon event naming a lazy coupon
// (which has no push run) is permanent.
func (p *Planner) load(ctx context.Context, ev campaign.CreatedEvent) (*campaign.Run, error) {
	var r *campaign.Run
	var err error
	if ev.CampaignID == 0 {
		r, err = ev.Kind.GetRunByRequestID(ctx, p.db, ev.RequestID)
	} else {
		r, err = ev.Kind.GetRun(ctx, p.db, ev.CampaignID)
	}
	if errors.Is(err, campaign.ErrNotFound) && ev.Kind == campaign.KindCoupon {
		var c *coupon.Coupon
		var cerr error
		if ev.CampaignID == 0 {
			c, cerr = coupon.GetByRequestID(ctx, p.db, ev.RequestID)
		} else {
			c, cerr = coupon.Get(ctx, p.db, int64(ev.CampaignID))
		}
		if cerr == nil && c.Mode != coupon.ModePush {
			return nil, mq.Permanent(fmt.Errorf("planner: created event for coupon %d, a %s coupon: only push-mode coupons are planned",
				c.ID, c.Mode))
		}
	}
	if err != nil {
		return nil, err
	}
	if ev.CampaignID != 0 && ev.RequestID != "" && (r.RequestID == nil || *r.RequestID != ev.RequestID) {
		return nil, mq.Permanent(fmt.Errorf("planner: created event for %s %d carries request id %q, the campaign has another",
			ev.Kind, ev.CampaignID, ev.RequestID))
	}
	return r, nil
}

// PlanResult reports what Plan did and how long it took.
type PlanResult struct {
	// Kind is the kind of campaign planned (promotion or coupon).
	Kind       campaign.Kind `json:"kind"`
	CampaignID uint64        `json:"campaign_id"`
	// Status is the run's status when Plan returned.
	Status campaign.Status `json:"status"`
	// Members and Shards are the planned audience size and shard count.
	Members int64 `json:"members"`
	Shards  int   `json:"shards"`
	// ShardsCreated counts the shard rows this call inserted (0 on a redo).
	ShardsCreated int64 `json:"shards_created"`
	// Published counts the shard tasks sent, Sends the SendBatch calls.
	Published int `json:"published"`
	Sends     int `json:"sends"`
	// Redo is true when the shards already existed (a second run).
	Redo bool `json:"redo"`
	// Skipped says why nothing (or not everything) was done, empty when the
	// campaign was planned and enqueued.
	Skipped string `json:"skipped,omitempty"`
	// PlanDuration covers reading the campaign's audience and storing the
	// shards; EnqueueDuration publishing the tasks; Elapsed the whole call.
	PlanDuration    time.Duration `json:"-"`
	EnqueueDuration time.Duration `json:"-"`
	Elapsed         time.Duration `json:"-"`
}

// PlanEnqueueSeconds is the planning-plus-enqueue time in seconds (the
// benchmark's plan_enqueue_seconds).
func (r PlanResult) PlanEnqueueSeconds() float64 { return r.Elapsed.Seconds() }

// MarshalJSON adds the durations in seconds.
func (r PlanResult) MarshalJSON() ([]byte, error) {
	type plain PlanResult
	return json.Marshal(struct {
		plain
		PlanSeconds    float64 `json:"plan_seconds"`
		EnqueueSeconds float64 `json:"enqueue_seconds"`
		TotalSeconds   float64 `json:"plan_enqueue_seconds"`
	}{plain(r), r.PlanDuration.Seconds(), r.EnqueueDuration.Seconds(), r.Elapsed.Seconds()})
}

// Plan is PlanRun for a promotion campaign.
func (p *Planner) Plan(ctx context.Context, c *campaign.Campaign) (PlanResult, error) {
	return p.PlanRun(ctx, c.Run())
}

// PlanRun shards the run's audience, stores the shards and publishes their
// tasks; see the package documentation for what happens in each status. It
// is idempotent. A run whose audience cannot be sharded (invalid stored
// segment or shard size), or whose end has passed (a coupon's window), is
// moved to failed and PlanRun returns nil; other errors are returned for a
// retry.
func (p *Planner) PlanRun(ctx context.Context, r *campaign.Run) (PlanResult, error) {
	start := time.Now()
	k := r.Kind
	res := PlanResult{Kind: k, CampaignID: r.ID, Status: r.Status}
	log := p.log.With(slog.String("kind", string(k)), slog.Uint64("campaign_id", r.ID))
	switch r.Status {
	case campaign.StatusCreated, campaign.StatusPlanning:
	case campaign.StatusPaused:
		res.Skipped = "already planned, paused"
		if !r.Planned {
			res.Skipped = "paused before planning (resume sends it back to the planner)"
		}
		log.Info("planner: nothing to plan", slog.String("status", string(r.Status)), slog.String("reason", res.Skipped))
		return res, nil
	default:
		res.Skipped = "already " + string(r.Status)
		log.Info("planner: nothing to plan", slog.String("status", string(r.Status)))
		return res, nil
	}
	if r.EndAt != nil && !p.cfg.Now().Before(*r.EndAt) {
		return p.fail(ctx, r, res, []campaign.Status{campaign.StatusCreated, campaign.StatusPlanning},
			fmt.Errorf("its window ended at %s before it was planned", r.EndAt.UTC().Format(time.RFC3339)))
	}
	// created → planning; planning stays planning (redo).
	err := k.Transition(ctx, p.db, r.ID, []campaign.Status{campaign.StatusCreated, campaign.StatusPlanning}, campaign.StatusPlanning, "")
	if errors.Is(err, campaign.ErrConflict) {
		res.Skipped = "status changed before planning: " + err.Error()
		log.Info("planner: nothing to plan", slog.String("reason", res.Skipped))
		return res, nil
	}
	if err != nil {
		return res, err
	}

	tasks, status, err := p.storeShards(ctx, r, &res)
	if err != nil {
		if errors.Is(err, audience.ErrInvalid) {
			return p.fail(ctx, r, res, []campaign.Status{campaign.StatusPlanning}, err)
		}
		return res, err
	}
	res.PlanDuration = time.Since(start)

	switch status {
	case campaign.StatusPlanning:
	case campaign.StatusPaused:
		// Paused while planning: shards wait paused; resume publishes them.
		if _, err := campaign.SetShardsStatus(ctx, p.db, k, r.ID,
			[]campaign.ShardStatus{campaign.ShardPending}, campaign.ShardPaused); err != nil {
			return res, err
		}
		if err := k.SetPlanned(ctx, p.db, r.ID, res.Members, res.Shards); err != nil {
			return res, err
		}
		res.Status, res.Skipped = status, "paused during planning: no task published"
		res.Elapsed = time.Since(start)
		log.Info("planner: campaign planned, paused", p.attrs(res)...)
		return res, nil
	case campaign.StatusCancelled:
		if _, err := campaign.SetShardsStatus(ctx, p.db, k, r.ID,
			[]campaign.ShardStatus{campaign.ShardPending, campaign.ShardPaused}, campaign.ShardCancelled); err != nil {
			return res, err
		}
		res.Status, res.Skipped = status, "cancelled during planning"
		res.Elapsed = time.Since(start)
		log.Info("planner: campaign cancelled during planning", p.attrs(res)...)
		return res, nil
	default:
		res.Status, res.Skipped = status, "status changed during planning to "+string(status)
		res.Elapsed = time.Since(start)
		log.Info("planner: nothing more to do", p.attrs(res)...)
		return res, nil
	}

	enqStart := time.Now()
	sends, err := campaign.PublishTasks(ctx, p.cfg.Publisher, campaign.PublishOptions{
		Topic: p.cfg.ShardTopic, Batch: p.cfg.BatchSize, Concurrency: p.cfg.SendConcurrency,
	}, tasks)
	res.Sends = sends
	if err != nil {
		return res, fmt.Errorf("planner: %s %d: %w", k, r.ID, err)
	}
	res.Published = len(tasks)
	res.EnqueueDuration = time.Since(enqStart)

	if err := k.SetPlanned(ctx, p.db, r.ID, res.Members, res.Shards); err != nil {
		return res, err
	}
	res.Status = campaign.StatusRunning
	// Workers may have finished every shard before the run was running
	// (their completion check needs it running): complete it here then. An
	// empty audience completes at once.
	done, err := k.CompleteIfDone(ctx, p.db, r.ID)
	if err != nil {
		return res, err
	}
	if done {
		res.Status = campaign.StatusCompleted
	}
	res.Elapsed = time.Since(start)
	log.Info("planner: campaign planned", p.attrs(res)...)
	return res, nil
}

// storeShards makes sure the run's shard rows exist and returns the tasks
// to publish (every shard on a first run, the pending ones on a redo) and
// the run's status read after the shards were stored.
func (p *Planner) storeShards(ctx context.Context, r *campaign.Run, res *PlanResult) ([]campaign.ShardTask, campaign.Status, error) {
	k := r.Kind
	existing, err := campaign.CountShards(ctx, p.db, k, r.ID)
	if err != nil {
		return nil, "", err
	}
	if existing == 0 {
		plan, err := audience.Shard(ctx, p.db, r.Audience, r.ShardSize)
		if err != nil {
			return nil, "", fmt.Errorf("planner: %s %d: shard audience %s: %w", k, r.ID, r.Audience, err)
		}
		var status campaign.Status
		inserted := false
		err = p.db.InTx(ctx, func(tx store.Handler) error {
			// The row lock orders this with pause/cancel and with another
			// planner: shards are stored once, all together, or not at all.
			st, err := k.LockStatus(ctx, tx, r.ID)
			if err != nil {
				return err
			}
			status = st
			if st != campaign.StatusPlanning && st != campaign.StatusPaused {
				return nil
			}
			if existing, err = campaign.CountShards(ctx, tx, k, r.ID); err != nil || existing > 0 {
				return err
			}
			n, err := campaign.InsertShards(ctx, tx, k, r.ID, plan.Shards)
			res.ShardsCreated = n
			inserted = err == nil
			return err
		})
		if err != nil {
			return nil, "", err
		}
		if inserted {
			res.Members, res.Shards = plan.Members, len(plan.Shards)
			tasks := make([]campaign.ShardTask, len(plan.Shards))
			for i, sh := range plan.Shards {
				tasks[i] = campaign.ShardTask{Kind: k, CampaignID: r.ID, ShardNo: sh.No,
					StartID: sh.Start, EndID: sh.End, Mode: campaign.ModeSend}
			}
			return tasks, status, nil
		}
		if existing == 0 { // cancelled (or otherwise moved on) before any shard was stored
			return nil, status, nil
		}
	}

	// Redo: the stored shards are the plan.
	res.Redo = true
	var status campaign.Status
	err = p.db.InTx(ctx, func(tx store.Handler) error {
		st, err := k.LockStatus(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		status = st
		if st == campaign.StatusPlanning {
			// Shards parked by a pause of an earlier planning round follow
			// the run back.
			_, err = campaign.SetShardsStatus(ctx, tx, k, r.ID,
				[]campaign.ShardStatus{campaign.ShardPaused}, campaign.ShardPending)
		}
		return err
	})
	if err != nil {
		return nil, "", err
	}
	prog, err := campaign.ShardProgress(ctx, p.db, k, r.ID)
	if err != nil {
		return nil, "", err
	}
	res.Members, res.Shards = prog.Expected, prog.Shards
	pending, err := campaign.ListShards(ctx, p.db, k, r.ID, campaign.ShardPending)
	if err != nil {
		return nil, "", err
	}
	tasks := make([]campaign.ShardTask, len(pending))
	for i, sh := range pending {
		tasks[i] = sh.Task(campaign.ModeSend)
	}
	return tasks, status, nil
}

// fail moves a run that cannot be planned (from one of from) to failed.
func (p *Planner) fail(ctx context.Context, r *campaign.Run, res PlanResult, from []campaign.Status, cause error) (PlanResult, error) {
	p.log.Error("planner: campaign cannot be planned, marking it failed", slog.String("kind", string(r.Kind)),
		slog.Uint64("campaign_id", r.ID), slog.String("error", cause.Error()))
	if err := r.Kind.Transition(ctx, p.db, r.ID, from, campaign.StatusFailed,
		"planning: "+cause.Error()); err != nil && !errors.Is(err, campaign.ErrConflict) {
		return res, err
	}
	res.Status, res.Skipped = campaign.StatusFailed, cause.Error()
	return res, nil
}

func (p *Planner) attrs(r PlanResult) []any {
	return []any{
		slog.String("status", string(r.Status)),
		slog.Int64("members", r.Members),
		slog.Int("shards", r.Shards),
		slog.Int64("shards_created", r.ShardsCreated),
		slog.Int("published", r.Published),
		slog.Int("sends", r.Sends),
		slog.Bool("redo", r.Redo),
		slog.Duration("plan", r.PlanDuration),
		slog.Duration("enqueue", r.EnqueueDuration),
		slog.Duration("elapsed", r.Elapsed),
	}
}
