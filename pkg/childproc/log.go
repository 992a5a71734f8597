package childproc

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// Log messages of pushd that tests and benchmarks look for.
const (
	// MsgShardDone is logged by a worker when it finished a shard (attrs
	// campaign_id, shard, sent, failed, pages, took).
	MsgShardDone = "push: shard done"
	// MsgCampaignPlanned is logged by the planner once a campaign's shards
	// are stored and their tasks published (attrs campaign_id, members,
	// shards, sends, plan, enqueue, elapsed — durations in nanoseconds).
	MsgCampaignPlanned = "planner: campaign planned"
)

// LogRecord is one line of a daemon's JSON log, numbers kept as json.Number.
type LogRecord map[string]any

// Msg returns the record's message.
func (r LogRecord) Msg() string { return r.Str("msg") }

// Str returns the string attribute key ("" if absent or not a string).
func (r LogRecord) Str(key string) string {
	s, _ := r[key].(string)
	return s
}

// Int returns the integer attribute key.
func (r LogRecord) Int(key string) (int64, bool) {
	n, ok := r[key].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := n.Int64()
	return v, err == nil
}

// Duration returns the duration attribute key (slog's JSON handler writes
// durations as integer nanoseconds).
func (r LogRecord) Duration(key string) (time.Duration, bool) {
	n, ok := r.Int(key)
	return time.Duration(n), ok
}

// Uint returns the unsigned integer attribute key.
func (r LogRecord) Uint(key string) (uint64, bool) {
	n, ok := r[key].(json.Number)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(n.String(), 10, 64)
	return v, err == nil
}

// ScanLog calls fn for every JSON line of a daemon's log; lines that are not
// JSON objects (a crash trace, say) are skipped.
func ScanLog(r io.Reader, fn func(LogRecord)) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if line = bytes.TrimSpace(line); len(line) > 0 && line[0] == '{' {
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			var rec LogRecord
			if dec.Decode(&rec) == nil {
				fn(rec)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("childproc: read log: %w", err)
		}
	}
}
