package push_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/daemon"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/push"
)

// onWireSender holds every call until release; onWire is closed when the
// first call is on the wire.
type onWireSender struct {
	onWire, release chan struct{}
	once            sync.Once
}

func newOnWireSender() *onWireSender {
	return &onWireSender{onWire: make(chan struct{}), release: make(chan struct{})}
}

func (s *onWireSender) Name() string  { return "on-wire" }
func (s *onWireSender) MaxBatch() int { return 100 }

func (s *onWireSender) Send(_ context.Context, _ provider.Message, to []provider.Recipient) []provider.Result {
	s.once.Do(func() { close(s.onWire) })
	<-s.release
	res := make([]provider.Result, len(to))
	for i, r := range to {
		res[i] = provider.Result{MemberID: r.MemberID, OK: true, ProviderID: fmt.Sprintf("w-%d", r.MemberID)}
	}
	return res
}

// TestWorkerStopDrainsTheShardInFlight: Stop waits for the shard being
// handled to stop at its page boundary (on a channel, not a poll); a Stop
// whose budget ends first says how many shards were in progress; the stop
// is final.
func TestWorkerStopDrainsTheShardInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 600, providersim.Config{})
	_, tasks := e.launch(audience.Segment{}, 300, "Stop while sending", provider.ChannelSMS)
	if len(tasks) != 2 {
		t.Fatalf("want two shards, got %d", len(tasks))
	}
	ctx := t.Context()
	start := func(owner string, s *onWireSender, task int) (*push.Worker, chan error) {
		w := e.worker(push.Config{Owner: owner, PageSize: 100, JournalInterval: 20 * time.Millisecond,
			Providers: map[provider.Channel]push.Sender{provider.ChannelSMS: s}})
		if err := w.Start(ctx); err != nil {
			t.Fatal(err)
		}
		<-w.Started()
		done := make(chan error, 1)
		go func() { done <- w.HandleTask(ctx, tasks[task]) }()
		<-s.onWire
		return w, done
	}

	// The budget ends with the page on the wire.
	late := newOnWireSender()
	w, done := start("pushd-late", late, 0)
	budget, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := w.Stop(budget)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 shards in progress") {
		t.Errorf("stop with a shard in flight = %v", err)
	}
	select {
	case <-w.Stopped():
	default:
		t.Error("the worker is not stopped after Stop returned")
	}
	close(late.release)
	if err := <-done; !errors.Is(err, push.ErrDraining) {
		t.Errorf("the shard in flight ended with %v, want ErrDraining", err)
	}
	if err := w.Stop(ctx); err != nil {
		t.Errorf("second stop = %v", err)
	}
	if err := w.Start(ctx); !errors.Is(err, daemon.ErrStopped) {
		t.Errorf("start after stop = %v, want daemon.ErrStopped", err)
	}

	// With budget enough, Stop returns once the shard has stopped.
	s := newOnWireSender()
	w, done = start("pushd-drain", s, 1)
	w.BeginStop() // as daemon.Run does: the shard stops after this page
	stopped := make(chan error, 1)
	go func() { stopped <- w.Stop(ctx) }()
	close(s.release)
	if err := <-stopped; err != nil {
		t.Fatalf("stop = %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, push.ErrDraining) {
			t.Errorf("the shard in flight ended with %v, want ErrDraining", err)
		}
	default:
		t.Error("Stop returned before the shard in flight")
	}
}
