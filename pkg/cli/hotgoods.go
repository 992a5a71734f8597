package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/campaign"
	"mkt/pkg/config"
	"mkt/pkg/hotgoods"
	"mkt/pkg/provider"
	"mkt/pkg/store"
)

const hotgoodsLong = `hotgoods pushes each user-portrait segment its daily hot goods.

Every day the recommender produces, per segment and goods kind, a ranked list
of goods, a message template, channels and a priority (docs/HOTGOODS.md). They
are imported for a date (import), then launched (run) as a campaign of kind
hot_goods that pushd plans and fans out like a promotion: shards, leases,
checkpoints, pause/resume/cancel, retry-failed, per-recipient records.

A member in several segments gets one hot-goods push a day: the message of
the highest-priority row whose segment they fall in (ties: the lower row id).
The run's shards cover the member id range once and each member's row is
resolved as the workers page through the members, so a day of 200 segments
costs one pass over the members, not one per segment.`

func newHotgoodsCmd(app *App) *cobra.Command {
	q := &campaignQueues{}
	cmd := &cobra.Command{
		Use:   "hotgoods",
		Short: "Daily hot goods per portrait segment: import the day's rows, launch them, control the runs",
		Long:  hotgoodsLong,
	}
	app.afterResolve = append(app.afterResolve, func(a *App) { q.fill(&a.Common) })
	cmd.AddCommand(
		newHotgoodsImportCmd(app, nil),
		newHotgoodsListCmd(app, nil),
		newHotgoodsShowCmd(app, nil),
		newHotgoodsRunCmd(app, q, nil),
	)
	for _, action := range []string{"pause", "resume", "cancel", "retry-failed"} {
		cmd.AddCommand(newHotgoodsControlCmd(app, q, action))
	}
	return cmd
}

// hotgoodsError maps hot-goods errors to exit codes: invalid input is a
// usage error.
func hotgoodsError(err error) error {
	if errors.Is(err, hotgoods.ErrInvalid) && !errors.Is(err, ErrUsage) {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return campaignError(err)
}

func parseHotgoodsDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, usageErrorf("--date is required (YYYY-MM-DD)")
	}
	d, err := hotgoods.ParseDate(s)
	if err != nil {
		return time.Time{}, usageErrorf("--date: %v", err)
	}
	return d, nil
}

// --- import

type hotgoodsImportOptions struct {
	Date   time.Time
	Path   string // "-" = standard input
	Format hotgoods.Format
}

func newHotgoodsImportCmd(app *App, runF func(*hotgoodsImportOptions) error) *cobra.Command {
	o := &hotgoodsImportOptions{}
	var date, format string
	cmd := &cobra.Command{
		Use:   "import --date YYYY-MM-DD FILE|-",
		Short: "Load the recommender's rows for a date (JSON Lines or CSV); a bad file stores nothing",
		Long: `import loads the recommender's rows for a date from FILE (or standard input
with -): one row per segment and goods kind, as JSON Lines or CSV (both in
docs/HOTGOODS.md; the format is told from the first byte unless --format).

Every line is checked; a file with any bad line stores nothing and every bad
line is named (line, field, reason), exit 2. Re-importing the same file is a
no-op; a pending row with other content is updated. Once a run launched any
row of the date, its rows can no longer change (the runs resolve each member
against every row of the day): new or changed rows are refused.`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseHotgoodsDate(date)
			if err != nil {
				return err
			}
			o.Date, o.Path = d, args[0]
			switch f := hotgoods.Format(format); f {
			case hotgoods.FormatAuto, hotgoods.FormatJSONL, hotgoods.FormatCSV:
				o.Format = f
			default:
				return usageErrorf("--format %q: want auto, jsonl or csv", format)
			}
			if runF != nil {
				return runF(o)
			}
			return runHotgoodsImport(cmd.Context(), app, o)
		},
	}
	cmd.Flags().StringVar(&date, "date", "", "the day the rows are for, YYYY-MM-DD")
	cmd.Flags().StringVar(&format, "format", "auto", "jsonl, csv, or auto (JSON Lines when the file starts with {)")
	return cmd
}

