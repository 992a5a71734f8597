// Package couponsd wires the coupon daemon: lazy coupon issuance on login
// events and the coupon lifecycle API, behind the shared daemon runtime (ops
// server, readiness, graceful drain).
package couponsd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"mkt/pkg/cache"
	"mkt/pkg/config"
	"mkt/pkg/coupon"
	"mkt/pkg/daemon"
	"mkt/pkg/daemon/daemoncmd"
	"mkt/pkg/deadletter"
	"mkt/pkg/login"
	"mkt/pkg/mq"
	"mkt/pkg/store"
)

// TopicLogin carries the account system's user-logged-in events.
const TopicLogin = login.Topic

// Defaults of couponsd's own settings.
const (
	DefaultGroup          = "mkt_couponsd"
	DefaultAPIAddr        = "127.0.0.1:9303"
	DefaultConcurrency    = 512
	DefaultMaxReconsume   = 8
	DefaultExpireInterval = time.Minute
	// DefaultLockTimeout is how long an order may hold a coupon locked.
	DefaultLockTimeout = 30 * time.Minute
)

const long = `couponsd is mkt's coupon daemon. It consumes user-login events from RocketMQ
in a consumer group and issues lazy coupons, and serves the coupon lifecycle.

Every couponsd of a deployment joins one consumer group, so login events are
shared between them. For each login, every active lazy coupon whose window
contains the login time and whose audience includes the member tops the
member up to the coupon's per-member limit while the quota lasts: reserved in
Redis by one Lua script, written to MySQL (the last word: a unique key and a
quota-checked counter), then settled in Redis. Redis state missing at start or
lost later is rebuilt from MySQL.

A login event that fails is redelivered after 1s, 5s, 10s, 30s, then every
minute; after --max-reconsume redeliveries (8: about 4 min 46 s of retries, so
a MySQL outage of a few minutes costs nothing) RocketMQ moves it to the
group's dead-letter topic %DLQ%<group>, as it does at once with an event that
breaks the contract. With --drain-dlq (default) a consumer group <group>_dlq
stores those dead letters in MySQL (mq_dead_letter), retrying while MySQL is
down; mktctl events dlq list shows them and mktctl events dlq replay re-drives
them, each once. /metrics counts them (mkt_coupon_logins_dead_lettered_total).

The lifecycle HTTP JSON API (claim, lock for an order, release, redeem) listens
on --api-addr and needs a bearer token (MKT_COUPONSD_API_TOKEN or
MKT_COUPONSD_API_TOKEN_FILE, or --api-token-file); without a token it is off.

It runs in the foreground, logs with slog to stderr, serves /healthz, /readyz
and /metrics on --ops-addr, reports readiness to systemd when NOTIFY_SOCKET is
set, and drains gracefully on SIGTERM or SIGINT (a second signal forces exit).
Unreachable dependencies at start are retried with backoff while /readyz says
what is missing.`

// Options are couponsd's own settings.
type Options struct {
	// Group is the consumer group of the login topic.
	Group string
	// Topic is the login topic.
	Topic string
	// Instance names the consumer client (unique per process and host);
	// empty = generated.
	Instance string
	// Concurrency is how many login events are handled at once.
	Concurrency int
	// MaxReconsume is how many redeliveries a failing event gets before
	// it is dead-lettered.
	MaxReconsume int
	// APIAddr is the lifecycle API's address; empty = no API.
	APIAddr string
	// APIToken is the API's bearer token; empty = no API.
	APIToken string
	// Batch, issuer and maintenance settings (see coupon.IssuerConfig).
	BatchSize      int
	BatchWait      time.Duration
	Workers        int
	ActiveTTL      time.Duration
	SyncInterval   time.Duration
	Lease          time.Duration
	ExpireInterval time.Duration
	// LockTimeout is how long an order may hold a coupon locked before the
	// expiry sweep gives it back (0 = forever).
	LockTimeout time.Duration
	// DrainDLQ stores the group's dead letters in MySQL for `mktctl
	// events dlq` (deadletter.Drain).
	DrainDLQ bool
}

