// Package daemon owns the runtime shared by the mkt daemons (pushd,
// couponsd): the component lifecycle (StartStop) and running components with
// graceful drain (Run), systemd readiness notification (Notifier), readiness
// checks and dependency connection with backoff (Readiness, Connect), and the
// local ops HTTP server serving /healthz, /readyz and /metrics (Server). The
// daemon binaries' command (flags, environment, exit codes) is in the
// subpackage daemoncmd.
//
// # Component lifecycle
//
// Every background component (the push worker and reaper, the planner's
// scheduler, the schedule runner, the coupon issuer, couponsd's loops, the
// dead-letter drain, the XXL-Job executor, the mq consumers, the ops and
// HTTP servers, readiness) embeds StartStop, and so behaves the same way:
//
//   - A component is new, then started, then stopped; a stop is final.
//     Start on a started component does nothing and returns nil; Start
//     after Stop returns ErrStopped. A Start that fails leaves the component
//     new, with nothing running: it may be tried again.
//   - Stop is safe before Start (the component is then stopped without ever
//     running), twice, and from several goroutines at once: the first Stop
//     does the work, the others wait for it (or their own context), a later
//     one returns nil at once. A Stop during a Start waits for the Start and
//     stops what it started.
//   - Stop is soft, then hard: it tells the component to take no new work
//     (Lifetime.Stopping), lets the work in flight finish until its context ends
//     — the component's own drain, or its goroutines returning — then
//     cancels the run's context (Lifetime.Context) and waits, on a channel, for
//     every goroutine of the run to return. It never polls. A component's
//     goroutines must therefore return promptly once Lifetime.Context is done.
//   - Started and Stopped are channels closed when the component has
//     started and when it has stopped, for tests (and anyone) to wait on.
//   - The context given to Start is the parent of the run's contexts: when
//     it ends they end, as at a hard stop (the component stays started until
//     Stop). The mq consumer alone takes it as the start's bound only.
//   - Work handed to a component from outside its goroutines (a consumer's
//     deliveries, the worker's shard tasks, the issuer's logins, the
//     executor's triggers) goes through an Admission: admitted and counted
//     in one step, refused once the stop begins, waited for by the drain.
//
// A daemon's wiring typically reads:
//
//	reg := daemon.NewRegistry()
//	notifier, _ := daemon.NotifierFromEnv() // nil outside systemd
//	ready, _ := daemon.NewReadiness(daemon.ReadinessConfig{Logger: log, Notifier: notifier})
//	ops, _ := daemon.NewServer(daemon.ServerConfig{Addr: opts.OpsAddr, Readiness: ready, Gatherer: reg, Logger: log})
//	return daemon.Run(ctx, daemon.RunConfig{Logger: log, DrainTimeout: opts.DrainTimeout, Notifier: notifier},
//		ready, ops, store, workers, consumer) // consumer last: stopped first
package daemon

import (
	"time"

	"github.com/spf13/pflag"

	"mkt/pkg/config"
)

// Options are the daemon runtime settings a binary exposes as flags.
type Options struct {
	// OpsAddr is the ops HTTP server's listen address.
	OpsAddr string
	// DrainTimeout is RunConfig.DrainTimeout.
	DrainTimeout time.Duration
	// ReadyInterval is ReadinessConfig.Interval.
	ReadyInterval time.Duration
	// ReadyTimeout is ReadinessConfig.Timeout.
	ReadyTimeout time.Duration
}

// Bind registers the daemon runtime flags on fs; defaultOpsAddr is the
// binary's own default, e.g. "127.0.0.1:9301". Call config.Resolve (or
// (*config.Common).Resolve on the same FlagSet) after parsing.
func (o *Options) Bind(fs *pflag.FlagSet, defaultOpsAddr string) {
	config.String(fs, &o.OpsAddr, "ops-addr", "MKT_OPS_ADDR", defaultOpsAddr, "listen address of /healthz, /readyz and /metrics")
	config.Duration(fs, &o.DrainTimeout, "drain-timeout", "MKT_DRAIN_TIMEOUT", 20*time.Second, "time allowed to finish in-flight work after SIGTERM")
	config.Duration(fs, &o.ReadyInterval, "ready-interval", "MKT_READY_INTERVAL", 5*time.Second, "interval between readiness check rounds")
	config.Duration(fs, &o.ReadyTimeout, "ready-timeout", "MKT_READY_TIMEOUT", 2*time.Second, "timeout of each readiness check")
}
