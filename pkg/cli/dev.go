package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/config"
	"mkt/pkg/hotgoods"
	"mkt/pkg/providersim"
)

func newDevCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Development tools: the provider simulator, a generated hot-goods day",
	}
	cmd.AddCommand(newDevProviderCmd(app, nil), newDevHotgoodsCmd(app, nil))
	return cmd
}

type devProviderOptions struct {
	Addr        string
	Latency     providersim.Latency
	ErrorRate   float64
	TimeoutRate float64
	Rate429     float64
	RetryAfter  time.Duration
	FailMembers string
	Seed        uint64
	Token       string
	// FailIDs are the members --fail-members names.
	FailIDs []uint64
}

func newDevProviderCmd(app *App, runF func(*devProviderOptions) error) *cobra.Command {
	o := &devProviderOptions{}
	cmd := &cobra.Command{
		Use:   "provider",
		Short: "Run a push provider simulator (SMS, e-mail, app push) in the foreground",
		Long: `provider runs an HTTP provider simulator speaking mkt's provider wire format:
POST <url>/<anything> sends to one recipient, POST <url>/<anything>/batch to many.
It counts deliveries per (campaign, channel, member) so tests and benchmarks can
read them back:

  GET  /stats                         totals: requests, recipients, delivered, duplicates, faults
  GET  /deliveries?campaign_id=N&channel=sms&from=1&to=1000000
                                      per-campaign counts, missing and duplicated members
  POST /reset                         forget everything
  GET  /faults                        the fault rates in force
  PUT  /faults                        switch them while running, e.g.
                                      {"error_rate":1,"timeout_rate":0,"rate_limit_429_rate":0}

Faults are injected per call with the given rates (from the flags at start,
then as PUT /faults says); --seed makes them reproducible. Point a channel
at it with e.g. MKT_PROVIDER_SMS_URL=http://127.0.0.1:9400/sms. Stop with Ctrl-C.`,
		Args: cobra.NoArgs,
	}
	cmd.RunE = runE(app, o, func() (err error) {
		if o.FailIDs, err = parseIDList(o.FailMembers); err != nil {
			return usageErrorf("--fail-members: %v", err)
		}
		return asUsage(config.Resolve(cmd.Flags()))
	}, runF, runDevProvider)
	f := cmd.Flags()
	f.StringVar(&o.Addr, "addr", "127.0.0.1:9400", "listen address")
	f.Var(&o.Latency, "latency", `answer time per call: "200ms", "100ms-300ms" (uniform) or "normal:200ms,50ms"`)
	f.Float64Var(&o.ErrorRate, "error-rate", 0, "fraction of calls answered 500")
	f.Float64Var(&o.TimeoutRate, "timeout-rate", 0, "fraction of calls that never answer")
	f.Float64Var(&o.Rate429, "rate-limit-rate", 0, "fraction of calls answered 429 with Retry-After")
	f.DurationVar(&o.RetryAfter, "retry-after", time.Second, "Retry-After of a 429 (whole seconds)")
	f.StringVar(&o.FailMembers, "fail-members", "", "member ids always refused, e.g. 7,42,100-120")
	f.Uint64Var(&o.Seed, "seed", 0, "seed for fault injection and latency (0 = random)")
	config.Secret(f, &o.Token, "token", "MKT_SIM_TOKEN", "", "bearer token the simulator requires (empty = none)")
	return cmd
}

