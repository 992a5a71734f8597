package daemon

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Notifier sends sd_notify(3) state changes to the service manager over the
// unixgram socket named by $NOTIFY_SOCKET. A nil *Notifier, or one built with
// an empty socket, does nothing, so daemons run the same under systemd and
// in a terminal.
type Notifier struct {
	socket   string
	watchdog time.Duration
}

// NewNotifier returns a Notifier writing to socket, a filesystem path or an
// abstract socket name starting with '@'. An empty socket gives a no-op
// Notifier. watchdog is the service's WatchdogSec (0 for none).
func NewNotifier(socket string, watchdog time.Duration) *Notifier {
	return &Notifier{socket: socket, watchdog: watchdog}
}

// NotifierFromEnv returns a Notifier for $NOTIFY_SOCKET, with the watchdog
// interval from $WATCHDOG_USEC when $WATCHDOG_PID is unset or is this process.
func NotifierFromEnv() *Notifier {
	var wd time.Duration
	if usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && usec > 0 {
		pid := os.Getenv("WATCHDOG_PID")
		if pid == "" || pid == strconv.Itoa(os.Getpid()) {
			wd = time.Duration(usec) * time.Microsecond
		}
	}
	return NewNotifier(os.Getenv("NOTIFY_SOCKET"), wd)
}

// Enabled reports whether notifications go anywhere.
func (n *Notifier) Enabled() bool { return n != nil && n.socket != "" }

// WatchdogInterval returns the service manager's watchdog timeout, 0 when the
// watchdog is off. Send Watchdog at least twice per interval.
func (n *Notifier) WatchdogInterval() time.Duration {
	if !n.Enabled() {
		return 0
	}
	return n.watchdog
}

// Notify sends one datagram of newline-separated VAR=value assignments.
func (n *Notifier) Notify(state ...string) error {
	if !n.Enabled() {
		return nil
	}
	if strings.HasPrefix(n.socket, "vsock:") {
		return fmt.Errorf("sd_notify to %s: vsock sockets are not supported", n.socket)
	}
	// Go's net package maps a leading '@' to the abstract namespace (a leading
	// NUL byte in sun_path), which is how systemd spells abstract sockets.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: dial %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(strings.Join(state, "\n"))); err != nil {
		return fmt.Errorf("sd_notify: write to %s: %w", n.socket, err)
	}
	return nil
}

// Ready tells the service manager that start-up finished (READY=1).
func (n *Notifier) Ready() error { return n.Notify("READY=1") }

// Stopping tells the service manager that shutdown began (STOPPING=1).
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// Watchdog pets the service manager's watchdog (WATCHDOG=1).
func (n *Notifier) Watchdog() error { return n.Notify("WATCHDOG=1") }

// Status sets the one-line status shown by systemctl status (STATUS=...).
func (n *Notifier) Status(s string) error {
	return n.Notify("STATUS=" + strings.ReplaceAll(s, "\n", " "))
}
