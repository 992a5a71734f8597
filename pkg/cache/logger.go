package cache

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// RedisLogger adapts a slog.Logger to go-redis' internal logger, whose
// messages (pool dial failures, reconnects) otherwise go to the standard log
// package. go-redis keeps it in a package variable, so only main should
// install it, once: redis.SetLogger(cache.RedisLogger{Logger: log}).
type RedisLogger struct {
	// Logger receives go-redis messages at warn level with component=redis.
	Logger *slog.Logger
}

// Printf logs one go-redis message.
func (l RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.Logger.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "redis")
}
