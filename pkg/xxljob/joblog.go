package xxljob

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// jobLogs keeps the log lines of the latest runs in memory, per logId, for
// the admin's /log: at most maxLogs runs (the oldest is forgotten first) of
// at most maxLines lines each (later lines are counted, not kept).
type jobLogs struct {
	maxLogs, maxLines int

	mu    sync.Mutex
	logs  map[int64]*jobLog
	order []int64 // logIds, oldest first
}

// jobLog is one run's lines.
type jobLog struct {
	owner   *jobLogs
	lines   []string
	dropped int
	ended   bool
}

func newJobLogs(maxLogs, maxLines int) *jobLogs {
	return &jobLogs{maxLogs: maxLogs, maxLines: maxLines, logs: map[int64]*jobLog{}}
}

// open returns logID's log, creating it (and forgetting the oldest beyond
// the bound).
func (l *jobLogs) open(logID int64) *jobLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	if jl, ok := l.logs[logID]; ok {
		return jl
	}
	jl := &jobLog{owner: l}
	l.logs[logID] = jl
	l.order = append(l.order, logID)
	for len(l.order) > l.maxLogs {
		delete(l.logs, l.order[0])
		l.order = l.order[1:]
	}
	return jl
}

// add appends a line stamped with now.
func (jl *jobLog) add(now time.Time, format string, args ...any) {
	line := now.Format("2006-01-02 15:04:05.000") + " " + fmt.Sprintf(format, args...)
	// One logical line per entry: a message's own newlines would shift the
	// line numbers the admin pages with.
	line = strings.ReplaceAll(line, "\n", " ")
	jl.owner.mu.Lock()
	defer jl.owner.mu.Unlock()
	if len(jl.lines) >= jl.owner.maxLines {
		jl.dropped++
		return
	}
	jl.lines = append(jl.lines, line)
}

// end marks the run finished: /log then says isEnd once every line was read.
func (jl *jobLog) end() {
	jl.owner.mu.Lock()
	defer jl.owner.mu.Unlock()
	jl.ended = true
}

// read answers /log: the lines from fromLine (1-based) on.
func (l *jobLogs) read(logID int64, fromLine int) LogResult {
	fromLine = max(fromLine, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	jl, ok := l.logs[logID]
	if !ok {
		return LogResult{FromLineNum: fromLine, ToLineNum: 0, IsEnd: true,
			LogContent: fmt.Sprintf("no log kept for logId %d on this executor (it restarted, or the log was evicted: the last %d runs are kept)", logID, l.maxLogs)}
	}
	lines := jl.lines
	if jl.ended && jl.dropped > 0 {
		lines = append(lines[:len(lines):len(lines)], fmt.Sprintf("… %d more line(s) not kept (at most %d per run)", jl.dropped, l.maxLines))
	}
	res := LogResult{FromLineNum: fromLine, ToLineNum: fromLine - 1}
	if fromLine <= len(lines) {
		res.LogContent = strings.Join(lines[fromLine-1:], "\n") + "\n"
		res.ToLineNum = len(lines)
	}
	res.IsEnd = jl.ended
	return res
}
