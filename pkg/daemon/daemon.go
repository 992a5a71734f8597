// Package daemon owns the runtime shared by the mkt daemons (pushd,
// couponsd): the component lifecycle with graceful drain (Run), systemd
// readiness notification (Notifier), readiness checks and dependency
// connection with backoff (Readiness, Connect), and the local ops HTTP server
// serving /healthz, /readyz and /metrics (Server).
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

// BindOptions registers the daemon runtime flags on fs; defaultOpsAddr is the
// binary's own default, e.g. "127.0.0.1:9301". Call config.Resolve (or
// (*config.Common).Resolve on the same FlagSet) after parsing.
func BindOptions(fs *pflag.FlagSet, o *Options, defaultOpsAddr string) {
	config.String(fs, &o.OpsAddr, "ops-addr", "MKT_OPS_ADDR", defaultOpsAddr, "listen address of /healthz, /readyz and /metrics")
	config.Duration(fs, &o.DrainTimeout, "drain-timeout", "MKT_DRAIN_TIMEOUT", 20*time.Second, "time allowed to finish in-flight work after SIGTERM")
	config.Duration(fs, &o.ReadyInterval, "ready-interval", "MKT_READY_INTERVAL", 5*time.Second, "interval between readiness check rounds")
	config.Duration(fs, &o.ReadyTimeout, "ready-timeout", "MKT_READY_TIMEOUT", 2*time.Second, "timeout of each readiness check")
}
