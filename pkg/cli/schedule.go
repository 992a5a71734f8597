package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/campaign"
	"mkt/pkg/schedule"
	"mkt/pkg/store"
)

const scheduleLong = `schedule manages recurring schedules, fired by pushd.

A schedule is a cron expression read in a time zone and an action: the day's
hot-goods run (--hotgoods: the pending rows of the firing's local date, as
"hotgoods run --date" launches them) or a template campaign (--from-campaign
ID: each firing creates a new promotion with that campaign's content,
audience, channels and shard size).

Every running pushd looks for due schedules every second; each firing
happens exactly once however many pushd run (a unique key on schedule and
fire time), and the campaign it creates carries a request id derived from
both, so a pushd dying mid-firing never leads to two campaigns. A firing
missed while no pushd ran is fired once when one returns if it is at most
--max-lateness late, otherwise recorded skipped; older missed firings are
recorded skipped, never fired in a burst. "schedule show" lists the recent
firings with the campaign each created or why it was skipped or failed.

Zones are IANA names (Asia/Shanghai, America/New_York, UTC). Daylight-saving
changes follow RFC 5545: a local time that occurs twice fires once, at its
first occurrence; one that does not exist fires at the offset before the
change (02:30 on the spring-forward night in New York fires at 03:30 EDT).
Expressions whose hour field is every hour ("*/15 * * * *", @hourly) fire by
elapsed time instead. "schedule next ID" shows the next firings in the zone
and in UTC. See docs/SCHEDULES.md.`

func newScheduleCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Recurring schedules fired by pushd: create, list, show, pause, resume, delete, next firings",
		Long:  scheduleLong,
	}
	cmd.AddCommand(
		newScheduleCreateCmd(app, nil),
		newScheduleListCmd(app, nil),
		newScheduleShowCmd(app, nil),
		newScheduleNextCmd(app, nil),
	)
	for _, action := range []string{"pause", "resume", "delete"} {
		cmd.AddCommand(newScheduleControlCmd(app, action, nil))
	}
	return cmd
}

// scheduleError maps schedule errors to exit codes: invalid input is a
// usage error.
func scheduleError(err error) error {
	if errors.Is(err, schedule.ErrInvalid) || errors.Is(err, schedule.ErrNeverFires) {
		if !errors.Is(err, ErrUsage) {
			return fmt.Errorf("%w: %w", ErrUsage, err)
		}
	}
	return campaignError(err)
}

func parseScheduleID(arg string) (uint64, error) {
	id, err := store.ParseID(arg)
	if err != nil {
		return 0, usageErrorf("schedule id %q: want a positive integer", arg)
	}
	return id, nil
}

// firingTime is one firing in the schedule's zone and in UTC.
type firingTime struct {
	Local string    `json:"local"`
	UTC   time.Time `json:"utc"`
}

func firingTimes(ts []time.Time) []firingTime {
	out := make([]firingTime, len(ts))
	for i, t := range ts {
		out[i] = firingTime{Local: t.Format("2006-01-02 15:04 MST (-07:00)"), UTC: t.UTC()}
	}
	return out
}