// Bind registers the options on fs with MKT_COUPONSD_* environment defaults.
func (o *Options) Bind(fs *pflag.FlagSet) {
	config.String(fs, &o.Group, "group", "MKT_COUPONSD_GROUP", DefaultGroup, "consumer group of the login topic (every couponsd of a deployment uses the same)")
	config.String(fs, &o.Topic, "login-topic", "MKT_COUPONSD_LOGIN_TOPIC", login.Topic, "topic of the user-login events")
	config.String(fs, &o.Instance, "instance", "MKT_COUPONSD_INSTANCE", "", "consumer instance name, unique per host (default: generated)")
	config.Int(fs, &o.Concurrency, "consume-concurrency", "MKT_COUPONSD_CONCURRENCY", DefaultConcurrency, "login events handled at once")
	config.Int(fs, &o.MaxReconsume, "max-reconsume", "MKT_COUPONSD_MAX_RECONSUME", DefaultMaxReconsume, "redeliveries of a failing event before it is dead-lettered")
	config.String(fs, &o.APIAddr, "api-addr", "MKT_COUPONSD_API_ADDR", DefaultAPIAddr, "listen address of the coupon lifecycle API (empty = off)")
	config.Secret(fs, &o.APIToken, "api-token", "MKT_COUPONSD_API_TOKEN", "", "bearer token of the lifecycle API")
	config.Int(fs, &o.BatchSize, "batch-size", "MKT_COUPONSD_BATCH_SIZE", coupon.DefaultBatchSize, "logins per issuance batch")
	config.Duration(fs, &o.BatchWait, "batch-wait", "MKT_COUPONSD_BATCH_WAIT", coupon.DefaultBatchWait, "how long a batch waits to fill")
	config.Int(fs, &o.Workers, "batch-workers", "MKT_COUPONSD_BATCH_WORKERS", coupon.DefaultWorkers, "issuance batches running at once")
	config.Duration(fs, &o.ActiveTTL, "active-ttl", "MKT_COUPONSD_ACTIVE_TTL", coupon.DefaultActiveTTL, "how long the in-process active-coupon set is reused")
	config.Duration(fs, &o.SyncInterval, "sync-interval", "MKT_COUPONSD_SYNC_INTERVAL", coupon.DefaultSyncInterval, "how often Redis state is checked against MySQL")
	config.Duration(fs, &o.Lease, "reservation-lease", "MKT_COUPONSD_LEASE", coupon.DefaultLease, "how long a Redis reservation may stay unconfirmed")
	config.Duration(fs, &o.LockTimeout, "lock-timeout", "MKT_COUPONSD_LOCK_TIMEOUT", DefaultLockTimeout, "how long an order may hold a coupon locked before the expiry sweep gives it back (0 = forever)")
	config.Bool(fs, &o.DrainDLQ, "drain-dlq", "MKT_COUPONSD_DRAIN_DLQ", true, "store the group's dead-lettered login events in MySQL (consumer group <group>_dlq) for mktctl events dlq list/replay")
	config.Duration(fs, &o.ExpireInterval, "expire-interval", "MKT_COUPONSD_EXPIRE_INTERVAL", DefaultExpireInterval, "how often ended coupons are marked expired (0 = never)")
}

// Spec returns couponsd's daemon description.
func Spec() daemoncmd.Spec {
	var opts Options
	return daemoncmd.Spec{
		Name:           "couponsd",
		Short:          "mkt coupon daemon: lazy issuance on login and the coupon lifecycle",
		Long:           long,
		DefaultOpsAddr: "127.0.0.1:9302",
		// The login topic is created by Components, in the --mq-namespace.
		Topics:    nil,
		BindFlags: opts.Bind,
		Components: func(ctx context.Context, env *daemoncmd.Env) ([]daemon.Component, error) {
			o := opts
			// --mq-namespace prefixes topics and groups.
			o.Topic, o.Group = env.Common.Topic(opts.Topic), env.Common.Topic(opts.Group)
			tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			err := mq.EnsureTopics(tctx, env.Deps.MQ, 0, o.Topic)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("couponsd: create the login topic: %w", err)
			}
			svc, err := New(Config{
				Options:    o,
				DB:         env.Deps.DB,
				Cache:      env.Deps.Cache,
				MQ:         env.Deps.MQ,
				Logger:     env.Logger,
				Registerer: env.Registry,
			})
			if err != nil {
				return nil, err
			}
			return svc.Components(), nil
		},
	}
}

