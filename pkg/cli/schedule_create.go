package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/campaign"
	"mkt/pkg/schedule"
	"mkt/pkg/store"
)

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
		Args: cobra.NoArgs,
	}
	cmd.RunE = runE(app, o, func() error { return o.resolve(hot, from, cmd.Flags().Changed("from-campaign")) }, runF, runScheduleCreate)
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
