package cache

import (
	"log/slog"
	"net"
	"strings"
	"testing"
)

// Helpers and pure tests that need no Redis.

// closedPort returns a local address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestRedisLogger(t *testing.T) {
	t.Parallel()
	var buf strings.Builder
	RedisLogger{Logger: slog.New(slog.NewTextHandler(&buf, nil))}.Printf(t.Context(), "dial %s failed\n", "x")
	if got := buf.String(); !strings.Contains(got, `msg="dial x failed"`) || !strings.Contains(got, "component=redis") {
		t.Errorf("log = %q", got)
	}
}
