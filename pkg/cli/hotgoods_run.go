package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/config"
	"mkt/pkg/hotgoods"
	"mkt/pkg/textlimit"
)

// --- run

type hotgoodsRunOptions struct {
	Date                   time.Time
	ShardIndex, ShardTotal int
	ShardSize              int
	RequestID              string
	CreatedBy              string
}

// hotgoodsRunDate resolves run's --date: a YYYY-MM-DD, or "today" — the
// date at now in zone tz (an IANA name such as Asia/Shanghai, or Local), so
// a timer firing at 00:10 in Shanghai launches Shanghai's day whatever the
// host's zone. tzGiven says --tz was on the command line: it is refused
// with an explicit date, where it would mean nothing.
func hotgoodsRunDate(date, tz string, tzGiven bool, now time.Time) (time.Time, error) {
	if date != "today" {
		if tzGiven {
			return time.Time{}, usageErrorf("--tz applies to --date today only")
		}
		return parseHotgoodsDate(date)
	}
	if tz == "" {
		return time.Time{}, usageErrorf("--tz: want a zone name such as Asia/Shanghai, or Local")
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.Time{}, usageErrorf("--tz %q: unknown time zone", tz)
	}
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}

func newHotgoodsRunCmd(app *App, q *campaignQueues, runF func(*hotgoodsRunOptions) error) *cobra.Command {
	o := &hotgoodsRunOptions{}
	var date, tz string
	cmd := &cobra.Command{
		Use:   "run --date YYYY-MM-DD|today [--tz ZONE] [--shard-index I --shard-total N]",
		Short: "Launch a date's pending rows (or a shard of them) as a hot_goods campaign",
		Long: `run launches the date's pending rows as one campaign of kind hot_goods: the run
and its rows are stored atomically with its created event, and pushd plans
and fans it out (mktctl watch hot_goods:RUN shows it).

With --shard-index I --shard-total N it takes only the rows whose id hashes
to I: CRC-32 (IEEE) of the id in decimal, modulo N — MySQL's CRC32(id) % N —
so N invocations with I = 0..N-1 take every row exactly once. Use them to
split the launches over the nodes of a scheduler (cron on several hosts,
XXL-Job's sharding broadcast); the fan-out itself spreads over every pushd
through the consumer group whatever N says.

A row is launched once: a second run, overlapping assignments, two nodes
given the same index or a cron retry after a crash find it taken and skip it.

--date today is the current date in --tz (an IANA zone such as
Asia/Shanghai, default $MKT_HOTGOODS_TZ or the host's zone): what a daily
timer or cron job runs (deploy/systemd/mkt-hotgoods.service).

Exit 0 when every row taken was launched (or none was pending), 1 when the
launch failed, 2 for bad flags.`,
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&date, "date", "", "the day whose rows to launch, YYYY-MM-DD, or today (in --tz)")
	config.String(f, &tz, "tz", "MKT_HOTGOODS_TZ", "Local", "time zone of --date today, e.g. Asia/Shanghai")
	f.IntVar(&o.ShardIndex, "shard-index", 0, "take the rows of this shard, 0..total-1 (with --shard-total)")
	f.IntVar(&o.ShardTotal, "shard-total", 1, "number of shards the day's rows are split into")
	f.IntVar(&o.ShardSize, "shard-size", audience.DefaultShardSize, shardSizeUsage("members per shard of the run"))
	f.StringVar(&o.RequestID, "request-id", "", "idempotency key of the launch (default: random)")
	f.StringVar(&o.CreatedBy, "created-by", operatorName(), "who launched it")
	cmd.RunE = runE(app, o, func() error { return o.check(f, date, tz, time.Now()) }, runF,
		func(ctx context.Context, app *App, o *hotgoodsRunOptions) error {
			return runHotgoodsRun(ctx, app, q, o)
		})
	return cmd
}

