package providersim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server serves a Simulator over HTTP on a bound address.
type Server struct {
	sim  *Simulator
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
	mu   sync.Mutex
	err  error
}

// Listen creates a simulator from cfg, binds addr ("127.0.0.1:0" picks a free
// port) and serves it in the background until Shutdown or Close.
func Listen(addr string, cfg Config) (*Server, error) {
	sim, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return Serve(addr, sim, sim)
}

// Serve binds addr and serves h — sim itself, or a handler wrapping it (to
// observe calls) — in the background until Shutdown or Close, which also
// close sim.
func Serve(addr string, sim *Simulator, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("provider simulator: listen on %s: %w", addr, err)
	}
	s := &Server{
		sim: sim,
		ln:  ln,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(sim.cfg.Logger.Handler(), slog.LevelWarn),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.mu.Lock()
			s.err = fmt.Errorf("provider simulator: serve: %w", err)
			s.mu.Unlock()
		}
	}()
	return s, nil
}

// Simulator returns the served simulator, for in-process read-back.
func (s *Server) Simulator() *Simulator { return s.sim }

// Addr returns the bound address, e.g. "127.0.0.1:41234".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// URL returns the base URL, e.g. "http://127.0.0.1:41234". Point a channel's
// provider at URL()+"/<channel>" (its batch endpoint is that plus "/batch").
func (s *Server) URL() string { return "http://" + s.Addr() }

// Done is closed when the server has stopped serving.
func (s *Server) Done() <-chan struct{} { return s.done }

// Shutdown releases calls held by injected timeouts, then stops gracefully,
// waiting for in-flight calls until ctx is done. It returns the error that
// stopped serving, if any.
func (s *Server) Shutdown(ctx context.Context) error {
	s.sim.Close()
	if err := s.srv.Shutdown(ctx); err != nil {
		err = errors.Join(err, s.srv.Close())
		<-s.done
		return errors.Join(fmt.Errorf("provider simulator: shutdown: %w", err), s.serveErr())
	}
	<-s.done
	return s.serveErr()
}

// Close stops at once, dropping in-flight calls.
func (s *Server) Close() error {
	s.sim.Close()
	if err := s.srv.Close(); err != nil {
		return fmt.Errorf("provider simulator: close: %w", err)
	}
	<-s.done
	return s.serveErr()
}

func (s *Server) serveErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
