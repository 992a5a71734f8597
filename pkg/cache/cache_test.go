package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mkt/pkg/mkttest"
)

// newClient opens a Client on the test Redis under a fresh random prefix,
// whose keys are deleted (SCAN+DEL, never FLUSHALL) at cleanup. An
// unreachable Redis fails the test unless MKT_SKIP_INTEGRATION=1.
func newClient(t *testing.T) *Client {
	t.Helper()
	c, err := Open(t.Context(), Config{Addr: mkttest.RedisAddr(t), Password: mkttest.RedisPassword(t), KeyPrefix: mkttest.Namespace(t, "mkt_test_") + ":", DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("open test Redis (set MKT_REDIS_ADDR, or MKT_SKIP_INTEGRATION=1 to skip): %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.DeleteAll(ctx); err != nil {
			t.Errorf("clean prefix %s: %v", c.Prefix(), err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

func TestKeysArePrefixed(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := t.Context()
	if got := c.Key("progress", "42"); got != c.Prefix()+"progress:42" {
		t.Errorf("Key = %q", got)
	}
	if _, err := c.Incr(ctx, "n", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.HIncrBy(ctx, "h", "f", 1); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Redis().Keys(ctx, c.Prefix()+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Errorf("keys under prefix = %v, want the 2 written", keys)
	}
	if n, err := c.Redis().Exists(ctx, "n", "h").Result(); err != nil || n != 0 {
		t.Errorf("unprefixed keys exist: %d %v", n, err)
	}
}

func TestCounters(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := t.Context()
	if v, err := c.Counter(ctx, "missing"); err != nil || v != 0 {
		t.Errorf("missing counter = %d, %v", v, err)
	}
	for _, step := range []struct{ n, want int64 }{{5, 5}, {10, 15}, {-3, 12}} {
		if v, err := c.Incr(ctx, "sent", step.n); err != nil || v != step.want {
			t.Errorf("Incr(%d) = %d, %v; want %d", step.n, v, err, step.want)
		}
	}
	if v, err := c.Counter(ctx, "sent"); err != nil || v != 12 {
		t.Errorf("Counter = %d, %v", v, err)
	}
	if ok, err := c.Expire(ctx, "sent", time.Hour); err != nil || !ok {
		t.Errorf("Expire = %v, %v", ok, err)
	}
	if ttl := c.Redis().TTL(ctx, c.Key("sent")).Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("TTL = %v", ttl)
	}
	if n, err := c.Del(ctx, "sent", "missing"); err != nil || n != 1 {
		t.Errorf("Del = %d, %v", n, err)
	}
	// A non-integer value is reported, not read as 0.
	if err := c.Redis().Set(ctx, c.Key("text"), "abc", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Counter(ctx, "text"); err == nil {
		t.Error("Counter on a non-integer succeeded")
	}
}

func TestHashCountersConcurrent(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := t.Context()
	const workers, perWorker = 50, 100
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				field := "sent"
				if (w+i)%4 == 0 {
					field = "failed"
				}
				if _, err := c.HIncrBy(ctx, "campaign:7", field, 1); err != nil {
					errs <- err
					return
				}
			}
			// Several fields at once; a zero is left out of the hash.
			if err := c.HIncrByMany(ctx, "campaign:7", map[string]int64{"bytes": 3, "zero": 0}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := c.HCounters(ctx, "campaign:7")
	if err != nil {
		t.Fatal(err)
	}
	if got["sent"]+got["failed"] != workers*perWorker || got["failed"] != workers*perWorker/4 || got["bytes"] != 3*workers || len(got) != 3 {
		t.Errorf("counters = %v", got)
	}
	if empty, err := c.HCounters(ctx, "nothing"); err != nil || len(empty) != 0 {
		t.Errorf("missing hash = %v, %v", empty, err)
	}
}

// boundedIncr increments KEYS[1] unless it reached ARGV[1]; returns 1 if it did.
const boundedIncr = `
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
return 1`

func TestScriptIsAtomic(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := t.Context()
	s := c.NewScript(boundedIncr)
	const callers, tries, limit = 50, 10, 137
	var mu sync.Mutex
	var granted int64
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range tries {
				ok, err := s.Run(ctx, []string{"quota"}, limit).Int64()
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				granted += ok
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if granted != limit {
		t.Errorf("granted %d, want exactly %d", granted, limit)
	}
	if v, err := c.Counter(ctx, "quota"); err != nil || v != limit {
		t.Errorf("quota counter = %d, %v; want %d", v, err, limit)
	}
}

func TestScriptFallsBackToEval(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	ctx := t.Context()
	// A source unique to this run, so the server cannot know it yet.
	s := c.NewScript(fmt.Sprintf("-- %s\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])", c.Prefix()))
	exists := func() bool {
		t.Helper()
		got, err := c.Redis().ScriptExists(ctx, s.Hash()).Result()
		if err != nil {
			t.Fatal(err)
		}
		return got[0]
	}
	if exists() {
		t.Fatal("script already cached")
	}
	if v, err := s.Run(ctx, []string{"k"}, 4).Int64(); err != nil || v != 4 {
		t.Fatalf("first Run (EVAL fallback) = %d, %v", v, err)
	}
	if !exists() {
		t.Error("script not cached after the fallback")
	}
	if v, err := s.Run(ctx, []string{"k"}, 4).Int64(); err != nil || v != 8 {
		t.Errorf("second Run (EVALSHA) = %d, %v", v, err)
	}
	if err := s.Load(ctx); err != nil {
		t.Errorf("Load: %v", err)
	}
	// Keys reached the prefixed name.
	if v, err := c.Counter(ctx, "k"); err != nil || v != 8 {
		t.Errorf("counter k = %d, %v", v, err)
	}
	// A script error surfaces.
	bad := c.NewScript("return redis.call('NOSUCHCOMMAND')")
	if err := bad.Run(ctx, nil).Err(); err == nil {
		t.Error("failing script returned no error")
	}
}

func TestDeleteAllOnlyTouchesOwnPrefix(t *testing.T) {
	t.Parallel()
	mine, other := newClient(t), newClient(t)
	ctx := t.Context()
	for i := range 1200 { // more than one SCAN/DEL batch
		if err := mine.Redis().Set(ctx, mine.Key("k", fmt.Sprint(i)), 1, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := other.Incr(ctx, "keep", 1); err != nil {
		t.Fatal(err)
	}
	n, err := mine.DeleteAll(ctx)
	if err != nil || n != 1200 {
		t.Fatalf("DeleteAll = %d, %v; want 1200", n, err)
	}
	if left, err := mine.Redis().Keys(ctx, mine.Prefix()+"*").Result(); err != nil || len(left) != 0 {
		t.Errorf("left under prefix: %d keys, %v", len(left), err)
	}
	if v, err := other.Counter(ctx, "keep"); err != nil || v != 1 {
		t.Errorf("other prefix's key = %d, %v", v, err)
	}
}

func TestOpenFailsClearly(t *testing.T) {
	t.Parallel()
	l := closedPort(t)
	start := time.Now()
	c, err := Open(t.Context(), Config{Addr: l, DialTimeout: time.Second, KeyPrefix: mkttest.Namespace(t, "mkt_test_") + ":"})
	if err == nil {
		c.Close()
		t.Fatalf("Open(%s) succeeded", l)
	}
	if !strings.Contains(err.Error(), "ping redis at "+l) {
		t.Errorf("error %q does not name the address", err)
	}
	t.Logf("Open failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

func TestConfigValidated(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{DB: -1}, {PoolSize: -1}, {ReadTimeout: -time.Second}, {KeyPrefix: "mkt*"}} {
		if _, err := Open(t.Context(), cfg); err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("Open(%+v) = %v, want a config error", cfg, err)
		}
	}
	got, err := Config{KeyPrefix: "tenant"}.withDefaults()
	if err != nil || got.KeyPrefix != "tenant:" || got.Addr != "127.0.0.1:6379" || got.PoolTimeout != 4*time.Second {
		t.Errorf("defaults = %+v, %v", got, err)
	}
}