// check resolves --date (and --tz) at now and checks the shard flags, which
// go together (f tells them given from their defaults).
func (o *hotgoodsRunOptions) check(f *pflag.FlagSet, date, tz string, now time.Time) error {
	d, err := hotgoodsRunDate(date, tz, f.Changed("tz"), now)
	if err != nil {
		return err
	}
	o.Date = d
	idx, tot := f.Changed("shard-index"), f.Changed("shard-total")
	if idx != tot {
		return usageErrorf("--shard-index and --shard-total go together")
	}
	if !tot {
		o.ShardIndex, o.ShardTotal = 0, 1
	}
	lo := hotgoods.LaunchOptions{Date: d, ShardIndex: o.ShardIndex, ShardTotal: o.ShardTotal, ShardSize: o.ShardSize,
		CreatedBy: o.CreatedBy, RequestID: o.RequestID}
	if o.ShardTotal < 1 {
		return usageErrorf("--shard-total %d: want 1..%d", o.ShardTotal, hotgoods.MaxShardTotal)
	}
	if err := audience.CheckShardSize(o.ShardSize); err != nil {
		return usageErrorf("--shard-size: %v", err)
	}
	if err := lo.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	return nil
}

func runHotgoodsRun(ctx context.Context, app *App, q *campaignQueues, o *hotgoodsRunOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	tx, err := q.txProducer(app, db)
	if err != nil {
		return err
	}
	defer shutdown(app, "transactional producer", tx.Shutdown)
	cr := campaign.Creator{DB: db, Tx: tx, Topic: q.EventsTopic}
	res, err := hotgoods.Launch(ctx, db, cr, hotgoods.LaunchOptions{Date: o.Date, ShardIndex: o.ShardIndex,
		ShardTotal: o.ShardTotal, ShardSize: o.ShardSize, RequestID: o.RequestID, CreatedBy: o.CreatedBy})
	if err != nil {
		return hotgoodsError(err)
	}
	return render(app, res, writeHotgoodsLaunch)
}

// writeHotgoodsLaunch prints `hotgoods run`: what was launched, then a table
// of the rows taken and skipped.
func writeHotgoodsLaunch(w io.Writer, res hotgoods.LaunchResult) error {
	if res.Run != nil {
		fmt.Fprintf(w, "run %d launched: %d row(s) of %s (shard %d of %d), %d already launched; watch it with mktctl watch hot_goods:%d\n",
			res.Run.ID, len(res.Taken), res.Date, res.ShardIndex, res.ShardTotal, len(res.Skipped), res.Run.ID)
		fmt.Fprintf(w, "its shards cover the member id range once (%d members each); each row's audience is resolved as the run goes: hotgoods list --date %s\n",
			res.Run.ShardSize, res.Date)
	} else {
		fmt.Fprintf(w, "nothing to launch: %d row(s) of %s (shard %d of %d), all already launched\n",
			len(res.Skipped), res.Date, res.ShardIndex, res.ShardTotal)
	}
	rows := [][]string{{"ROW", "SEGMENT", "GOODS KIND", "PRIORITY", "CHANNELS", "RUN", ""}}
	for _, r := range res.Taken {
		rows = append(rows, []string{strconv.FormatUint(r.ID, 10), textlimit.RunesMarked(r.Segment, 32), string(r.GoodsKind),
			strconv.Itoa(r.Priority), channelNames(r.Channels), strconv.FormatUint(*r.RunID, 10), "taken"})
	}
	for _, r := range res.Skipped {
		run := ""
		if r.RunID != nil {
			run = strconv.FormatUint(*r.RunID, 10)
		}
		rows = append(rows, []string{strconv.FormatUint(r.ID, 10), textlimit.RunesMarked(r.Segment, 32), string(r.GoodsKind),
			strconv.Itoa(r.Priority), channelNames(r.Channels), run, "already launched"})
	}
	if len(rows) > 1 {
		return table(w, rows)
	}
	return nil
}
