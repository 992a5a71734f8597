package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrStopped is returned by Start once the component was stopped: a stop
// is final. It is also the cause of a run's contexts once Stop ends them.
var ErrStopped = errors.New("daemon: component stopped")

// StartStop is the lifecycle every background component embeds: it keeps
// the component's state (new, starting, started, stopping, stopped), runs
// its goroutines in a Lifetime and implements Stop. The semantics are those of
// the package documentation ("Component lifecycle"). The zero value is a
// new component.
//
// A component's Start calls StartWith with the function that starts its
// work; Stop comes from StartStop, or calls StopWith when stopping needs
// more than waiting for the goroutines:
//
//	func (l *Loop) Start(ctx context.Context) error {
//		return l.StartWith(ctx, func(run *daemon.Lifetime) error {
//			run.Go(func() { l.loop(run) }) // returns once run.Stopping() is done
//			return nil
//		})
//	}
type StartStop struct {
	mu      sync.Mutex
	state   lifecycleState
	run     *Lifetime
	attempt chan struct{} // closed when the Start under way returns
	started chan struct{} // made on demand; closed on entering stateStarted
	stopped chan struct{} // made on demand; closed on entering stateStopped
}

type lifecycleState int

const (
	stateNew lifecycleState = iota
	stateStarting
	stateStarted
	stateStopping
	stateStopped
)

// StartWith starts the component: it calls start with a new Lifetime (whose
// contexts derive from ctx) and marks the component started when start
// returns nil. start begins the background work with run.Go and returns
// once it runs; when it returns an error, the run's context is cancelled,
// the goroutines it began are waited for, and the component stays new (Start
// may be tried again).
//
// On a component started already StartWith does nothing and returns nil; on
// one being started by another goroutine it waits for that Start (or ctx)
// and acts on its outcome; on a stopping or stopped one it returns
// ErrStopped.
func (s *StartStop) StartWith(ctx context.Context, start func(run *Lifetime) error) error {
	s.mu.Lock()
	for s.state == stateStarting {
		attempt := s.attempt
		s.mu.Unlock()
		select {
		case <-attempt:
		case <-ctx.Done():
			return fmt.Errorf("daemon: start: %w", context.Cause(ctx))
		}
		s.mu.Lock()
	}
	switch s.state {
	case stateStarted:
		s.mu.Unlock()
		return nil
	case stateStopping, stateStopped:
		s.mu.Unlock()
		return ErrStopped
	}
	run := newRun(ctx)
	attempt := make(chan struct{})
	s.state, s.run, s.attempt = stateStarting, run, attempt
	s.mu.Unlock()

	err := run.start(start)

	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(attempt)
	if err != nil {
		s.state, s.run = stateNew, nil
		return err
	}
	s.state = stateStarted
	close(s.startedLocked())
	return nil
}

// Stop stops the component: StopWith with no drain of its own, so the
// run's goroutines finish what they do (they were told to stop by
// run.Stopping) until ctx ends.
func (s *StartStop) Stop(ctx context.Context) error { return s.StopWith(ctx, nil) }

// StopWith stops the component. Only the first Stop of a started component
// does the work: it ends run.Stopping (take no new work), calls drain (nil:
// run.Wait) with ctx to let the work in flight finish, then cancels
// run.Context and waits for every goroutine of the run — they must return
// promptly once it is cancelled — and marks the component stopped. It
// returns drain's error.
//
// Stopping a new component marks it stopped without calling drain. A Stop
// during a Start waits for the Start to return (cancelling the run's context
// if ctx ends first) and then stops what started. A Stop while another one
// is under way waits for that one to end, or for ctx; a Stop of a stopped
// component returns nil at once.
func (s *StartStop) StopWith(ctx context.Context, drain func(ctx context.Context, run *Lifetime) error) error {
	s.mu.Lock()
	for {
		switch s.state {
		case stateNew:
			s.state = stateStopped
			close(s.stoppedLocked())
			s.mu.Unlock()
			return nil
		case stateStopped:
			s.mu.Unlock()
			return nil
		case stateStarting:
			run, attempt := s.run, s.attempt
			s.mu.Unlock()
			run.requestStop()
			select {
			case <-attempt:
			case <-ctx.Done():
				run.cancel(ErrStopped)
				<-attempt
			}
			s.mu.Lock()
		case stateStopping:
			stopped := s.stoppedLocked()
			s.mu.Unlock()
			select {
			case <-stopped:
				return nil
			case <-ctx.Done():
				return fmt.Errorf("daemon: stop: waiting for the stop under way: %w", context.Cause(ctx))
			}
		case stateStarted:
			run := s.run
			s.state = stateStopping
			s.mu.Unlock()
			run.requestStop()
			if drain == nil {
				drain = func(ctx context.Context, run *Lifetime) error { return run.Wait(ctx) }
			}
			err := drain(ctx, run)
			run.cancel(ErrStopped)
			<-run.done
			s.mu.Lock()
			s.state, s.run = stateStopped, nil
			close(s.stoppedLocked())
			s.mu.Unlock()
			return err
		}
	}
}

