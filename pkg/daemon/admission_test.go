package daemon

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestAdmission(t *testing.T) {
	t.Parallel()
	var a Admission
	if a.Enter() {
		t.Fatal("a new admission admitted work before Open")
	}
	a.Open()
	for range 2 {
		if !a.Enter() {
			t.Fatal("an open admission refused work")
		}
	}
	if a.InFlight() != 2 {
		t.Fatalf("in flight %d, want the 2 admitted", a.InFlight())
	}
	drained := a.Drained()
	if isClosed(drained) {
		t.Fatal("drained while open")
	}
	a.Close()
	if a.Enter() {
		t.Fatal("admitted after Close")
	}
	if !a.Closed() {
		t.Fatal("Closed() = false after Close")
	}
	a.Leave()
	if isClosed(drained) {
		t.Fatal("drained with one piece of work still in flight")
	}
	a.Leave()
	if !isClosed(drained) || !isClosed(a.Drained()) {
		t.Fatal("not drained once closed with nothing in flight")
	}
	a.Open() // final: Close came first
	if a.Enter() {
		t.Fatal("admitted after Open followed a Close")
	}
	a.Close() // twice is harmless
}

func TestAdmissionClosedIdle(t *testing.T) {
	t.Parallel()
	var never Admission
	never.Close()
	if !isClosed(never.Drained()) || never.Enter() {
		t.Fatal("an admission closed before Open must be drained and refuse work")
	}
	var idle Admission
	idle.Open()
	if err := idle.CloseAndWait(quick(t), "tasks"); err != nil {
		t.Fatalf("CloseAndWait with nothing in flight: %v", err)
	}
}

func TestAdmissionCloseAndWait(t *testing.T) {
	t.Parallel()
	var a Admission
	a.Open()
	a.Enter()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := a.CloseAndWait(ctx, "tasks in flight")
	if !errors.Is(err, context.Canceled) || err.Error() != "1 tasks in flight: context canceled" {
		t.Fatalf("CloseAndWait past its context = %v", err)
	}
	done := make(chan error)
	go func() { done <- a.CloseAndWait(quick(t), "tasks") }()
	a.Leave()
	if err := <-done; err != nil {
		t.Fatalf("CloseAndWait after the last Leave: %v", err)
	}
}

// Enters racing a Close: every admitted piece is counted before Drained
// closes, none is admitted after it.
func TestAdmissionRace(t *testing.T) {
	t.Parallel()
	var a Admission
	a.Open()
	var wg sync.WaitGroup
	var mu sync.Mutex
	afterDrain := 0
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if !a.Enter() {
					return
				}
				if isClosed(a.Drained()) {
					mu.Lock()
					afterDrain++
					mu.Unlock()
				}
				a.Leave()
			}
		})
	}
	a.Close()
	<-a.Drained()
	wg.Wait()
	if afterDrain != 0 || a.InFlight() != 0 {
		t.Fatalf("%d pieces of work ran after the drain, %d in flight", afterDrain, a.InFlight())
	}
}

func TestAdmissionLeaveWithoutEnterPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("Leave without Enter did not panic")
		}
	}()
	var a Admission
	a.Leave()
}
