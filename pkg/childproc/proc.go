package childproc

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"mkt/pkg/config"
)

// ErrExited is returned when a child process ended while it was expected to
// run (for example before it became ready).
var ErrExited = errors.New("childproc: process exited")

// readyMessage is the log message the daemon runtime writes once every
// component, the queue consumers included, has started.
const readyMessage = "daemon ready"

// Config configures one child daemon: pushd or couponsd, which share the
// runtime this package drives (flags --instance, --ops-addr, --log-format,
// --log-level, --ready-interval, --mq-namespace; the "daemon ready" log
// line; /readyz and /metrics).
type Config struct {
	// Bin is the daemon's executable (required; see Find).
	Bin string
	// Instance is --instance: the process's name in shard leases and
	// consumer groups (required, unique among the processes of a group).
	Instance string
	// OpsAddr is --ops-addr (default: a free port on 127.0.0.1).
	OpsAddr string
	// MySQLDSN, when set, is passed as MKT_MYSQL_DSN in the environment —
	// never on the command line, where any user could read the password
	// (/proc/<pid>/environ is readable by the owner only).
	MySQLDSN string
	// Namespace is --mq-namespace: the prefix of every topic and consumer
	// group, so processes of one run share work only with each other.
	Namespace string
	// Env is added to the inherited environment (KEY=VALUE; later wins).
	Env []string
	// Args are further flags, after the ones this package sets.
	Args []string
	// LogLevel is --log-level (default info: readiness, shard and planner
	// lines are logged at info).
	LogLevel string
	// Log receives the process's log, one JSON object per line; nil
	// discards it. Writes come from one goroutine.
	Log io.Writer
}

// Proc is a running child daemon. On Linux it runs in its own process
// group (an operator's Ctrl-C reaches the parent, which stops it in order)
// and is sent SIGTERM by the kernel if the parent dies.
type Proc struct {
	cfg  Config
	name string // the executable's base name, for messages
	cmd  *exec.Cmd
	ops  string
	http *http.Client

	killed    atomic.Bool
	ready     chan struct{} // closed when the ready log line was seen
	readyOnce sync.Once
	logDone   chan struct{} // closed when the log pipe reached EOF
	done      chan struct{} // closed when the process was reaped
	state     *os.ProcessState
	waitErr   error
}

// Start starts a child daemon with cfg. The process logs JSON to its
// stderr, which is copied to cfg.Log; stop it with Stop (or Kill) and it is
// reaped in the background.
func Start(cfg Config) (*Proc, error) {
	if cfg.Bin == "" || cfg.Instance == "" {
		return nil, errors.New("childproc: Config needs Bin and Instance")
	}
	name := filepath.Base(cfg.Bin)
	if cfg.OpsAddr == "" {
		addr, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		cfg.OpsAddr = addr
	}
	cfg.LogLevel = cmp.Or(cfg.LogLevel, config.DefaultLogLevel)
	args := []string{
		"--instance", cfg.Instance,
		"--ops-addr", cfg.OpsAddr,
		"--log-format", "json",
		"--log-level", cfg.LogLevel,
		// Readiness checks every second, so /readyz turns ok soon after start.
		"--ready-interval", "1s",
	}
	if cfg.Namespace != "" {
		args = append(args, "--mq-namespace", cfg.Namespace)
	}
	args = append(args, cfg.Args...)
	cmd := exec.Command(cfg.Bin, args...)
	config.UseLocalStackRedisPassword() // the development stack's Redis, unless told otherwise
	cmd.Env = os.Environ()
	if cfg.MySQLDSN != "" {
		// An inherited MKT_MYSQL_DSN_FILE would conflict with it (empty = unset).
		cmd.Env = append(cmd.Env, "MKT_MYSQL_DSN="+cfg.MySQLDSN, "MKT_MYSQL_DSN_FILE=")
	}
	cmd.Env = append(cmd.Env, cfg.Env...)
	cmd.SysProcAttr = sysProcAttr()

	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("childproc: log pipe for %s %s: %w", name, cfg.Instance, err)
	}
	cmd.Stderr = w
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("childproc: start %s %s (%s): %w", name, cfg.Instance, cfg.Bin, err)
	}
	_ = w.Close() // the child holds its copy
	p := &Proc{
		cfg:     cfg,
		name:    name,
		cmd:     cmd,
		ops:     cfg.OpsAddr,
		http:    &http.Client{Timeout: 2 * time.Second},
		ready:   make(chan struct{}),
		logDone: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go p.readLog(r)
	go func() {
		err := cmd.Wait()
		p.state, p.waitErr = cmd.ProcessState, err
		close(p.done)
	}()
	return p, nil
}

// readLog copies the log to cfg.Log and watches for the ready line.
func (p *Proc) readLog(r io.ReadCloser) {
	defer close(p.logDone)
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if p.cfg.Log != nil {
				_, _ = p.cfg.Log.Write(line)
			}
			if bytes.Contains(line, []byte(readyMessage)) {
				var rec struct {
					Msg string `json:"msg"`
				}
				if json.Unmarshal(line, &rec) == nil && rec.Msg == readyMessage {
					p.readyOnce.Do(func() { close(p.ready) })
				}
			}
		}
		if err != nil {
			return
		}
	}
}

