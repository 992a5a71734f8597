// Package deps connects a daemon to the services it stands on — MySQL, Redis
// and RocketMQ — with retry and backoff, and keeps watching them as readiness
// checks. A daemon that starts before its dependencies reports not-ready on
// /readyz and logs each failed attempt; it neither crashes nor loops silently.
package deps

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"mkt/pkg/cache"
	"mkt/pkg/config"
	"mkt/pkg/daemon"
	"mkt/pkg/mq"
	"mkt/pkg/store"
)

// Config says what to connect to.
type Config struct {
	Common config.Common
	// Topics are created (if missing) and waited for once RocketMQ answers.
	Topics []string
	// QueueNums is the queue count of created topics (default 8).
	QueueNums int
	// MaxOpenConns sizes the MySQL pool (default store's).
	MaxOpenConns int
	// RedisPoolSize sizes the Redis pool (default cache's).
	RedisPoolSize int
	// Backoff between connection attempts.
	Backoff daemon.Backoff
	Logger  *slog.Logger
}

// Deps is a daemon component: Start connects everything (blocking until all
// answer or the daemon stops), Stop closes the connections. Its fields are
// usable once Start returned nil.
type Deps struct {
	cfg   Config
	ready *daemon.Readiness

	DB    *store.DB
	Cache *cache.Client
	MQ    mq.Config
}

// New returns the component; ready receives the "mysql", "redis" and
// "rocketmq" checks.
func New(cfg Config, ready *daemon.Readiness) *Deps {
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	return &Deps{cfg: cfg, ready: ready, MQ: mq.Config{
		NameServer: cfg.Common.RocketMQNameServer,
		BrokerAddr: cfg.Common.RocketMQBroker,
		Logger:     cfg.Logger,
	}}
}

// Name implements daemon's optional namer.
func (d *Deps) Name() string { return "dependencies" }

// Start connects MySQL, Redis and RocketMQ in turn, each retried with backoff
// until it answers or ctx ends.
func (d *Deps) Start(ctx context.Context) error {
	c := d.cfg.Common
	err := d.connect(ctx, "mysql", func(ctx context.Context) error {
		db, err := store.Open(ctx, store.Config{DSN: string(c.MySQLDSN), MaxOpenConns: d.cfg.MaxOpenConns})
		if err != nil {
			return err
		}
		d.DB = db
		return nil
	}, func(ctx context.Context) error { return d.DB.PingContext(ctx) })
	if err != nil {
		return err
	}

	err = d.connect(ctx, "redis", func(ctx context.Context) error {
		cl, err := cache.Open(ctx, cache.Config{
			Addr: c.RedisAddr, Password: string(c.RedisPassword), DB: c.RedisDB, PoolSize: d.cfg.RedisPoolSize,
		})
		if err != nil {
			return err
		}
		d.Cache = cl
		return nil
	}, func(ctx context.Context) error { return d.Cache.Ping(ctx) })
	if err != nil {
		return err
	}

	mqAddrs := append(strings.Split(c.RocketMQNameServer, ";"), c.RocketMQBroker)
	return d.connect(ctx, "rocketmq", func(ctx context.Context) error {
		if err := dialAll(ctx, mqAddrs); err != nil {
			return err
		}
		if len(d.cfg.Topics) == 0 {
			return nil
		}
		return mq.EnsureTopics(ctx, d.MQ, d.cfg.QueueNums, d.cfg.Topics...)
	}, func(ctx context.Context) error { return dialAll(ctx, mqAddrs) })
}

// connect runs open, retried with backoff until it succeeds or ctx ends,
// then has the readiness poll check under name.
func (d *Deps) connect(ctx context.Context, name string, open, check daemon.CheckFunc) error {
	if err := d.ready.Connect(ctx, name, open, d.cfg.Backoff); err != nil {
		return err
	}
	d.ready.AddCheck(name, check)
	return nil
}

// Stop closes the connections.
func (d *Deps) Stop(context.Context) error {
	var errs []error
	if d.Cache != nil {
		errs = append(errs, d.Cache.Close())
	}
	if d.DB != nil {
		errs = append(errs, d.DB.Close())
	}
	return errors.Join(errs...)
}

// dialAll checks that every address accepts TCP connections.
func dialAll(ctx context.Context, addrs []string) error {
	d := net.Dialer{Timeout: 2 * time.Second}
	for _, a := range addrs {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		conn, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			return fmt.Errorf("dial %s: %w", a, err)
		}
		_ = conn.Close()
	}
	return nil
}
