package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/spf13/pflag"
)

// Hard defaults matching the local single-machine services.
const (
	DefaultMySQLDSN           = "mkt:mkt@tcp(127.0.0.1:3306)/mkt?parseTime=true&loc=UTC&charset=utf8mb4&collation=utf8mb4_unicode_ci"
	DefaultRedisAddr          = "127.0.0.1:6379"
	DefaultRocketMQNameServer = "127.0.0.1:9876"
	DefaultRocketMQBroker     = "127.0.0.1:10911"
	DefaultLogLevel           = "info"
	DefaultLogFormat          = "text"
)

// Common holds the settings shared by every mkt binary. Bind it with
// Bind, parse flags, then call Resolve.
type Common struct {
	// MySQLDSN is the go-sql-driver/mysql DSN; it holds a password, so it is a
	// DSN whose String and LogValue redact it. Pass string(c.MySQLDSN) to the driver.
	MySQLDSN DSN
	// RedisAddr is host:port of Redis.
	RedisAddr string
	// RedisPassword is Redis AUTH's password, empty for none.
	RedisPassword Redacted
	// RedisDB is the Redis logical database number.
	RedisDB int
	// RocketMQNameServer is the name server address; several may be joined with ';'.
	RocketMQNameServer string
	// RocketMQBroker is host:port of the broker (used by admin operations).
	RocketMQBroker string
	// Namespace prefixes every RocketMQ topic and consumer group mkt uses, so
	// several deployments (or test runs) can share one broker; empty = none.
	Namespace string
	// LogLevel is a slog level name: debug, info, warn or error (with optional +/-N).
	LogLevel string
	// LogFormat is text or json.
	LogFormat string

	fs *pflag.FlagSet
}

// Bind registers the shared flags on fs (typically a root command's
// persistent flags) and remembers fs for Resolve.
func (c *Common) Bind(fs *pflag.FlagSet) {
	c.fs = fs
	Secret(fs, (*string)(&c.MySQLDSN), "mysql-dsn", "MKT_MYSQL_DSN", DefaultMySQLDSN, "MySQL DSN (it contains the password)")
	String(fs, &c.RedisAddr, "redis-addr", "MKT_REDIS_ADDR", DefaultRedisAddr, "Redis host:port")
	Secret(fs, (*string)(&c.RedisPassword), "redis-password", "MKT_REDIS_PASSWORD", "", "Redis password")
	Int(fs, &c.RedisDB, "redis-db", "MKT_REDIS_DB", 0, "Redis database number")
	String(fs, &c.RocketMQNameServer, "rocketmq-namesrv", "MKT_ROCKETMQ_NAMESRV", DefaultRocketMQNameServer, "RocketMQ name server host:port, several joined with ';'")
	String(fs, &c.RocketMQBroker, "rocketmq-broker", "MKT_ROCKETMQ_BROKER", DefaultRocketMQBroker, "RocketMQ broker host:port")
	String(fs, &c.Namespace, "mq-namespace", "MKT_MQ_NAMESPACE", "", "prefix of every RocketMQ topic and consumer group (letters, digits, _ and -)")
	String(fs, &c.LogLevel, "log-level", "MKT_LOG_LEVEL", DefaultLogLevel, "log level: debug, info, warn or error")
	String(fs, &c.LogFormat, "log-format", "MKT_LOG_FORMAT", DefaultLogFormat, "log format: text or json")
}

// Resolve completes and checks the settings after flag parsing: it resolves
// every setting bound on the same FlagSet (see the package function Resolve,
// so a binary's own flags are covered too) and validates Common's fields. All
// problems are reported together.
func (c *Common) Resolve() error {
	var errs []error
	if c.fs != nil {
		if err := Resolve(c.fs); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Validate checks Common's fields without touching flags or the environment.
func (c *Common) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: "+format+": %w", append(args, ErrInvalid)...))
	}
	if _, err := mysql.ParseDSN(string(c.MySQLDSN)); err != nil {
		bad("MySQL DSN %s: %v", c.MySQLDSN, err)
	}
	if err := checkHostPort(c.RedisAddr); err != nil {
		bad("Redis address %q: %v", c.RedisAddr, err)
	}
	if c.RedisDB < 0 {
		bad("Redis database %d: must be >= 0", c.RedisDB)
	}
	for _, a := range strings.Split(c.RocketMQNameServer, ";") {
		if err := checkHostPort(a); err != nil {
			bad("RocketMQ name server %q: %v", c.RocketMQNameServer, err)
			break
		}
	}
	if err := checkHostPort(c.RocketMQBroker); err != nil {
		bad("RocketMQ broker %q: %v", c.RocketMQBroker, err)
	}
	if !validNamespace(c.Namespace) {
		bad("MQ namespace %q: want at most 32 letters, digits, '_' or '-'", c.Namespace)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("log level %q: %v", c.LogLevel, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log format %q: want text or json", c.LogFormat)
	}
	return errors.Join(errs...)
}

func validNamespace(ns string) bool {
	if len(ns) > 32 {
		return false
	}
	for _, r := range ns {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Topic returns name in the configured namespace ("<ns>_<name>", or name).
func (c *Common) Topic(name string) string {
	if c.Namespace == "" {
		return name
	}
	return c.Namespace + "_" + name
}

func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(strings.TrimSpace(addr))
	if err != nil {
		return err
	}
	if host == "" || port == "" {
		return fmt.Errorf("want host:port")
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

// Logger builds the process logger writing to w with the configured level and
// format.
func (c *Common) Logger(w io.Writer) (*slog.Logger, error) {
	level, err := parseLevel(c.LogLevel)
	if err != nil {
		return nil, fmt.Errorf("config: log level %q: %w", c.LogLevel, ErrInvalid)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("config: log format %q (want text or json): %w", c.LogFormat, ErrInvalid)
	}
}

// LogValue logs the settings with every secret redacted.
func (c *Common) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mysql_dsn", c.MySQLDSN.String()),
		slog.String("redis_addr", c.RedisAddr),
		slog.String("redis_password", c.RedisPassword.String()),
		slog.Int("redis_db", c.RedisDB),
		slog.String("rocketmq_namesrv", c.RocketMQNameServer),
		slog.String("rocketmq_broker", c.RocketMQBroker),
		slog.String("mq_namespace", c.Namespace),
		slog.String("log_level", c.LogLevel),
		slog.String("log_format", c.LogFormat),
	)
}
