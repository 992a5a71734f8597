package push

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"mkt/pkg/campaign"
	"mkt/pkg/store"
)

// statusCache holds each campaign's status for up to ttl, so that every
// worker goroutine can check for pause and cancel between pages without a
// query per page: one read per campaign per ttl per process.
type statusCache struct {
	db    store.Handler
	ttl   time.Duration
	clock Clock

	mu sync.Mutex
	m  map[runKey]statusEntry
	sf singleflight.Group
}

// runKey names a campaign of a kind (promotion 42 and coupon 42 differ).
type runKey struct {
	kind campaign.Kind
	id   uint64
}

type statusEntry struct {
	status campaign.Status
	at     time.Time
}

// statusCacheSweepAt is the size above which stale entries are dropped.
const statusCacheSweepAt = 1024

// statusReadTimeout bounds one status read.
const statusReadTimeout = 5 * time.Second

func newStatusCache(db store.Handler, ttl time.Duration, clock Clock) *statusCache {
	return &statusCache{db: db, ttl: ttl, clock: clock, m: make(map[runKey]statusEntry)}
}

// get returns the status of campaign id of kind (a coupon's push_status),
// at most ttl old.
func (c *statusCache) get(ctx context.Context, kind campaign.Kind, id uint64) (campaign.Status, error) {
	key := runKey{kind, id}
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && c.clock.Now().Sub(e.at) < c.ttl {
		return e.status, nil
	}
	v, err, _ := c.sf.Do(string(kind)+":"+strconv.FormatUint(id, 10), func() (any, error) {
		// Shared by every waiting caller: not bound to the first one's
		// cancellation.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), statusReadTimeout)
		defer cancel()
		s, err := kind.ReadStatus(ctx, c.db, id)
		if err != nil {
			return campaign.Status(""), fmt.Errorf("push: read status of %s %d: %w", kind, id, err)
		}
		c.put(kind, id, s)
		return s, nil
	})
	if err != nil {
		return "", err
	}
	return v.(campaign.Status), nil
}

// put records a status just read.
func (c *statusCache) put(kind campaign.Kind, id uint64, s campaign.Status) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= statusCacheSweepAt {
		for k, e := range c.m {
			if now.Sub(e.at) >= c.ttl {
				delete(c.m, k)
			}
		}
	}
	c.m[runKey{kind, id}] = statusEntry{status: s, at: now}
}

// forget drops a campaign's entry so the next get reads the database.
func (c *statusCache) forget(kind campaign.Kind, id uint64) {
	c.mu.Lock()
	delete(c.m, runKey{kind, id})
	c.mu.Unlock()
}

// failureWindow judges a campaign's provider failure rate over tumbling
// windows of at least min attempts, per worker: a window closes once it
// holds min attempts, and trips when its failure rate is above threshold.
// Windows are local, so a resumed campaign is judged on fresh sends, not on
// the failures that paused it.
type failureWindow struct {
	min       int64
	threshold float64

	mu sync.Mutex
	m  map[runKey]*window
}

type window struct{ attempts, failed int64 }

func newFailureWindow(minAttempts int, threshold float64) *failureWindow {
	return &failureWindow{min: int64(minAttempts), threshold: threshold, m: make(map[runKey]*window)}
}

// add counts attempts (of which failed failed) and, when that closes the
// window, reports the window's numbers and whether it tripped.
func (f *failureWindow) add(id runKey, attempts, failed int64) (closed bool, tripped bool, a, fl int64) {
	if attempts <= 0 {
		return false, false, 0, 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.m[id]
	if w == nil {
		w = &window{}
		f.m[id] = w
	}
	w.attempts += attempts
	w.failed += failed
	if w.attempts < f.min {
		return false, false, 0, 0
	}
	a, fl = w.attempts, w.failed
	delete(f.m, id)
	return true, float64(fl) > f.threshold*float64(a), a, fl
}

// reset forgets a campaign's open window (it was paused or cancelled).
func (f *failureWindow) reset(id runKey) {
	f.mu.Lock()
	delete(f.m, id)
	f.mu.Unlock()
}
