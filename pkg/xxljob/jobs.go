package xxljob

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"mkt/pkg/textlimit"
)

// Reasons a job thread is stopped, as the admin shows them.
const (
	reasonKill          = "scheduling center kill job."
	reasonCoverEarly    = "block strategy effect: Cover Early"
	reasonHandlerChange = "change jobhandler or glue type, and terminate the old job thread."
)

// maxHandleMsg bounds a result message sent to the admin.
const maxHandleMsg = 4000

// thread runs one job's triggers one at a time, in order (the Java
// executor's JobThread). It ends when its queue is empty; all its fields
// are guarded by Executor.mu.
type thread struct {
	jobID       int64
	handlerName string
	handler     Handler
	queue       []*trigger
	running     *trigger
	cancel      context.CancelCauseFunc // the running trigger's
	stopped     bool
}

func (th *thread) busy() bool { return th.running != nil || len(th.queue) > 0 }

func (th *thread) has(logID int64) bool {
	if th.running != nil && th.running.p.LogID == logID {
		return true
	}
	for _, tr := range th.queue {
		if tr.p.LogID == logID {
			return true
		}
	}
	return false
}

// trigger is one /run taken; answered is guarded by Executor.mu.
type trigger struct {
	p        TriggerParam
	log      *jobLog
	answered bool
}

// stopCause cancels a running trigger on purpose.
type stopCause struct{ reason string }

func (s stopCause) Error() string { return s.reason }

// errTimeout is the cause of a run stopped by its executorTimeout.
var errTimeout = errors.New("job execute timeout")

