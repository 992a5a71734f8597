package daemon

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mkt/pkg/mkttest"
)

// testService is a component whose one goroutine runs until the run is
// told to stop, then finishes its "work in flight" (release, or the hard
// stop).
type testService struct {
	StartStop
	starts   atomic.Int32  // start functions called
	running  atomic.Int32  // goroutines running
	failWith error         // the start function's error
	release  chan struct{} // nil: nothing in flight at a stop
	sawStop  chan struct{} // closed when the goroutine sees Stopping, if not nil
	hardStop atomic.Bool   // the goroutine returned because Context ended
}

func (s *testService) Start(ctx context.Context) error {
	return s.StartWith(ctx, func(run *Lifetime) error {
		s.starts.Add(1)
		if s.failWith != nil {
			run.Go(func() { <-run.Context().Done() }) // cancelled and waited for by the failed start
			return s.failWith
		}
		s.running.Add(1)
		run.Go(func() {
			defer s.running.Add(-1)
			<-run.Stopping().Done()
			if s.sawStop != nil {
				close(s.sawStop)
			}
			if s.release == nil {
				return
			}
			select {
			case <-s.release:
			case <-run.Context().Done():
				s.hardStop.Store(true)
			}
		})
		return nil
	})
}

// quick bounds a call of these tests: nothing here takes long.
func quick(t *testing.T) context.Context { return mkttest.Deadline(t, 5*time.Second) }

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestStartStop(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		run  func(t *testing.T, s *testService)
	}{
		{"start twice starts once", func(t *testing.T, s *testService) {
			for range 2 {
				if err := s.Start(quick(t)); err != nil {
					t.Fatal(err)
				}
			}
			<-s.Started()
			if n := s.starts.Load(); n != 1 {
				t.Errorf("start function called %d times", n)
			}
			if err := s.Stop(quick(t)); err != nil {
				t.Fatal(err)
			}
		}},
		{"stop before start is final", func(t *testing.T, s *testService) {
			if err := s.Stop(quick(t)); err != nil {
				t.Fatal(err)
			}
			if !isClosed(s.Stopped()) {
				t.Error("not stopped")
			}
			if err := s.Start(quick(t)); !errors.Is(err, ErrStopped) {
				t.Errorf("start after stop = %v, want ErrStopped", err)
			}
			if s.starts.Load() != 0 || isClosed(s.Started()) {
				t.Error("started after a stop")
			}
		}},
		{"stop twice", func(t *testing.T, s *testService) {
			if err := s.Start(quick(t)); err != nil {
				t.Fatal(err)
			}
			stopped := s.Stopped()
			for range 2 {
				if err := s.Stop(quick(t)); err != nil {
					t.Fatal(err)
				}
			}
			if !isClosed(stopped) || s.running.Load() != 0 {
				t.Error("not stopped")
			}
		}},
		{"no restart after stop", func(t *testing.T, s *testService) {
			if err := s.Start(quick(t)); err != nil {
				t.Fatal(err)
			}
			if err := s.Stop(quick(t)); err != nil {
				t.Fatal(err)
			}
			if err := s.Start(quick(t)); !errors.Is(err, ErrStopped) {
				t.Errorf("restart = %v, want ErrStopped", err)
			}
			if n := s.starts.Load(); n != 1 || s.running.Load() != 0 {
				t.Errorf("%d starts, %d running", n, s.running.Load())
			}
		}},
		{"concurrent stops all wait for the stop", func(t *testing.T, s *testService) {
			s.release, s.sawStop = make(chan struct{}), make(chan struct{})
			if err := s.Start(quick(t)); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 8 {
				wg.Go(func() { errs <- s.Stop(quick(t)) })
			}
			// A Stop has begun; none returns while work is in flight.
			<-s.sawStop
			select {
			case err := <-errs:
				t.Fatalf("a stop returned (%v) with work in flight", err)
			default:
			}
			close(s.release)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if s.running.Load() != 0 || s.hardStop.Load() {
				t.Errorf("running %d, hard stop %v", s.running.Load(), s.hardStop.Load())
			}
		}},
		{"concurrent starts and stops", func(t *testing.T, s *testService) {
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					if err := s.Start(quick(t)); err != nil && !errors.Is(err, ErrStopped) {
						t.Error(err)
					}
				})
				wg.Go(func() {
					if err := s.Stop(quick(t)); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			<-s.Stopped()
			if n := s.starts.Load(); n > 1 || s.running.Load() != 0 {
				t.Errorf("%d starts, %d running after the stops", n, s.running.Load())
			}
		}},
		{"stop's context ends: hard stop", func(t *testing.T, s *testService) {
			s.release = make(chan struct{}) // never released
			if err := s.Start(quick(t)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := s.Stop(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("stop = %v, want context.Canceled", err)
			}
			if !s.hardStop.Load() || s.running.Load() != 0 || !isClosed(s.Stopped()) {
				t.Errorf("hard stop %v, running %d", s.hardStop.Load(), s.running.Load())
			}
		}},
		{"failed start may be retried", func(t *testing.T, s *testService) {
			s.failWith = boom
			if err := s.Start(quick(t)); !errors.Is(err, boom) {
				t.Fatalf("start = %v, want boom", err)
			}
			if isClosed(s.Started()) {
				t.Error("started after a failed start")
			}
			s.failWith = nil
			if err := s.Start(quick(t)); err != nil {
				t.Fatal(err)
			}
			if n := s.starts.Load(); n != 2 || !isClosed(s.Started()) {
				t.Errorf("%d starts", n)
			}
			if err := s.Stop(quick(t)); err != nil {
				t.Fatal(err)
			}
		}},
		{"start's context ends the run", func(t *testing.T, s *testService) {
			s.release = make(chan struct{}) // never released: only the context ends it
			ctx, cancel := context.WithCancel(context.Background())
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
			cancel()
			if err := s.Stop(quick(t)); err != nil {
				t.Fatal(err)
			}
			if !s.hardStop.Load() {
				t.Error("the run did not end with its context")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, &testService{})
		})
	}
}

