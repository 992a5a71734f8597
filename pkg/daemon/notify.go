package daemon

import (
	"fmt"
	"os"
	"strings"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends sd_notify(3) state changes to the service manager over the
// socket named by $NOTIFY_SOCKET, through go-systemd's implementation of the
// protocol. A nil *Notifier, or one made where $NOTIFY_SOCKET is unset, does
// nothing, so daemons run the same under systemd and in a terminal.
type Notifier struct {
	watchdog time.Duration
}

// NotifierFromEnv returns a Notifier when $NOTIFY_SOCKET is set (nil
// otherwise), with the watchdog interval from $WATCHDOG_USEC when
// $WATCHDOG_PID is unset or is this process. A malformed $WATCHDOG_USEC is
// returned as an error next to a Notifier without a watchdog.
func NotifierFromEnv() (*Notifier, error) {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return nil, nil
	}
	wd, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		return &Notifier{}, fmt.Errorf("daemon: watchdog off: %w", err)
	}
	return &Notifier{watchdog: wd}, nil
}

// Enabled reports whether notifications go anywhere.
func (n *Notifier) Enabled() bool { return n != nil }

// WatchdogInterval returns the service manager's watchdog timeout, 0 when the
// watchdog is off. Send Watchdog at least twice per interval.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog
}

// Notify sends one datagram of newline-separated VAR=value assignments.
func (n *Notifier) Notify(state ...string) error {
	if n == nil {
		return nil
	}
	msg := strings.Join(state, "\n")
	sent, err := sd.SdNotify(false, msg)
	if err != nil {
		return fmt.Errorf("sd_notify %q: %w", msg, err)
	}
	if !sent {
		return fmt.Errorf("sd_notify %q: NOTIFY_SOCKET is no longer set", msg)
	}
	return nil
}

// Ready tells the service manager that start-up finished (READY=1) and sets
// the status line.
func (n *Notifier) Ready(status string) error { return n.Notify("READY=1", statusLine(status)) }

// Stopping tells the service manager that shutdown began (STOPPING=1) and
// sets the status line.
func (n *Notifier) Stopping(status string) error {
	return n.Notify("STOPPING=1", statusLine(status))
}

// Watchdog pets the service manager's watchdog (WATCHDOG=1).
func (n *Notifier) Watchdog() error { return n.Notify("WATCHDOG=1") }

// Status sets the one-line status shown by systemctl status (STATUS=...).
func (n *Notifier) Status(s string) error { return n.Notify(statusLine(s)) }

func statusLine(s string) string { return "STATUS=" + strings.ReplaceAll(s, "\n", " ") }