// run takes a trigger: it checks it, applies the block strategy and queues
// it on its job's thread. An error is the 500 answer; no callback follows.
func (e *Executor) run(p TriggerParam) (err error) {
	if err := p.check(); err != nil {
		return err
	}
	h, ok := e.cfg.Handlers[p.ExecutorHandler]
	if !ok {
		return fmt.Errorf("job handler [%s] not found.", p.ExecutorHandler)
	}
	if pc, ok := h.(ParamsChecker); ok {
		if err := pc.CheckParams(p.ExecutorParams); err != nil {
			return fmt.Errorf("executorParams %q: %w", p.ExecutorParams, err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.triggers.Enter() { // stopping, or not started
		return errors.New("executor is stopping: trigger another executor")
	}
	defer func() {
		if err != nil { // not taken
			e.triggers.Leave()
		}
	}()
	th := e.jobs[p.JobID]
	if th != nil && th.has(p.LogID) {
		return fmt.Errorf("repeate trigger job, logId:%d", p.LogID)
	}
	if th != nil && th.handlerName != p.ExecutorHandler {
		e.stopThreadLocked(th, reasonHandlerChange)
		th = nil
	}
	if th != nil && th.busy() {
		switch p.ExecutorBlockStrategy {
		case DiscardLater:
			return errors.New("block strategy effect: Discard Later")
		case CoverEarly:
			e.stopThreadLocked(th, reasonCoverEarly)
			th = nil
		}
	}
	if th == nil {
		th = &thread{jobID: p.JobID, handlerName: p.ExecutorHandler, handler: h}
		e.jobs[p.JobID] = th
		e.threads.Add(1)
		go e.loop(th)
	}
	tr := &trigger{p: p, log: e.logs.open(p.LogID)}
	tr.log.add(e.cfg.Now(), "trigger received: job %d, handler %s, shard %d of %d, block strategy %s, timeout %ds, params %q",
		p.JobID, p.ExecutorHandler, p.BroadcastIndex, max(p.BroadcastTotal, 1), blockStrategy(p.ExecutorBlockStrategy),
		p.ExecutorTimeout, p.ExecutorParams)
	th.queue = append(th.queue, tr)
	return nil
}

func blockStrategy(s string) string {
	if s == "" {
		return SerialExecution
	}
	return s
}

// idleBeat fails while the job runs or has a queue here.
func (e *Executor) idleBeat(jobID int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if th := e.jobs[jobID]; th != nil && th.busy() {
		return errors.New("job thread is running or has trigger queue.")
	}
	return nil
}

// kill stops the job's thread: its running trigger is cancelled and its
// queued ones answered as not run.
func (e *Executor) kill(jobID int64) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	th := e.jobs[jobID]
	if th == nil {
		return "job thread already killed."
	}
	e.stopThreadLocked(th, reasonKill)
	return ""
}

// stopThreadLocked takes th out of service: its queue is answered as not
// run, its running trigger cancelled (answered once cancelled), and a new
// trigger of the job starts a new thread.
func (e *Executor) stopThreadLocked(th *thread, reason string) {
	th.stopped = true
	if e.jobs[th.jobID] == th {
		delete(e.jobs, th.jobID)
	}
	e.dropQueuedLocked(th, reason)
	if th.cancel != nil {
		th.cancel(stopCause{reason})
	}
}

// dropQueuedLocked answers th's queued triggers as not run.
func (e *Executor) dropQueuedLocked(th *thread, reason string) {
	for _, tr := range th.queue {
		tr.log.add(e.cfg.Now(), "not run: %s", reason)
		e.answerLocked(tr, CodeFail, reason+" [job not executed, in the job queue, killed.]")
	}
	th.queue = nil
}

// loop runs th's queue until it is empty or th is stopped.
func (e *Executor) loop(th *thread) {
	defer e.threads.Done()
	for {
		e.mu.Lock()
		if th.stopped || len(th.queue) == 0 {
			if e.jobs[th.jobID] == th {
				delete(e.jobs, th.jobID)
			}
			e.mu.Unlock()
			return
		}
		tr := th.queue[0]
		th.queue = th.queue[1:]
		ctx, cancel := context.WithCancelCause(e.life)
		th.running, th.cancel = tr, cancel
		e.mu.Unlock()

		e.execute(ctx, th, tr)
		cancel(nil)

		e.mu.Lock()
		th.running, th.cancel = nil, nil
		e.mu.Unlock()
	}
}

type outcome struct {
	msg string
	err error
}

// execute runs one trigger and answers it: when the handler returns, or at
// once when the run is cancelled (timeout, kill, COVER_EARLY, shutdown) —
// then it still waits for the handler to return before the job's next
// trigger runs.
func (e *Executor) execute(ctx context.Context, th *thread, tr *trigger) {
	p := tr.p
	job := &Job{JobID: p.JobID, LogID: p.LogID, Params: p.ExecutorParams,
		ShardIndex: p.BroadcastIndex, ShardTotal: max(p.BroadcastTotal, 1),
		TriggerTime: time.UnixMilli(p.LogDateTime), log: tr.log, now: e.cfg.Now}
	if p.LogDateTime == 0 {
		job.TriggerTime = e.cfg.Now()
	}
	if p.ExecutorTimeout > 0 {
		job.Timeout = time.Duration(p.ExecutorTimeout) * time.Second
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, job.Timeout, errTimeout)
		defer cancel()
	}
	begin := e.cfg.Now()
	job.Logf("----------- run started")
	done := make(chan outcome, 1)
	go func() { done <- callHandler(ctx, th.handler, job) }()
	select {
	case o := <-done:
		code, msg := CodeSuccess, o.msg
		switch {
		case ctx.Err() != nil:
			code, msg = cancelled(ctx)
		case o.err != nil:
			code, msg = CodeFail, o.err.Error()
		}
		job.Logf("----------- run ended in %v: code %d %s", e.cfg.Now().Sub(begin).Round(time.Millisecond), code, msg)
		e.answer(tr, code, msg)
	case <-ctx.Done():
		code, msg := cancelled(ctx)
		job.Logf("----------- run stopped after %v: code %d %s", e.cfg.Now().Sub(begin).Round(time.Millisecond), code, msg)
		e.answer(tr, code, msg)
		o := <-done
		job.Logf("handler returned: %v", cmpErr(o))
	}
}

func cmpErr(o outcome) string {
	if o.err != nil {
		return o.err.Error()
	}
	return "ok " + o.msg
}

// cancelled is the answer of a run whose context ended.
func cancelled(ctx context.Context) (int, string) {
	cause := context.Cause(ctx)
	var sc stopCause
	switch {
	case errors.Is(cause, errTimeout):
		return CodeTimeout, "job execute timeout"
	case errors.As(cause, &sc):
		return CodeFail, sc.reason + " [job running, killed]"
	default:
		return CodeFail, "executor stopping [job running, killed]"
	}
}

// callHandler runs h, turning a panic into an error.
func callHandler(ctx context.Context, h Handler, job *Job) (o outcome) {
	defer func() {
		if r := recover(); r != nil {
			o = outcome{err: fmt.Errorf("handler panicked: %v", r)}
		}
	}()
	msg, err := h.Execute(ctx, job)
	return outcome{msg: msg, err: err}
}

func (e *Executor) answer(tr *trigger, code int, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.answerLocked(tr, code, msg)
}

// answerLocked queues tr's callback, once.
func (e *Executor) answerLocked(tr *trigger, code int, msg string) {
	if tr.answered {
		return
	}
	tr.answered = true
	tr.log.end()
	msg = textlimit.BytesMarked(msg, maxHandleMsg)
	e.metrics.runs.WithLabelValues(tr.p.ExecutorHandler, strconv.Itoa(code)).Inc()
	level := e.log.Info
	if code != CodeSuccess {
		level = e.log.Warn
	}
	level("xxl-job run ended", "job_id", tr.p.JobID, "log_id", tr.p.LogID, "handler", tr.p.ExecutorHandler,
		"shard", tr.p.BroadcastIndex, "shard_total", max(tr.p.BroadcastTotal, 1), "handle_code", code, "handle_msg", msg)
	e.callbacks.push(Callback{LogID: tr.p.LogID, LogDateTim: tr.p.LogDateTime, HandleCode: code, HandleMsg: msg})
	e.triggers.Leave()
}
