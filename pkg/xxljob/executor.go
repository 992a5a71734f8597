// Package xxljob owns pushd's XXL-Job executor, for shops that schedule
// with an XXL-Job admin (xxl-job-admin 2.4.x or 3.x): the executor's HTTP
// server (/beat, /idleBeat, /run, /kill, /log, guarded by the
// XXL-JOB-ACCESS-TOKEN header), its registration with the admin every 30 s
// and removal on shutdown, one job thread per jobId honouring the block
// strategies (SERIAL_EXECUTION, DISCARD_LATER, COVER_EARLY) and the
// executor timeout, the run logs the admin reads (kept in memory, bounded),
// and the result callbacks, queued and retried with backoff. Both answer
// envelopes are spoken: 2.x's {code,msg,content} and 3.x's {code,msg,data}.
//
// The job handlers are the executor's to serve: HotGoods launches a day's
// hot-goods rows with the trigger's broadcastIndex/broadcastTotal as shard
// index/total. The built-in schedules of pushd stay the default way to run
// recurring work; this is an adapter for shops that already run an admin.
package xxljob

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"mkt/pkg/daemon"
)

// Handler runs one trigger of a job. It must return promptly once ctx is
// done (a kill, COVER_EARLY, the executor timeout or shutdown); the message
// it returns goes to the admin with the result (handleMsg), an error makes
// the run fail (handleCode 500) with its text.
type Handler interface {
	Execute(ctx context.Context, job *Job) (msg string, err error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, job *Job) (string, error)

// Execute calls f.
func (f HandlerFunc) Execute(ctx context.Context, job *Job) (string, error) { return f(ctx, job) }

// ParamsChecker is implemented by handlers that can refuse a trigger's
// executorParams at once: /run answers 500 with the reason instead of
// queuing a run that would fail.
type ParamsChecker interface {
	CheckParams(params string) error
}

// Job is one trigger as a handler sees it.
type Job struct {
	// JobID and LogID identify the job and this trigger in the admin.
	JobID, LogID int64
	// Params are the trigger's executorParams.
	Params string
	// ShardIndex and ShardTotal are broadcastIndex and broadcastTotal: the
	// admin's sharding broadcast numbers its online executors 0..total-1.
	// Other routing strategies send 0 and 1.
	ShardIndex, ShardTotal int
	// TriggerTime is when the admin triggered the job (logDateTime).
	TriggerTime time.Time
	// Timeout is executorTimeout, 0 for none.
	Timeout time.Duration

	log *jobLog
	now func() time.Time
}

// Logf adds a line to the run's log, which the admin shows (/log).
func (j *Job) Logf(format string, args ...any) { j.log.add(j.now(), format, args...) }

// Config configures an Executor.
type Config struct {
	// AdminURLs are the admin's base addresses, e.g.
	// "http://admin:8080/xxl-job-admin/"; calls go to the first that accepts
	// them. Required.
	AdminURLs []string
	// AppName is the executor's AppName in the admin (CheckAppName). Required.
	AppName string
	// AccessToken is required of every request (XXL-JOB-ACCESS-TOKEN) and
	// sent with every call to the admin; empty: none checked, none sent.
	AccessToken string
	// ListenAddr is where the executor's HTTP server listens; port 0 picks
	// one. Required.
	ListenAddr string
	// AdvertiseURL is the address registered with the admin (registryValue);
	// default "http://<the address listened on>/".
	AdvertiseURL string
	// Handlers by name (the job's JobHandler in the admin). At least one.
	Handlers map[string]Handler
	// Logger; default slog.Default(). The access token is never logged.
	Logger *slog.Logger
	// Registerer receives the executor's metrics; nil registers none.
	Registerer prometheus.Registerer
	// RegistryInterval is the time between registrations. Default 30s (the
	// admin forgets an executor after 90 s of silence).
	RegistryInterval time.Duration
	// RequestTimeout bounds each call to the admin. Default 5s.
	RequestTimeout time.Duration
	// CallbackBackoff spaces the retries of a failed callback. Default 1s
	// doubling to 30s, with jitter.
	CallbackBackoff daemon.Backoff
	// MaxPendingCallbacks bounds the results waiting for the admin. Default 10000.
	MaxPendingCallbacks int
	// LogRuns is how many runs' logs are kept for /log, LogLines how many
	// lines of each. Defaults 256 and 1000.
	LogRuns, LogLines int
	// MaxBodyBytes bounds a request body. Default 1 MiB.
	MaxBodyBytes int64
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Executor is an XXL-Job executor and a daemon component: Start listens and
// registers, BeginStop refuses new triggers, Stop removes the registration,
// lets running triggers finish (cancelling them when the drain budget runs
// out), answers the admin for every trigger it took, and closes.
type Executor struct {
	daemon.StartStop

	cfg       Config
	log       *slog.Logger
	admin     *adminClient
	callbacks *callbackQueue
	logs      *jobLogs
	metrics   *metrics
	server    *daemon.HTTPServer

	// triggers admits /run from the end of Start until BeginStop, counting
	// each trigger taken until it is answered.
	triggers  daemon.Admission
	mu        sync.Mutex
	advertise string
	jobs      map[int64]*thread
	life      context.Context // the triggers' runs, within the Lifetime's; nil until Start
	endLife   context.CancelCauseFunc
	threads   sync.WaitGroup
}

// New validates cfg and builds the executor without listening yet.
func New(cfg Config) (*Executor, error) {
	var problems []string
	if len(cfg.AdminURLs) == 0 {
		problems = append(problems, "an admin URL is required")
	}
	for i, u := range cfg.AdminURLs {
		norm, err := checkHTTPURL(u)
		if err != nil {
			problems = append(problems, "admin "+err.Error())
		}
		cfg.AdminURLs[i] = norm
	}
	if err := CheckAppName(cfg.AppName); err != nil {
		problems = append(problems, err.Error())
	}
	if err := checkToken(cfg.AccessToken); err != nil {
		problems = append(problems, err.Error())
	}
	if cfg.ListenAddr == "" {
		problems = append(problems, "a listen address is required")
	}
	if cfg.AdvertiseURL != "" {
		norm, err := checkHTTPURL(cfg.AdvertiseURL)
		if err != nil {
			problems = append(problems, "advertise "+err.Error())
		}
		cfg.AdvertiseURL = norm
	}
	if len(cfg.Handlers) == 0 {
		problems = append(problems, "no job handler")
	}
	for name, h := range cfg.Handlers {
		if name == "" || h == nil {
			problems = append(problems, fmt.Sprintf("handler %q: a name and a handler are required", name))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("xxljob: %s", strings.Join(problems, "; "))
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	cfg.RegistryInterval = cmp.Or(cfg.RegistryInterval, 30*time.Second)
	cfg.RequestTimeout = cmp.Or(cfg.RequestTimeout, 5*time.Second)
	cfg.CallbackBackoff.Initial = cmp.Or(cfg.CallbackBackoff.Initial, time.Second)
	cfg.MaxPendingCallbacks = cmp.Or(cfg.MaxPendingCallbacks, 10000)
	cfg.LogRuns = cmp.Or(cfg.LogRuns, 256)
	cfg.LogLines = cmp.Or(cfg.LogLines, 1000)
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, 1<<20)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	e := &Executor{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "xxl-job-executor"),
		admin:   &adminClient{bases: cfg.AdminURLs, token: cfg.AccessToken, client: &http.Client{Timeout: cfg.RequestTimeout}},
		logs:    newJobLogs(cfg.LogRuns, cfg.LogLines),
		metrics: newMetrics(cfg.Registerer),
		jobs:    map[int64]*thread{},
	}
	e.callbacks = newCallbackQueue(e.admin, e.log, cfg.CallbackBackoff, cfg.MaxPendingCallbacks, 100, e.metrics)
	srv, err := daemon.NewHTTPServer(daemon.HTTPServerConfig{Name: "xxl-job-executor", Addr: cfg.ListenAddr, Handler: e,
		Logger: e.log, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second})
	if err != nil {
		return nil, err
	}
	e.server = srv
	return e, nil
}

// Name implements the daemon's optional namer.
func (e *Executor) Name() string { return "xxl-job-executor" }

// Start listens, then registers with the admin in the background (now and
// every RegistryInterval): an unreachable admin is logged and retried, it
// does not stop the daemon. The lifecycle is daemon.StartStop's.
func (e *Executor) Start(ctx context.Context) error {
	return e.StartWith(ctx, func(life *daemon.Lifetime) error {
		if err := e.server.Start(ctx); err != nil {
			return err
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		e.advertise = e.cfg.AdvertiseURL
		if e.advertise == "" {
			e.advertise = "http://" + e.server.Addr().String() + "/"
		}
		// The triggers' runs are a part of the lifetime that the drain
		// cancels itself when its budget ends (their callbacks still go).
		e.life, e.endLife = context.WithCancelCause(life.Context())
		e.triggers.Open()
		_ = e.callbacks.Start(ctx)
		// Registry calls use Stopping: a stop abandons the one in flight.
		registered := false
		life.Every(e.cfg.RegistryInterval, true, func(context.Context) {
			registered = e.register(life.Stopping(), registered)
		})
		e.log.Info("xxl-job executor started", "app", e.cfg.AppName, "advertise", e.advertise,
			"admins", strings.Join(e.cfg.AdminURLs, ","), "handlers", e.handlerNames())
		return nil
	})
}

// Addr is the address listened on, nil before Start.
func (e *Executor) Addr() net.Addr { return e.server.Addr() }

// AdvertiseURL is the address registered with the admin, "" before Start.
func (e *Executor) AdvertiseURL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.advertise
}

func (e *Executor) handlerNames() []string {
	names := make([]string, 0, len(e.cfg.Handlers))
	for n := range e.cfg.Handlers {
		names = append(names, n)
	}
	return names
}

func (e *Executor) registryParam() RegistryParam {
	return RegistryParam{RegistryGroup: "EXECUTOR", RegistryKey: e.cfg.AppName, RegistryValue: e.AdvertiseURL()}
}

// register is one round of the registry loop, run at Start and every
// RegistryInterval until the stop: it registers with the admin, logging a
// failure and the first success after one. registered is what the last
// round ended with; it returns what this one ends with.
func (e *Executor) register(ctx context.Context, registered bool) bool {
	cctx, cancel := context.WithTimeout(ctx, e.cfg.RequestTimeout)
	err := e.admin.call(cctx, "registry", e.registryParam())
	cancel()
	switch {
	case ctx.Err() != nil:
		return registered
	case err != nil:
		e.metrics.registryErrors.Inc()
		e.log.Warn("xxl-job registry failed, retrying", "next_in", e.cfg.RegistryInterval, "error", err.Error())
		return false
	case !registered:
		e.log.Info("registered with the xxl-job admin", "app", e.cfg.AppName, "advertise", e.AdvertiseURL())
	}
	return true
}

// BeginStop refuses new triggers from now on: the admin's failover or
// sharding goes to the executors still registered.
func (e *Executor) BeginStop() { e.triggers.Close() }

// errStopping is the cause of the runs cancelled at shutdown.
var errStopping = errors.New("executor stopping")

// finalBudget is what Stop still spends on the admin (registry removal, the
// last callbacks) when the drain budget was spent on running triggers.
const finalBudget = 3 * time.Second

// Stop removes the registration, answers the queued triggers as not run,
// waits for the running ones until ctx is done (then cancels them: their
// callbacks say so), stops serving, and sends the admin every result still
// queued. Results the admin did not take in time are logged, one line each.
func (e *Executor) Stop(ctx context.Context) error {
	return e.StopWith(ctx, e.drain)
}

// drain is Stop's work on a started executor.
func (e *Executor) drain(ctx context.Context, life *daemon.Lifetime) error {
	e.BeginStop()
	// The registry loop ends at once with the lifetime's Stopping: wait for
	// it, so that no registration follows the removal.
	_ = life.Wait(context.WithoutCancel(ctx))
	rctx, cancel := e.budget(ctx, e.cfg.RequestTimeout)
	if err := e.admin.call(rctx, "registryRemove", e.registryParam()); err != nil {
		e.log.Warn("xxl-job registry removal failed (the admin forgets this executor after 90 s)", "error", err.Error())
	} else {
		e.log.Info("xxl-job registration removed", "app", e.cfg.AppName, "advertise", e.AdvertiseURL())
	}
	cancel()

	e.mu.Lock()
	for _, th := range e.jobs {
		e.dropQueuedLocked(th, "executor stopping")
	}
	e.mu.Unlock()
	if e.triggers.CloseAndWait(ctx, "triggers unanswered") != nil {
		e.log.Warn("xxl-job runs still going at the end of the drain, cancelling them")
		e.endLife(errStopping)
		<-e.triggers.Drained() // the cancelled runs answer at once
	}

	sctx, cancel := e.budget(ctx, 0)
	defer cancel()
	var errs []error
	if err := e.server.Stop(sctx); err != nil {
		errs = append(errs, err)
	}
	lost := e.callbacks.stop(sctx)
	for _, cb := range lost {
		e.metrics.callbacksDropped.Inc()
		e.log.Error("xxl-job result not delivered before exit", "log_id", cb.LogID, "handle_code", cb.HandleCode, "handle_msg", cb.HandleMsg)
	}
	if len(lost) > 0 {
		errs = append(errs, fmt.Errorf("xxljob: %d result(s) not delivered to the admin", len(lost)))
	}
	e.endLife(errStopping)
	done := make(chan struct{})
	go func() { e.threads.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		e.log.Warn("xxl-job handlers still returning after stop")
	}
	return errors.Join(errs...)
}

// budget is ctx (bounded by d when d > 0), or a fresh finalBudget once ctx
// is spent.
func (e *Executor) budget(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	switch {
	case ctx.Err() != nil:
		return context.WithTimeout(context.WithoutCancel(ctx), finalBudget)
	case d > 0:
		return context.WithTimeout(ctx, d)
	default:
		return context.WithCancel(ctx)
	}
}
