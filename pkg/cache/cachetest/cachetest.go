// Package cachetest is the Redis of mkt's integration tests, as
// pkg/store/storetest is their MariaDB and pkg/mq/mqtest their broker: a
// client of the test Redis whose keys are gone when the test ends.
//
// The server comes from mkttest.RedisAddr and mkttest.RedisPassword
// (MKT_REDIS_ADDR, MKT_REDIS_PASSWORD or MKT_REDIS_PASSWORD_FILE, default
// the local stack's). Only tests import this package; pkg/cache's own tests
// cannot (it imports pkg/cache) and open their client themselves.
package cachetest

import (
	"context"
	"testing"
	"time"

	"mkt/pkg/cache"
	"mkt/pkg/mkttest"
)

// cleanupTimeout bounds deleting a test's keys.
const cleanupTimeout = 10 * time.Second

// Open opens a client of the test Redis with cfg's other settings. An
// empty cfg.KeyPrefix is a fresh one of the test's own
// ("mkt_test_<random>:"); give one to reach the keys mkt names after a
// database ("mkt:coupon:<database>:"). When t ends the keys under the
// prefix are deleted (SCAN and DEL, never FLUSHALL) and the client closed.
// An unreachable Redis fails t, unless MKT_SKIP_INTEGRATION=1 skips it.
func Open(t testing.TB, cfg cache.Config) *cache.Client {
	t.Helper()
	cfg.Addr, cfg.Password = mkttest.RedisAddr(t), mkttest.RedisPassword(t)
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = mkttest.Namespace(t, "mkt_test_")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	c, err := cache.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("cachetest: open the test Redis (set MKT_REDIS_ADDR, or MKT_SKIP_INTEGRATION=1 to skip): %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if _, err := c.DeleteAll(ctx); err != nil {
			t.Errorf("cachetest: delete the keys under %s: %v", c.Prefix(), err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("cachetest: close: %v", err)
		}
	})
	return c
}