// Instance returns the process's --instance.
func (p *Proc) Instance() string { return p.cfg.Instance }

// OpsAddr returns the address of the process's /healthz, /readyz and /metrics.
func (p *Proc) OpsAddr() string { return p.ops }

// PID returns the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and its log has been copied.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitCode returns the exit code once the process has exited: -1 if it
// was killed by a signal or has not exited.
func (p *Proc) ExitCode() int {
	if !p.Exited() || p.state == nil {
		return -1
	}
	return p.state.ExitCode()
}

// exitError describes how the process ended.
func (p *Proc) exitError() error {
	if p.state == nil {
		return fmt.Errorf("%w: %s %s: %w", ErrExited, p.name, p.cfg.Instance, p.waitErr)
	}
	return fmt.Errorf("%w: %s %s: %s", ErrExited, p.name, p.cfg.Instance, p.state)
}

// WaitReady waits until every component of the process has started (its
// "daemon ready" log line) and /readyz answers 200.
func (p *Proc) WaitReady(ctx context.Context) error {
	select {
	case <-p.ready:
	case <-p.done:
		return p.exitError()
	case <-ctx.Done():
		return fmt.Errorf("childproc: %s %s not ready: %w", p.name, p.cfg.Instance, ctx.Err())
	}
	for {
		code, err := p.get(ctx, "/readyz")
		if err == nil && code == http.StatusOK {
			return nil
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("/readyz answered %d", code)
			}
			return fmt.Errorf("childproc: %s %s not ready (%w): %w", p.name, p.cfg.Instance, err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (p *Proc) get(ctx context.Context, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.ops+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Signal sends sig to the process (not to its process group).
func (p *Proc) Signal(sig os.Signal) error {
	if p.Exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("childproc: signal %s %s: %w", p.name, p.cfg.Instance, err)
	}
	return nil
}

// Kill sends SIGKILL and waits until the process is reaped.
func (p *Proc) Kill() error {
	if !p.Exited() {
		p.killed.Store(true)
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	_, err := p.Wait(context.Background())
	return err
}

// Killed reports whether Kill (or Stop's fallback) killed the process.
func (p *Proc) Killed() bool { return p.killed.Load() }

// Wait waits for the process to exit and returns its exit code (-1 when a
// signal killed it).
func (p *Proc) Wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
	case <-ctx.Done():
		return -1, fmt.Errorf("childproc: wait for %s %s: %w", p.name, p.cfg.Instance, ctx.Err())
	}
	select { // the log is complete once the pipe's last holder is gone
	case <-p.logDone:
	case <-time.After(5 * time.Second):
	}
	return p.ExitCode(), nil
}

// Stop sends SIGTERM (the daemon drains: pushd's shards stop at a committed
// page boundary) and waits for the exit; if ctx ends first it sends SIGKILL.
// It returns the exit code, -1 if the process had to be killed.
func (p *Proc) Stop(ctx context.Context) (int, error) {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return -1, err
	}
	code, err := p.Wait(ctx)
	if err == nil {
		return code, nil
	}
	if kerr := p.Kill(); kerr != nil {
		return -1, errors.Join(err, kerr)
	}
	return -1, fmt.Errorf("childproc: %s %s did not stop after SIGTERM, killed: %w", p.name, p.cfg.Instance, err)
}

// Memory reads the process's resident memory from /proc.
func (p *Proc) Memory() (Memory, error) {
	if p.Exited() {
		return Memory{}, p.exitError()
	}
	return ProcessMemory(p.PID())
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment
// ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("childproc: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// StopAll stops every process in ps at once (SIGTERM, then SIGKILL when ctx
// ends) and returns their exit codes in order.
func StopAll(ctx context.Context, ps []*Proc) ([]int, error) {
	codes := make([]int, len(ps))
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		if p == nil {
			continue
		}
		wg.Go(func() { codes[i], errs[i] = p.Stop(ctx) })
	}
	wg.Wait()
	return codes, errors.Join(errs...)
}

// WaitAllReady waits until every process in ps is ready (see
// Proc.WaitReady), all at once.
func WaitAllReady(ctx context.Context, ps []*Proc) error {
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() { errs[i] = p.WaitReady(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Metric reads the value of a metric without labels (a line "NAME VALUE")
// from the process's /metrics.
func (p *Proc) Metric(ctx context.Context, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.ops+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("childproc: read the metrics of %s %s: %w", p.name, p.cfg.Instance, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return 0, fmt.Errorf("childproc: %s %s: metric %q: %w", p.name, p.cfg.Instance, sc.Text(), err)
			}
			return f, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("childproc: read the metrics of %s %s: %w", p.name, p.cfg.Instance, err)
	}
	return 0, fmt.Errorf("childproc: %s %s: no metric %s in /metrics", p.name, p.cfg.Instance, name)
}
