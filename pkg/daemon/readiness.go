package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"
)

// CheckFunc reports whether a dependency is usable: nil means ready.
type CheckFunc func(ctx context.Context) error

// ReadinessConfig configures a Readiness.
type ReadinessConfig struct {
	// Logger receives check state changes. Default slog.Default().
	Logger *slog.Logger
	// Interval between two evaluations of the registered checks. Default 5s.
	Interval time.Duration
	// Timeout bounds each check call. Default 2s.
	Timeout time.Duration
	// Notifier, when set, receives STATUS= lines: each failed Connect
	// attempt, and a polled check going bad ("degraded: ...") or the last
	// failing one recovering ("running"). nil sends nothing.
	Notifier *Notifier
}

// Check states reported by Readiness.
const (
	StatePending = "pending" // not evaluated yet
	StateOK      = "ok"
	StateFailing = "failing"
)

// Readiness tracks whether the daemon can do its work: a set of named checks,
// either polled (AddCheck, evaluated every Interval, the result cached) or
// pushed (Set, Connect). The daemon is ready when every check is ok and
// shutdown has not begun. It is a Component: Start runs the polling loop; Stop
// ends it, and the last states stay readable.
type Readiness struct {
	StartStop

	log      *slog.Logger
	interval time.Duration
	timeout  time.Duration
	now      func() time.Time

	mu       sync.Mutex
	checks   map[string]*checkState
	stopping bool

	notifier *Notifier
	// statusMu orders the STATUS= lines of concurrent check results.
	statusMu sync.Mutex

	trigger chan struct{}
}

type checkState struct {
	fn          CheckFunc // nil for pushed states
	running     bool
	state       string
	err         string
	since       time.Time
	lastChecked time.Time
	lastErr     string
	lastErrAt   time.Time
}

// NewReadiness returns a Readiness with no checks (ready once started).
func NewReadiness(cfg ReadinessConfig) (*Readiness, error) {
	if cfg.Interval < 0 || cfg.Timeout < 0 {
		return nil, fmt.Errorf("daemon: readiness interval %v and timeout %v must not be negative", cfg.Interval, cfg.Timeout)
	}
	return &Readiness{
		log:      cmp.Or(cfg.Logger, slog.Default()),
		interval: cmp.Or(cfg.Interval, 5*time.Second),
		timeout:  cmp.Or(cfg.Timeout, 2*time.Second),
		now:      time.Now,
		notifier: cfg.Notifier,
		checks:   make(map[string]*checkState),
		trigger:  make(chan struct{}, 1),
	}, nil
}

// Name returns "readiness".
func (r *Readiness) Name() string { return "readiness" }

// AddCheck registers (or replaces the function of) the polled check name. It
// is pending, hence not ready, until first evaluated; a running Readiness
// evaluates it right away.
func (r *Readiness) AddCheck(name string, fn CheckFunc) {
	r.mu.Lock()
	r.checkLocked(name).fn = fn
	r.mu.Unlock()
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// Set records the state of check name from outside (nil err = ok), creating
// it if needed. Components use it for states they observe themselves, such as
// "consumer subscribed"; a polled check of the same name overwrites it on its
// next evaluation.
func (r *Readiness) Set(name string, err error) {
	r.mu.Lock()
	changed := r.record(name, r.checkLocked(name), err)
	r.mu.Unlock()
	if changed {
		r.announce()
	}
}

// checkLocked returns the state of check name, creating it pending if
// needed; r.mu must be held.
func (r *Readiness) checkLocked(name string) *checkState {
	cs := r.checks[name]
	if cs == nil {
		cs = &checkState{state: StatePending, since: r.now()}
		r.checks[name] = cs
	}
	return cs
}

// Remove forgets check name.
func (r *Readiness) Remove(name string) {
	r.mu.Lock()
	delete(r.checks, name)
	r.mu.Unlock()
}

// record stores a check result and logs state changes; r.mu must be held. It
// reports whether a polled check changed state: the caller then calls
// announce once r.mu is released.
func (r *Readiness) record(name string, cs *checkState, err error) (polledChange bool) {
	now := r.now()
	cs.lastChecked = now
	newState, msg := StateOK, ""
	if err != nil {
		newState, msg = StateFailing, err.Error()
		cs.lastErr, cs.lastErrAt = msg, now
	}
	if newState != cs.state {
		if newState == StateOK {
			r.log.Info("readiness check ok", "check", name)
		} else {
			r.log.Warn("readiness check failing", "check", name, "error", msg)
		}
		polledChange = cs.fn != nil
		cs.state, cs.since = newState, now
	}
	cs.err = msg
	return polledChange
}

// announce sends the readiness summary as the service status: "running"
// when every check is ok, else "degraded: " and the checks that are not.
// During shutdown Run owns the status line and nothing is sent.
func (r *Readiness) announce() {
	if !r.notifier.Enabled() {
		return
	}
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	rep := r.Report()
	if rep.Stopping {
		return
	}
	status := "running"
	if !rep.Ready {
		var bad []string
		for _, c := range rep.Checks {
			if c.State != StateOK {
				bad = append(bad, strings.TrimSuffix(c.Name+" "+c.State+": "+c.Error, ": "))
			}
		}
		status = "degraded: " + strings.Join(bad, "; ") + " (see /readyz)"
	}
	if err := r.notifier.Status(status); err != nil {
		r.log.Warn("sd_notify failed", "state", "STATUS", "error", err)
	}
}

// BeginStop marks the daemon as stopping: from now on it reports not ready.
// Run calls it when shutdown begins.
func (r *Readiness) BeginStop() {
	r.mu.Lock()
	r.stopping = true
	r.mu.Unlock()
}

// Refresh evaluates every polled check now, concurrently, each bounded by the
// configured timeout, and waits for them. A check still running from a
// previous round is not started twice; a check that ignores its context is
// recorded as failing at the timeout and left to finish on its own.
func (r *Readiness) Refresh(ctx context.Context) {
	r.mu.Lock()
	type job struct {
		name string
		cs   *checkState
		fn   CheckFunc
	}
	var jobs []job
	changed := false
	for name, cs := range r.checks {
		if cs.fn == nil {
			continue
		}
		if cs.running {
			changed = r.record(name, cs, errors.New("previous check still running")) || changed
			continue
		}
		cs.running = true
		jobs = append(jobs, job{name, cs, cs.fn})
	}
	r.mu.Unlock()
	if changed {
		r.announce()
	}

	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.runCheck(ctx, j.name, j.cs, j.fn)
		}()
	}
	wg.Wait()
}

