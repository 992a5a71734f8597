package daemon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// HTTPServerConfig configures an HTTPServer.
type HTTPServerConfig struct {
	// Name names the server in logs and errors, e.g. "ops-server". Required.
	Name string
	// Addr to listen on; port 0 picks a free port. Required.
	Addr string
	// Handler serves the requests. Required.
	Handler http.Handler
	// Logger for listen and serve errors. Default slog.Default().
	Logger *slog.Logger
	// ReadHeaderTimeout guards against slow clients. Default 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout and WriteTimeout bound a request; zero means none.
	ReadTimeout, WriteTimeout time.Duration
}

// HTTPServer is a daemon Component serving a handler: Start listens (so a
// busy port fails start-up) and serves in the background, Stop shuts down
// gracefully within its context, Failed reports a server that stopped on
// its own.
type HTTPServer struct {
	StartStop

	cfg HTTPServerConfig
	log *slog.Logger

	mu     sync.Mutex
	srv    *http.Server
	addr   net.Addr
	failed chan error
}

// NewHTTPServer validates cfg and builds the server without listening yet.
func NewHTTPServer(cfg HTTPServerConfig) (*HTTPServer, error) {
	switch {
	case cfg.Name == "":
		return nil, errors.New("daemon: HTTP server: Name is required")
	case cfg.Addr == "":
		return nil, fmt.Errorf("daemon: %s: Addr is required", cfg.Name)
	case cfg.Handler == nil:
		return nil, fmt.Errorf("daemon: %s: Handler is required", cfg.Name)
	}
	cfg.ReadHeaderTimeout = cmp.Or(cfg.ReadHeaderTimeout, 5*time.Second)
	return &HTTPServer{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default()), failed: make(chan error, 1)}, nil
}

// Name returns the configured name.
func (s *HTTPServer) Name() string { return s.cfg.Name }

// Start listens on Addr and serves in the background.
func (s *HTTPServer) Start(ctx context.Context) error {
	return s.StartWith(ctx, func(life *Lifetime) error {
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
		if err != nil {
			return fmt.Errorf("daemon: %s: listen on %s: %w", s.cfg.Name, s.cfg.Addr, err)
		}
		srv := &http.Server{
			Handler:           s.cfg.Handler,
			ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
			ReadTimeout:       s.cfg.ReadTimeout,
			WriteTimeout:      s.cfg.WriteTimeout,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		}
		s.mu.Lock()
		s.addr, s.srv = l.Addr(), srv
		s.mu.Unlock()
		s.log.Info(s.cfg.Name+" listening", "addr", l.Addr().String())
		life.Go(func() {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error(s.cfg.Name+" failed", "error", err)
				s.failed <- fmt.Errorf("daemon: %s: %w", s.cfg.Name, err)
			}
		})
		return nil
	})
}

// Addr returns the address actually listened on (useful with port 0), nil
// before Start.
func (s *HTTPServer) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Failed delivers an error if serving stops on its own after Start.
func (s *HTTPServer) Failed() <-chan error { return s.failed }

// Stop shuts the server down, waiting for in-flight requests until ctx is
// done, then closing the remaining connections.
func (s *HTTPServer) Stop(ctx context.Context) error {
	return s.StopWith(ctx, func(ctx context.Context, _ *Lifetime) error {
		s.mu.Lock()
		srv := s.srv
		s.mu.Unlock()
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
			return fmt.Errorf("daemon: %s shutdown: %w", s.cfg.Name, err)
		}
		return nil
	})
}

// Handler returns the served handler.
func (s *HTTPServer) Handler() http.Handler { return s.cfg.Handler }
