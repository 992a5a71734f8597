package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"mkt/pkg/provider"
	"mkt/pkg/providersim"
)

// Simulator serves a providersim.Simulator over HTTP and records every send
// call as the server sees it: from the moment the handler gets the request
// (headers read) to the moment it returns (answer written). That is the
// simulated latency plus the server's own work — decoding, counting,
// encoding — and excludes the client's side: queueing for a connection,
// the network, reading the answer. Its methods are safe for concurrent use.
type Simulator struct {
	*providersim.Simulator

	srv *providersim.Server

	calls     Histogram // every send call
	ok        atomic.Uint64
	failed    atomic.Uint64
	firstOK   atomic.Int64 // unix nanos of the earliest start of a 2xx send call, 0 = none
	lastOK    atomic.Int64 // unix nanos of the latest end of a 2xx send call
	readBacks map[string]bool
}

// StartSimulator creates a simulator from cfg, binds addr ("127.0.0.1:0"
// picks a free port) and serves it until Shutdown.
func StartSimulator(addr string, cfg providersim.Config) (*Simulator, error) {
	sim, err := providersim.New(cfg)
	if err != nil {
		return nil, err
	}
	s := &Simulator{
		Simulator: sim,
		readBacks: map[string]bool{"/stats": true, "/deliveries": true, "/reset": true, "/healthz": true},
	}
	if s.srv, err = providersim.Serve(addr, sim, s); err != nil {
		return nil, fmt.Errorf("bench: simulator: %w", err)
	}
	return s, nil
}

// URL returns the simulator's base URL, e.g. "http://127.0.0.1:41234".
func (s *Simulator) URL() string { return s.srv.URL() }

// ChannelURL returns the send endpoint for ch: URL()/<channel> (its batch
// endpoint is that plus "/batch").
func (s *Simulator) ChannelURL(ch provider.Channel) string { return s.URL() + "/" + string(ch) }

// statusWriter remembers the status code of an answer.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP serves the simulator, timing send calls (POSTs to any path but
// the read-back ones).
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || s.readBacks[r.URL.Path] {
		s.Simulator.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	s.Simulator.ServeHTTP(sw, r)
	end := time.Now()
	s.calls.Record(end.Sub(start))
	if sw.code < 200 || sw.code > 299 {
		s.failed.Add(1)
		return
	}
	s.ok.Add(1)
	for ns := start.UnixNano(); ; {
		cur := s.firstOK.Load()
		if (cur != 0 && cur <= ns) || s.firstOK.CompareAndSwap(cur, ns) {
			break
		}
	}
	for ns := end.UnixNano(); ; {
		cur := s.lastOK.Load()
		if cur >= ns || s.lastOK.CompareAndSwap(cur, ns) {
			break
		}
	}
}

// CallStats summarise the send calls a Simulator answered.
type CallStats struct {
	// Calls counts send calls (single and batch), whatever the answer.
	Calls uint64 `json:"calls"`
	// OK counts those answered 2xx.
	OK uint64 `json:"ok"`
	// Failed counts the others (injected faults, refusals, bad requests).
	Failed uint64 `json:"failed"`
	// P50, P90, P99 and Max are the server-side durations of all send calls.
	P50 time.Duration `json:"p50"`
	P90 time.Duration `json:"p90"`
	P99 time.Duration `json:"p99"`
	Max time.Duration `json:"max"`
	// FirstOK is when the first 2xx send call arrived and LastOK when the
	// last one was answered; zero when there was none.
	FirstOK time.Time `json:"first_ok"`
	LastOK  time.Time `json:"last_ok"`
}

// Window returns LastOK - FirstOK: the time over which deliveries happened.
func (c CallStats) Window() time.Duration {
	if c.FirstOK.IsZero() {
		return 0
	}
	return c.LastOK.Sub(c.FirstOK)
}

// Calls returns the send-call statistics since the simulator started.
func (s *Simulator) Calls() CallStats {
	st := CallStats{
		Calls:  s.calls.Count(),
		OK:     s.ok.Load(),
		Failed: s.failed.Load(),
		P50:    s.calls.Quantile(0.50),
		P90:    s.calls.Quantile(0.90),
		P99:    s.calls.Quantile(0.99),
		Max:    s.calls.Max(),
	}
	if f := s.firstOK.Load(); f != 0 {
		st.FirstOK = time.Unix(0, f)
		st.LastOK = time.Unix(0, s.lastOK.Load())
	}
	return st
}

// Shutdown releases calls held by injected timeouts, stops accepting calls
// and waits for those in flight until ctx ends (then drops them). Deliveries
// stay readable.
func (s *Simulator) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }
