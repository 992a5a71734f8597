package mq

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/rlog"
)

// RouteClientLogs sends the RocketMQ client library's own logging into logger,
// keeping records at minLevel and above (slog.LevelWarn is a sane choice; the
// library is chatty at info). The library's logger is a process-wide global,
// so call this once from main before creating any producer or consumer, not
// from libraries. Without it the library logs to stderr through logrus at info.
//
// Message bodies never reach the log: message values in the library's fields
// are reduced to their IDs. The library's Fatal is logged at error level and
// does not exit the process.
func RouteClientLogs(logger *slog.Logger, minLevel slog.Level) {
	clientLogs.once.Do(func() { rlog.SetLogger(&clientLogs.adapter) })
	clientLogs.adapter.set(logger.With(slog.String("component", "rocketmq-client")), minLevel)
}

// clientLogs mirrors the library's process-wide logger: the library's global
// is set once, unsynchronised as it is, before any client of this process can
// read it; later calls only swap the destination, atomically.
var clientLogs struct {
	once    sync.Once
	adapter clientLogAdapter
}

// clientLogAdapter implements rlog.Logger on top of slog.
type clientLogAdapter struct {
	dest atomic.Pointer[clientLogDest]
}

type clientLogDest struct {
	logger *slog.Logger
	level  slog.Level
}

func (a *clientLogAdapter) set(logger *slog.Logger, level slog.Level) {
	a.dest.Store(&clientLogDest{logger: logger, level: level})
}

var _ rlog.Logger = (*clientLogAdapter)(nil)

func (a *clientLogAdapter) log(level slog.Level, msg string, fields map[string]any) {
	d := a.dest.Load()
	if d == nil || level < d.level || (msg == "" && len(fields) == 0) {
		return
	}
	ctx := context.Background()
	if !d.logger.Enabled(ctx, level) {
		return
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	attrs := make([]slog.Attr, 0, len(keys))
	for _, k := range keys {
		attrs = append(attrs, clientLogAttr(k, fields[k]))
	}
	d.logger.LogAttrs(ctx, level, msg, attrs...)
}

// clientLogAttr turns one library log field into an attribute, reducing
// messages to their IDs so that bodies (user data) are never logged.
func clientLogAttr(key string, v any) slog.Attr {
	switch v := v.(type) {
	case nil:
		return slog.Any(key, nil)
	case error:
		return slog.String(key, v.Error())
	case []*primitive.MessageExt:
		ids := make([]string, 0, len(v))
		for _, m := range v {
			if m != nil {
				ids = append(ids, m.MsgId)
			}
		}
		return slog.Any(key, ids)
	case *primitive.MessageExt:
		if v == nil {
			return slog.Any(key, nil)
		}
		return slog.String(key, v.MsgId)
	case []*primitive.Message:
		return slog.Int(key+"_count", len(v))
	case *primitive.Message:
		if v == nil {
			return slog.Any(key, nil)
		}
		return slog.String(key+"_topic", v.Topic)
	case string:
		return slog.String(key, v)
	case fmt.Stringer:
		return slog.String(key, v.String())
	default:
		return slog.Any(key, v)
	}
}

func (a *clientLogAdapter) Debug(msg string, fields map[string]any) {
	a.log(slog.LevelDebug, msg, fields)
}

func (a *clientLogAdapter) Info(msg string, fields map[string]any) {
	a.log(slog.LevelInfo, msg, fields)
}

func (a *clientLogAdapter) Warning(msg string, fields map[string]any) {
	a.log(slog.LevelWarn, msg, fields)
}

func (a *clientLogAdapter) Error(msg string, fields map[string]any) {
	a.log(slog.LevelError, msg, fields)
}

// Fatal logs at error level; exiting is main's decision, never a library's.
func (a *clientLogAdapter) Fatal(msg string, fields map[string]any) {
	a.log(slog.LevelError, msg, fields)
}

// Level follows rlog.SetLogLevel's names.
func (a *clientLogAdapter) Level(level string) {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warn", "warning":
		l = slog.LevelWarn
	case "error", "fatal":
		l = slog.LevelError
	default:
		return
	}
	if d := a.dest.Load(); d != nil {
		a.set(d.logger, l)
	}
}

// OutputPath is a no-op: output is wherever the slog handler writes.
func (a *clientLogAdapter) OutputPath(string) error { return nil }
