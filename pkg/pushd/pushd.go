// Package pushd wires the push daemon: the planner (created events of
// promotions and push-mode coupons) and the fan-out workers (shard tasks of
// both kinds), both in consumer groups so every
// running pushd shares the work, plus the scheduler of future campaigns, the
// reaper of abandoned shards and the transactional check-back that settles
// a create whose mktctl died — behind the shared daemon runtime (ops server,
// readiness, graceful drain).
package pushd

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"mkt/pkg/cache"
	"mkt/pkg/campaign"
	"mkt/pkg/config"
	"mkt/pkg/daemon"
	"mkt/pkg/daemon/daemoncmd"
	"mkt/pkg/inbox"
	"mkt/pkg/mq"
	"mkt/pkg/planner"
	"mkt/pkg/provider"
	"mkt/pkg/push"
	"mkt/pkg/xxljob"
)

const long = `pushd is mkt's push daemon. It consumes campaign-created events (planner)
and shard tasks (fan-out workers) from RocketMQ in consumer groups, so every
running pushd shares the work, and sends through the channel providers:
sms, email and app over HTTP (--sms-url …, see docs/PUSH.md), the in-site
inbox into MySQL. Push-mode coupons go the same way: their segment is
sharded, each page is issued the coupon in bulk, and its holders are told.
It also fires the recurring schedules of "mktctl schedule" (the day's hot
goods, copies of a template campaign): each firing once across every running
pushd, a firing missed while none ran fired once on return within the
schedule's max lateness (docs/SCHEDULES.md).

It runs in the foreground, logs with slog to stderr, serves /healthz, /readyz
and /metrics on --ops-addr, reports readiness to systemd when NOTIFY_SOCKET is
set, and drains gracefully on SIGTERM or SIGINT: shards stop at their next
page and are released to other pushd processes (a second signal forces exit).
Unreachable dependencies at start are retried with backoff while /readyz says
what is missing.

For shops that schedule with an XXL-Job admin, --xxl-job-admin URL (with
--xxl-job-app and an access token from --xxl-job-token-file) makes pushd an
XXL-Job executor too, on --xxl-job-listen: its job handler "hotgoods" launches
the trigger's day of hot goods with broadcastIndex/broadcastTotal as shard
index/total (docs/XXLJOB.md). Off by default; pushd's own schedules stay the
default way to run recurring work.`

// Options are pushd's own settings.
type Options struct {
	Instance         string
	ShardConcurrency int
	MaxInFlight      int
	RampUp           time.Duration
	PageSize         int
	Lease            time.Duration
	FailureThreshold float64
	AutoPauseWindow  int
	JournalInterval  time.Duration
	OutcomeHold      time.Duration
	Providers        ProvidersConfig
	Schedules        ScheduleOptions
	XXLJob           xxljob.Options
}

// Bind registers pushd's own flags on fs, with MKT_PUSHD_* environment
// defaults (the providers, schedules and XXL-Job executor bind their own).
func (o *Options) Bind(fs *pflag.FlagSet) {
	host, _ := os.Hostname()
	config.String(fs, &o.Instance, "instance", "MKT_PUSHD_INSTANCE", fmt.Sprintf("%s-%d", host, os.Getpid()), "name of this pushd in shard leases and consumer groups (unique per host)")
	config.Int(fs, &o.ShardConcurrency, "shard-concurrency", "MKT_PUSHD_SHARD_CONCURRENCY", push.DefaultShardConcurrency, "shards worked on at once")
	config.Int(fs, &o.MaxInFlight, "max-in-flight", "MKT_PUSHD_MAX_IN_FLIGHT", push.DefaultMaxInFlight, "provider calls in flight at once, across all shards")
	config.Duration(fs, &o.RampUp, "ramp-up", "MKT_PUSHD_RAMP_UP", push.DefaultRampUp, "slow start after 10 s idle: calls in flight rise from 1/20 of --max-in-flight to all of it over this long; 0 = none")
	config.Int(fs, &o.PageSize, "page-size", "MKT_PUSHD_PAGE_SIZE", push.DefaultPageSize, "members read, sent and checkpointed at once")
	config.Duration(fs, &o.Lease, "lease", "MKT_PUSHD_SHARD_LEASE", push.DefaultLease, "how long a shard stays with a silent pushd before another may take it")
	config.Float64(fs, &o.FailureThreshold, "failure-threshold", "MKT_PUSHD_FAILURE_THRESHOLD", push.DefaultFailureThreshold, "provider failure rate (0..1) that pauses a campaign; 1 = never")
	config.Int(fs, &o.AutoPauseWindow, "auto-pause-window", "MKT_PUSHD_AUTO_PAUSE_WINDOW", push.DefaultMinAttemptsForAutoPause, "sends over which the failure rate is judged")
	config.Duration(fs, &o.JournalInterval, "journal-interval", "MKT_PUSHD_JOURNAL_INTERVAL", push.DefaultJournalInterval, "how often sends are recorded while their page is in flight (a kill -9 repeats the calls on the wire plus the answers of the longer of this and a flush, plus a flush: mkt_push_journal_flush_seconds); 0 = at each page's end")
	config.Duration(fs, &o.OutcomeHold, "outcome-hold", "MKT_PUSHD_OUTCOME_HOLD", push.DefaultOutcomeHold, "how long a page's outcomes are kept, and their commit and inbox writes retried, while MySQL is unreachable")
	o.Providers.Bind(fs)
	o.Schedules.Bind(fs)
	o.XXLJob.Bind(fs)
}

