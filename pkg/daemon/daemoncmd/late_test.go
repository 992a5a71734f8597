package daemoncmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"mkt/pkg/daemon"
)

// rec is a component recording its calls.
type rec struct {
	name string
	log  *[]string
	fail bool
}

func (r rec) Start(context.Context) error {
	*r.log = append(*r.log, "start "+r.name)
	if r.fail {
		return errors.New("boom")
	}
	return nil
}

func (r rec) Stop(context.Context) error {
	*r.log = append(*r.log, "stop "+r.name)
	return nil
}

// TestLateComponentsCleanUpAFailedStart: everything built — started before
// the failure, failed, or not started yet — is stopped, in reverse, by
// Start itself (the run does not stop a
// component whose Start failed).
func TestLateComponentsCleanUpAFailedStart(t *testing.T) {
	var log []string
	l := &lateComponents{log: slog.New(slog.DiscardHandler), build: func(context.Context) ([]daemon.Component, error) {
		return []daemon.Component{rec{"producer", &log, false}, rec{"worker", &log, true}, rec{"consumer", &log, false}}, nil
	}}
	if err := l.Start(context.Background()); err == nil {
		t.Fatal("start succeeded")
	}
	// The failed worker and the consumer built after it are stopped too.
	if got := fmt.Sprint(log); got != "[start producer start worker stop consumer stop worker stop producer]" {
		t.Errorf("calls = %s", got)
	}
	// A build that fails half way: what it built is shut down.
	log = nil
	l = &lateComponents{log: slog.New(slog.DiscardHandler), build: func(context.Context) ([]daemon.Component, error) {
		return []daemon.Component{rec{"producer", &log, false}, rec{"check-back", &log, false}}, errors.New("no provider")
	}}
	if err := l.Start(context.Background()); err == nil {
		t.Fatal("start succeeded")
	}
	if got := fmt.Sprint(log); got != "[stop check-back stop producer]" {
		t.Errorf("calls = %s", got)
	}
}
