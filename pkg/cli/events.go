package cli

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/bench"
	"mkt/pkg/login"
	"mkt/pkg/membership"
	"mkt/pkg/mq"
)

func newEventsCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Publish the events other systems would (user logins); list and replay dead letters",
	}
	cmd.AddCommand(newEventsLoginCmd(app, nil), newEventsDLQCmd(app))
	return cmd
}

type eventsLoginOptions struct {
	Member   int64
	Range    string
	Random   bool
	Count    int64
	Rate     float64
	Duration time.Duration
	Topic    string
	Batch    int
	Senders  int
}

// eventsLoginReport is `events login`'s JSON.
type eventsLoginReport struct {
	Topic     string  `json:"topic"`
	Published int64   `json:"published"`
	Seconds   float64 `json:"elapsed_seconds"`
	PerSecond float64 `json:"per_second"`
}

func newEventsLoginCmd(app *App, runF func(*eventsLoginOptions) error) *cobra.Command {
	o := &eventsLoginOptions{}
	cmd := &cobra.Command{
		Use:   "login --member N | --range A-B | --random [--rate R] [--duration D | --count N]",
		Short: "Publish user-login events, as the account system does (batched)",
		Long: `login publishes user-login events in the contract couponsd consumes (topic
mkt_user_login, tag login, key = member id, JSON body; see docs/COUPONS.md):

  --member N               one login of member N (--count N for several)
  --range A-B              one login of each member A..B, in order
  --random                 a stream of logins of random members, from --range
                           or from 1..the number of members in the database,
                           for --duration or --count

--rate bounds events per second (0 = as fast as the broker takes them).
Events are batch-sent, --batch per send, from --senders goroutines.`,
		Args: cobra.NoArgs,
		RunE: runE(app, o, o.validate, runF, runEventsLogin),
	}
	f := cmd.Flags()
	f.Int64Var(&o.Member, "member", 0, "member id")
	f.StringVar(&o.Range, "range", "", "member id range, inclusive, e.g. 1-100000")
	f.BoolVar(&o.Random, "random", false, "random members (from --range, or all members)")
	f.Int64Var(&o.Count, "count", 0, "events to publish (--member: default 1; --random: instead of --duration)")
	f.Float64Var(&o.Rate, "rate", 0, "events per second, 0 = unlimited")
	f.DurationVar(&o.Duration, "duration", 0, "--random: how long to publish")
	f.StringVar(&o.Topic, "topic", "", "topic (default mkt_user_login in the --mq-namespace)")
	f.IntVar(&o.Batch, "batch", 100, "events per send (1..1000)")
	f.IntVar(&o.Senders, "senders", 4, "concurrent senders (1..64)")
	return cmd
}

func (o *eventsLoginOptions) validate() error {
	modes := 0
	for _, set := range []bool{o.Member != 0, o.Range != "" && !o.Random, o.Random} {
		if set {
			modes++
		}
	}
	switch {
	case modes != 1:
		return usageErrorf("give exactly one of --member, --range or --random")
	case o.Member < 0:
		return usageErrorf("--member must be a positive member id")
	case o.Rate < 0:
		return usageErrorf("--rate must not be negative")
	case o.Batch < 1 || o.Batch > 1000:
		return usageErrorf("--batch must be within 1..1000")
	case o.Senders < 1 || o.Senders > 64:
		return usageErrorf("--senders must be within 1..64")
	case o.Count < 0 || o.Duration < 0:
		return usageErrorf("--count and --duration must not be negative")
	case o.Random && o.Count == 0 && o.Duration == 0:
		return usageErrorf("--random needs --duration or --count")
	case !o.Random && o.Duration != 0:
		return usageErrorf("--duration goes with --random")
	case o.Range != "" && o.Count != 0 && !o.Random:
		return usageErrorf("--count does not go with --range (one login per member)")
	}
	if o.Range != "" {
		if _, _, err := couponParseRange(o.Range); err != nil {
			return err
		}
	}
	return nil
}

func runEventsLogin(ctx context.Context, app *App, o *eventsLoginOptions) error {
	topic := o.Topic
	if topic == "" {
		topic = app.Common.Topic(login.Topic)
	}
	// next returns the member of the i-th event, or 0 when done.
	var next func(i int64) int64
	var total int64 // 0 = until the deadline
	switch {
	case o.Member != 0:
		total = max(o.Count, 1)
		next = func(int64) int64 { return o.Member }
	case !o.Random:
		a, b, _ := couponParseRange(o.Range)
		total = b - a + 1
		next = func(i int64) int64 { return a + i }
	default:
		lo, hi := int64(1), int64(0)
		if o.Range != "" {
			lo, hi, _ = couponParseRange(o.Range)
		} else {
			db, err := app.DB(ctx)
			if err != nil {
				return err
			}
			if hi, err = membership.Count(ctx, db); err != nil {
				return err
			}
			if hi == 0 {
				return usageErrorf("--random: no members in the database; seed some or give --range")
			}
		}
		total = o.Count
		next = func(int64) int64 { return lo + rand.Int64N(hi-lo+1) }
	}
	p, err := mq.NewProducer(mq.ProducerConfig{
		Config: mq.Config{NameServer: app.Common.RocketMQNameServer, BrokerAddr: app.Common.RocketMQBroker, Logger: app.Logger},
		Group:  "mkt_mktctl_events", MaxBatchCount: o.Batch,
	})
	if err != nil {
		return fmt.Errorf("%w: RocketMQ at %s: %w", ErrUnavailable, app.Common.RocketMQNameServer, err)
	}
	defer func() { _ = p.Shutdown() }()
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	start := time.Now()
	n, err := bench.PublishLogins(ctx, login.Publisher{Sender: p, Topic: topic}, bench.LoginStream{Next: next, Total: total}, o.Rate, o.Batch, o.Senders, nil)
	elapsed := time.Since(start)
	if err != nil && !(o.Duration > 0 && ctx.Err() != nil) {
		return fmt.Errorf("published %d login events, then: %w", n, err)
	}
	rep := eventsLoginReport{Topic: topic, Published: n, Seconds: elapsed.Seconds(), PerSecond: float64(n) / max(elapsed.Seconds(), 1e-9)}
	if app.JSON {
		return writeJSON(app.Out, rep)
	}
	fmt.Fprintf(app.Out, "published %d login events to %s in %s (%.0f/s)\n", n, topic, elapsed.Round(time.Millisecond), rep.PerSecond)
	return nil
}