// runCheck calls fn with the timeout and records the result. At the timeout
// it records a failure and returns even if fn does not; the check stays
// marked running (so it is not piled up) until fn finally returns, and that
// late result is dropped.
func (r *Readiness) runCheck(ctx context.Context, name string, cs *checkState, fn CheckFunc) {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	res := make(chan error, 1)
	go func() {
		defer cancel()
		res <- safeCall(cctx, fn)
	}()
	finish := func(err error, record bool) {
		r.mu.Lock()
		cs.running = false
		changed := record && r.checks[name] == cs && // not removed meanwhile
			r.record(name, cs, err)
		r.mu.Unlock()
		if changed {
			r.announce()
		}
	}
	select {
	case err := <-res:
		finish(err, ctx.Err() == nil)
	case <-cctx.Done():
		select {
		case err := <-res: // finished right at the deadline
			finish(err, ctx.Err() == nil)
			return
		default:
		}
		r.mu.Lock()
		changed := r.checks[name] == cs && ctx.Err() == nil && // not a shutdown
			r.record(name, cs, fmt.Errorf("check did not finish within %v", r.timeout))
		r.mu.Unlock()
		if changed {
			r.announce()
		}
		go func() { finish(<-res, false) }() // too late: not recorded
	}
}

// safeCall turns a panicking check into a failing one.
func safeCall(ctx context.Context, fn CheckFunc) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("check panicked: %v", p)
		}
	}()
	return fn(ctx)
}

// Start evaluates the checks at once and then every Interval until Stop,
// which abandons the round in progress (see StartStop for the lifecycle).
func (r *Readiness) Start(ctx context.Context) error {
	return r.StartWith(ctx, func(life *Lifetime) error {
		life.Go(func() { r.poll(life.Stopping()) })
		return nil
	})
}

// poll evaluates the checks every interval, or when triggered, until ctx
// ends.
func (r *Readiness) poll(ctx context.Context) {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		r.Refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.trigger:
		}
	}
}

// CheckReport is one check's state in a Report.
type CheckReport struct {
	Name  string `json:"name"`
	State string `json:"state"`           // pending, ok or failing
	Error string `json:"error,omitempty"` // current error when failing
	// Since is when the check entered its current state.
	Since time.Time `json:"since"`
	// LastChecked is the time of the last evaluation, absent if never.
	LastChecked *time.Time `json:"last_checked,omitempty"`
	// LastError is the most recent error, even if the check has recovered.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// Report is the cached readiness served by /readyz.
type Report struct {
	Ready    bool          `json:"ready"`
	Stopping bool          `json:"stopping,omitempty"`
	Checks   []CheckReport `json:"checks"`
}

// Report returns the cached state of every check, sorted by name.
func (r *Readiness) Report() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := Report{Ready: !r.stopping, Stopping: r.stopping, Checks: make([]CheckReport, 0, len(r.checks))}
	for name, cs := range r.checks {
		cr := CheckReport{Name: name, State: cs.state, Error: cs.err, Since: cs.since, LastError: cs.lastErr}
		if !cs.lastChecked.IsZero() {
			t := cs.lastChecked
			cr.LastChecked = &t
		}
		if !cs.lastErrAt.IsZero() {
			t := cs.lastErrAt
			cr.LastErrorAt = &t
		}
		if cs.state != StateOK {
			rep.Ready = false
		}
		rep.Checks = append(rep.Checks, cr)
	}
	sort.Slice(rep.Checks, func(i, j int) bool { return rep.Checks[i].Name < rep.Checks[j].Name })
	return rep
}

// Ready reports whether every check is ok and shutdown has not begun.
func (r *Readiness) Ready() bool { return r.Report().Ready }
