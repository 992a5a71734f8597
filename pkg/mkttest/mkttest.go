// Package mkttest is the environment mkt's tests run in, in one place:
//
//   - where the shared services are: MySQLDSN (MKT_MYSQL_DSN), RedisAddr and
//     RedisPassword (MKT_REDIS_ADDR, MKT_REDIS_PASSWORD or
//     MKT_REDIS_PASSWORD_FILE, else the local stack's password file) and
//     RocketMQ (MKT_ROCKETMQ_NAMESRV, MKT_ROCKETMQ_BROKER), each defaulting
//     to the local stack of scripts/services.sh (pkg/config's defaults), read
//     the way mkt's binaries read them so a test and the daemons it starts
//     agree;
//   - whether tests that need them run: with MKT_SKIP_INTEGRATION=1 every
//     one of those calls skips the test (Integration); without it an
//     unreachable service fails the test;
//   - Namespace, a fresh name for a test's topics, groups and key prefixes;
//   - Logger, silent unless MKT_TEST_LOG names a level;
//   - WaitFor, the one way a test waits for a condition, and Deadline, the
//     bounded context a test's calls run under;
//   - MetricValue, what a test reads of a component's Prometheus metrics.
//
// Databases come from pkg/store/storetest, Redis clients from
// pkg/cache/cachetest, the broker's settings and topics from pkg/mq/mqtest;
// they build on this package.
// Only tests import mkttest; it imports no mkt package but pkg/config, so
// every package's own tests can use it.
package mkttest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"mkt/pkg/config"
)

// Integration marks t as needing the shared services: it skips t when
// MKT_SKIP_INTEGRATION=1.
func Integration(t testing.TB) {
	t.Helper()
	if os.Getenv("MKT_SKIP_INTEGRATION") == "1" {
		t.Skip("MKT_SKIP_INTEGRATION=1: skipping a test that needs MariaDB, Redis or RocketMQ")
	}
}

// MySQLDSN returns the DSN of the test MariaDB server (MKT_MYSQL_DSN, else
// config.DefaultMySQLDSN); tests use its address, credentials and
// parameters with a database of their own (pkg/store/storetest). It calls
// Integration.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	Integration(t)
	return cmp.Or(os.Getenv("MKT_MYSQL_DSN"), config.DefaultMySQLDSN)
}

// RedisAddr returns the test Redis's host:port: MKT_REDIS_ADDR, else
// config.DefaultRedisAddr. It calls Integration.
func RedisAddr(t testing.TB) string {
	t.Helper()
	Integration(t)
	return cmp.Or(os.Getenv("MKT_REDIS_ADDR"), config.DefaultRedisAddr)
}

// RedisPassword returns the test Redis's password, "" for none (see
// ReadRedisPassword); it fails t when the password cannot be read.
func RedisPassword(t testing.TB) string {
	t.Helper()
	pw, err := ReadRedisPassword()
	if err != nil {
		t.Fatalf("mkttest: Redis password (MKT_REDIS_PASSWORD / MKT_REDIS_PASSWORD_FILE): %v", err)
	}
	return pw
}

// ReadRedisPassword returns the test Redis's password, "" for none:
// MKT_REDIS_PASSWORD, or the contents of the file MKT_REDIS_PASSWORD_FILE
// names, or, with neither set, the local stack's password file (which it
// then names in MKT_REDIS_PASSWORD_FILE for the daemons the test starts:
// config.UseLocalStackRedisPassword). Setting both, or naming a file that
// cannot be read, is an error.
func ReadRedisPassword() (string, error) {
	config.UseLocalStackRedisPassword()
	fs := pflag.NewFlagSet("mkttest", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var pw string
	config.Secret(fs, &pw, "redis-password", "MKT_REDIS_PASSWORD", "", "Redis password")
	if err := config.Resolve(fs); err != nil {
		return "", err
	}
	return pw, nil
}

// RocketMQ returns the test broker's name server (several may be joined
// with ';') and broker address: MKT_ROCKETMQ_NAMESRV and MKT_ROCKETMQ_BROKER,
// else config's defaults. It calls Integration, then fails t when one of
// them does not accept a connection.
func RocketMQ(t testing.TB) (nameServer, broker string) {
	t.Helper()
	Integration(t)
	nameServer = cmp.Or(os.Getenv("MKT_ROCKETMQ_NAMESRV"), config.DefaultRocketMQNameServer)
	broker = cmp.Or(os.Getenv("MKT_ROCKETMQ_BROKER"), config.DefaultRocketMQBroker)
	for _, addr := range append(strings.Split(nameServer, ";"), broker) {
		Reachable(t, "RocketMQ", strings.TrimSpace(addr))
	}
	return nameServer, broker
}

// Reachable fails t when nothing accepts a TCP connection at addr, naming
// the service (what) and how to start the local stack.
func Reachable(t testing.TB, what, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("mkttest: %s at %s unreachable (start the local stack with scripts/services.sh up, or set MKT_SKIP_INTEGRATION=1 to skip): %v", what, addr, err)
	}
	_ = conn.Close()
}

// Namespace returns prefix followed by 10 random hex digits: a name no
// other test (or run) uses, for a test's topics, consumer groups, Redis key
// prefixes or mq namespace.
func Namespace(t testing.TB, prefix string) string {
	t.Helper()
	var b [5]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("mkttest: random name: %v", err)
	}
	return prefix + hex.EncodeToString(b[:])
}

// Logger returns the logger for the components a test builds: silent,
// unless MKT_TEST_LOG is set (LogLevel), when it writes text to stderr at
// that level.
func Logger() *slog.Logger {
	level, ok := LogLevel()
	if !ok {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// LogLevel reports the level MKT_TEST_LOG asks for (debug, info, warn or
// error; any other non-empty value means debug), false when it is unset:
// for Logger, and for the log level of the daemons a test starts.
func LogLevel() (slog.Level, bool) {
	v := os.Getenv("MKT_TEST_LOG")
	if v == "" {
		return 0, false
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(v)); err != nil {
		level = slog.LevelDebug
	}
	return level, true
}

// MetricValue sums the samples of the counters and gauges called name in g
// whose labels include want (nil: every sample); 0 when there is none.
func MetricValue(t testing.TB, g prometheus.Gatherer, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("mkttest: gather metrics: %v", err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	samples:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue samples
				}
			}
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// Poll intervals of WaitFor: the first check is immediate, the next ones
// follow after 1 ms, doubling up to 50 ms, so a condition that holds soon is
// seen soon and one that reads a database is not run in a tight loop.
const (
	firstPoll = time.Millisecond
	maxPoll   = 50 * time.Millisecond
)

// Deadline is a context that ends after d, or when t ends (at its cleanup):
// the bound of a test's calls to a server, longer than t.Context, which
// ends before the cleanups that shut components down still use it.
func Deadline(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// WaitFor returns once cond holds, checking it at once and then at short,
// growing intervals. When within passes first it fails t, naming what was
// awaited. It is the one way a test waits for something it cannot be told
// about; prefer a channel the component closes or sends on when it can.
func WaitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	interval := firstPoll
	for !cond() {
		tick := time.NewTimer(interval)
		select {
		case <-deadline.C:
			tick.Stop()
			if cond() {
				return
			}
			t.Fatalf("timed out after %s waiting for %s", within, what)
		case <-tick.C:
		}
		interval = min(2*interval, maxPoll)
	}
}
