package provider

import (
	"cmp"
	"net"
	"net/http"
	"time"
)

// TransportConfig tunes NewTransport. Zero values take the defaults shown.
type TransportConfig struct {
	// MaxConnsPerHost caps connections (idle + active) to one provider host;
	// 0 means no cap — the caller's concurrency limit bounds it.
	MaxConnsPerHost int
	// MaxIdleConnsPerHost is how many idle keep-alive connections are kept per
	// host (default 8192). Keep it at least the number of concurrent in-flight
	// calls, or connections are closed and reopened, piling up TIME_WAIT sockets.
	MaxIdleConnsPerHost int
	// DialTimeout bounds connection set-up (default 5s).
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake (default 5s).
	TLSHandshakeTimeout time.Duration
	// IdleConnTimeout closes keep-alive connections idle this long (default 90s).
	IdleConnTimeout time.Duration
}

// NewTransport returns an http.Transport tuned for thousands of concurrent
// in-flight requests to a single provider host: a large per-host idle pool so
// connections are reused instead of churned, bounded dial and TLS set-up
// times, HTTP/2 when the provider offers it over TLS, and no transparent
// compression (bodies are small JSON).
func NewTransport(cfg TransportConfig) *http.Transport {
	idle := cmp.Or(cfg.MaxIdleConnsPerHost, 8192)
	dialer := &net.Dialer{
		Timeout:   cmp.Or(cfg.DialTimeout, 5*time.Second),
		KeepAlive: 30 * time.Second,
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          idle,
		MaxIdleConnsPerHost:   idle,
		MaxConnsPerHost:       cfg.MaxConnsPerHost,
		IdleConnTimeout:       cmp.Or(cfg.IdleConnTimeout, 90*time.Second),
		TLSHandshakeTimeout:   cmp.Or(cfg.TLSHandshakeTimeout, 5*time.Second),
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		// Per connection, and there is a connection per call in flight:
		// 4 KiB each way holds a per-recipient call whole (a batch body
		// takes a few writes) and keeps 3,000 connections at 24 MiB.
		WriteBufferSize: 4 << 10,
		ReadBufferSize:  4 << 10,
	}
}
