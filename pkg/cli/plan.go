package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/provider"
)

const planLong = `plan previews, without writing anything, what a campaign would do: the exact
audience size, the shards (count, size, id boundaries), the batch sends that
enqueue them, and an estimate of the push duration for a provider latency,
a number of sends in flight and a provider rate limit.

Preview an existing campaign with --campaign ID, or describe one with the
same flags as "campaign create": a create command line (any of --name,
--kind, --template or an amount) is validated exactly as create validates it,
so plan refuses what create would refuse; an audience alone (with
--channels, --shard-size and --start-at) is previewed as it is.

The estimate:
  calls      = channels × ceil(members / provider_batch)
  calls/s    = min(concurrency / latency, rate × channels)   (rate 0 = no limit;
               the rate is per channel's provider, in calls per second)
  duration   = calls / calls/s
It ignores members without an address for a channel and retries, so it is a
lower bound for a healthy provider.`

type planOptions struct {
	specOptions
	Campaign      uint64
	Batch         int
	Latency       time.Duration
	Concurrency   int
	Rate          float64
	ProviderBatch int
	Boundaries    int

	specGiven []string // spec flags set on the command line
}

func newPlanCmd(app *App, runF func(*planOptions) error) *cobra.Command {
	o := &planOptions{}
	specFlags := pflag.NewFlagSet("spec", pflag.ContinueOnError)
	o.Bind(specFlags) // the spec's flags
	specFlags.StringVar(&o.CreatedBy, "created-by", "", "accepted for create compatibility; ignored")
	specFlags.StringVar(new(string), "request-id", "", "accepted for create compatibility; ignored")
	cmd := &cobra.Command{
		Use:   "plan (--campaign ID | [campaign create flags]) [estimate flags]",
		Short: "Preview a campaign's audience, shards, batch sends and push duration (writes nothing)",
		Long:  planLong,
		Example: `  mktctl plan --campaign 42 --latency 150ms --concurrency 4000
  mktctl plan --levels 3,4 --channels sms,app --provider-batch 100 --rate 500 --json`,
		Args: cobra.NoArgs,
		RunE: runE(app, o, func() error {
			specFlags.VisitAll(func(f *pflag.Flag) {
				if f.Changed {
					o.specGiven = append(o.specGiven, "--"+f.Name)
				}
			})
			return o.validate()
		}, runF, func(ctx context.Context, app *App, o *planOptions) error { return runPlan(ctx, app, o, time.Now()) }),
	}
	f := cmd.Flags()
	f.AddFlagSet(specFlags)
	f.Uint64Var(&o.Campaign, "campaign", 0, "preview this stored campaign instead of one described by flags")
	f.IntVar(&o.Batch, "batch", campaign.DefaultTaskBatch, "shard tasks per batch send at most, 1..1024 (small campaigns use smaller batches so their tasks spread over the queues)")
	f.DurationVar(&o.Latency, "latency", 200*time.Millisecond, "provider latency per call")
	f.IntVar(&o.Concurrency, "concurrency", 2000, "provider calls in flight, over all pushd")
	f.Float64Var(&o.Rate, "rate", 0, "provider rate limit per channel, calls per second (0 = none)")
	f.IntVar(&o.ProviderBatch, "provider-batch", 1, "recipients per provider call (batch endpoint), 1..10000")
	f.IntVar(&o.Boundaries, "boundaries", 3, "shard boundaries shown at each end in the table (--json shows all)")
	return cmd
}

