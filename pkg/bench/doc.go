// Package bench is the load-generating harness behind `mktctl bench`: Push
// drives one campaign through pushd processes and a provider simulator,
// Coupons drives login events through couponsd processes, and each reports
// how fast it went, how much memory the daemons used and whether every
// guarantee held. Both run the real daemons as child processes
// (pkg/childproc) against the configured MySQL, Redis and RocketMQ.
//
// It also owns what the multi-process tests share with the benchmarks: the
// Simulator, which times every provider call as the server sees it, and the
// Audit of what it delivered against the members who should have got it.
package bench

import (
	"errors"
	"fmt"
	"io"
)

var (
	// ErrRefused is returned when a run cannot go ahead as configured: a
	// database holding more members than the run, a simulator address that
	// cannot be bound, no daemon executable.
	ErrRefused = errors.New("bench: refused")
	// ErrUnavailable is returned when MySQL, Redis or RocketMQ cannot be
	// reached.
	ErrUnavailable = errors.New("bench: unavailable")
)

// progressTo returns a printf-like function writing one "bench: " line per
// call to w (nil discards them).
func progressTo(w io.Writer) func(format string, args ...any) {
	if w == nil {
		return func(string, ...any) {}
	}
	return func(format string, args ...any) {
		fmt.Fprintf(w, "bench: "+format+"\n", args...)
	}
}
