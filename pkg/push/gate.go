package push

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// gate bounds a worker's provider calls in flight, like a semaphore of max
// units, with a slow start: after the worker has been idle (nothing in
// flight for idleAfter, or never busy) the limit starts at max/20 and grows
// linearly to max over rampUp. A campaign's first second then does not open
// thousands of connections at once — a burst a real provider may refuse,
// and one that starves the planner still enqueueing the campaign's
// remaining shards on the same machine. Waiters are served in order, one
// unit each.
type gate struct {
	max       int
	rampUp    time.Duration // 0: no slow start
	idleAfter time.Duration
	now       func() time.Time

	mu        sync.Mutex
	inFlight  int
	idle      bool      // nothing in flight since idleSince
	idleSince time.Time // zero with idle: never busy
	rampStart time.Time // zero: not ramping
	waiters   list.List // of chan struct{}, closed when granted
	ticking   bool
}

// rampStartFraction is the share of max a slow start opens with.
const rampStartFraction = 20

// rampIdle is how long a worker has nothing in flight before its next call
// starts slowly again.
const rampIdle = 10 * time.Second

func newGate(maxInFlight int, rampUp, idleAfter time.Duration, now func() time.Time) *gate {
	return &gate{max: maxInFlight, rampUp: rampUp, idleAfter: idleAfter, now: now, idle: true}
}

// limitLocked is the number of calls allowed in flight now.
func (g *gate) limitLocked(now time.Time) int {
	if g.rampStart.IsZero() {
		return g.max
	}
	el := now.Sub(g.rampStart)
	if el >= g.rampUp {
		g.rampStart = time.Time{}
		return g.max
	}
	start := max(g.max/rampStartFraction, 1)
	return start + int(float64(g.max-start)*float64(el)/float64(g.rampUp))
}

// Acquire takes a unit, waiting for one (in order) or for ctx.
func (g *gate) Acquire(ctx context.Context) error {
	g.mu.Lock()
	now := g.now()
	if g.idle && g.rampUp > 0 && (g.idleSince.IsZero() || now.Sub(g.idleSince) >= g.idleAfter) {
		g.rampStart = now
	}
	g.idle = false
	if g.waiters.Len() == 0 && g.inFlight < g.limitLocked(now) {
		g.inFlight++
		g.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	elem := g.waiters.PushBack(ready)
	g.startTickerLocked()
	g.mu.Unlock()

	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		select {
		case <-ready:
			// Granted meanwhile: give the unit back.
			g.mu.Unlock()
			g.Release()
		default:
			g.waiters.Remove(elem)
			g.mu.Unlock()
		}
		return context.Cause(ctx)
	}
}

// Release returns a unit and hands it to the next waiter if the limit
// allows.
func (g *gate) Release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inFlight--
	if g.inFlight < 0 {
		panic("push: gate released more than acquired")
	}
	now := g.now()
	g.grantLocked(now)
	if g.inFlight == 0 && g.waiters.Len() == 0 {
		g.idle, g.idleSince = true, now
	}
}

// grantLocked hands units to waiters, in order, up to the current limit.
func (g *gate) grantLocked(now time.Time) {
	limit := g.limitLocked(now)
	for g.inFlight < limit && g.waiters.Len() > 0 {
		ready := g.waiters.Remove(g.waiters.Front()).(chan struct{})
		g.inFlight++
		close(ready)
	}
}

// startTickerLocked raises the limit for waiters while a slow start is on:
// releases alone would only keep the opening limit.
func (g *gate) startTickerLocked() {
	if g.ticking || g.rampStart.IsZero() {
		return
	}
	g.ticking = true
	go func() {
		t := time.NewTicker(max(g.rampUp/50, time.Millisecond))
		defer t.Stop()
		for range t.C {
			g.mu.Lock()
			g.grantLocked(g.now())
			done := g.rampStart.IsZero() || g.waiters.Len() == 0
			if done {
				g.ticking = false
			}
			g.mu.Unlock()
			if done {
				return
			}
		}
	}()
}