// validate refuses values that a default would otherwise replace in
// silence (push.Config treats 0 as "the default").
func (o *Options) validate() error {
	if !(o.FailureThreshold > 0 && o.FailureThreshold <= 1) {
		return fmt.Errorf("--failure-threshold %v: want more than 0 and at most 1 (1 = never pause)", o.FailureThreshold)
	}
	if o.JournalInterval != 0 && (o.JournalInterval < 10*time.Millisecond || o.JournalInterval > push.MaxJournalInterval) {
		return fmt.Errorf("--journal-interval %v: want 0 (off) or 10ms..%v", o.JournalInterval, push.MaxJournalInterval)
	}
	if o.OutcomeHold < time.Second || o.OutcomeHold > 24*time.Hour {
		return fmt.Errorf("--outcome-hold %v: want 1s..24h", o.OutcomeHold)
	}
	if err := o.Schedules.validate(); err != nil {
		return err
	}
	return o.XXLJob.Validate()
}

// Spec returns pushd's daemon description.
func Spec() daemoncmd.Spec {
	o := &Options{}
	return daemoncmd.Spec{
		Name:           "pushd",
		Short:          "mkt push daemon: campaign planner and shard fan-out workers",
		Long:           long,
		DefaultOpsAddr: "127.0.0.1:9301",
		Topics:         []string{campaign.TopicEvents, campaign.TopicShards},
		BindFlags:      o.Bind,
		Validate:       o.validate,
		Components: func(ctx context.Context, env *daemoncmd.Env) ([]daemon.Component, error) {
			return components(env, o)
		},
	}
}