// Started returns a channel closed once Start has succeeded. It may be
// taken before Start.
func (s *StartStop) Started() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startedLocked()
}

// Stopped returns a channel closed once the component is stopped: Stop has
// ended its run (or found it new). It may be taken at any time.
func (s *StartStop) Stopped() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stoppedLocked()
}

func (s *StartStop) startedLocked() chan struct{} {
	if s.started == nil {
		s.started = make(chan struct{})
	}
	return s.started
}

func (s *StartStop) stoppedLocked() chan struct{} {
	if s.stopped == nil {
		s.stopped = make(chan struct{})
	}
	return s.stopped
}

// Lifetime is one run of a component: its contexts and its goroutines.
type Lifetime struct {
	ctx         context.Context
	cancel      context.CancelCauseFunc
	stopping    context.Context
	requestStop context.CancelFunc
	wg          sync.WaitGroup
	done        chan struct{} // closed once every goroutine of the run returned
}

func newRun(parent context.Context) *Lifetime {
	r := &Lifetime{done: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancelCause(parent)
	stopping, cancel := context.WithCancelCause(r.ctx)
	r.stopping, r.requestStop = stopping, func() { cancel(ErrStopped) }
	return r
}

// start calls fn as a goroutine of the run, so that goroutines it begins
// are counted before anyone waits for the run.
func (r *Lifetime) start(fn func(*Lifetime) error) error {
	r.wg.Add(1)
	go func() { r.wg.Wait(); close(r.done) }()
	err := fn(r)
	if err != nil {
		r.cancel(fmt.Errorf("daemon: start failed: %w", err))
	}
	r.wg.Done()
	if err != nil {
		<-r.done
	}
	return err
}

// Context is the run's lifetime: cancelled when the context given to Start
// ends, when Stop's context ended before the work in flight did (the hard
// stop), and once Stop has drained. Work that should finish during a stop
// uses it.
func (r *Lifetime) Context() context.Context { return r.ctx }

// Stopping is done as soon as a Stop begins (and whenever Context is):
// loops select on its Done to take no new work, and work that should be
// abandoned at once on a stop uses it as its context.
func (r *Lifetime) Stopping() context.Context { return r.stopping }

// Go runs fn in a goroutine of the run; Stop waits for it. Call it from the
// start function or from another goroutine of the run, never after the run
// ended.
func (r *Lifetime) Go(fn func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn()
	}()
}

// Every runs round in a goroutine of the run every interval until a Stop
// begins — mkt's one polling loop. With now set the first round runs at
// once, else after the first interval. A round gets the run's Context, so
// a round in progress when Stop is called finishes (until Stop's context
// ends); no round starts after Stopping is done. A round longer than
// interval delays the next one rather than piling them up.
func (r *Lifetime) Every(interval time.Duration, now bool, round func(ctx context.Context)) {
	r.Go(func() {
		tick(r.stopping.Done(), interval, now, func() { round(r.ctx) })
	})
}

// tick calls round every interval until stop is closed: with now set the
// first round runs at once, else after the first interval. A round longer
// than interval delays the next one rather than piling them up. No round
// starts once stop is closed: when a tick and the stop are both ready,
// select picks either, so the stop is looked at again before each round.
func tick(stop <-chan struct{}, interval time.Duration, now bool, round func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	if !now {
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
	for {
		select {
		case <-stop:
			return
		default:
		}
		round()
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// Wait waits until every goroutine of the run has returned, or ctx ends.
func (r *Lifetime) Wait(ctx context.Context) error {
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("daemon: stop: work still in flight: %w", context.Cause(ctx))
	}
}
