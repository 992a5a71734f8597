package push

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/provider"
	"mkt/pkg/store"
)

// Worker defaults.
const (
	DefaultLease                   = 30 * time.Second
	DefaultPageSize                = 500
	DefaultMaxInFlight             = 3000
	DefaultFailureThreshold        = 0.5
	DefaultMinAttemptsForAutoPause = 1000
	DefaultStatusRefresh           = time.Second
	// DefaultRampUp is pushd's --ramp-up (Config.RampUp has no default).
	DefaultRampUp = 2 * time.Second
	// DefaultShardConcurrency is pushd's --shard-concurrency: shard tasks
	// one pushd works on at once (its consumer's concurrency).
	DefaultShardConcurrency = 32
	// DefaultJournalInterval is how often sends are group-committed while
	// pages are in flight.
	DefaultJournalInterval = 100 * time.Millisecond
	// MaxJournalInterval bounds JournalInterval.
	MaxJournalInterval = 10 * time.Second
	// DefaultOutcomeHold is how long a page's outcomes are kept, and their
	// commit retried, while the database is unreachable.
	DefaultOutcomeHold = 10 * time.Minute
	// MinLease is the shortest lease accepted (tests use short ones).
	MinLease = 100 * time.Millisecond
	// MaxPageSize bounds PageSize (one page is held in memory).
	MaxPageSize = 10_000
)

// ErrInvalidConfig reports a Config that cannot work.
var ErrInvalidConfig = errors.New("push: invalid config")

// Sender is what the worker needs of a channel's provider;
// provider.Provider (HTTPProvider, inbox.Provider) satisfies it.
type Sender interface {
	// Name identifies the provider in logs.
	Name() string
	// MaxBatch is the most recipients per Send.
	MaxBatch() int
	// Send delivers msg and returns one Result per recipient, in order.
	Send(ctx context.Context, msg provider.Message, to []provider.Recipient) []provider.Result
}

// CampaignSender is implemented by senders that must know the campaign's
// kind (the inbox, keyed by kind and id); the worker prefers it to Send.
type CampaignSender interface {
	// SendCampaign is Send for a campaign of the given kind.
	SendCampaign(ctx context.Context, kind campaign.Kind, msg provider.Message, to []provider.Recipient) []provider.Result
}

// Counter adds to live progress counters; *cache.Client satisfies it.
type Counter interface {
	// HIncrByMany adds each field's n to the hash key in one round trip.
	HIncrByMany(ctx context.Context, key string, fields map[string]int64) error
}

// Clock tells the time; tests may substitute it.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Config configures a Worker. Zero values take the defaults shown.
type Config struct {
	// DB is the database holding campaigns, shards, members and delivery
	// records (required).
	DB *store.DB
	// Providers sends each channel (required): every channel a campaign
	// uses needs one, or its shards are left for another worker.
	Providers map[provider.Channel]Sender
	// Progress receives live counters per campaign under
	// campaign.ProgressKey (see campaign.FieldSent and the others); nil
	// keeps none. Counter errors are logged,
	// never fatal: the shard rows are the truth.
	Progress Counter
	// Owner names this worker in shard leases; unique per worker (default
	// "<host>:<pid>:<random>").
	Owner string
	// Lease is how long a shard stays ours without renewal (default 30s); it
	// is renewed every Lease/3 and at every checkpoint.
	Lease time.Duration
	// PageSize is members read, sent and checkpointed at once (default 500).
	PageSize int
	// MaxInFlight bounds concurrent provider calls of this worker, across
	// all its shards (default 3000, DefaultMaxInFlight).
	MaxInFlight int
	// RampUp is the slow start of provider calls: after the worker has been
	// idle for 10 s (or at its first call) it allows MaxInFlight/20 calls in
	// flight, rising linearly to MaxInFlight over RampUp. Zero: no slow
	// start.
	RampUp time.Duration
	// FailureThreshold is the provider failure rate (0..1) above which a
	// running campaign is paused automatically (default 0.5); 1 disables
	// auto-pause. Members without an address on a channel do not count.
	FailureThreshold float64
	// MinAttemptsForAutoPause is the window of sends, per campaign and
	// worker, over which the failure rate is judged (default 1000).
	MinAttemptsForAutoPause int
	// StatusRefresh is how stale the cached campaign status may get: pause
	// and cancel take effect within it plus one page (default 1s).
	StatusRefresh time.Duration
	// JournalInterval is how often the deliveries that went out are
	// group-committed while their pages are still in flight (default 100ms;
	// negative: never, each page commits at its end). It bounds what a
	// killed worker leaves unrecorded, and so sends again, to the calls on
	// the wire plus the outcomes answered while a send waits for its flush
	// to start and end: at most the longer of the interval and the longest
	// flush, plus the longest flush (JournalFlushed measures them).
	JournalInterval time.Duration
	// JournalFlushed, when not nil, is told how long each journal flush
	// took (pushd's mkt_push_journal_flush_seconds).
	JournalFlushed func(time.Duration)
	// OutcomeHold is how long a page whose commit fails (the database
	// unreachable) keeps its outcomes and retries the commit before giving
	// the shard up (default 10m). Sends that went out are never thrown
	// away because a commit failed.
	OutcomeHold time.Duration
	// Logger receives the worker's logs (default slog.Default()).
	Logger *slog.Logger
	// Clock tells the time (default the system clock).
	Clock Clock
}