// Config configures a Service.
type Config struct {
	Options
	// DB, Cache and MQ are the connected dependencies; required.
	DB    *store.DB
	Cache *cache.Client
	MQ    mq.Config
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Service is one couponsd's work: the issuer, the login consumer, the
// lifecycle API and the expiry sweep.
type Service struct {
	cfg      Config
	Issuer   *coupon.Issuer
	State    *coupon.State
	Consumer *mq.Consumer
	// Drain stores the group's dead letters; nil without DrainDLQ.
	Drain   *deadletter.Drain
	API     *daemon.HTTPServer // nil when the API is off
	expirer *loop
	m       serviceMetrics
}

// serviceMetrics count what happens to login events around the issuer.
type serviceMetrics struct {
	deadLettered *prometheus.CounterVec
	replayed     prometheus.Counter
}

func newServiceMetrics(reg prometheus.Registerer) (serviceMetrics, error) {
	m := serviceMetrics{
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mkt_coupon_logins_dead_lettered_total",
			Help: "Login events this couponsd gave up on (sent to the dead-letter topic): invalid = broke the contract, exhausted = failed every redelivery."},
			[]string{"reason"}),
		replayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_coupon_logins_replayed_total",
			Help: "Replayed dead letters (mktctl events dlq replay) handled successfully."}),
	}
	m.deadLettered.WithLabelValues("invalid")
	m.deadLettered.WithLabelValues("exhausted")
	if err := daemon.RegisterMetrics(reg, m.deadLettered, m.replayed); err != nil {
		return m, fmt.Errorf("couponsd: register metrics: %w", err)
	}
	return m, nil
}

