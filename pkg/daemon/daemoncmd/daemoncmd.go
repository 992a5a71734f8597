// Package daemoncmd is the command of the mkt daemon binaries (pushd,
// couponsd): the shared flags and MKT_* environment, the runtime around the
// daemon's components — the ops server, readiness, the dependencies
// connected with backoff (package deps), the components' lifecycle
// (daemon.Run) — and the exit codes. A binary's main is one call to Main
// with its Spec.
package daemoncmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"mkt/pkg/cache"
	"mkt/pkg/config"
	"mkt/pkg/daemon"
	"mkt/pkg/deps"
	"mkt/pkg/mq"
)

// Exit codes of the daemons.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// Spec describes one daemon binary for Command.
type Spec struct {
	// Name is the binary's name, e.g. "pushd".
	Name string
	// Short and Long are the --help texts.
	Short, Long string
	// DefaultOpsAddr is the default of --ops-addr.
	DefaultOpsAddr string
	// Topics are created at start-up (in the configured namespace).
	Topics []string
	// BindFlags registers the daemon's own flags.
	BindFlags func(fs *pflag.FlagSet)
	// Validate checks the daemon's own flags once parsed, before anything
	// is connected; its error is a usage error (exit 2).
	Validate func() error
	// Components builds the daemon's work once the dependencies are
	// connected: they start after Deps, in order, and stop in reverse.
	Components func(ctx context.Context, env *Env) ([]daemon.Component, error)
}

// Env is what a daemon's components are built from.
type Env struct {
	Logger   *slog.Logger
	Deps     *deps.Deps
	Ready    *daemon.Readiness
	Registry *prometheus.Registry
	Common   config.Common
}

// Command returns the cobra command of a daemon binary: flags and MKT_*
// environment for the shared settings and the runtime (ops address, drain
// timeout, readiness), plus the daemon's own.
func Command(spec Spec, stderr io.Writer) *cobra.Command {
	var common config.Common
	var opts daemon.Options
	cmd := &cobra.Command{
		Use:           spec.Name,
		Short:         spec.Short,
		Long:          spec.Long,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetErr(stderr)
	fs := cmd.Flags()
	common.Bind(fs)
	opts.Bind(fs, spec.DefaultOpsAddr)
	if spec.BindFlags != nil {
		spec.BindFlags(fs)
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := common.Resolve(); err != nil {
			return usageError{err}
		}
		if spec.Validate != nil {
			if err := spec.Validate(); err != nil {
				return usageError{err}
			}
		}
		logger, err := common.Logger(stderr)
		if err != nil {
			return usageError{err}
		}
		logger = logger.With("service", spec.Name)
		mq.RouteClientLogs(logger, slog.LevelWarn)
		redis.SetLogger(cache.RedisLogger{Logger: logger})
		return serve(cmd.Context(), spec, common, opts, logger)
	}
	return cmd
}

type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// Main runs a daemon's command with args and returns the exit code.
func Main(ctx context.Context, spec Spec, args []string) int {
	cmd := Command(spec, os.Stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(os.Stderr, "%s: %v\n", spec.Name, err)
	var u usageError
	if errors.As(err, &u) {
		return ExitUsage
	}
	return ExitFailure
}

func serve(ctx context.Context, spec Spec, common config.Common, opts daemon.Options, logger *slog.Logger) error {
	logger.Info("starting", "config", &common, "ops_addr", opts.OpsAddr)
	reg := daemon.NewRegistry()
	notifier, err := daemon.NotifierFromEnv()
	if err != nil {
		logger.Warn("systemd notification", "error", err)
	}
	ready, err := daemon.NewReadiness(daemon.ReadinessConfig{Logger: logger, Interval: opts.ReadyInterval, Timeout: opts.ReadyTimeout,
		Notifier: notifier})
	if err != nil {
		return err
	}
	ops, err := daemon.NewServer(daemon.ServerConfig{Addr: opts.OpsAddr, Readiness: ready, Gatherer: reg, Logger: logger})
	if err != nil {
		return err
	}
	topics := make([]string, len(spec.Topics))
	for i, t := range spec.Topics {
		topics[i] = common.Topic(t)
	}
	d := deps.New(deps.Config{Common: common, Topics: topics, Logger: logger}, ready)
	work := &lateComponents{build: func(ctx context.Context) ([]daemon.Component, error) {
		if spec.Components == nil {
			return nil, nil
		}
		return spec.Components(ctx, &Env{Logger: logger, Deps: d, Ready: ready, Registry: reg, Common: common})
	}, log: logger}
	err = daemon.Run(ctx, daemon.RunConfig{
		Logger:       logger,
		DrainTimeout: opts.DrainTimeout,
		Notifier:     notifier,
	}, ready, ops, d, work)
	if err != nil {
		return err
	}
	logger.Info("stopped")
	return nil
}

// lateComponents builds the daemon's own components once Deps is connected
// and runs them as one component: started in order, stopped in reverse.
type lateComponents struct {
	build   func(ctx context.Context) ([]daemon.Component, error)
	log     *slog.Logger
	started []daemon.Component
}

func (l *lateComponents) Name() string { return "workers" }

// Start builds the components and starts them in order. When building or
// starting fails, the run does not stop this component (it never started),
// so Start itself stops every component it built — started, failed halfway
// or not started yet (producers, the check-back, Redis clients) — in
// reverse, before it returns the error; a component's Stop must therefore
// work whether or not it was started.
func (l *lateComponents) Start(ctx context.Context) error {
	comps, err := l.build(ctx)
	if err != nil {
		l.abandon(comps)
		return err
	}
	for _, c := range comps {
		if err := c.Start(ctx); err != nil {
			// Everything built is stopped: those started, the one that
			// failed halfway (it may hold what it opened) and those built
			// after it (a built producer or client holds connections).
			l.abandon(comps)
			l.started = nil
			return fmt.Errorf("start %T: %w", c, err)
		}
		l.started = append(l.started, c)
	}
	return nil
}

// abandon stops comps in reverse, with a bound on the time it may take,
// logging what fails.
func (l *lateComponents) abandon(comps []daemon.Component) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := len(comps) - 1; i >= 0; i-- {
		if err := comps[i].Stop(ctx); err != nil {
			l.log.Warn("stop after a failed start", "component", fmt.Sprintf("%T", comps[i]), "error", err.Error())
		}
	}
}

func (l *lateComponents) BeginStop() {
	for _, c := range l.started {
		if b, ok := c.(interface{ BeginStop() }); ok {
			b.BeginStop()
		}
	}
}

func (l *lateComponents) Stop(ctx context.Context) error {
	var errs []error
	for i := len(l.started) - 1; i >= 0; i-- {
		if err := l.started[i].Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %T: %w", l.started[i], err))
		}
	}
	return errors.Join(errs...)
}
