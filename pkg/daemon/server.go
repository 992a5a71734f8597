package daemon

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
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
	// Logger for serve errors. Default: discard.
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
	cfg     ServerConfig
	log     *slog.Logger
	handler http.Handler

	mu     sync.Mutex
	srv    *http.Server
	addr   net.Addr
	failed chan error
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
	cfg.ReadHeaderTimeout = cmp.Or(cfg.ReadHeaderTimeout, 5*time.Second)
	s := &Server{cfg: cfg, log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)), failed: make(chan error, 1)}

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

// Name returns "ops-server".
func (s *Server) Name() string { return "ops-server" }

// Start listens on Addr and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("daemon: ops server already started")
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("daemon: ops server: listen on %s: %w", s.cfg.Addr, err)
	}
	s.addr = l.Addr()
	s.srv = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.log.Info("ops server listening", "addr", s.addr.String())
	go func(srv *http.Server) {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("ops server failed", "error", err)
			s.failed <- fmt.Errorf("daemon: ops server: %w", err)
		}
	}(s.srv)
	return nil
}

// Addr returns the address actually listened on (useful with port 0), nil
// before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Failed delivers an error if serving stops on its own after Start.
func (s *Server) Failed() <-chan error { return s.failed }

// Stop shuts the server down, waiting for in-flight requests until ctx is
// done, then closing the remaining connections.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("daemon: ops server shutdown: %w", err)
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
