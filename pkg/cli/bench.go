package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/audience"
	"mkt/pkg/bench"
	"mkt/pkg/childproc"
	"mkt/pkg/coupon"
	"mkt/pkg/hotgoods"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/push"
)

// newBenchCmd is `mktctl bench`; its subcommands drive load through the
// real stack (the harness is pkg/bench).
func newBenchCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load generators that measure mkt on the real stack",
	}
	cmd.AddCommand(newBenchCouponsCmd(app, nil), newBenchPushCmd(app, nil))
	return cmd
}

// findDaemon returns the executable of the daemon name: the flag's value
// when set, else next to mktctl, else on $PATH (childproc.Find); mktctl
// never builds it.
func findDaemon(name, flag, value string) (string, error) {
	bin, err := childproc.Find(name, value)
	switch {
	case err == nil:
		return bin, nil
	case value != "":
		return "", usageErrorf("%s: %v", flag, err)
	default:
		return "", usageErrorf("%v; or pass %s", err, flag)
	}
}

// benchError maps the harness's errors to mktctl's exit codes.
func benchError(err error) error {
	switch {
	case errors.Is(err, ErrUsage), errors.Is(err, ErrUnavailable):
		return err
	case errors.Is(err, bench.ErrRefused):
		return fmt.Errorf("%w: %w", ErrUsage, err)
	case errors.Is(err, bench.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return hotgoodsError(err)
}

// --- push

const benchPushLong = `push runs one promotion campaign to every member through the real stack —
MySQL, Redis, RocketMQ and N pushd processes in one consumer group — against
an in-process provider simulator, and reports how fast it was planned and
delivered, how much memory pushd used, and whether every member got exactly
one message.

It seeds synthetic members into the database until there are --users (the
configured database by default, or --database NAME, created and migrated if
needed). A database holding more members than --users is refused: an
everyone campaign would reach them all. It then starts the simulator, the
pushd processes (found next to mktctl, on $PATH, or --pushd-bin) in a
RocketMQ namespace of their own, creates the campaign, waits for it to
complete, stops everything it started (also on Ctrl-C, which cancels the
campaign), and audits the simulator's delivery counts against the database.

What is measured:
  plan_enqueue_seconds  campaign row stored (created_at) → its shards stored and
                        every shard task published (planned_at), database clock:
                        the created event's trip through RocketMQ included
  plan_seconds,         the planner's own timing of the two steps (its log)
  enqueue_seconds
  users_per_second      members delivered / send window, the window being the
                        first successful provider call's arrival at the simulator
                        to the last one's answer
  campaign_seconds      created_at → finished_at
  p50/p99/max_send_ms   provider calls as the simulator's HTTP server saw them:
                        request read → answer written (the simulated latency
                        plus the server's work; not the client's queueing)
  pushd_rss_peak_bytes  the largest VmHWM of the pushd processes, read from
                        /proc just before they are stopped
  delivered, duplicates, missing, unexpected
                        the simulator's per-member counts against the active
                        members with an address on the channel
  prior_records         push_message rows in the database before the run
                        (InnoDB's estimate): earlier runs' records slow the
                        fan-out once they outgrow MariaDB's buffer pool`

// benchPushOptions are `bench push`'s flags: the harness's settings, but
// for where the stack is (App) and the pushd executable (--pushd-bin, found
// when empty).
type benchPushOptions struct {
	bench.PushConfig
}

func newBenchPushCmd(app *App, runF func(*benchPushOptions) error) *cobra.Command {
	o := &benchPushOptions{bench.PushConfig{Latency: providersim.Latency{Kind: providersim.LatencyFixed, Min: 200 * time.Millisecond}}}
	cmd := &cobra.Command{
		Use:   "push [--users N] [--latency 200ms] [--batch-size K] [--pushd N]",
		Short: "Push one campaign to every member through pushd and a provider simulator; report speed, memory, exactness",
		Long:  benchPushLong,
		Example: `  mktctl bench push --users 1000000 --latency 200ms --batch-size 1 --pushd 2
  mktctl bench push --users 1000000 --batch-size 100 --json
  mktctl bench push --users 10000000 --database mkt_bench_10m --shard-size 1000`,
		Args: cobra.NoArgs,
		RunE: runE(app, o, o.validate, runF, runBenchPush),
	}
	f := cmd.Flags()
	f.Int64Var(&o.Users, "users", 1_000_000, "members in the database (seeded up to this many when fewer exist)")
	f.Var(&o.Latency, "latency", `simulated provider answer time per call: "200ms", "100ms-300ms" or "normal:200ms,50ms"`)
	f.IntVar(&o.BatchSize, "batch-size", 1, "recipients per provider call (the batch endpoint); 1 = one call per recipient")
	f.IntVar(&o.Pushd, "pushd", 2, "pushd processes sharing the work")
	f.StringVar(&o.PushdBin, "pushd-bin", "", "pushd executable (default: next to mktctl, then $PATH)")
	f.IntVar(&o.ShardSize, "shard-size", audience.DefaultShardSize, "members per shard")
	f.IntVar(&o.MaxInFlight, "max-in-flight", push.DefaultMaxInFlight, "provider calls in flight per pushd (pushd --max-in-flight)")
	f.IntVar(&o.ShardConcurrency, "shard-concurrency", push.DefaultShardConcurrency, "shards worked on at once per pushd (pushd --shard-concurrency)")
	f.IntVar(&o.PageSize, "page-size", 0, "members read, sent and checkpointed at once (pushd --page-size; 0 = pushd's default)")
	f.StringVar(&o.Channel, "channel", string(provider.ChannelSMS), "channel pushed: sms, email or app")
	f.StringVar(&o.Database, "database", "", "database to run in, created and migrated if needed (default: the configured one)")
	f.StringVar(&o.SimAddr, "sim-addr", "127.0.0.1:0", "listen address of the provider simulator")
	f.DurationVar(&o.Settle, "settle", 5*time.Second, "wait after the pushd processes are ready, for the consumer group to rebalance")
	f.DurationVar(&o.Timeout, "timeout", time.Hour, "give up when the campaign has not completed after this long")
	f.IntVar(&o.HotgoodsSegments, "hotgoods-segments", 0, "push a generated hot-goods day of this many segments (on --channel) instead of a promotion, 1..2000")
	f.IntVar(&o.Watchers, "watchers", 0, "live views (mktctl watch) refreshing the campaign every second while it runs, 0..8")
	f.StringVar(&o.LogDir, "log-dir", "", "keep the pushd logs in this directory (default: a temporary one, kept only on failure)")
	return cmd
}

func (o *benchPushOptions) validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if o.Users < 1 || o.Users > 100_000_000 {
		bad("--users %d: want 1..100000000", o.Users)
	}
	if o.BatchSize < 1 || o.BatchSize > 10_000 {
		bad("--batch-size %d: want 1..10000", o.BatchSize)
	}
	if o.Pushd < 1 || o.Pushd > 64 {
		bad("--pushd %d: want 1..64", o.Pushd)
	}
	if err := audience.CheckShardSize(o.ShardSize); err != nil {
		bad("--shard-size: %v", err)
	}
	if o.MaxInFlight < 1 {
		bad("--max-in-flight %d: want at least 1", o.MaxInFlight)
	}
	if o.ShardConcurrency < 1 {
		bad("--shard-concurrency %d: want at least 1", o.ShardConcurrency)
	}
	if o.PageSize < 0 || o.PageSize > 10_000 {
		bad("--page-size %d: want 0 (pushd's default) or 1..10000", o.PageSize)
	}
	switch ch := provider.Channel(o.Channel); ch {
	case provider.ChannelSMS, provider.ChannelEmail, provider.ChannelApp:
	default:
		bad("--channel %q: want sms, email or app (the inbox has no provider to measure)", o.Channel)
	}
	if o.Database != "" && !strings.HasPrefix(o.Database, "mkt") {
		bad("--database %q: mkt databases start with \"mkt\"", o.Database)
	}
	if o.Settle < 0 {
		bad("--settle %v: want 0 or more", o.Settle)
	}
	if o.HotgoodsSegments < 0 || o.HotgoodsSegments > hotgoods.MaxRowsPerDay {
		bad("--hotgoods-segments %d: want 0..%d", o.HotgoodsSegments, hotgoods.MaxRowsPerDay)
	}
	if o.Watchers < 0 || o.Watchers > 8 {
		bad("--watchers %d: want 0..8", o.Watchers)
	}
	if o.Timeout <= 0 {
		bad("--timeout %v: want more than 0", o.Timeout)
	}
	if len(problems) > 0 {
		return usageErrorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

func runBenchPush(ctx context.Context, app *App, o *benchPushOptions) error {
	bin, err := findDaemon("pushd", "--pushd-bin", o.PushdBin)
	if err != nil {
		return err
	}
	cfg := o.PushConfig
	cfg.PushdBin, cfg.Stack, cfg.Logger, cfg.Progress = bin, app.Common, app.Logger, app.Err
	rep, err := bench.Push(ctx, cfg)
	if err != nil {
		return benchError(err)
	}
	return render(app, rep, writeBenchPushTable)
}

func writeBenchPushTable(w io.Writer, rep bench.PushReport) error {
	mib := func(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	each := make([]string, len(rep.PushdRSSPeakEach))
	for i, b := range rep.PushdRSSPeakEach {
		each[i] = mib(b)
	}
	rows := [][]string{
		{"METRIC", "VALUE"},
		{"run", fmt.Sprintf("campaign %d in %s: %s, latency %s, batch %d, %d pushd (in flight %d, shards %d at once)",
			rep.CampaignID, rep.Database, rep.Channel, rep.Latency, rep.BatchSize, rep.Pushd, rep.MaxInFlight, rep.ShardConcurrency)},
		{"users", strconv.FormatInt(rep.Users, 10)},
		{"shards", fmt.Sprintf("%d (of %d members; %d task sends)", rep.Shards, rep.ShardSize, rep.TaskSends)},
		{"plan_enqueue_seconds", fmt.Sprintf("%.3f (planner: plan %.3f + enqueue %.3f)", rep.PlanEnqueueSeconds, rep.PlanSeconds, rep.EnqueueSeconds)},
		{"users_per_second", fmt.Sprintf("%.0f (over %.1f s of sends)", rep.UsersPerSecond, rep.SendSeconds)},
		{"campaign_seconds", fmt.Sprintf("%.1f", rep.CampaignSeconds)},
		{"p99_send_ms", fmt.Sprintf("%.1f (p50 %.1f, max %.1f; %d calls)", rep.P99SendMS, rep.P50SendMS, rep.MaxSendMS, rep.ProviderCalls)},
		{"pushd_rss_peak_bytes", fmt.Sprintf("%d (%s; each %s)", rep.PushdRSSPeakBytes, mib(rep.PushdRSSPeakBytes), strings.Join(each, ", "))},
		{"delivered", fmt.Sprintf("%d of %d expected", rep.Delivered, rep.Expected)},
		{"duplicates", strconv.FormatUint(rep.Duplicates, 10)},
		{"missing", strconv.FormatUint(rep.Missing, 10)},
		{"unexpected", strconv.FormatUint(rep.Unexpected, 10)},
		{"failed_deliveries", strconv.FormatInt(rep.FailedDeliveries, 10)},
		{"prior_records", fmt.Sprintf("~%d (push_message rows before the run)", rep.PriorRecords)},
	}
	if rep.Watchers > 0 {
		rows = append(rows, []string{"watchers", fmt.Sprintf("%d live views: %d refreshes, p50 %.1f ms, max %.1f ms, %d with errors",
			rep.Watchers, rep.WatchRefreshes, rep.WatchRefreshP50MS, rep.WatchRefreshMaxMS, rep.WatchErrors)})
	}
	if rep.LogDir != "" {
		rows = append(rows, []string{"logs", rep.LogDir})
	}
	return table(w, rows)
}

// --- coupons

// benchCouponsOptions are `bench coupons`' flags: the harness's settings,
// but for where the stack is (App) and the couponsd executable (--couponsd,
// found when empty).
type benchCouponsOptions struct {
	bench.CouponsConfig
}

func newBenchCouponsCmd(app *App, runF func(*benchCouponsOptions) error) *cobra.Command {
	o := &benchCouponsOptions{}
	cmd := &cobra.Command{
		Use:   "coupons",
		Short: "Drive login events through couponsd and measure lazy issuance",
		Long: `coupons measures lazy coupon issuance end to end on the real stack: it prepares a
database of its own (--database, recreated each run), creates a lazy coupon for
everyone, publishes --logins login events on a fresh topic (each member's first
login, plus --repeat of repeated logins), runs --instances couponsd processes
as children in one consumer group, and waits until every login is handled.

By default the events are published first and then consumed (the rate is the
consumers'); --live publishes while couponsd consumes (one machine doing both).
The rate counts from the first login handled to the last item issued.

Reported: logins, logins_per_second, issued, issued_per_second, duplicates
(items above a member's limit: must be 0), over_quota (must be 0), missing
(members who logged in without getting their items while quota remained: must
be 0) and couponsd_rss_peak_bytes (VmHWM of the child, the largest one).

couponsd is --couponsd, else the couponsd next to mktctl, else the one on
$PATH; mktctl never builds it ('make build' builds all three into bin/).`,
		Args: cobra.NoArgs,
		RunE: runE(app, o, o.validate, runF, runBenchCoupons),
	}
	f := cmd.Flags()
	f.Int64Var(&o.Logins, "logins", 200_000, "login events to publish")
	f.Float64Var(&o.Repeat, "repeat", 0, "share of the logins that are repeats of a member already seen (0..0.9)")
	f.IntVar(&o.PerMember, "per-member", 1, "items each member gets")
	f.Int64Var(&o.Quota, "quota", 0, "coupon quota (0 = unlimited)")
	f.IntVar(&o.Instances, "instances", 1, "couponsd processes (one consumer group)")
	f.StringVar(&o.CouponsdBin, "couponsd", "", "couponsd executable (default: next to mktctl, then $PATH)")
	f.StringVar(&o.Database, "database", "mkt_bench_coupons", "database of the run (name starting with mkt_bench; emptied first)")
	f.BoolVar(&o.Live, "live", false, "publish while couponsd consumes instead of before")
	f.Float64Var(&o.Rate, "rate", 0, "publish rate limit, events/s (0 = unlimited)")
	f.IntVar(&o.Senders, "senders", 8, "concurrent publishers")
	f.DurationVar(&o.Timeout, "timeout", 15*time.Minute, "give up after this long")
	f.BoolVar(&o.Keep, "keep", false, "keep the topic and leave the coupon active")
	f.IntVar(&o.Concurrency, "consume-concurrency", 0, "couponsd --consume-concurrency (default couponsd's)")
	f.IntVar(&o.BatchSize, "batch-size", 0, "couponsd --batch-size (default couponsd's)")
	f.IntVar(&o.Workers, "batch-workers", 0, "couponsd --batch-workers (default couponsd's)")
	return cmd
}

func (o *benchCouponsOptions) validate() error {
	switch {
	case o.Logins < 1 || o.Logins > 100_000_000:
		return usageErrorf("--logins must be within 1..100,000,000")
	case o.Repeat < 0 || o.Repeat > 0.9:
		return usageErrorf("--repeat must be within 0..0.9")
	case o.PerMember < 1 || o.PerMember > coupon.MaxPerMemberLimit:
		return usageErrorf("--per-member must be within 1..%d", coupon.MaxPerMemberLimit)
	case o.Quota < 0:
		return usageErrorf("--quota must not be negative")
	case o.Instances < 1 || o.Instances > 8:
		return usageErrorf("--instances must be within 1..8")
	case !strings.HasPrefix(o.Database, "mkt_bench"):
		return usageErrorf("--database %q: the benchmark empties it, so its name must start with mkt_bench", o.Database)
	case o.Senders < 1 || o.Senders > 64:
		return usageErrorf("--senders must be within 1..64")
	case o.Rate < 0 || o.Timeout <= 0:
		return usageErrorf("--rate must not be negative and --timeout must be positive")
	case o.Concurrency < 0 || o.BatchSize < 0 || o.Workers < 0:
		return usageErrorf("--consume-concurrency, --batch-size and --batch-workers must not be negative (0: couponsd's default)")
	}
	return nil
}

func runBenchCoupons(ctx context.Context, app *App, o *benchCouponsOptions) error {
	bin, err := findDaemon("couponsd", "--couponsd", o.CouponsdBin)
	if err != nil {
		return err
	}
	cfg := o.CouponsConfig
	cfg.CouponsdBin, cfg.Stack, cfg.Logger, cfg.Progress = bin, app.Common, app.Logger, app.Err
	rep, err := bench.Coupons(ctx, cfg)
	if err != nil {
		return benchError(err)
	}
	if app.JSON {
		if err := writeJSON(app.Out, rep); err != nil {
			return err
		}
	} else if err := writeBenchCouponsTable(app.Out, rep); err != nil {
		return err
	}
	return rep.Check()
}

func writeBenchCouponsTable(w io.Writer, rep bench.CouponsReport) error {
	return table(w, [][]string{
		{"logins", strconv.FormatInt(rep.Logins, 10)},
		{"logins/s", fmt.Sprintf("%.0f", rep.LoginsPerSecond)},
		{"issued", strconv.FormatInt(rep.Issued, 10)},
		{"issued/s", fmt.Sprintf("%.0f", rep.IssuedPerSecond)},
		{"duplicates", strconv.FormatInt(rep.Duplicates, 10)},
		{"over quota", strconv.FormatInt(rep.OverQuota, 10)},
		{"missing", strconv.FormatInt(rep.Missing, 10)},
		{"couponsd RSS peak", fmt.Sprintf("%.1f MiB", float64(rep.RSSPeakBytes)/(1<<20))},
		{"members", strconv.FormatInt(rep.Members, 10)},
		{"mode", fmt.Sprintf("%s, %d couponsd", rep.Mode, rep.Instances)},
		{"elapsed", fmt.Sprintf("%.2f s (first login handled → last item issued)", rep.ElapsedSeconds)},
		{"published", fmt.Sprintf("%.2f s (%.0f/s)", rep.PublishSeconds, rep.PublishedPerSecond)},
	})
}
