package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/campaign"
	"mkt/pkg/schedule"
	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

// --- list

type scheduleListOptions struct{ All bool }

func newScheduleListCmd(app *App, runF func(*scheduleListOptions) error) *cobra.Command {
	o := &scheduleListOptions{}
	cmd := &cobra.Command{
		Use:   "list [--all]",
		Short: "List the schedules with their next firing",
		Args:  cobra.NoArgs,
		RunE:  runE(app, o, nil, runF, runScheduleList),
	}
	cmd.Flags().BoolVar(&o.All, "all", false, "include deleted schedules")
	return cmd
}

func runScheduleList(ctx context.Context, app *App, o *scheduleListOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	list, err := schedule.List(ctx, db, o.All)
	if err != nil {
		return err
	}
	return render(app, list, writeScheduleList)
}

// writeScheduleList prints `schedule list`'s table.
func writeScheduleList(w io.Writer, list []schedule.Schedule) error {
	rows := [][]string{{"ID", "NAME", "CRON", "ZONE", "DOES", "STATUS", "NEXT FIRING", "NEXT (UTC)", "MAX LATE"}}
	for _, s := range list {
		utcNext := "-"
		if s.NextFireAt != nil {
			utcNext = utcMinute(*s.NextFireAt)
		}
		rows = append(rows, []string{fmt.Sprint(s.ID), textlimit.RunesMarked(s.Name, 32), s.Cron, s.Zone, s.Describe(), string(s.Status),
			localTime(s.NextFireAt, s.Zone), utcNext, s.MaxLateness().String()})
	}
	return table(w, rows)
}

// --- show

type scheduleShowOptions struct {
	ID      uint64
	Firings int
}

func (o *scheduleShowOptions) check() error {
	return inRange("--firings", o.Firings, 1, 1000)
}

func newScheduleShowCmd(app *App, runF func(*scheduleShowOptions) error) *cobra.Command {
	o := &scheduleShowOptions{}
	cmd := &cobra.Command{
		Use:   "show ID [--firings N]",
		Short: "Show a schedule, its next firings and its recent firings with what each created",
		Args:  cobra.ExactArgs(1),
		RunE:  runArgE(app, o, &o.ID, parseScheduleID, o.check, runF, runScheduleShow),
	}
	cmd.Flags().IntVar(&o.Firings, "firings", 20, "recent firings listed, 1..1000")
	return cmd
}

// loadSchedule reads schedule id and the database's clock, which its
// firings are computed from.
func loadSchedule(ctx context.Context, app *App, id uint64) (*store.DB, *schedule.Schedule, time.Time, error) {
	db, err := app.DB(ctx)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	s, err := schedule.Get(ctx, db, id)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	now, err := schedule.DBNow(ctx, db)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	return db, s, now, nil
}

func runScheduleShow(ctx context.Context, app *App, o *scheduleShowOptions) error {
	db, s, now, err := loadSchedule(ctx, app, o.ID)
	if err != nil {
		return err
	}
	rep := newScheduleReport(s, now, 3)
	if rep.Firings, err = schedule.ListFirings(ctx, db, s.ID, o.Firings); err != nil {
		return err
	}
	return render(app, rep, writeScheduleShow)
}

// writeScheduleShow prints `schedule show`: the schedule, its next firings
// and a table of its recent firings.
func writeScheduleShow(w io.Writer, rep scheduleReport) error {
	s := rep.Schedule
	fmt.Fprintf(w, "schedule %d: %s\n", s.ID, campaign.Printable(s.Name))
	fmt.Fprintf(w, "does:          %s\n", s.Describe())
	fmt.Fprintf(w, "when:          %q in %s\n", s.Cron, s.Zone)
	fmt.Fprintf(w, "status:        %s\n", s.Status)
	fmt.Fprintf(w, "max lateness:  %s\n", s.MaxLateness())
	fmt.Fprintf(w, "created:       %s by %s\n", utcTime(s.CreatedAt)+" UTC", campaign.Printable(s.CreatedBy))
	if len(rep.NextFirings) == 0 {
		fmt.Fprintf(w, "next firings:  none (%s)\n", s.Status)
	}
	for i, n := range rep.NextFirings {
		label := "next firings:"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%-14s %s = %s\n", label, n.Local, utcMinute(n.UTC)+" UTC")
	}
	fmt.Fprintf(w, "\nrecent firings (%d):\n", len(rep.Firings))
	if len(rep.Firings) == 0 {
		return nil
	}
	rows := [][]string{{"FIRE AT", "UTC", "STATUS", "CAMPAIGN", "ATTEMPTS", "REASON"}}
	for _, f := range rep.Firings {
		rows = append(rows, []string{localTime(&f.FireAt, s.Zone), utcMinute(f.FireAt), string(f.Status),
			cmp.Or(f.Campaign(), "-"), fmt.Sprint(f.Attempts), cmp.Or(f.Reason, "-")})
	}
	return table(w, rows)
}

// --- next

type scheduleNextOptions struct {
	ID    uint64
	Count int
}

func (o *scheduleNextOptions) check() error {
	return inRange("--count", o.Count, 1, 1000)
}

// scheduleNext is `schedule next --json`'s output.
type scheduleNext struct {
	ScheduleID uint64       `json:"schedule_id"`
	Cron       string       `json:"cron"`
	Zone       string       `json:"time_zone"`
	Status     string       `json:"status"`
	Firings    []firingTime `json:"firings"`
}

func newScheduleNextCmd(app *App, runF func(*scheduleNextOptions) error) *cobra.Command {
	o := &scheduleNextOptions{}
	cmd := &cobra.Command{
		Use:   "next ID [--count N]",
		Short: "The next firings of a schedule, in its zone and in UTC",
		Long: `next computes the schedule's next firings from now, in its zone and in UTC
(for a paused schedule: those it would have if resumed now).`,
		Args: cobra.ExactArgs(1),
		RunE: runArgE(app, o, &o.ID, parseScheduleID, o.check, runF, runScheduleNext),
	}
	cmd.Flags().IntVar(&o.Count, "count", 5, "how many, 1..1000")
	return cmd
}

func runScheduleNext(ctx context.Context, app *App, o *scheduleNextOptions) error {
	_, s, now, err := loadSchedule(ctx, app, o.ID)
	if err != nil {
		return err
	}
	c, err := s.Parse()
	if err != nil {
		return err
	}
	from := now
	if s.Status == schedule.StatusActive && s.NextFireAt != nil && s.NextFireAt.Before(now) {
		from = s.NextFireAt.Add(-time.Millisecond) // due, not fired yet
	}
	out := scheduleNext{ScheduleID: s.ID, Cron: s.Cron, Zone: s.Zone, Status: string(s.Status), Firings: firingTimes(c.NextN(from, o.Count))}
	if app.JSON {
		return writeJSON(app.Out, out)
	}
	if s.Status != schedule.StatusActive {
		fmt.Fprintf(app.Err, "schedule %d is %s: these are the firings it would have if active\n", s.ID, s.Status)
	}
	return writeScheduleNext(app.Out, out)
}

// writeScheduleNext prints `schedule next`'s table.
func writeScheduleNext(w io.Writer, out scheduleNext) error {
	rows := [][]string{{"LOCAL (" + out.Zone + ")", "UTC"}}
	for _, f := range out.Firings {
		rows = append(rows, []string{f.Local, utcMinute(f.UTC) + " UTC"})
	}
	return table(w, rows)
}
