package mq

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"mkt/pkg/config"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// Defaults used when a Config field is left zero.
const (
	DefaultSendTimeout = 3 * time.Second
	DefaultRetries     = 2
)

// ErrInvalidConfig is wrapped by every configuration validation error.
var ErrInvalidConfig = errors.New("mq: invalid config")

// Config holds what every client of this package needs: where the name server
// and the broker are, how to log and how hard to try when sending.
type Config struct {
	// NameServer is "ip:port", several separated by ';'. The client accepts
	// IP addresses only, no host names. Default config.DefaultRocketMQNameServer. It is always
	// set explicitly: the client's default resolver calls an external host.
	NameServer string
	// BrokerAddr is the broker's "host:port" used for admin calls (topic
	// creation). Default config.DefaultRocketMQBroker.
	BrokerAddr string
	// Logger receives this package's own logs. Default slog.Default(). The
	// client library's internal logs are routed separately, see RouteClientLogs.
	Logger *slog.Logger
	// SendTimeout bounds one send attempt to the broker. Default DefaultSendTimeout.
	SendTimeout time.Duration
	// Retries is how many times a failed send is retried by the client
	// (0 means DefaultRetries, a negative value means no retry).
	Retries int
}

func (c Config) withDefaults() Config {
	c.NameServer = cmp.Or(strings.TrimSpace(c.NameServer), config.DefaultRocketMQNameServer)
	c.BrokerAddr = cmp.Or(strings.TrimSpace(c.BrokerAddr), config.DefaultRocketMQBroker)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	c.SendTimeout = cmp.Or(c.SendTimeout, DefaultSendTimeout)
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	return c
}

func (c Config) validate() error {
	if _, err := c.nameServers(); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.BrokerAddr); err != nil {
		return fmt.Errorf("%w: broker address %q: %w", ErrInvalidConfig, c.BrokerAddr, err)
	}
	if c.SendTimeout <= 0 {
		return fmt.Errorf("%w: send timeout %v must be positive", ErrInvalidConfig, c.SendTimeout)
	}
	if c.Retries > 16 {
		return fmt.Errorf("%w: %d send retries is more than 16", ErrInvalidConfig, c.Retries)
	}
	return nil
}

// validateWithGroup checks c and the client's group name (kind says which
// group it is, for the error).
func (c Config) validateWithGroup(kind, group string) error {
	if err := c.validate(); err != nil {
		return err
	}
	if err := validateName(kind, group, maxGroupLen); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// nameServers splits and checks NameServer: the client only takes ip:port.
func (c Config) nameServers() ([]string, error) {
	var addrs []string
	for _, a := range strings.Split(c.NameServer, ";") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil || port == "" {
			return nil, fmt.Errorf("%w: name server %q is not ip:port", ErrInvalidConfig, a)
		}
		if net.ParseIP(host) == nil {
			return nil, fmt.Errorf("%w: name server %q: the client accepts IP addresses only", ErrInvalidConfig, a)
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: no name server address", ErrInvalidConfig)
	}
	return addrs, nil
}

// resolver is an explicit name server resolver, never the client's HTTP default.
func (c Config) resolver() (primitive.NsResolver, error) {
	addrs, err := c.nameServers()
	if err != nil {
		return nil, err
	}
	return primitive.NewPassthroughResolver(addrs), nil
}

// uniqueInstance returns a client instance name unique to this process and
// call. The client shares one connection set (and its callbacks) between all
// producers and consumers with the same IP@instance, so each of ours gets its own.
func uniqueInstance(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s_%d_%s", prefix, os.Getpid(), hex.EncodeToString(b[:]))
}