// New builds a Service; nothing runs before its components start.
func New(cfg Config) (*Service, error) {
	if cfg.DB == nil || cfg.Cache == nil {
		return nil, errors.New("couponsd: needs DB and Cache")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Group = cmp.Or(cfg.Group, DefaultGroup)
	cfg.Topic = cmp.Or(cfg.Topic, login.Topic)
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	cfg.MaxReconsume = cmp.Or(cfg.MaxReconsume, DefaultMaxReconsume)
	st, err := coupon.NewState(coupon.StateConfig{Cache: cfg.Cache, Namespace: cfg.DB.Name(), Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	is, err := coupon.NewIssuer(coupon.IssuerConfig{
		DB: cfg.DB, State: st, Logger: cfg.Logger, Now: cfg.Now,
		ActiveTTL: cfg.ActiveTTL, SyncInterval: cfg.SyncInterval,
		BatchSize: cfg.BatchSize, BatchWait: cfg.BatchWait, Workers: cfg.Workers, Lease: cfg.Lease,
		Registerer: cfg.Registerer,
	})
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, Issuer: is, State: st}
	if s.m, err = newServiceMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	mqc := cfg.MQ
	mqc.Logger = cmp.Or(mqc.Logger, cfg.Logger)
	s.Consumer, err = mq.NewConsumer(mq.ConsumerConfig{
		Config:            mqc,
		Group:             cfg.Group,
		Topic:             cfg.Topic,
		Tags:              login.Tag,
		Instance:          cfg.Instance,
		MaxReconsumeTimes: cfg.MaxReconsume,
		Concurrency:       cfg.Concurrency,
		Handler:           s.handle,
		OnDeadLetter:      s.deadLettered,
	})
	if err != nil {
		return nil, err
	}
	if cfg.DrainDLQ {
		inst := ""
		if cfg.Instance != "" {
			inst = cfg.Instance + deadletter.DrainGroupSuffix
		}
		s.Drain, err = deadletter.NewDrain(deadletter.DrainConfig{
			MQ: mqc, DB: cfg.DB, Group: cfg.Group, Instance: inst, DefaultTopic: cfg.Topic,
			Classify: classifyLogin, Logger: cfg.Logger, Registerer: cfg.Registerer, Now: cfg.Now,
		})
		if err != nil {
			return nil, err
		}
	}
	if cfg.APIAddr != "" && cfg.APIToken != "" {
		h, err := NewAPI(APIConfig{DB: cfg.DB, Token: cfg.APIToken, Logger: cfg.Logger, Now: cfg.Now})
		if err != nil {
			return nil, err
		}
		if s.API, err = NewAPIServer(cfg.APIAddr, h, cfg.Logger); err != nil {
			return nil, err
		}
	} else if cfg.APIAddr != "" {
		cfg.Logger.Warn("couponsd: lifecycle API off: no bearer token (set MKT_COUPONSD_API_TOKEN or MKT_COUPONSD_API_TOKEN_FILE)")
	}
	if cfg.ExpireInterval > 0 {
		s.expirer = &loop{name: "coupon-expirer", every: cfg.ExpireInterval, log: cfg.Logger, fn: func(ctx context.Context) error {
			n, err := coupon.ExpireDue(ctx, cfg.DB, cfg.Now(), 1000)
			if n > 0 {
				cfg.Logger.Info("couponsd: expired coupon items", "items", n)
			}
			if err != nil || cfg.LockTimeout <= 0 {
				return err
			}
			released, err := coupon.ReleaseStaleLocks(ctx, cfg.DB, cfg.Now(), cfg.LockTimeout, 1000)
			if released > 0 {
				cfg.Logger.Info("couponsd: released coupons held by unfinished orders", "items", released, "lock_timeout", cfg.LockTimeout)
			}
			return err
		}}
	}
	return s, nil
}

// handle is the login consumer's handler.
func (s *Service) handle(ctx context.Context, d *mq.Delivery) error {
	ev, err := login.Decode(d.Body)
	if err != nil {
		return mq.Permanent(err)
	}
	if err := s.Issuer.HandleLogin(ctx, ev); err != nil {
		return err
	}
	if d.Properties[deadletter.PropReplayOf] != "" {
		s.m.replayed.Inc()
	}
	return nil
}

// deadLettered counts a login event given up on and notes why, for
// `mktctl events dlq list` (best effort: MySQL may be what failed; the
// drain then stores the message without its reason).
func (s *Service) deadLettered(d *mq.Delivery, err error) {
	kind := "exhausted"
	if mq.IsPermanent(err) {
		kind = "invalid"
	}
	s.m.deadLettered.WithLabelValues(kind).Inc()
	if s.Drain == nil {
		return
	}
	reason := err.Error()
	if kind == "exhausted" {
		reason = fmt.Sprintf("failed %d deliveries, the last: %s", d.ReconsumeTimes+1, reason)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := deadletter.NoteReason(ctx, s.cfg.DB, s.cfg.Group, d.MsgID, reason, d.ReconsumeTimes); err != nil {
			s.cfg.Logger.Debug("couponsd: could not note why a login event was dead-lettered", "msg_id", d.MsgID, "error", err.Error())
		}
	}()
}

// classifyLogin is why a login body was refused, "" when it is valid.
func classifyLogin(body []byte) string {
	if _, err := login.Decode(body); err != nil {
		return err.Error()
	}
	return ""
}

// Components lists the service's daemon components in start order (the
// consumer last, so it is stopped first and the issuer drains after it).
func (s *Service) Components() []daemon.Component {
	comps := []daemon.Component{s.Issuer}
	if s.API != nil {
		comps = append(comps, s.API)
	}
	if s.expirer != nil {
		comps = append(comps, s.expirer)
	}
	if s.Drain != nil {
		comps = append(comps, s.Drain)
	}
	return append(comps, s.Consumer)
}

// Handler returns the API's HTTP handler (nil when the API is off).
func (s *Service) Handler() http.Handler {
	if s.API == nil {
		return nil
	}
	return s.API.Handler()
}

// loop runs fn every interval until stopped; Stop lets a round in progress
// finish until its context ends (daemon.StartStop).
type loop struct {
	daemon.StartStop

	name  string
	every time.Duration
	log   *slog.Logger
	fn    func(ctx context.Context) error
}

func (l *loop) Name() string { return l.name }

func (l *loop) Start(ctx context.Context) error {
	return l.StartWith(ctx, func(life *daemon.Lifetime) error {
		life.Every(l.every, false, func(ctx context.Context) {
			if err := l.fn(ctx); err != nil && ctx.Err() == nil {
				l.log.Warn("couponsd: background round failed", "loop", l.name, "error", err.Error())
			}
		})
		return nil
	})
}