func localTime(t *time.Time, zone string) string {
	if t == nil {
		return "-"
	}
	loc, err := schedule.LoadZone(zone)
	if err != nil {
		return t.UTC().Format("2006-01-02 15:04 UTC")
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// --- create

type scheduleCreateOptions struct {
	Spec schedule.Spec
}

func newScheduleCreateCmd(app *App, runF func(*scheduleCreateOptions) error) *cobra.Command {
	o := &scheduleCreateOptions{}
	var hot bool
	var from string
	cmd := &cobra.Command{
		Use:   "create --cron EXPR [--tz ZONE] (--hotgoods | --from-campaign ID)",
		Short: "Create a recurring schedule: the day's hot-goods run or copies of a campaign",
		Long: `create validates the expression, zone, max lateness and action, and stores the
schedule, active from now; it prints its id (--json: the schedule and its next
firings). Bad input exits 2 and stores nothing.

--cron takes five fields (minute hour day-of-month month day-of-week, e.g.
"0 10 * * *", "30 9 * * 1-5", "*/15 * * * *") or @hourly, @daily, @weekly,
@monthly, @yearly; no seconds field, no @every. --from-campaign takes a
promotion's id (or promotion:ID); coupon pushes and hot-goods runs cannot be
copied.`,
		Example: `  mktctl schedule create --cron "0 10 * * *" --tz Asia/Shanghai --hotgoods
  mktctl schedule create --cron "0 20 * * 5" --tz Asia/Shanghai --from-campaign 7 --name "Friday flash sale"`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.resolve(hot, from, cmd.Flags().Changed("from-campaign")); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runScheduleCreate(cmd.Context(), app, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Spec.Cron, "cron", "", `cron expression, e.g. "0 10 * * *" (required)`)
	f.StringVar(&o.Spec.Zone, "tz", "UTC", "IANA time zone the expression is read in, e.g. Asia/Shanghai")
	f.BoolVar(&hot, "hotgoods", false, "action: launch the day's hot-goods run (the firing's local date)")
	f.StringVar(&from, "from-campaign", "", "action: create a copy of this promotion at each firing (ID or promotion:ID)")
	f.StringVar(&o.Spec.Name, "name", "", "name (default: what it does and when)")
	f.DurationVar(&o.Spec.MaxLateness, "max-lateness", schedule.DefaultMaxLateness,
		fmt.Sprintf("a firing reached later than this (no pushd ran) is recorded skipped instead of fired, %v..%v", schedule.MinMaxLateness, schedule.MaxMaxLateness))
	f.StringVar(&o.Spec.CreatedBy, "created-by", operatorName(), "operator name recorded with the schedule")
	return cmd
}

// resolve turns the action flags into the spec and validates what needs no
// database.
func (o *scheduleCreateOptions) resolve(hot bool, from string, fromGiven bool) error {
	switch {
	case hot && fromGiven:
		return usageErrorf("give one action: --hotgoods or --from-campaign, not both")
	case hot:
		o.Spec.Action = schedule.ActionHotGoods
	case fromGiven:
		o.Spec.Action = schedule.ActionCampaign
		kind, idText := string(campaign.KindPromotion), strings.TrimSpace(from)
		if k, rest, ok := strings.Cut(idText, ":"); ok {
			kind, idText = k, rest
		}
		k, err := campaign.ParseKind(kind)
		if err != nil {
			return usageErrorf("--from-campaign %q: %v", from, err)
		}
		id, err := store.ParseID(idText)
		if err != nil {
			return usageErrorf("--from-campaign %q: want a campaign id (a positive integer)", from)
		}
		o.Spec.TemplateKind, o.Spec.TemplateID = k, id
	default:
		return usageErrorf("an action is required: --hotgoods (the day's hot-goods run) or --from-campaign ID (copies of a campaign)")
	}
	if strings.TrimSpace(o.Spec.Cron) == "" {
		return usageErrorf("--cron is required, e.g. \"0 10 * * *\"")
	}
	if _, err := o.Spec.Validate(); err != nil {
		return usageErrorf("%s", strings.ReplaceAll(strings.ReplaceAll(err.Error(), "schedule: invalid: ", ""), "\n", "; "))
	}
	return nil
}

// scheduleReport is `schedule create --json`'s and `schedule show --json`'s
// output.
type scheduleReport struct {
	Schedule    *schedule.Schedule `json:"schedule"`
	Does        string             `json:"does"`
	NextFirings []firingTime       `json:"next_firings"`
	Firings     []schedule.Firing  `json:"firings"`
}

func newScheduleReport(s *schedule.Schedule, now time.Time, n int) scheduleReport {
	r := scheduleReport{Schedule: s, Does: s.Describe(), NextFirings: []firingTime{}, Firings: []schedule.Firing{}}
	if c, err := s.Parse(); err == nil && s.Status == schedule.StatusActive && s.NextFireAt != nil {
		first := s.NextFireAt.In(c.Location())
		r.NextFirings = firingTimes(append([]time.Time{first}, c.NextN(first, n-1)...))
	}
	return r
}

func runScheduleCreate(ctx context.Context, app *App, o *scheduleCreateOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	now, err := schedule.DBNow(ctx, db)
	if err != nil {
		return err
	}
	s, err := schedule.Create(ctx, db, o.Spec, now)
	if err != nil {
		return scheduleError(err)
	}
	rep := newScheduleReport(s, now, 3)
	if app.JSON {
		return writeJSON(app.Out, rep)
	}
	fmt.Fprintln(app.Out, s.ID)
	next := "-"
	if len(rep.NextFirings) > 0 {
		next = rep.NextFirings[0].Local
	}
	fmt.Fprintf(app.Err, "schedule %d: %s at %q %s; next firing %s\n", s.ID, s.Describe(), s.Cron, s.Zone, next)
	return nil
}

// --- list

type scheduleListOptions struct{ All bool }

func newScheduleListCmd(app *App, runF func(*scheduleListOptions) error) *cobra.Command {
	o := &scheduleListOptions{}
	cmd := &cobra.Command{
		Use:   "list [--all]",
		Short: "List the schedules with their next firing",
		Args:  usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return runScheduleList(cmd.Context(), app, o)
		},
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
	if app.JSON {
		return writeJSON(app.Out, list)
	}
	rows := [][]string{{"ID", "NAME", "CRON", "ZONE", "DOES", "STATUS", "NEXT FIRING", "NEXT (UTC)", "MAX LATE"}}
	for _, s := range list {
		utcNext := "-"
		if s.NextFireAt != nil {
			utcNext = s.NextFireAt.UTC().Format("2006-01-02 15:04")
		}
		rows = append(rows, []string{fmt.Sprint(s.ID), ellipsis(s.Name, 32), s.Cron, s.Zone, s.Describe(), string(s.Status),
			localTime(s.NextFireAt, s.Zone), utcNext, s.MaxLateness().String()})
	}
	return table(app.Out, rows)
}

// --- show

type scheduleShowOptions struct {
	ID      uint64
	Firings int
}

func newScheduleShowCmd(app *App, runF func(*scheduleShowOptions) error) *cobra.Command {
	o := &scheduleShowOptions{}
	cmd := &cobra.Command{
		Use:   "show ID [--firings N]",
		Short: "Show a schedule, its next firings and its recent firings with what each created",
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseScheduleID(args[0])
			if err != nil {
				return err
			}
			o.ID = id
			if o.Firings < 1 || o.Firings > 1000 {
				return usageErrorf("--firings %d: want 1..1000", o.Firings)
			}
			if runF != nil {
				return runF(o)
			}
			return runScheduleShow(cmd.Context(), app, o)
		},
	}
	cmd.Flags().IntVar(&o.Firings, "firings", 20, "recent firings listed, 1..1000")
	return cmd
}

func runScheduleShow(ctx context.Context, app *App, o *scheduleShowOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	s, err := schedule.Get(ctx, db, o.ID)
	if err != nil {
		return err
	}
	now, err := schedule.DBNow(ctx, db)
	if err != nil {
		return err
	}
	rep := newScheduleReport(s, now, 3)
	if rep.Firings, err = schedule.ListFirings(ctx, db, s.ID, o.Firings); err != nil {
		return err
	}
	if app.JSON {
		return writeJSON(app.Out, rep)
	}
	w := app.Out
	fmt.Fprintf(w, "schedule %d: %s\n", s.ID, campaign.Printable(s.Name))
	fmt.Fprintf(w, "does:          %s\n", s.Describe())
	fmt.Fprintf(w, "when:          %q in %s\n", s.Cron, s.Zone)
	fmt.Fprintf(w, "status:        %s\n", s.Status)
	fmt.Fprintf(w, "max lateness:  %s\n", s.MaxLateness())
	fmt.Fprintf(w, "created:       %s by %s\n", s.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"), campaign.Printable(s.CreatedBy))
	if len(rep.NextFirings) == 0 {
		fmt.Fprintf(w, "next firings:  none (%s)\n", s.Status)
	}
	for i, n := range rep.NextFirings {
		label := "next firings:"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%-14s %s = %s\n", label, n.Local, n.UTC.Format("2006-01-02 15:04 UTC"))
	}
	fmt.Fprintf(w, "\nrecent firings (%d):\n", len(rep.Firings))
	if len(rep.Firings) == 0 {
		return nil
	}
	rows := [][]string{{"FIRE AT", "UTC", "STATUS", "CAMPAIGN", "ATTEMPTS", "REASON"}}
	for _, f := range rep.Firings {
		rows = append(rows, []string{localTime(&f.FireAt, s.Zone), f.FireAt.UTC().Format("2006-01-02 15:04"), string(f.Status),
			cmpOr(f.Campaign(), "-"), fmt.Sprint(f.Attempts), cmpOr(f.Reason, "-")})
	}
	return table(w, rows)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// --- next

type scheduleNextOptions struct {
	ID    uint64
	Count int
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
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseScheduleID(args[0])
			if err != nil {
				return err
			}
			o.ID = id
			if o.Count < 1 || o.Count > 1000 {
				return usageErrorf("--count %d: want 1..1000", o.Count)
			}
			if runF != nil {
				return runF(o)
			}
			return runScheduleNext(cmd.Context(), app, o)
		},
	}
	cmd.Flags().IntVar(&o.Count, "count", 5, "how many, 1..1000")
	return cmd
}

func runScheduleNext(ctx context.Context, app *App, o *scheduleNextOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	s, err := schedule.Get(ctx, db, o.ID)
	if err != nil {
		return err
	}
	c, err := s.Parse()
	if err != nil {
		return err
	}
	now, err := schedule.DBNow(ctx, db)
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
	rows := [][]string{{"LOCAL (" + s.Zone + ")", "UTC"}}
	for _, f := range out.Firings {
		rows = append(rows, []string{f.Local, f.UTC.Format("2006-01-02 15:04 UTC")})
	}
	return table(app.Out, rows)
}

// --- pause, resume, delete

var scheduleControlHelp = map[string][2]string{
	"pause": {"Pause a schedule: no firing until resume (a firing in progress finishes)",
		`pause stops a schedule's firings until resume. A firing already claimed by a
pushd finishes. Pausing a paused schedule changes nothing; a deleted one exits 1.`},
	"resume": {"Resume a paused schedule from now (the firings it missed are not made up)",
		`resume makes a paused schedule active again; its next firing is the first
after now: firings that fell in the pause are not made up. A deleted schedule
exits 1.`},
	"delete": {"Delete a schedule: it never fires again (its firings stay on record)",
		`delete ends a schedule for good: it never fires again, "schedule list" shows
it only with --all, and "schedule show" still lists its firings. A firing
already claimed by a pushd finishes.`},
}

type scheduleControlOptions struct{ ID uint64 }

func newScheduleControlCmd(app *App, action string, runF func(string, *scheduleControlOptions) error) *cobra.Command {
	o := &scheduleControlOptions{}
	help := scheduleControlHelp[action]
	return &cobra.Command{
		Use:   action + " ID",
		Short: help[0],
		Long:  help[1],
		Args:  usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseScheduleID(args[0])
			if err != nil {
				return err
			}
			o.ID = id
			if runF != nil {
				return runF(action, o)
			}
			return runScheduleControl(cmd.Context(), app, action, o)
		},
	}
}

func runScheduleControl(ctx context.Context, app *App, action string, o *scheduleControlOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	var ch schedule.Change
	switch action {
	case "pause":
		ch, err = schedule.Pause(ctx, db, o.ID)
	case "resume":
		var now time.Time
		if now, err = schedule.DBNow(ctx, db); err == nil {
			ch, err = schedule.Resume(ctx, db, o.ID, now)
		}
	case "delete":
		ch, err = schedule.Delete(ctx, db, o.ID)
	}
	if err != nil {
		return err
	}
	if app.JSON {
		return writeJSON(app.Out, ch)
	}
	past := map[string]string{"pause": "paused", "resume": "resumed", "delete": "deleted"}[action]
	line := fmt.Sprintf("schedule %d %s", o.ID, past)
	if !ch.Changed {
		line = fmt.Sprintf("schedule %d was already %s; nothing changed", o.ID, ch.Schedule.Status)
	}
	if ch.Schedule.NextFireAt != nil {
		line += "; next firing " + localTime(ch.Schedule.NextFireAt, ch.Schedule.Zone)
	}
	fmt.Fprintln(app.Out, line)
	return nil
}