func runHotgoodsImport(ctx context.Context, app *App, o *hotgoodsImportOptions) error {
	var in io.Reader = app.In
	if o.Path != "-" {
		f, err := os.Open(o.Path)
		if err != nil {
			return usageErrorf("%v", err)
		}
		defer f.Close()
		in = f
	}
	rows, err := hotgoods.Parse(in, o.Format)
	if err != nil {
		return hotgoodsError(err)
	}
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	res, err := hotgoods.Import(ctx, db, o.Date, rows)
	if err != nil {
		return hotgoodsError(err)
	}
	if app.JSON {
		return writeJSON(app.Out, res)
	}
	fmt.Fprintf(app.Out, "%s: %d rows added, %d updated, %d unchanged\n", res.Date, res.Added, res.Updated, res.Unchanged)
	return nil
}

// --- list

type hotgoodsListOptions struct{ Date time.Time }

// hotgoodsDay is `hotgoods list`'s JSON.
type hotgoodsDay struct {
	Date string         `json:"date"`
	Rows []hotgoods.Row `json:"rows"`
	Runs []hotgoods.Run `json:"runs"`
	// Audience is, per launched row, the members it won so far (the live
	// counters of its run); absent when Redis could not be read.
	Audience map[uint64]int64 `json:"audience,omitempty"`
}

// rowAudience reads, from the live counters of the runs, the members each
// row won; nil when Redis cannot be read.
func rowAudience(ctx context.Context, app *App, runs []uint64) map[uint64]int64 {
	if len(runs) == 0 {
		return nil
	}
	live, err := app.LiveCounters(ctx)
	if err != nil {
		return nil
	}
	out := map[uint64]int64{}
	for _, id := range runs {
		l, err := campaign.ReadLive(ctx, live, campaign.KindHotGoods, id, nil)
		if err != nil {
			return nil
		}
		for row, n := range l.Rows {
			out[row] = n
		}
	}
	return out
}

func newHotgoodsListCmd(app *App, runF func(*hotgoodsListOptions) error) *cobra.Command {
	o := &hotgoodsListOptions{}
	var date string
	cmd := &cobra.Command{
		Use:   "list --date YYYY-MM-DD",
		Short: "List a date's rows and the runs that launched them",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := parseHotgoodsDate(date)
			if err != nil {
				return err
			}
			o.Date = d
			if runF != nil {
				return runF(o)
			}
			return runHotgoodsList(cmd.Context(), app, o)
		},
	}
	cmd.Flags().StringVar(&date, "date", "", "the day, YYYY-MM-DD")
	return cmd
}

func runHotgoodsList(ctx context.Context, app *App, o *hotgoodsListOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	day := hotgoodsDay{Date: o.Date.Format(time.DateOnly)}
	if day.Rows, err = hotgoods.List(ctx, db, o.Date); err != nil {
		return err
	}
	if day.Runs, err = hotgoods.ListRuns(ctx, db, o.Date); err != nil {
		return err
	}
	var runIDs []uint64
	for _, r := range day.Runs {
		runIDs = append(runIDs, r.ID)
	}
	day.Audience = rowAudience(ctx, app, runIDs)
	if app.JSON {
		if day.Rows == nil {
			day.Rows = []hotgoods.Row{}
		}
		if day.Runs == nil {
			day.Runs = []hotgoods.Run{}
		}
		return writeJSON(app.Out, day)
	}
	rows := [][]string{{"ID", "SEGMENT", "GOODS KIND", "PRIORITY", "FILTER", "CHANNELS", "GOODS", "RUN", "MEMBERS WON"}}
	for _, r := range day.Rows {
		run, won := "pending", "-"
		if r.RunID != nil {
			run = strconv.FormatUint(*r.RunID, 10)
			won = "?"
			if day.Audience != nil {
				won = strconv.FormatInt(day.Audience[r.ID], 10)
			}
		}
		rows = append(rows, []string{strconv.FormatUint(r.ID, 10), ellipsis(r.Segment, 32), string(r.GoodsKind),
			strconv.Itoa(r.Priority), ellipsis(r.Filter.String(), 40), channelNames(r.Channels), strconv.Itoa(len(r.Goods)), run, won})
	}
	if err := table(app.Out, rows); err != nil {
		return err
	}
	if len(day.Runs) > 0 {
		fmt.Fprintln(app.Out)
		runs := [][]string{{"RUN", "STATUS", "SHARD", "MEMBERS", "SHARDS", "CREATED"}}
		for _, r := range day.Runs {
			runs = append(runs, []string{strconv.FormatUint(r.ID, 10), r.Status, fmt.Sprintf("%d/%d", r.ShardIndex, r.ShardTotal),
				strconv.FormatInt(r.PlannedMembers, 10), strconv.Itoa(r.PlannedShards), r.CreatedAt.UTC().Format(time.DateTime)})
		}
		return table(app.Out, runs)
	}
	return nil
}

