package xxljob

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"

	"mkt/pkg/strictjson"
)

// Result codes of the protocol, in envelopes and in callbacks.
const (
	CodeSuccess = 200
	CodeFail    = 500
	// CodeTimeout is a callback's handleCode for a run stopped by its
	// executorTimeout.
	CodeTimeout = 502
)

// Block strategies: what a trigger does to a job already running or queued
// on this executor.
const (
	// SerialExecution queues the trigger behind the running one (the default).
	SerialExecution = "SERIAL_EXECUTION"
	// DiscardLater refuses the trigger while the job runs or has a queue.
	DiscardLater = "DISCARD_LATER"
	// CoverEarly kills the running trigger (and the queued ones) and runs this one.
	CoverEarly = "COVER_EARLY"
)

// GlueTypeBean is the only glue type served: the job runs a handler
// registered in the executor by name (GLUE and script jobs carry source code
// to run, which this executor refuses).
const GlueTypeBean = "BEAN"

// TriggerParam is the body of /run (3.x names it TriggerRequest; the fields
// are the same).
type TriggerParam struct {
	JobID                 int64  `json:"jobId"`
	ExecutorHandler       string `json:"executorHandler"`
	ExecutorParams        string `json:"executorParams"`
	ExecutorBlockStrategy string `json:"executorBlockStrategy"`
	// ExecutorTimeout is in seconds; 0 means none.
	ExecutorTimeout int64 `json:"executorTimeout"`
	LogID           int64 `json:"logId"`
	// LogDateTime is the trigger time in Unix milliseconds.
	LogDateTime    int64  `json:"logDateTime"`
	GlueType       string `json:"glueType"`
	GlueSource     string `json:"glueSource"`
	GlueUpdatetime int64  `json:"glueUpdatetime"`
	BroadcastIndex int    `json:"broadcastIndex"`
	BroadcastTotal int    `json:"broadcastTotal"`
}

// MaxExecutorTimeout bounds executorTimeout (a day).
const MaxExecutorTimeout = 86400

// MaxBroadcastTotal bounds broadcastTotal.
const MaxBroadcastTotal = 1024

// check refuses a trigger the executor cannot run, before it is queued.
func (p *TriggerParam) check() error {
	switch {
	case p.JobID <= 0:
		return fmt.Errorf("jobId %d: want a positive job id", p.JobID)
	case p.LogID <= 0:
		return fmt.Errorf("logId %d: want a positive log id", p.LogID)
	case p.ExecutorHandler == "":
		return errors.New("executorHandler is empty")
	case p.GlueType != "" && p.GlueType != GlueTypeBean:
		return fmt.Errorf("glueType[%s] is not valid: this executor runs BEAN handlers only", p.GlueType)
	case p.ExecutorTimeout < 0 || p.ExecutorTimeout > MaxExecutorTimeout:
		return fmt.Errorf("executorTimeout %d: want 0 (none) to %d seconds", p.ExecutorTimeout, MaxExecutorTimeout)
	case p.LogDateTime < 0:
		return fmt.Errorf("logDateTime %d: want Unix milliseconds", p.LogDateTime)
	case p.BroadcastTotal < 0 || p.BroadcastTotal > MaxBroadcastTotal:
		return fmt.Errorf("broadcastTotal %d: want 1..%d", p.BroadcastTotal, MaxBroadcastTotal)
	case p.BroadcastIndex < 0 || p.BroadcastIndex >= max(p.BroadcastTotal, 1):
		return fmt.Errorf("broadcastIndex %d: want 0..%d", p.BroadcastIndex, max(p.BroadcastTotal, 1)-1)
	}
	switch p.ExecutorBlockStrategy {
	case "", SerialExecution, DiscardLater, CoverEarly:
	default:
		return fmt.Errorf("executorBlockStrategy %q: want %s, %s or %s", p.ExecutorBlockStrategy, SerialExecution, DiscardLater, CoverEarly)
	}
	return nil
}

// jobIDParam is the body of /idleBeat and /kill.
type jobIDParam struct {
	JobID int64 `json:"jobId"`
}

// LogParam is the body of /log. Note the protocol's spelling logDateTim.
type LogParam struct {
	LogDateTim  int64 `json:"logDateTim"`
	LogID       int64 `json:"logId"`
	FromLineNum int   `json:"fromLineNum"`
}

// LogResult is the payload /log answers.
type LogResult struct {
	FromLineNum int    `json:"fromLineNum"`
	ToLineNum   int    `json:"toLineNum"`
	LogContent  string `json:"logContent"`
	IsEnd       bool   `json:"isEnd"`
}

// Callback is one run's result, sent to the admin's api/callback in a JSON
// array.
type Callback struct {
	LogID      int64  `json:"logId"`
	LogDateTim int64  `json:"logDateTim"`
	HandleCode int    `json:"handleCode"`
	HandleMsg  string `json:"handleMsg"`
}

// RegistryParam is the body of api/registry and api/registryRemove.
type RegistryParam struct {
	RegistryGroup string `json:"registryGroup"`
	RegistryKey   string `json:"registryKey"`
	RegistryValue string `json:"registryValue"`
}

// Envelope is every answer of the protocol, in both of its shapes: 2.x puts
// the payload in content, 3.x (from 3.3.0) in data. The executor emits both
// where it returns a payload, so either admin finds it; from the admin it
// reads whichever is present.
type Envelope struct {
	Code    int             `json:"code"`
	Msg     *string         `json:"msg"`
	Content json.RawMessage `json:"content,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// Payload returns the envelope's payload, from content or data.
func (e *Envelope) Payload() json.RawMessage {
	if len(e.Content) > 0 && string(e.Content) != "null" {
		return e.Content
	}
	return e.Data
}

// Message returns msg, or "" for null.
func (e *Envelope) Message() string {
	if e.Msg == nil {
		return ""
	}
	return *e.Msg
}

// decodeEnvelope reads an admin's answer. Keys are checked strictly (case,
// repeats, trailing text) but unknown ones are allowed: an admin may add
// fields to its answers.
func decodeEnvelope(body []byte) (*Envelope, error) {
	var e Envelope
	if err := strictjson.Decode(body, &e, strictjson.Options{AllowUnknown: true}); err != nil {
		return nil, err
	}
	return &e, nil
}

// MinAppNameLen and MaxAppNameLen bound an executor app name, as the admin
// does.
const (
	MinAppNameLen = 4
	MaxAppNameLen = 64
)

var appNamePattern = regexp.MustCompile(`^[a-z][a-zA-Z0-9-]*$`)

// CheckAppName applies the admin's rules for an executor's AppName: 4 to 64
// characters, a lowercase letter first, then letters, digits and '-'.
func CheckAppName(name string) error {
	if len(name) < MinAppNameLen || len(name) > MaxAppNameLen {
		return fmt.Errorf("app name %q: want %d to %d characters", name, MinAppNameLen, MaxAppNameLen)
	}
	if !appNamePattern.MatchString(name) {
		return fmt.Errorf("app name %q: want a lowercase letter first, then letters, digits and '-'", name)
	}
	return nil
}
