// Package cache owns mkt's thin Redis layer (go-redis/v9): opening a checked
// connection, putting every key under one prefix so deployments and tests
// can share a Redis, counters for live progress, and Lua scripts for the
// atomic steps (coupon issue) built on top of it.
package cache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"mkt/pkg/config"

	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix is the prefix used when Config.KeyPrefix is empty.
const DefaultKeyPrefix = "mkt:"

// Config configures a Client. Zero values take the documented defaults.
type Config struct {
	// Addr is host:port of Redis. Default config.DefaultRedisAddr.
	Addr string
	// Password for AUTH; empty for none.
	Password string
	// DB is the logical database number.
	DB int
	// KeyPrefix is put in front of every key the Client builds. A trailing ':'
	// is added if missing. Default "mkt:".
	KeyPrefix string
	// PoolSize is the connection pool size. Default 10 per GOMAXPROCS (go-redis' default).
	PoolSize int
	// DialTimeout bounds connecting. Default 5s.
	DialTimeout time.Duration
	// ReadTimeout bounds each reply. Default 3s.
	ReadTimeout time.Duration
	// WriteTimeout bounds each command write. Default 3s.
	WriteTimeout time.Duration
	// PoolTimeout bounds waiting for a free connection. Default ReadTimeout + 1s.
	PoolTimeout time.Duration
}

func (c Config) withDefaults() (Config, error) {
	c.Addr = cmp.Or(c.Addr, config.DefaultRedisAddr)
	c.KeyPrefix = cmp.Or(c.KeyPrefix, DefaultKeyPrefix)
	if !strings.HasSuffix(c.KeyPrefix, ":") {
		c.KeyPrefix += ":"
	}
	c.DialTimeout = cmp.Or(c.DialTimeout, 5*time.Second)
	c.ReadTimeout = cmp.Or(c.ReadTimeout, 3*time.Second)
	c.WriteTimeout = cmp.Or(c.WriteTimeout, 3*time.Second)
	c.PoolTimeout = cmp.Or(c.PoolTimeout, c.ReadTimeout+time.Second)
	switch {
	case c.DB < 0:
		return c, fmt.Errorf("cache: database %d must be >= 0", c.DB)
	case c.PoolSize < 0:
		return c, fmt.Errorf("cache: pool size %d must be >= 0", c.PoolSize)
	case c.DialTimeout < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0 || c.PoolTimeout < 0:
		return c, errors.New("cache: timeouts must not be negative")
	case strings.ContainsAny(c.KeyPrefix, "*?[]"):
		return c, fmt.Errorf("cache: key prefix %q must not contain glob characters", c.KeyPrefix)
	}
	return c, nil
}

// Client is a Redis client whose helpers keep every key under KeyPrefix.
// It is safe for concurrent use.
type Client struct {
	rdb    *redis.Client
	prefix string
	addr   string
}

// Open connects to Redis and pings it; it fails if Redis does not answer.
func Open(ctx context.Context, cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(&redis.Options{
		Addr:                  cfg.Addr,
		Password:              cfg.Password,
		DB:                    cfg.DB,
		PoolSize:              cfg.PoolSize,
		DialTimeout:           cfg.DialTimeout,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		PoolTimeout:           cfg.PoolTimeout,
		ContextTimeoutEnabled: true,
	})
	c := &Client{rdb: rdb, prefix: cfg.KeyPrefix, addr: cfg.Addr}
	if err := c.Ping(ctx); err != nil {
		_ = rdb.Close()
		return nil, err
	}
	return c, nil
}

// Redis returns the underlying go-redis client for advanced use. Keys given
// to it directly are NOT prefixed: build them with Key.
func (c *Client) Redis() *redis.Client { return c.rdb }

// Prefix returns the key prefix, ending with ':'.
func (c *Client) Prefix() string { return c.prefix }

// Key returns the prefixed key made of parts joined by ':'; e.g. with prefix
// "mkt:", Key("progress", "42") is "mkt:progress:42".
func (c *Client) Key(parts ...string) string {
	return c.prefix + strings.Join(parts, ":")
}

// Ping checks that Redis answers.
func (c *Client) Ping(ctx context.Context) error {
	if err := c.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cache: ping redis at %s: %w", c.addr, err)
	}
	return nil
}

// Close releases the connections.
func (c *Client) Close() error {
	if err := c.rdb.Close(); err != nil {
		return fmt.Errorf("cache: close: %w", err)
	}
	return nil
}

// Incr adds n (possibly negative) to the counter key and returns the new value.
func (c *Client) Incr(ctx context.Context, key string, n int64) (int64, error) {
	v, err := c.rdb.IncrBy(ctx, c.Key(key), n).Result()
	if err != nil {
		return 0, fmt.Errorf("cache: increment %s: %w", key, err)
	}
	return v, nil
}