// TestStopWithDrainsBeforeCancelling: a custom drain runs after Stopping is
// done and before Context is cancelled, with Stop's context, and its error
// is Stop's; the goroutines still running then are cancelled and waited for.
func TestStopWithDrainsBeforeCancelling(t *testing.T) {
	var s StartStop
	cancelled := make(chan struct{})
	err := s.StartWith(context.Background(), func(run *Lifetime) error {
		run.Go(func() {
			<-run.Context().Done() // keeps serving through the drain
			close(cancelled)
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	drainErr := errors.New("one left")
	err = s.StopWith(quick(t), func(ctx context.Context, run *Lifetime) error {
		if run.Stopping().Err() == nil || run.Context().Err() != nil {
			t.Errorf("drain: stopping %v, context %v", run.Stopping().Err(), run.Context().Err())
		}
		if _, ok := ctx.Deadline(); !ok {
			t.Error("drain did not get Stop's context")
		}
		return drainErr
	})
	if !errors.Is(err, drainErr) {
		t.Errorf("stop = %v, want the drain's error", err)
	}
	if !isClosed(cancelled) {
		t.Error("stop returned before the run's goroutine")
	}
}

// TestStopDuringStart: a Stop while the start function runs tells it
// (Stopping is done), waits for it, then stops what it started.
func TestStopDuringStart(t *testing.T) {
	var s StartStop
	entered := make(chan struct{})
	startErr := make(chan error, 1)
	go func() {
		startErr <- s.StartWith(context.Background(), func(run *Lifetime) error {
			close(entered)
			select {
			case <-run.Stopping().Done():
			case <-time.After(5 * time.Second):
				return errors.New("the stop was not signalled to the start under way")
			}
			run.Go(func() { <-run.Stopping().Done() })
			return nil
		})
	}()
	<-entered
	if err := s.Stop(quick(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-startErr; err != nil {
		t.Fatal(err)
	}
	if !isClosed(s.Started()) || !isClosed(s.Stopped()) {
		t.Error("not started, then stopped")
	}
}

// everyService polls with Lifetime.Every: each round reports its start on
// rounds, then waits for release (or the hard stop, counted in hard).
type everyService struct {
	StartStop
	interval time.Duration
	now      bool
	rounds   chan struct{}
	release  chan struct{}
	hard     atomic.Int32
}

func (s *everyService) Start(ctx context.Context) error {
	return s.StartWith(ctx, func(run *Lifetime) error {
		run.Every(s.interval, s.now, func(ctx context.Context) {
			s.rounds <- struct{}{}
			select {
			case <-s.release:
			case <-ctx.Done():
				s.hard.Add(1)
			}
		})
		return nil
	})
}

func TestEvery(t *testing.T) {
	t.Parallel()
	t.Run("first round at once", func(t *testing.T) {
		t.Parallel()
		s := &everyService{interval: time.Hour, now: true, rounds: make(chan struct{}, 1), release: make(chan struct{})}
		close(s.release)
		if err := s.Start(quick(t)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.rounds: // long before the hour
		case <-quick(t).Done():
			t.Fatal("no round at start")
		}
		if err := s.Stop(quick(t)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("first round after the interval", func(t *testing.T) {
		t.Parallel()
		s := &everyService{interval: time.Hour, rounds: make(chan struct{}, 1), release: make(chan struct{})}
		if err := s.Start(quick(t)); err != nil {
			t.Fatal(err)
		}
		if err := s.Stop(quick(t)); err != nil {
			t.Fatal(err)
		}
		if len(s.rounds) != 0 {
			t.Error("a round ran before its interval")
		}
	})
	t.Run("rounds repeat; a stop lets the round in flight finish", func(t *testing.T) {
		t.Parallel()
		s := &everyService{interval: time.Millisecond, rounds: make(chan struct{}, 100), release: make(chan struct{})}
		if err := s.Start(quick(t)); err != nil {
			t.Fatal(err)
		}
		for range 3 { // three rounds, each let go as it starts
			<-s.rounds
			s.release <- struct{}{}
		}
		<-s.rounds // a fourth is in flight
		stopped := make(chan error, 1)
		go func() { stopped <- s.Stop(quick(t)) }()
		close(s.release) // the round in flight (and any that began before the stop) finishes its work
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
		if n := s.hard.Load(); n != 0 {
			t.Errorf("%d rounds cut short by a soft stop", n)
		}
	})
	t.Run("a stop whose context ends cuts the round short", func(t *testing.T) {
		t.Parallel()
		s := &everyService{interval: time.Millisecond, now: true, rounds: make(chan struct{}, 1), release: make(chan struct{})}
		if err := s.Start(quick(t)); err != nil {
			t.Fatal(err)
		}
		<-s.rounds
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Stop(ctx); err == nil {
			t.Error("Stop with an ended context: nil error, want work still in flight")
		}
		<-s.Stopped()
		if n := s.hard.Load(); n != 1 {
			t.Errorf("hard-stopped rounds = %d, want 1", n)
		}
	})
}

// TestTickStartsNoRoundAfterStop: a round that returns once stop is closed
// is the last, even when a tick is waiting too (a 1 ns ticker always has
// one), where select alone would pick either at random.
func TestTickStartsNoRoundAfterStop(t *testing.T) {
	t.Parallel()
	for range 200 {
		stop := make(chan struct{})
		rounds := 0
		tick(stop, time.Nanosecond, true, func() {
			rounds++
			if rounds == 1 {
				close(stop)
			}
		})
		if rounds != 1 {
			t.Fatalf("rounds = %d after the first closed stop, want 1", rounds)
		}
	}
}