// components builds pushd's work. Start order: producers, worker, reaper,
// scheduler, schedule runner, then the consumers; Run stops them in reverse, so the consumers
// stop fetching first, shards drain at a page boundary, and the producers go
// last.
func components(env *daemoncmd.Env, o *Options) ([]daemon.Component, error) {
	c := &env.Common
	log := env.Logger
	db := env.Deps.DB
	mqc := env.Deps.MQ
	names := struct{ events, shards, planners, workers, tx string }{
		c.Topic(campaign.TopicEvents), c.Topic(campaign.TopicShards),
		c.Topic(campaign.GroupPlanner), c.Topic(campaign.GroupWorker), c.Topic(campaign.GroupTx),
	}

	prod, err := mq.NewProducer(mq.ProducerConfig{Config: mqc, Group: c.Topic("mkt_pushd")})
	if err != nil {
		return nil, err
	}
	tx, err := mq.NewTxProducer(mq.TxProducerConfig{Config: mqc, Group: names.tx, Check: campaign.TxCheck(db, log, nil)})
	if err != nil {
		_ = prod.Shutdown()
		return nil, err
	}
	out := []daemon.Component{stopFunc("producer", prod.Shutdown), stopFunc("tx-check-back", tx.Shutdown)}

	httpProviders, err := o.Providers.Build(log, o.MaxInFlight)
	if err != nil {
		return out, fmt.Errorf("pushd: providers: %w", err)
	}
	senders := map[provider.Channel]push.Sender{}
	for ch, p := range httpProviders {
		senders[ch] = p
	}
	ib, err := inbox.New(inbox.Config{DB: db, RetryFor: o.OutcomeHold}) // a MySQL outage: wait, as page commits do
	if err != nil {
		return out, err
	}
	senders[provider.ChannelInbox] = ib
	served := make([]string, 0, len(senders))
	for ch := range senders {
		served = append(served, string(ch))
	}
	log.Info("channels served", "channels", served)

	// Live progress counters live under the database's name, so deployments
	// (and test or benchmark runs) sharing a Redis never add to each other's.
	progress, err := cache.Open(context.Background(), cache.Config{
		Addr: c.RedisAddr, Password: string(c.RedisPassword), DB: c.RedisDB,
		KeyPrefix: cache.DefaultKeyPrefix + db.Name(),
	})
	if err != nil {
		return out, err
	}
	out = append(out, stopFunc("progress-counters", progress.Close))
	flushSeconds := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mkt_push_journal_flush_seconds",
		Help:    "Time to record one journal flush: a kill -9 sends again what was answered within the longer of --journal-interval and the longest flush, plus the longest flush.",
		Buckets: prometheus.ExponentialBuckets(0.005, 1.5, 16)})
	worker, err := push.NewWorker(push.Config{
		DB:                      db,
		Providers:               senders,
		Progress:                progress,
		Owner:                   o.Instance,
		Lease:                   o.Lease,
		PageSize:                o.PageSize,
		MaxInFlight:             o.MaxInFlight,
		RampUp:                  o.RampUp,
		FailureThreshold:        o.FailureThreshold,
		MinAttemptsForAutoPause: o.AutoPauseWindow,
		JournalInterval:         cmp.Or(o.JournalInterval, -1), // 0: off
		JournalFlushed:          func(d time.Duration) { flushSeconds.Observe(d.Seconds()) },
		OutcomeHold:             o.OutcomeHold,
		Logger:                  log,
	})
	if err != nil {
		return out, err
	}
	if env.Registry != nil {
		inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mkt_push_recipients_in_flight",
			Help: "Recipients of provider calls in flight: what a kill -9 at this moment could send again."},
			func() float64 { return float64(worker.RecipientsInFlight()) })
		if err := daemon.RegisterMetrics(env.Registry, inFlight, flushSeconds); err != nil {
			return out, fmt.Errorf("pushd: register metrics: %w", err)
		}
	}
	reaper, err := push.NewReaper(push.ReaperConfig{DB: db, Publisher: prod, Topic: names.shards, Logger: log})
	if err != nil {
		return out, err
	}
	pl, err := planner.New(planner.Config{
		DB: db, Publisher: prod, Logger: log,
		EventsTopic: names.events, Group: names.planners, ShardTopic: names.shards,
	})
	if err != nil {
		return out, err
	}
	sched, err := planner.NewScheduler(planner.SchedulerConfig{Planner: pl, Owner: o.Instance})
	if err != nil {
		return out, err
	}
	schedules, err := scheduleRunner(env, o, tx, names.events)
	if err != nil {
		return out, err
	}
	plc := pl.ConsumerConfig(mqc)
	plc.Instance = o.Instance + "-planner"
	planCons, err := mq.NewConsumer(plc)
	if err != nil {
		return out, err
	}
	workCons, err := mq.NewConsumer(mq.ConsumerConfig{
		Config:      mqc,
		Group:       names.workers,
		Topic:       names.shards,
		Tags:        campaign.TagShard,
		Instance:    o.Instance + "-worker",
		Concurrency: o.ShardConcurrency,
		// A shard held by a live lease elsewhere comes back until the lease
		// may have expired; the reaper covers the rest.
		MaxReconsumeTimes: 16,
		Handler:           worker.Handle,
	})
	if err != nil {
		return out, err
	}
	out = append(out, worker, reaper, sched, schedules, planCons, workCons)
	// The XXL-Job executor is a work source too: listed last, stopped first.
	ex, err := xxlJobExecutor(env, o, tx, names.events)
	if err != nil || ex == nil {
		return out, err
	}
	return append(out, ex), nil
}

// stopFunc is a component already running that only needs stopping.
type stopFuncComponent struct {
	name string
	stop func() error
}

func stopFunc(name string, stop func() error) daemon.Component { return stopFuncComponent{name, stop} }

func (s stopFuncComponent) Name() string                { return s.name }
func (s stopFuncComponent) Start(context.Context) error { return nil }
func (s stopFuncComponent) Stop(context.Context) error  { return s.stop() }