// Counter reads the counter key; a missing key reads 0.
func (c *Client) Counter(ctx context.Context, key string) (int64, error) {
	v, err := c.rdb.Get(ctx, c.Key(key)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("cache: read counter %s: %w", key, err)
	}
	return v, nil
}

// HIncrBy adds n to field of the hash key (live progress: one hash per
// campaign, one field per status) and returns the field's new value.
func (c *Client) HIncrBy(ctx context.Context, key, field string, n int64) (int64, error) {
	v, err := c.rdb.HIncrBy(ctx, c.Key(key), field, n).Result()
	if err != nil {
		return 0, fmt.Errorf("cache: increment %s[%s]: %w", key, field, err)
	}
	return v, nil
}

// HIncrByMany adds each field's n to the hash key in one round trip (a
// pipeline of HINCRBY); fields with n = 0 are left out.
func (c *Client) HIncrByMany(ctx context.Context, key string, fields map[string]int64) error {
	k := c.Key(key)
	cmds, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for f, n := range fields {
			if n != 0 {
				p.HIncrBy(ctx, k, f, n)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("cache: increment %d fields of %s: %w", len(cmds), key, err)
	}
	return nil
}

// HCounters reads every field of the hash key as integers; a missing key
// reads as an empty map.
func (c *Client) HCounters(ctx context.Context, key string) (map[string]int64, error) {
	raw, err := c.rdb.HGetAll(ctx, c.Key(key)).Result()
	if err != nil {
		return nil, fmt.Errorf("cache: read counters %s: %w", key, err)
	}
	out := make(map[string]int64, len(raw))
	for f, s := range raw {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("cache: read counters %s: field %s is not an integer: %w", key, f, err)
		}
		out[f] = v
	}
	return out, nil
}

// Expire sets key's time to live; it reports whether the key exists.
func (c *Client) Expire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := c.rdb.Expire(ctx, c.Key(key), ttl).Result()
	if err != nil {
		return false, fmt.Errorf("cache: expire %s: %w", key, err)
	}
	return ok, nil
}

// Del deletes keys and returns how many existed.
func (c *Client) Del(ctx context.Context, keys ...string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	n, err := c.rdb.Del(ctx, c.prefixed(keys)...).Result()
	if err != nil {
		return 0, fmt.Errorf("cache: delete %d keys: %w", len(keys), err)
	}
	return n, nil
}

// DeleteAll deletes every key under the prefix with SCAN and DEL (never
// FLUSHDB), in batches, and returns how many were deleted. Tests use it to
// clean their own prefix; keys written concurrently may survive.
func (c *Client) DeleteAll(ctx context.Context) (int64, error) {
	var total int64
	iter := c.rdb.Scan(ctx, 0, c.prefix+"*", 500).Iterator()
	batch := make([]string, 0, 500)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := c.rdb.Unlink(ctx, batch...).Result()
		total += n
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return total, fmt.Errorf("cache: delete keys under %s: %w", c.prefix, err)
			}
		}
	}
	if err := iter.Err(); err != nil {
		return total, fmt.Errorf("cache: scan keys under %s: %w", c.prefix, err)
	}
	if err := flush(); err != nil {
		return total, fmt.Errorf("cache: delete keys under %s: %w", c.prefix, err)
	}
	return total, nil
}

func (c *Client) prefixed(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = c.Key(k)
	}
	return out
}

// Script is a Lua script bound to a Client. Run sends EVALSHA and falls back
// to EVAL (which also caches the script on the server) when Redis does not
// know it yet, e.g. after a restart. Scripts must reach keys only through
// KEYS (which Run prefixes) so they stay under the prefix and atomic.
type Script struct {
	c *Client
	s *redis.Script
}

// NewScript prepares a Lua script; nothing is sent until Load or Run.
func (c *Client) NewScript(src string) *Script {
	return &Script{c: c, s: redis.NewScript(src)}
}

// Hash returns the script's SHA1, as used by EVALSHA.
func (s *Script) Hash() string { return s.s.Hash() }

// Load caches the script on the server (SCRIPT LOAD), e.g. at start-up so
// the first Run needs no fallback.
func (s *Script) Load(ctx context.Context) error {
	if err := s.s.Load(ctx, s.c.rdb).Err(); err != nil {
		return fmt.Errorf("cache: load script %s: %w", s.Hash()[:12], err)
	}
	return nil
}

// Run runs the script atomically with keys (prefixed by the Client) and
// args. Read the result with the Cmd's typed accessors (Int64, Text,
// Slice...); a nil reply is redis.Nil.
func (s *Script) Run(ctx context.Context, keys []string, args ...any) *redis.Cmd {
	return s.s.Run(ctx, s.c.rdb, s.c.prefixed(keys), args...)
}