func (c Config) withDefaults() (Config, error) {
	c.Lease = cmp.Or(c.Lease, DefaultLease)
	c.PageSize = cmp.Or(c.PageSize, DefaultPageSize)
	c.MaxInFlight = cmp.Or(c.MaxInFlight, DefaultMaxInFlight)
	c.FailureThreshold = cmp.Or(c.FailureThreshold, DefaultFailureThreshold)
	c.MinAttemptsForAutoPause = cmp.Or(c.MinAttemptsForAutoPause, DefaultMinAttemptsForAutoPause)
	c.StatusRefresh = cmp.Or(c.StatusRefresh, DefaultStatusRefresh)
	c.JournalInterval = cmp.Or(c.JournalInterval, DefaultJournalInterval)
	c.OutcomeHold = cmp.Or(c.OutcomeHold, DefaultOutcomeHold)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	c.Owner = cmp.Or(c.Owner, campaign.DefaultOwner())
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...)))
	}
	if c.DB == nil {
		bad("DB is required")
	}
	if len(c.Providers) == 0 {
		bad("at least one provider is required")
	}
	for ch, p := range c.Providers {
		if !ch.Valid() {
			bad("provider for unknown channel %q", ch)
		}
		if p == nil {
			bad("provider for channel %s is nil", ch)
		} else if p.MaxBatch() < 1 {
			bad("provider %s: MaxBatch %d < 1", p.Name(), p.MaxBatch())
		}
	}
	if len(c.Owner) > campaign.MaxOwnerLen {
		bad("owner %q is longer than %d bytes", c.Owner, campaign.MaxOwnerLen)
	}
	if c.Lease < MinLease {
		bad("lease %v is shorter than %v", c.Lease, MinLease)
	}
	if c.PageSize < 1 || c.PageSize > MaxPageSize {
		bad("page size %d, want 1..%d", c.PageSize, MaxPageSize)
	}
	if c.RampUp < 0 {
		bad("ramp-up %s < 0", c.RampUp)
	}
	if c.MaxInFlight < 1 {
		bad("max in-flight %d < 1", c.MaxInFlight)
	}
	if c.FailureThreshold < 0 || c.FailureThreshold > 1 || math.IsNaN(c.FailureThreshold) {
		bad("failure threshold %v outside 0..1", c.FailureThreshold)
	}
	if c.MinAttemptsForAutoPause < 1 {
		bad("min attempts for auto-pause %d < 1", c.MinAttemptsForAutoPause)
	}
	if c.StatusRefresh < 0 {
		bad("negative status refresh")
	}
	if c.JournalInterval > MaxJournalInterval {
		bad("journal interval %v is longer than %v", c.JournalInterval, MaxJournalInterval)
	}
	if c.OutcomeHold < 0 {
		bad("negative outcome hold")
	}
	return c, errors.Join(errs...)
}
