package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/campaign"
	"mkt/pkg/hotgoods"
	"mkt/pkg/provider"
	"mkt/pkg/textlimit"
)

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
		Args:  cobra.NoArgs,
		RunE: runE(app, o, func() (err error) {
			o.Date, err = parseHotgoodsDate(date)
			return err
		}, runF, runHotgoodsList),
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
	day.Rows, day.Runs = nonNil(day.Rows), nonNil(day.Runs)
	return render(app, day, writeHotgoodsDay)
}

// writeHotgoodsDay prints `hotgoods list`: the day's rows, then its runs.
func writeHotgoodsDay(w io.Writer, day hotgoodsDay) error {
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
		rows = append(rows, []string{strconv.FormatUint(r.ID, 10), textlimit.RunesMarked(r.Segment, 32), string(r.GoodsKind),
			strconv.Itoa(r.Priority), textlimit.RunesMarked(r.Filter.String(), 40), channelNames(r.Channels), strconv.Itoa(len(r.Goods)), run, won})
	}
	if err := table(w, rows); err != nil {
		return err
	}
	if len(day.Runs) > 0 {
		fmt.Fprintln(w)
		runs := [][]string{{"RUN", "STATUS", "SHARD", "MEMBERS", "SHARDS", "CREATED"}}
		for _, r := range day.Runs {
			runs = append(runs, []string{strconv.FormatUint(r.ID, 10), r.Status, fmt.Sprintf("%d/%d", r.ShardIndex, r.ShardTotal),
				strconv.FormatInt(r.PlannedMembers, 10), strconv.Itoa(r.PlannedShards), utcTime(r.CreatedAt)})
		}
		return table(w, runs)
	}
	return nil
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
		Args:  cobra.ExactArgs(1),
		RunE:  runArgE(app, o, &o.ID, idArg("row id"), nil, runF, runHotgoodsShow),
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
	return render(app, out, writeHotgoodsShow)
}

// writeHotgoodsShow prints `hotgoods show`'s table.
func writeHotgoodsShow(w io.Writer, out hotgoodsShow) error {
	r := out.Row
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
		rows = append(rows, []string{"message " + string(ch), strings.ReplaceAll(textlimit.RunesMarked(out.Messages[ch], 120), "\n", " ⏎ ")})
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
	return table(w, rows)
}
