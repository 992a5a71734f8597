package providersim

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// ErrInvalidConfig reports a simulator configuration that cannot work.
var ErrInvalidConfig = errors.New("invalid simulator config")

// LatencyKind is the shape of a latency distribution.
type LatencyKind int

const (
	// LatencyFixed answers every call after exactly Min.
	LatencyFixed LatencyKind = iota
	// LatencyUniform draws uniformly between Min and Max.
	LatencyUniform
	// LatencyNormal draws from a normal distribution (Mean, Stddev), clamped
	// to [0, Mean+4·Stddev].
	LatencyNormal
)

// Latency is the distribution of the simulated provider's answer time per
// call (a batch call takes one draw, like a single one). The zero value is
// "answer at once".
type Latency struct {
	// Kind is the distribution's shape.
	Kind LatencyKind
	// Min is the fixed latency, or the uniform lower bound.
	Min time.Duration
	// Max is the uniform upper bound.
	Max time.Duration
	// Mean is the normal distribution's mean.
	Mean time.Duration
	// Stddev is the normal distribution's standard deviation.
	Stddev time.Duration
}

// ParseLatency parses a latency distribution:
//
//	""  or "0"                 no latency
//	"200ms"                    fixed
//	"100ms-300ms"              uniform between the bounds
//	"uniform:100ms,300ms"      the same
//	"normal:200ms,50ms"        normal with mean 200ms and stddev 50ms
func ParseLatency(s string) (Latency, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return Latency{}, nil
	}
	bad := func(err error) (Latency, error) {
		return Latency{}, fmt.Errorf("%w: latency %q: %w (want e.g. 200ms, 100ms-300ms, normal:200ms,50ms)", ErrInvalidConfig, s, err)
	}
	two := func(a, b string) (time.Duration, time.Duration, error) {
		x, err := time.ParseDuration(strings.TrimSpace(a))
		if err != nil {
			return 0, 0, err
		}
		y, err := time.ParseDuration(strings.TrimSpace(b))
		if err != nil {
			return 0, 0, err
		}
		if x < 0 || y < 0 {
			return 0, 0, errors.New("negative duration")
		}
		return x, y, nil
	}
	if kind, rest, ok := strings.Cut(s, ":"); ok {
		a, b, ok := strings.Cut(rest, ",")
		if !ok {
			return bad(errors.New("want two durations separated by a comma"))
		}
		x, y, err := two(a, b)
		if err != nil {
			return bad(err)
		}
		switch strings.ToLower(strings.TrimSpace(kind)) {
		case "normal":
			return Latency{Kind: LatencyNormal, Mean: x, Stddev: y}, nil
		case "uniform":
			if y < x {
				return bad(errors.New("upper bound below lower bound"))
			}
			return Latency{Kind: LatencyUniform, Min: x, Max: y}, nil
		}
		return bad(errors.New("unknown distribution"))
	}
	if a, b, ok := strings.Cut(s, "-"); ok {
		x, y, err := two(a, b)
		if err != nil {
			return bad(err)
		}
		if y < x {
			return bad(errors.New("upper bound below lower bound"))
		}
		return Latency{Kind: LatencyUniform, Min: x, Max: y}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return bad(err)
	}
	if d < 0 {
		return bad(errors.New("negative duration"))
	}
	return Latency{Kind: LatencyFixed, Min: d}, nil
}

// String formats l in the syntax ParseLatency reads.
func (l Latency) String() string {
	switch l.Kind {
	case LatencyUniform:
		return l.Min.String() + "-" + l.Max.String()
	case LatencyNormal:
		return "normal:" + l.Mean.String() + "," + l.Stddev.String()
	}
	if l.Min == 0 {
		return "0"
	}
	return l.Min.String()
}

// Set implements flag.Value (and pflag.Value with Type) by ParseLatency.
func (l *Latency) Set(s string) error {
	parsed, err := ParseLatency(s)
	if err != nil {
		return err
	}
	*l = parsed
	return nil
}

// Type implements pflag.Value.
func (l *Latency) Type() string { return "latency" }

// sample draws a latency from two independent uniform numbers in [0, 1).
func (l Latency) sample(u1, u2 float64) time.Duration {
	switch l.Kind {
	case LatencyUniform:
		return l.Min + time.Duration(u1*float64(l.Max-l.Min))
	case LatencyNormal:
		// Box–Muller.
		z := math.Sqrt(-2*math.Log(1-u1)) * math.Cos(2*math.Pi*u2)
		d := float64(l.Mean) + z*float64(l.Stddev)
		return time.Duration(min(max(d, 0), float64(l.Mean+4*l.Stddev)))
	}
	return l.Min
}

// Config configures a Simulator. Zero values take the defaults shown. The
// fault rates are fractions of send calls (single or batch) in [0, 1]; their
// sum must not exceed 1. They are the rates at start: Simulator.SetFaults
// (PUT /faults) switches them while the simulator runs.
type Config struct {
	// Latency is how long each send call takes to answer (default none).
	Latency Latency
	// ErrorRate is the fraction of calls answered 500 (nothing delivered).
	ErrorRate float64
	// TimeoutRate is the fraction of calls that never answer: they hang until
	// the client gives up (or MaxHang passes, then 504). Nothing is delivered.
	TimeoutRate float64
	// RateLimit429Rate is the fraction of calls answered 429 with RetryAfter.
	RateLimit429Rate float64
	// RetryAfter is the Retry-After of a 429, in whole seconds (default 1s).
	RetryAfter time.Duration
	// FailMembers always get a permanent refusal: 422 to a single call,
	// "ok":false in a batch answer. Deterministic, for tests.
	FailMembers []uint64
	// Token, when set, is the bearer token every send call must present (401
	// otherwise). The read-back endpoints need no token.
	Token string
	// Seed makes fault injection and latency draws reproducible: the n-th send
	// call after start or reset always gets the same fate (default: random).
	Seed uint64
	// MaxHang bounds how long an injected timeout holds a call (default 2m).
	MaxHang time.Duration
	// MaxBody bounds a request body (default 32 MiB).
	MaxBody int64
	// Logger receives server-level errors (default slog.Default()).
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	c.RetryAfter = cmp.Or(c.RetryAfter, time.Second)
	c.MaxHang = cmp.Or(c.MaxHang, 2*time.Minute)
	c.MaxBody = cmp.Or(c.MaxBody, 32<<20)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if c.Seed == 0 {
		c.Seed = rand.Uint64() | 1
	}
	if err := (Faults{ErrorRate: c.ErrorRate, TimeoutRate: c.TimeoutRate, RateLimit429Rate: c.RateLimit429Rate}).validate(); err != nil {
		return c, err
	}
	if c.RetryAfter < time.Second || c.RetryAfter%time.Second != 0 {
		return c, fmt.Errorf("%w: RetryAfter %v must be a whole number of seconds", ErrInvalidConfig, c.RetryAfter)
	}
	if c.Latency.Min < 0 || c.Latency.Max < c.Latency.Min && c.Latency.Kind == LatencyUniform || c.Latency.Mean < 0 || c.Latency.Stddev < 0 {
		return c, fmt.Errorf("%w: latency %v", ErrInvalidConfig, c.Latency)
	}
	if c.MaxHang < 0 || c.MaxBody < 1 {
		return c, fmt.Errorf("%w: MaxHang %v, MaxBody %d", ErrInvalidConfig, c.MaxHang, c.MaxBody)
	}
	return c, nil
}
