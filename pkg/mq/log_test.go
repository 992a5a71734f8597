package mq

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

func TestClientLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	a := &clientLogAdapter{}
	a.set(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), slog.LevelWarn)

	a.Info("chatty", map[string]any{"k": "v"})
	if buf.Len() != 0 {
		t.Fatalf("info logged below warn: %s", buf.String())
	}

	secret := &primitive.MessageExt{MsgId: "ID1"}
	secret.Body = []byte("phone=13800000000")
	a.Warning("consume failed", map[string]any{
		"messages":      []*primitive.MessageExt{secret},
		"underlayError": errors.New("boom"),
	})
	a.Fatal("fatal is not exit", nil)
	out := buf.String()
	for _, want := range []string{"level=WARN", "consume failed", "messages=[ID1]", "underlayError=boom", "level=ERROR", "fatal is not exit"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "13800000000") {
		t.Errorf("message body leaked into the log: %s", out)
	}

	buf.Reset()
	a.Level("debug")
	a.Debug("now visible", nil)
	if !strings.Contains(buf.String(), "now visible") {
		t.Errorf("Level(debug) did not lower the threshold: %q", buf.String())
	}
}