func channelNames(chs []provider.Channel) string {
	names := make([]string, len(chs))
	for i, c := range chs {
		names[i] = string(c)
	}
	return strings.Join(names, ",")
}

// --- show

type hotgoodsShowOptions struct{ ID uint64 }

// hotgoodsShow is `hotgoods show`'s JSON: the row, the messages it sends and
// its run's progress (the campaign.Report `mktctl watch` draws).
type hotgoodsShow struct {
	Row *hotgoods.Row `json:"row"`
	// Won is the members the row won so far (its run's live counters).
	Won      *int64                      `json:"members_won,omitempty"`
	Messages map[provider.Channel]string `json:"messages"`
	Run      *hotgoods.Run               `json:"run,omitempty"`
	Report   *campaign.Report            `json:"run_report,omitempty"`
}

func newHotgoodsShowCmd(app *App, runF func(*hotgoodsShowOptions) error) *cobra.Command {
	o := &hotgoodsShowOptions{}
	return &cobra.Command{
		Use:   "show ROW_ID",
		Short: "Show a row: its segment, goods, the messages it sends, and its run's progress",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := store.ParseID(args[0])
			if err != nil {
				return usageErrorf("row id %q: want a positive integer", args[0])
			}
			o.ID = id
			if runF != nil {
				return runF(o)
			}
			return runHotgoodsShow(cmd.Context(), app, o)
		},
	}
}

