package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Component is one long-running part of a daemon (ops server, consumer,
// worker pool...). Run starts components in the order given and stops them
// in reverse order, so list work sources (queue consumers) last: they are
// stopped first, before the workers they feed and the ops server.
//
// Optional methods Run looks for:
//
//	Name() string          name used in logs (default: the Go type)
//	BeginStop()            called on every started component, before any
//	                       Stop, as soon as shutdown begins (Readiness
//	                       uses it to turn /readyz to 503 at once)
//	Failed() <-chan error  a value makes Run shut the daemon down with
//	                       that error
type Component interface {
	// Start begins the component's work in the background and returns once it
	// is running. ctx is the daemon's lifetime: keep it for in-flight work; it
	// is cancelled at the hard stop (drain timeout, second signal, or a stop
	// requested while start-up is still in progress).
	Start(ctx context.Context) error
	// Stop stops taking new work, waits for in-flight work and returns;
	// when ctx is done it must abort what is left and return promptly.
	Stop(ctx context.Context) error
}

// RunConfig configures Run.
type RunConfig struct {
	// Logger for the lifecycle. Default slog.Default().
	Logger *slog.Logger
	// DrainTimeout is the budget for all Stop calls after a stop request.
	// Default 20s.
	DrainTimeout time.Duration
	// KillTimeout is how long Run still waits, after the drain budget is spent
	// and the lifetime context is cancelled, for components to return. Default 5s.
	KillTimeout time.Duration
	// Notifier receives READY=1, STOPPING=1, STATUS= lines (the component
	// starting, running, stopping) and watchdog pings; nil sends nothing.
	// Daemons pass NotifierFromEnv().
	Notifier *Notifier
	// Signals that request a stop. Default SIGTERM and SIGINT.
	Signals []os.Signal
}

// Errors returned by Run.
var (
	// ErrForced: a second signal arrived during shutdown; Run returned
	// without waiting for the components.
	ErrForced = errors.New("daemon: forced exit by a second signal")
	// ErrDrainTimeout: components did not finish stopping within DrainTimeout;
	// their lifetime context was cancelled.
	ErrDrainTimeout = errors.New("daemon: components did not stop within the drain timeout")
)

type namer interface{ Name() string }
type beginStopper interface{ BeginStop() }
type failer interface{ Failed() <-chan error }

func componentName(c Component) string {
	if n, ok := c.(namer); ok {
		return n.Name()
	}
	return fmt.Sprintf("%T", c)
}

// Run starts components in order, reports READY=1, and waits for a stop:
// one of cfg.Signals, ctx being done, or a component's Failed. Then it
// reports STOPPING=1, calls BeginStop on every started component, and calls
// Stop in reverse order sharing one DrainTimeout budget. If the budget runs
// out it cancels the lifetime context and waits at most KillTimeout more. A
// component still not stopped then is abandoned; the ones after it are still
// asked to Stop, with an expired context, but not waited for. A
// second signal during shutdown makes Run return ErrForced at once. So Run
// returns at most DrainTimeout + KillTimeout after a stop request (plus
// KillTimeout if start-up had to be aborted).
//
// Run returns nil after a clean stop requested by a signal or ctx; otherwise
// the start or component failure, joined with Stop errors, ErrDrainTimeout or
// ErrForced.
func Run(ctx context.Context, cfg RunConfig, components ...Component) error {
	if cfg.DrainTimeout < 0 || cfg.KillTimeout < 0 {
		return fmt.Errorf("daemon: drain timeout %v and kill timeout %v must not be negative", cfg.DrainTimeout, cfg.KillTimeout)
	}
	log := cmp.Or(cfg.Logger, slog.Default())
	drainTimeout := cmp.Or(cfg.DrainTimeout, 20*time.Second)
	killTimeout := cmp.Or(cfg.KillTimeout, 5*time.Second)
	sigs := cfg.Signals
	if len(sigs) == 0 {
		sigs = []os.Signal{syscall.SIGTERM, syscall.SIGINT}
	}
	n := cfg.Notifier

	sigCh := make(chan os.Signal, 2)
	signal.Notify(sigCh, sigs...)
	defer signal.Stop(sigCh)

	// stopCtx is the "stop fetching" context: done at the first signal or
	// when ctx is done. lifeCtx is the components' lifetime: done at the hard
	// stop only.
	stopCtx, requestStop := context.WithCancelCause(ctx)
	defer requestStop(nil)
	lifeCtx, hardCancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer hardCancel(errors.New("daemon: run returned"))
	forced := make(chan struct{})
	go func() {
		select {
		case s := <-sigCh:
			log.Info("signal received, stopping", "signal", s.String())
			requestStop(fmt.Errorf("daemon: signal %v", s))
		case <-stopCtx.Done():
		}
		select {
		case s := <-sigCh:
			log.Warn("second signal received, forcing exit", "signal", s.String())
			hardCancel(ErrForced)
			close(forced)
		case <-lifeCtx.Done():
		}
	}()

	failCh := make(chan error, len(components))
	watchFailure := func(c Component) {
		f, ok := c.(failer)
		if !ok {
			return
		}
		go func() {
			select {
			case err := <-f.Failed():
				failCh <- fmt.Errorf("daemon: %s failed: %w", componentName(c), err)
			case <-lifeCtx.Done():
			}
		}()
	}

	var runErr error
	started := 0
startLoop:
	for _, c := range components {
		name := componentName(c)
		if stopCtx.Err() != nil {
			break
		}
		notifyFailed(log, "STATUS", n.Status("starting "+name))
		res := make(chan error, 1)
		go func() { res <- c.Start(lifeCtx) }()
		select {
		case err := <-res:
			if err != nil {
				runErr = fmt.Errorf("daemon: start %s: %w", name, err)
				log.Error("start failed", "component", name, "error", err)
				break startLoop
			}
		case err := <-failCh:
			runErr = err
			log.Error("component failed during start-up", "error", err)
			hardCancel(err)
			if waitStart(res, killTimeout, forced) {
				started++
			}
			break startLoop
		case <-stopCtx.Done():
			select {
			case err := <-res: // Start had finished: nothing to abort.
				if err == nil {
					started++
					watchFailure(c)
				}
				break startLoop
			default:
			}
			log.Warn("stop requested during start-up, aborting", "component", name)
			hardCancel(errors.New("daemon: stop requested during start-up"))
			if !waitStart(res, killTimeout, forced) {
				log.Error("start did not return after cancellation", "component", name, "waited", killTimeout)
				break startLoop
			}
			started++
			break startLoop
		}
		started++
		watchFailure(c)
		log.Info("component started", "component", name)
	}

	if runErr == nil && stopCtx.Err() == nil {
		notifyFailed(log, "READY=1", n.Ready("running"))
		log.Info("daemon ready", "components", len(components))
		if wd := n.WatchdogInterval(); wd > 0 {
			go petWatchdog(lifeCtx, n, wd/2, log)
		}
		select {
		case <-stopCtx.Done():
		case err := <-failCh:
			runErr = err
			log.Error("component failed, stopping", "error", err)
		}
	}

	// Shutdown.
	requestStop(errors.New("daemon: shutting down"))
	notifyFailed(log, "STOPPING=1", n.Stopping(fmt.Sprintf("stopping: draining in-flight work (at most %v)", drainTimeout)))
	for _, c := range components[:started] {
		if b, ok := c.(beginStopper); ok {
			b.BeginStop()
		}
	}
	log.Info("stopping", "drain_timeout", drainTimeout)
	begin := time.Now()
	drainCtx, cancelDrain := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
	defer cancelDrain()
	killCtx := drainCtx
	var killDone <-chan struct{} // nil until the drain budget is spent
	drainExpired := false
	errs := []error{runErr}
	for i := started - 1; i >= 0; i-- {
		c := components[i]
		name := componentName(c)
		stopArg := drainCtx
		if drainExpired {
			stopArg = killCtx
			if killCtx.Err() != nil { // the kill budget is spent: ask, don't wait
				go func() { _ = c.Stop(killCtx) }()
				log.Warn("kill timeout spent, not waiting for component to stop", "component", name)
				continue
			}
		}
		done := make(chan error, 1)
		go func() { done <- c.Stop(stopArg) }()
		drainDone := drainCtx.Done()
		if drainExpired {
			drainDone = nil
		}
	wait:
		for {
			select {
			case err := <-done:
				if err != nil {
					log.Error("stop failed", "component", name, "error", err)
					errs = append(errs, fmt.Errorf("daemon: stop %s: %w", name, err))
				} else {
					log.Info("component stopped", "component", name)
				}
				break wait
			case <-forced:
				return errors.Join(append(errs, ErrForced)...)
			case <-drainDone:
				drainExpired, drainDone = true, nil
				log.Error("drain timeout, cancelling in-flight work", "component", name, "drain_timeout", drainTimeout)
				hardCancel(ErrDrainTimeout)
				notifyFailed(log, "STATUS", n.Status("stopping: drain timeout, in-flight work cancelled"))
				var cancelKill context.CancelFunc
				killCtx, cancelKill = context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
				defer cancelKill() //nolint:revive // runs once (drainDone is nil after), and killCtx must outlive the loop
				killDone = killCtx.Done()
			case <-killDone:
				log.Error("component did not stop, abandoning it", "component", name, "kill_timeout", killTimeout)
				errs = append(errs, fmt.Errorf("daemon: stop %s: abandoned after the kill timeout", name))
				break wait
			}
		}
	}
	hardCancel(errors.New("daemon: stopped"))
	select {
	case <-forced:
		errs = append(errs, ErrForced)
	default:
	}
	if drainExpired {
		errs = append(errs, ErrDrainTimeout)
	}
	err := errors.Join(errs...)
	log.Info("daemon stopped", "took", time.Since(begin).Round(time.Millisecond), "error", err)
	return err
}

// waitStart waits up to d, or until forced is closed, for a Start to return;
// it reports whether the component started (returned nil).
func waitStart(res <-chan error, d time.Duration, forced <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-res:
		return err == nil
	case <-t.C:
		return false
	case <-forced:
		return false
	}
}

func petWatchdog(ctx context.Context, n *Notifier, every time.Duration, log *slog.Logger) {
	tick(ctx.Done(), every, false, func() { notifyFailed(log, "WATCHDOG=1", n.Watchdog()) })
}

// notifyFailed logs a notification that could not be sent; the daemon goes
// on (systemd then times the unit out, which says more than a crash would).
func notifyFailed(log *slog.Logger, state string, err error) {
	if err != nil {
		log.Warn("sd_notify failed", "state", state, "error", err)
	}
}