func (o *planOptions) validate() error {
	var problems []string
	if o.Campaign != 0 && len(o.specGiven) > 0 {
		problems = append(problems, fmt.Sprintf("--campaign cannot be combined with %s", strings.Join(o.specGiven, ", ")))
	}
	if o.Batch < 1 || o.Batch > 1024 {
		problems = append(problems, fmt.Sprintf("--batch %d: want 1..1024", o.Batch))
	}
	if o.Latency <= 0 || o.Latency > time.Minute {
		problems = append(problems, fmt.Sprintf("--latency %v: want more than 0 and at most 1m", o.Latency))
	}
	if o.Concurrency < 1 || o.Concurrency > 1_000_000 {
		problems = append(problems, fmt.Sprintf("--concurrency %d: want 1..1000000", o.Concurrency))
	}
	if o.Rate < 0 || math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) {
		problems = append(problems, fmt.Sprintf("--rate %v: want 0 (no limit) or a positive number", o.Rate))
	}
	if o.ProviderBatch < 1 || o.ProviderBatch > 10000 {
		problems = append(problems, fmt.Sprintf("--provider-batch %d: want 1..10000", o.ProviderBatch))
	}
	if o.Boundaries < 0 {
		problems = append(problems, fmt.Sprintf("--boundaries %d: want 0 or more", o.Boundaries))
	}
	if len(problems) > 0 {
		return usageErrorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// planEstimate is the push duration estimate and its inputs.
type planEstimate struct {
	LatencyMS      float64 `json:"latency_ms"`
	Concurrency    int     `json:"concurrency"`
	Rate           float64 `json:"rate_per_channel"`
	ProviderBatch  int     `json:"provider_batch"`
	Deliveries     int64   `json:"deliveries"`
	Calls          int64   `json:"calls"`
	CallsPerSecond float64 `json:"calls_per_second"`
	Bound          string  `json:"bound"`
	Seconds        float64 `json:"seconds"`
	Formula        string  `json:"formula"`
}

const estimateFormula = "seconds = channels × ceil(members / provider_batch) / min(concurrency / latency_s, rate × channels)"

func estimate(members int64, channels int, latency time.Duration, concurrency int, rate float64, providerBatch int) planEstimate {
	e := planEstimate{
		LatencyMS: float64(latency) / float64(time.Millisecond), Concurrency: concurrency, Rate: rate,
		ProviderBatch: providerBatch, Deliveries: members * int64(channels), Formula: estimateFormula,
	}
	e.Calls = int64(channels) * ((members + int64(providerBatch) - 1) / int64(providerBatch))
	e.CallsPerSecond, e.Bound = float64(concurrency)/latency.Seconds(), "concurrency"
	if limit := rate * float64(channels); rate > 0 && limit < e.CallsPerSecond {
		e.CallsPerSecond, e.Bound = limit, "rate"
	}
	e.Seconds = float64(e.Calls) / e.CallsPerSecond
	return e
}

// planReport is `mktctl plan`'s JSON.
type planReport struct {
	CampaignID  uint64             `json:"campaign_id,omitempty"`
	Audience    string             `json:"audience"`
	Segment     audience.Segment   `json:"segment"`
	Members     int64              `json:"members"`
	IDSpan      int64              `json:"id_span_members,omitempty"`
	ShardSize   int                `json:"shard_size"`
	Shards      int                `json:"shards"`
	FirstID     uint64             `json:"first_id,omitempty"`
	EndID       uint64             `json:"end_id,omitempty"`
	Ranges      []audience.Range   `json:"shard_ranges"`
	Batch       int                `json:"batch_size"`
	Sends       int                `json:"batch_sends"`
	Channels    []provider.Channel `json:"channels"`
	StartAt     *time.Time         `json:"start_at,omitempty"`
	Estimate    planEstimate       `json:"estimate"`
	PreviewSecs float64            `json:"preview_seconds"`
}

func runPlan(ctx context.Context, app *App, o *planOptions, now time.Time) error {
	var spec campaign.Spec
	if o.Campaign == 0 {
		var err error
		if spec, err = o.parsePreview(now); err != nil {
			return err
		}
	}
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	rep := planReport{Batch: o.Batch, CampaignID: o.Campaign}
	if o.Campaign != 0 {
		c, err := campaign.Get(ctx, db, o.Campaign)
		if err != nil {
			return err
		}
		spec = campaign.Spec{Audience: c.Audience, ShardSize: c.ShardSize, Channels: c.Channels, StartAt: c.StartAt}
	}
	started := time.Now()
	rep.Segment, rep.Audience, rep.ShardSize, rep.Channels, rep.StartAt =
		spec.Audience, spec.Audience.String(), spec.ShardSize, spec.Channels, spec.StartAt
	plan, err := audience.Shard(ctx, db, spec.Audience, spec.ShardSize)
	if err != nil {
		return err
	}
	rep.Members = plan.Members
	if spec.Audience.Everyone() {
		rep.IDSpan = plan.Members
		if rep.Members, err = audience.Count(ctx, db, spec.Audience); err != nil {
			return err
		}
	}
	rep.Ranges, rep.Shards = plan.Shards, len(plan.Shards)
	rep.Ranges = nonNil(rep.Ranges)
	if n := len(plan.Shards); n > 0 {
		rep.FirstID, rep.EndID = plan.Shards[0].Start, plan.Shards[n-1].End
	}
	if rep.Shards > 0 {
		rep.Batch = campaign.SpreadBatch(rep.Shards, o.Batch)
		rep.Sends = (rep.Shards + rep.Batch - 1) / rep.Batch
	}
	rep.Estimate = estimate(rep.Members, len(spec.Channels), o.Latency, o.Concurrency, o.Rate, o.ProviderBatch)
	rep.PreviewSecs = time.Since(started).Seconds()
	if app.JSON {
		return writeJSON(app.Out, rep)
	}
	return writePlanReport(app.Out, rep, o.Boundaries)
}

// writePlanReport prints `plan`'s table, showing ends shard boundaries at
// each end.
func writePlanReport(w io.Writer, rep planReport, ends int) error {
	names := make([]string, len(rep.Channels))
	for i, c := range rep.Channels {
		names[i] = string(c)
	}
	members := fmt.Sprintf("%d (exact count)", rep.Members)
	if rep.IDSpan != 0 && rep.IDSpan != rep.Members {
		members += fmt.Sprintf("; id span %d, disabled members are skipped at send time", rep.IDSpan)
	}
	rows := [][]string{}
	if rep.CampaignID != 0 {
		rows = append(rows, []string{"campaign", fmt.Sprint(rep.CampaignID)})
	}
	rows = append(rows,
		[]string{"audience", rep.Audience},
		[]string{"members", members},
		[]string{"shards", fmt.Sprintf("%d of up to %d members", rep.Shards, rep.ShardSize)},
	)
	if rep.Shards > 0 {
		rows = append(rows, []string{"member ids", fmt.Sprintf("[%d, %d)", rep.FirstID, rep.EndID)})
	}
	for i, r := range rep.Ranges {
		if i == ends && len(rep.Ranges) > 2*ends {
			rows = append(rows, []string{"", fmt.Sprintf("… %d more shards …", len(rep.Ranges)-2*ends)})
		}
		if i >= ends && i < len(rep.Ranges)-ends {
			continue
		}
		rows = append(rows, []string{fmt.Sprintf("shard %d", r.No), fmt.Sprintf("[%d, %d) %d members", r.Start, r.End, r.Expected)})
	}
	e := rep.Estimate
	limit := "no rate limit"
	if e.Rate > 0 {
		limit = fmt.Sprintf("rate %g/s × %d channels = %g", e.Rate, len(rep.Channels), e.Rate*float64(len(rep.Channels)))
	}
	rows = append(rows,
		[]string{"batch sends", fmt.Sprintf("%d (%d shard tasks per send)", rep.Sends, rep.Batch)},
		[]string{"channels", strings.Join(names, ", ")},
		[]string{"start", startText(rep.StartAt)},
		[]string{"deliveries", fmt.Sprintf("%d (members × channels)", e.Deliveries)},
		[]string{"provider calls", fmt.Sprintf("%d (%d recipients per call)", e.Calls, e.ProviderBatch)},
		[]string{"throughput", fmt.Sprintf("%.0f calls/s = min(concurrency %d / latency %v = %.0f, %s), bound by %s",
			e.CallsPerSecond, e.Concurrency, time.Duration(e.LatencyMS*float64(time.Millisecond)),
			float64(e.Concurrency)/(e.LatencyMS/1000), limit, e.Bound)},
		[]string{"estimate", (time.Duration(e.Seconds * float64(time.Second))).Round(time.Second).String()},
		[]string{"formula", e.Formula},
	)
	return table(w, rows)
}