// runDevProvider serves the simulator until ctx ends or it stops.
func runDevProvider(ctx context.Context, app *App, o *devProviderOptions) error {
	srv, err := providersim.Listen(o.Addr, providersim.Config{
		Latency:          o.Latency,
		ErrorRate:        o.ErrorRate,
		TimeoutRate:      o.TimeoutRate,
		RateLimit429Rate: o.Rate429,
		RetryAfter:       o.RetryAfter,
		FailMembers:      o.FailIDs,
		Seed:             o.Seed,
		Token:            o.Token,
		Logger:           app.Logger,
	})
	if err != nil {
		return usageErrorf("%v", err)
	}
	if app.JSON {
		_ = writeJSON(app.Out, map[string]string{"url": srv.URL()})
	} else {
		fmt.Fprintf(app.Out, "provider simulator listening on %s (latency %s, errors %.1f%%, timeouts %.1f%%, 429 %.1f%%)\n",
			srv.URL(), o.Latency, 100*o.ErrorRate, 100*o.TimeoutRate, 100*o.Rate429)
	}
	select {
	case <-ctx.Done():
	case <-srv.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(stopCtx)
}

// parseIDList parses "7,42,100-120" into ids; ranges are inclusive and
// bounded to 1,000,000 ids in all.
func parseIDList(s string) ([]uint64, error) {
	var out []uint64
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseUint(strings.TrimSpace(lo), 10, 64)
		if err != nil || a == 0 {
			return nil, fmt.Errorf("%q is not a member id", part)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(strings.TrimSpace(hi), 10, 64); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a range of member ids", part)
			}
		}
		if uint64(len(out))+b-a+1 > 1_000_000 {
			return nil, fmt.Errorf("more than 1,000,000 ids")
		}
		for id := a; id <= b; id++ {
			out = append(out, id)
		}
	}
	return out, nil
}

type devHotgoodsOptions struct {
	Date     time.Time
	Segments int
	Seed     uint64
	Print    bool
}

func newDevHotgoodsCmd(app *App, runF func(*devHotgoodsOptions) error) *cobra.Command {
	o := &devHotgoodsOptions{}
	var date string
	cmd := &cobra.Command{
		Use:   "hotgoods --date YYYY-MM-DD --segments N [--seed S] | --print --segments N",
		Short: "Generate a realistic hot-goods day and import it (or print it as JSON Lines)",
		Long: `hotgoods generates N segment rows as the recommender would produce them:
segments over the portrait tags, levels and activity of the seeded members
(about 50,000 to 2,000,000 of 10,000,000 each, overlapping), ten ranked goods,
channels and a priority; the same seed gives the same day. With --date it
imports them for that date, as "hotgoods import" would; with --print it
writes them to standard output in the JSON Lines import format instead:

  mktctl dev hotgoods --date 2026-12-02 --segments 200
  mktctl dev hotgoods --print --segments 5 > day.jsonl`,
		Args: cobra.NoArgs,
		RunE: runE(app, o, func() (err error) {
			if err := inRange("--segments", o.Segments, 1, hotgoods.MaxRowsPerDay); err != nil {
				return err
			}
			switch {
			case o.Print && date != "":
				return usageErrorf("--print and --date exclude each other")
			case !o.Print:
				o.Date, err = parseHotgoodsDate(date)
			}
			return err
		}, runF, runDevHotgoods),
	}
	cmd.Flags().StringVar(&date, "date", "", "import the generated rows for this day, YYYY-MM-DD")
	cmd.Flags().IntVar(&o.Segments, "segments", 20, "rows to generate, 1..2000")
	cmd.Flags().Uint64Var(&o.Seed, "seed", 1, "generator seed")
	cmd.Flags().BoolVar(&o.Print, "print", false, "print the rows as JSON Lines instead of importing them")
	return cmd
}

func runDevHotgoods(ctx context.Context, app *App, o *devHotgoodsOptions) error {
	gen := hotgoods.Generate(o.Segments, o.Seed)
	if o.Print {
		enc := json.NewEncoder(app.Out)
		for _, in := range gen {
			if err := enc.Encode(in.JSONLine()); err != nil {
				return err
			}
		}
		return nil
	}
	rows := make([]hotgoods.ParsedRow, len(gen))
	for i, in := range gen {
		rows[i] = hotgoods.ParsedRow{Line: i + 1, Input: in}
	}
	return importHotgoods(ctx, app, o.Date, rows, "generated rows")
}
