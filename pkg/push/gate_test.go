package push

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"mkt/pkg/mkttest"
)

// manualClock is a clock the test moves.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// tryAcquire acquires without waiting: false if the gate would block.
func tryAcquire(g *gate) bool {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g.mu.Lock()
	free := g.waiters.Len() == 0 && g.inFlight < g.limitLocked(g.now())
	g.mu.Unlock()
	if !free {
		return false
	}
	return g.Acquire(ctx) == nil
}

func fill(g *gate) int {
	n := 0
	for tryAcquire(g) {
		n++
	}
	return n
}

func TestGateWithoutRampIsASemaphore(t *testing.T) {
	t.Parallel()
	clk := &manualClock{t: time.Unix(0, 0)}
	g := newGate(10, 0, rampIdle, clk.Now)
	if n := fill(g); n != 10 {
		t.Fatalf("acquired %d of 10", n)
	}
	got := make(chan int, 2)
	for i := range 2 {
		go func() {
			if err := g.Acquire(context.Background()); err == nil {
				got <- i
			}
		}()
		waitWaiters(t, g, i+1) // in order
	}
	g.Release()
	if first := <-got; first != 0 {
		t.Errorf("waiter %d served first, want 0", first)
	}
	g.Release()
	<-got
	if g.inFlight != 10 {
		t.Errorf("in flight %d, want 10", g.inFlight)
	}
}

func waitWaiters(t *testing.T, g *gate, n int) {
	t.Helper()
	mkttest.WaitFor(t, 10*time.Second, fmt.Sprintf("%d waiters", n), func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.waiters.Len() == n
	})
}

func TestGateSlowStartsAfterIdle(t *testing.T) {
	t.Parallel()
	clk := &manualClock{t: time.Unix(0, 0)}
	g := newGate(200, 2*time.Second, 10*time.Second, clk.Now)
	// First use: opens at 200/20.
	if n := fill(g); n != 10 {
		t.Fatalf("first use opened %d, want 10", n)
	}
	clk.add(time.Second) // halfway: 10 + 190/2
	if n := fill(g); n != 95 {
		t.Fatalf("halfway %d more, want 95 (105 in flight)", n)
	}
	clk.add(time.Second)
	if n := fill(g); n != 95 {
		t.Fatalf("at the end %d more, want 95 (all 200)", n)
	}
	// Busy, then idle briefly: no new slow start.
	for range 200 {
		g.Release()
	}
	clk.add(5 * time.Second)
	if n := fill(g); n != 200 {
		t.Fatalf("after 5 s idle %d, want all 200", n)
	}
	for range 200 {
		g.Release()
	}
	// Idle long enough: slow start again.
	clk.add(10 * time.Second)
	if n := fill(g); n != 10 {
		t.Fatalf("after 10 s idle %d, want 10", n)
	}
}

// A waiter blocked by the opening limit is let in as the limit rises, not
// only when a unit is released.
func TestGateRampReleasesWaiters(t *testing.T) {
	t.Parallel()
	clk := &manualClock{t: time.Unix(0, 0)}
	g := newGate(40, 100*time.Millisecond, time.Minute, clk.Now)
	if n := fill(g); n != 2 {
		t.Fatalf("opened %d, want 2", n)
	}
	done := make(chan error, 1)
	go func() { done <- g.Acquire(context.Background()) }()
	waitWaiters(t, g, 1)
	clk.add(100 * time.Millisecond)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiter never let in as the limit rose")
	}
}

func TestGateCancelledWaiterKeepsNoUnit(t *testing.T) {
	t.Parallel()
	clk := &manualClock{t: time.Unix(0, 0)}
	g := newGate(1, 0, rampIdle, clk.Now)
	if !tryAcquire(g) {
		t.Fatal("first acquire blocked")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Acquire(ctx) }()
	waitWaiters(t, g, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Acquire = %v", err)
	}
	g.Release()
	if g.inFlight != 0 || g.waiters.Len() != 0 {
		t.Fatalf("in flight %d, waiters %d after release", g.inFlight, g.waiters.Len())
	}
	if !tryAcquire(g) {
		t.Error("unit lost to the cancelled waiter")
	}
}
