package daemon

import (
	"cmp"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ServerConfig configures the ops HTTP server.
type ServerConfig struct {
	// Addr to listen on, e.g. "127.0.0.1:9301"; ":0" style picks a free port. Required.
	Addr string
	// Readiness answers /readyz. Required.
	Readiness *Readiness
	// Gatherer answers /metrics, typically the daemon's own *prometheus.Registry
	// (see NewRegistry); the global default registry is deliberately not used. Required.
	Gatherer prometheus.Gatherer
	// Logger for serve errors. Default slog.Default().
	Logger *slog.Logger
	// ReadHeaderTimeout guards against slow clients. Default 5s.
	ReadHeaderTimeout time.Duration
}

// Server is the daemon's local ops endpoint:
//
//	GET /healthz  200 "ok" while the process serves HTTP at all
//	GET /readyz   200 when Readiness is ready, else 503; JSON Report body
//	GET /metrics  Prometheus exposition of Gatherer
//
// It is a Component: Start listens (so a busy port fails start-up), Stop
// shuts down gracefully within its context.
type Server struct {
	*HTTPServer
	cfg     ServerConfig
	log     *slog.Logger
	handler http.Handler
}

// NewServer validates cfg and builds the Server without listening yet.
func NewServer(cfg ServerConfig) (*Server, error) {
	switch {
	case cfg.Addr == "":
		return nil, errors.New("daemon: ops server: Addr is required")
	case cfg.Readiness == nil:
		return nil, errors.New("daemon: ops server: Readiness is required")
	case cfg.Gatherer == nil:
		return nil, errors.New("daemon: ops server: Gatherer is required")
	}
	s := &Server{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default())}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.serveReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	s.handler = mux
	hs, err := NewHTTPServer(HTTPServerConfig{Name: "ops-server", Addr: cfg.Addr, Handler: mux, Logger: s.log, ReadHeaderTimeout: cfg.ReadHeaderTimeout})
	if err != nil {
		return nil, err
	}
	s.HTTPServer = hs
	return s, nil
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	rep := s.cfg.Readiness.Report()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !rep.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(rep)
}

// Handler returns the ops endpoints, for tests or to mount elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// RegisterMetrics registers cs with reg in turn and returns the first
// error; a nil reg registers nothing.
func RegisterMetrics(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// NewRegistry returns a fresh Prometheus registry with the Go runtime and
// process collectors registered, for a daemon's /metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
