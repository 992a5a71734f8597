package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"mkt/pkg/campaign"
	"mkt/pkg/mq"
	"mkt/pkg/store"
	"mkt/pkg/watch"
)

const watchLong = `watch opens a live, full-screen view of campaign progress: every campaign
of every kind (promotions, push-mode coupons, hot-goods runs) that is
planning, running or paused, plus those that finished in the last hour — or
one campaign, given as ID (a promotion) or KIND:ID (promotion:7, coupon:3,
hot_goods:4).

Per campaign: status (with the auto-pause reason), a progress bar of members
processed of planned, deliveries sent and failed per channel, the rate over
the last seconds, ETA and elapsed time. For the selected campaign: a heatmap
of its shards (a cell stands for a run of shards when there are more shards
than cells, and shows the most urgent status among them), the pushd
instances holding its shards (members/s, leases that expired without being
taken over) and, once drilled into, its top failure reasons. The status line
shows the last refresh and any dependency trouble; the view keeps running
through an outage and recovers by itself.

Keys: ↑/↓ or j/k select, enter drills in, esc goes back, p pause, r resume,
c cancel (asks y/n), f retry-failed, / filter by name, ? help, q or ctrl-c
quit. p, r, c and f run the code of "mktctl campaign pause|resume|cancel|
retry-failed" (for a coupon push, of "mktctl coupon pause|resume|
retry-failed"; a coupon push is stopped for good with "coupon disable"; for a
hot-goods run, of "mktctl hotgoods pause|resume|cancel|retry-failed").

A refresh reads aggregates only (shard counts and sums, leases by owner, a
bounded sample of failures), never every shard row. The full view needs an
80×24 terminal and shows the essentials below that; NO_COLOR is honoured.

Without a terminal (a pipe, cron, CI) or with --json, watch prints one JSON
object per refresh (NDJSON) and exits when no watched campaign is unfinished:
0 when all completed, 1 when any failed or was cancelled. --once prints one
snapshot and exits.`

type watchOptions struct {
	Target  watch.Target
	Refresh time.Duration
	Once    bool
	// UntilDone closes the view once every watched campaign finished.
	UntilDone bool
	// TUI is true when the view is drawn (a terminal and no --json).
	TUI bool
	// Queues name the topics the control keys publish to.
	Queues *campaignQueues
}

func (o *watchOptions) check() error {
	if o.Refresh < watch.MinRefresh {
		return usageErrorf("--refresh %s: want at least %s", o.Refresh, watch.MinRefresh)
	}
	if o.Refresh > time.Hour {
		return usageErrorf("--refresh %s: want at most 1h", o.Refresh)
	}
	return nil
}

// parseWatchTarget reads watch's argument: ID or KIND:ID.
func parseWatchTarget(arg string) (watch.Target, error) {
	t, err := watch.ParseTarget(arg)
	if err != nil {
		return t, usageErrorf("%v", err)
	}
	return t, nil
}

func newWatchCmd(app *App, runF func(*watchOptions) error) *cobra.Command {
	o := &watchOptions{Queues: &campaignQueues{}}
	app.afterResolve = append(app.afterResolve, func(a *App) { o.Queues.fill(&a.Common) })
	cmd := &cobra.Command{
		Use:   "watch [ID | KIND:ID]",
		Short: "Live view of campaign progress: rate, ETA, shard heatmap, workers; pause/resume/cancel from the keyboard",
		Long:  watchLong,
		Args:  cobra.MaximumNArgs(1),
		RunE: runArgE(app, o, &o.Target, parseWatchTarget, func() error {
			if err := o.check(); err != nil {
				return err
			}
			o.TUI = !app.JSON && !o.Once && isTerminal(app.Out) && isTerminal(app.In)
			return nil
		}, runF, runWatch),
	}
	cmd.Flags().DurationVar(&o.Refresh, "refresh", watch.DefaultRefresh, "refresh period, at least 200ms")
	cmd.Flags().BoolVar(&o.Once, "once", false, "print one JSON snapshot and exit")
	cmd.Flags().BoolVar(&o.UntilDone, "until-done", false, "close the view once every watched campaign finished (scripts, demos)")
	return cmd
}

// isTerminal reports whether the stream is a terminal.
func isTerminal(s any) bool {
	f, ok := s.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

func runWatch(ctx context.Context, app *App, o *watchOptions) error {
	src, err := watchSource(ctx, app, o)
	if err != nil {
		return err
	}
	if !o.TUI {
		err := watch.Stream(ctx, src.Fetch, app.Out, watch.StreamOptions{Target: o.Target, Refresh: o.Refresh, Once: o.Once})
		if errors.Is(err, watch.ErrUnreachable) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	// The view owns the screen: nothing may log to it.
	app.Logger = slog.New(slog.DiscardHandler)
	mq.RouteClientLogs(app.Logger, slog.LevelError)
	p := tea.NewProgram(watchModel(app, o, src), tea.WithAltScreen(), tea.WithContext(ctx),
		tea.WithInput(app.In), tea.WithOutput(app.Out))
	if _, err := p.Run(); err != nil && !errors.Is(err, tea.ErrProgramKilled) {
		return fmt.Errorf("watch: %w", err)
	}
	return nil
}

// watchSource connects the snapshot source and checks the watched campaign
// exists. The view opens even while MySQL is unreachable (it says so and
// connects when it can); the JSON output fails at once.
func watchSource(ctx context.Context, app *App, o *watchOptions) (*watch.Source, error) {
	src := &watch.Source{Target: o.Target,
		OpenDB: func(ctx context.Context) (store.Handler, error) { return app.DB(ctx) },
		Live:   func(ctx context.Context) (campaign.LiveCounters, error) { return app.LiveCounters(ctx) }}
	db, err := app.DB(ctx)
	switch {
	case err != nil && o.TUI:
		return src, nil
	case err != nil:
		return nil, err
	}
	src.DB = db
	if err := src.Check(ctx); err != nil {
		if errors.Is(err, watch.ErrNotFound) {
			return nil, fmt.Errorf("%w: %w", campaign.ErrNotFound, err)
		}
		return nil, err
	}
	return src, nil
}

// watchModel is the view of o's campaigns read from src.
func watchModel(app *App, o *watchOptions, src *watch.Source) watch.Model {
	return watch.New(watch.Config{Fetch: src.Fetch, Control: watchControl(app, o.Queues), Target: o.Target,
		Refresh: o.Refresh, ExitWhenDone: o.UntilDone})
}

// watchControl runs the view's control keys with the code of the campaign
// and coupon commands.
func watchControl(app *App, q *campaignQueues) func(context.Context, watch.Target, campaign.Action) (string, error) {
	return func(ctx context.Context, t watch.Target, a campaign.Action) (string, error) {
		switch t.Kind {
		case campaign.KindPromotion, campaign.KindHotGoods:
			res, err := campaignControl(ctx, app, q, t.Kind, a, t.ID, "")
			if err != nil {
				return "", campaignError(err)
			}
			return controlLine(fmt.Sprintf("%s %d", kindLabel(t.Kind), t.ID), res), nil
		case campaign.KindCoupon:
			if a == campaign.ActionCancel {
				return "", fmt.Errorf("a coupon push stops for good when the coupon is disabled: mktctl coupon disable %d", t.ID)
			}
			res, err := couponPushControl(ctx, app, q, a, int64(t.ID))
			if err != nil {
				return "", campaignError(err)
			}
			return controlLine(fmt.Sprintf("coupon %d push", t.ID), res), nil
		}
		return "", fmt.Errorf("%s runs cannot be controlled here", t.Kind)
	}
}
