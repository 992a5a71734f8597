package daemon

import (
	"context"
	"fmt"
	"sync"
)

// Admission is how a component takes work handed to it from outside its own
// goroutines — a message handler call, a login, a trigger — and lets a stop
// refuse new work and wait for the work it took. Every piece of work calls
// Enter first and, when Enter returned true, Leave once it is done; Enter and
// the count are one step under one lock, so no piece slips in after a stop
// found none in flight. It is the "take no new work" half of a component's
// drain (see "Component lifecycle"), used inside StopWith's drain or from a
// BeginStop.
//
// An Admission admits nothing until Open (a component opens it once it can
// do the work: at the end of its start, or when it is built), and nothing
// after Close; a Close is final, and an Open after it does nothing. The zero
// value is ready to use, closed to work until Open.
type Admission struct {
	mu     sync.Mutex
	open   bool
	closed bool
	n      int           // admitted and not yet left
	idle   chan struct{} // made on demand; closed once closed and n is 0
}

// Open admits work from now on, unless Close came first.
func (a *Admission) Open() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.open = !a.closed
}

// Enter admits one piece of work: true, and the caller must Leave once the
// work is done; false when the admission is not open (not yet, or closed).
func (a *Admission) Enter() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.open {
		return false
	}
	a.n++
	return true
}

// Leave ends a piece of work that Enter admitted.
func (a *Admission) Leave() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == 0 {
		panic("daemon: Admission.Leave without Enter")
	}
	a.n--
	if a.n == 0 && a.closed && a.idle != nil {
		close(a.idle)
	}
}

// Close admits nothing more. The work in flight goes on; Drained tells when
// it is done.
func (a *Admission) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.open, a.closed = false, true
	if a.n == 0 && a.idle != nil {
		close(a.idle)
	}
}

// Closed reports whether Close was called: work that runs long checks it at
// its safe points to stop early.
func (a *Admission) Closed() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

// InFlight is how many admitted pieces of work have not left yet.
func (a *Admission) InFlight() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// Drained returns a channel closed once the admission is closed and every
// piece of work it admitted has left. It may be taken at any time.
func (a *Admission) Drained() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.idle == nil {
		a.idle = make(chan struct{})
		if a.closed && a.n == 0 {
			close(a.idle)
		}
	}
	return a.idle
}

// CloseAndWait closes the admission and waits until the work in flight has
// left, or ctx ends; then it returns an error that counts the work still in
// flight, as "<n> <what>" ("3 shards in progress"), wrapping ctx's cause.
func (a *Admission) CloseAndWait(ctx context.Context, what string) error {
	a.Close()
	select {
	case <-a.Drained():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d %s: %w", a.InFlight(), what, context.Cause(ctx))
	}
}
