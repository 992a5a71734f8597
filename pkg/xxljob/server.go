package xxljob

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"mkt/pkg/strictjson"
)

// ServeHTTP serves the executor protocol. As the Java executor does, every
// answer is HTTP 200 with an envelope whose code says the outcome: 200, or
// 500 with a message (wrong method, wrong token, a body too large or not
// the JSON expected, an unknown path, a refused trigger).
func (e *Executor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	endpoint := r.URL.Path
	switch endpoint {
	case "/beat", "/idleBeat", "/run", "/kill", "/log":
	default:
		endpoint = "other"
	}
	reply := func(err error, payload any) {
		code := CodeSuccess
		var msg *string
		if err != nil {
			code = CodeFail
			s := err.Error()
			msg = &s
		}
		e.metrics.requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
		writeEnvelope(w, code, msg, payload)
	}
	if r.Method != http.MethodPost {
		reply(errors.New("invalid request, HttpMethod not support."), nil)
		return
	}
	if e.cfg.AccessToken != "" && !tokenMatches(r.Header.Get(TokenHeader), e.cfg.AccessToken) {
		e.log.Warn("xxl-job request refused: wrong or missing access token", "path", r.URL.Path, "remote", r.RemoteAddr)
		reply(errors.New("The access token is wrong."), nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			reply(fmt.Errorf("invalid request: body larger than %d bytes", e.cfg.MaxBodyBytes), nil)
			return
		}
		reply(fmt.Errorf("invalid request: read body: %w", err), nil)
		return
	}
	decode := func(v any) error {
		// Unknown keys are allowed (an admin may send more than this
		// executor reads); case, repeats, types and trailing text are not.
		if err := strictjson.Decode(body, v, strictjson.Options{AllowUnknown: true}); err != nil {
			return fmt.Errorf("invalid request body for %s: %w", r.URL.Path, err)
		}
		return nil
	}
	switch r.URL.Path {
	case "/beat":
		reply(nil, nil)
	case "/idleBeat":
		var p jobIDParam
		if err := decode(&p); err != nil {
			reply(err, nil)
			return
		}
		reply(e.idleBeat(p.JobID), nil)
	case "/run":
		var p TriggerParam
		if err := decode(&p); err != nil {
			reply(err, nil)
			return
		}
		err := e.run(p)
		if err != nil {
			e.log.Warn("xxl-job trigger refused", "job_id", p.JobID, "log_id", p.LogID, "handler", p.ExecutorHandler, "error", err.Error())
		}
		reply(err, nil)
	case "/kill":
		var p jobIDParam
		if err := decode(&p); err != nil {
			reply(err, nil)
			return
		}
		if msg := e.kill(p.JobID); msg != "" {
			e.metrics.requests.WithLabelValues(endpoint, strconv.Itoa(CodeSuccess)).Inc()
			writeEnvelope(w, CodeSuccess, &msg, nil)
			return
		}
		e.log.Info("xxl-job kill", "job_id", p.JobID)
		reply(nil, nil)
	case "/log":
		var p LogParam
		if err := decode(&p); err != nil {
			reply(err, nil)
			return
		}
		res := e.logs.read(p.LogID, p.FromLineNum)
		reply(nil, &res)
	default:
		reply(fmt.Errorf("invalid request, uri-mapping(%s) not found.", r.URL.Path), nil)
	}
}

// writeEnvelope writes an answer readable by 2.x (content) and 3.x (data)
// admins alike.
func writeEnvelope(w http.ResponseWriter, code int, msg *string, payload any) {
	env := struct {
		Code    int     `json:"code"`
		Msg     *string `json:"msg"`
		Content any     `json:"content,omitempty"`
		Data    any     `json:"data,omitempty"`
	}{Code: code, Msg: msg, Content: payload, Data: payload}
	b, err := json.Marshal(env)
	if err != nil {
		b = []byte(`{"code":500,"msg":"encode answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write(b)
}

// tokenMatches compares in constant time, whatever the lengths.
func tokenMatches(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