func runHotgoodsShow(ctx context.Context, app *App, o *hotgoodsShowOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	r, err := hotgoods.Get(ctx, db, o.ID)
	if err != nil {
		return err
	}
	out := hotgoodsShow{Row: r, Messages: map[provider.Channel]string{}}
	for _, ch := range r.Channels {
		out.Messages[ch] = r.Render(ch, 0)
	}
	if r.RunID != nil {
		if out.Run, err = hotgoods.GetRun(ctx, db, *r.RunID); err != nil {
			return err
		}
		rep, err := campaign.LoadReport(ctx, db, campaign.KindHotGoods, *r.RunID, campaign.ReportOptions{})
		if err != nil {
			return err
		}
		out.Report = &rep
		if a := rowAudience(ctx, app, []uint64{*r.RunID}); a != nil {
			n := a[r.ID]
			out.Won = &n
		}
	}
	if app.JSON {
		return writeJSON(app.Out, out)
	}
	rows := [][]string{
		{"id", strconv.FormatUint(r.ID, 10)},
		{"date", r.Date},
		{"segment", r.Segment + " (" + r.Filter.String() + ")"},
		{"goods kind", string(r.GoodsKind)},
		{"priority", strconv.Itoa(r.Priority)},
		{"channels", channelNames(r.Channels)},
	}
	for i, it := range r.Goods {
		rows = append(rows, []string{fmt.Sprintf("goods %d", i+1), fmt.Sprintf("%s %s (%s)", it.Name, it.Price(), it.ID)})
	}
	for _, ch := range r.Channels {
		rows = append(rows, []string{"message " + string(ch), strings.ReplaceAll(ellipsis(out.Messages[ch], 120), "\n", " ⏎ ")})
	}
	if out.Run == nil {
		rows = append(rows, []string{"run", "pending: not launched yet"})
	} else {
		p := out.Report.Progress
		rows = append(rows,
			[]string{"run", fmt.Sprintf("%d: %s, %s", out.Run.ID, out.Run.Status, out.Run.Name)},
			[]string{"run progress", fmt.Sprintf("%d of %d members processed (%.1f%%); shards %d: %d done, %d running, %d pending",
				out.Report.Processed, p.Expected, out.Report.Percent, p.Shards, p.Done, p.Running, p.Pending)},
			[]string{"run deliveries", fmt.Sprintf("%d sent, %d failed (member × channel, every row of the run)", p.Sent, p.FailedN)})
		if out.Won != nil {
			rows = append(rows, []string{"members won", fmt.Sprintf("%d so far (members whose highest-priority segment today is this row)", *out.Won)})
		}
	}
	return table(app.Out, rows)
}

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
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			d, err := hotgoodsRunDate(date, tz, cmd.Flags().Changed("tz"), time.Now())
			if err != nil {
				return err
			}
			o.Date = d
			idx, tot := cmd.Flags().Changed("shard-index"), cmd.Flags().Changed("shard-total")
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
			if err := lo.Validate(); err != nil {
				return usageErrorf("%v", err)
			}
			if runF != nil {
				return runF(o)
			}
			return runHotgoodsRun(cmd.Context(), app, q, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&date, "date", "", "the day whose rows to launch, YYYY-MM-DD, or today (in --tz)")
	config.String(f, &tz, "tz", "MKT_HOTGOODS_TZ", "Local", "time zone of --date today, e.g. Asia/Shanghai")
	f.IntVar(&o.ShardIndex, "shard-index", 0, "take the rows of this shard, 0..total-1 (with --shard-total)")
	f.IntVar(&o.ShardTotal, "shard-total", 1, "number of shards the day's rows are split into")
	f.IntVar(&o.ShardSize, "shard-size", hotgoods.DefaultShardSize, "members per shard of the run, 10..100000")
	f.StringVar(&o.RequestID, "request-id", "", "idempotency key of the launch (default: random)")
	f.StringVar(&o.CreatedBy, "created-by", operatorName(), "who launched it")
	return cmd
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
	if app.JSON {
		return writeJSON(app.Out, res)
	}
	if res.Run != nil {
		fmt.Fprintf(app.Out, "run %d launched: %d row(s) of %s (shard %d of %d), %d already launched; watch it with mktctl watch hot_goods:%d\n",
			res.Run.ID, len(res.Taken), res.Date, res.ShardIndex, res.ShardTotal, len(res.Skipped), res.Run.ID)
		fmt.Fprintf(app.Out, "its shards cover the member id range once (%d members each); each row's audience is resolved as the run goes: hotgoods list --date %s\n",
			res.Run.ShardSize, res.Date)
	} else {
		fmt.Fprintf(app.Out, "nothing to launch: %d row(s) of %s (shard %d of %d), all already launched\n",
			len(res.Skipped), res.Date, res.ShardIndex, res.ShardTotal)
	}
	rows := [][]string{{"ROW", "SEGMENT", "GOODS KIND", "PRIORITY", "CHANNELS", "RUN", ""}}
	for _, r := range res.Taken {
		rows = append(rows, []string{strconv.FormatUint(r.ID, 10), ellipsis(r.Segment, 32), string(r.GoodsKind),
			strconv.Itoa(r.Priority), channelNames(r.Channels), strconv.FormatUint(*r.RunID, 10), "taken"})
	}
	for _, r := range res.Skipped {
		run := ""
		if r.RunID != nil {
			run = strconv.FormatUint(*r.RunID, 10)
		}
		rows = append(rows, []string{strconv.FormatUint(r.ID, 10), ellipsis(r.Segment, 32), string(r.GoodsKind),
			strconv.Itoa(r.Priority), channelNames(r.Channels), run, "already launched"})
	}
	if len(rows) > 1 {
		return table(app.Out, rows)
	}
	return nil
}

// --- pause, resume, cancel, retry-failed

func newHotgoodsControlCmd(app *App, q *campaignQueues, action string) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   action + " RUN_ID",
		Short: strings.ToUpper(action[:1]) + action[1:] + " a hot-goods run, as `campaign " + action + "` does a promotion",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := store.ParseID(args[0])
			if err != nil {
				return usageErrorf("run id %q: want a positive integer", args[0])
			}
			if len(reason) > 200 {
				return usageErrorf("--reason is longer than 200 characters")
			}
			res, err := campaignControl(cmd.Context(), app, q, campaign.KindHotGoods, action, id, reason)
			if err != nil {
				return campaignError(err)
			}
			if app.JSON {
				return writeJSON(app.Out, res)
			}
			fmt.Fprintln(app.Out, controlLine(fmt.Sprintf("hot-goods run %d", id), res))
			return nil
		},
	}
	if action == "cancel" {
		cmd.Flags().StringVar(&reason, "reason", "", "why, recorded with the run (default \"cancelled by operator\")")
	}
	return cmd
}
