package cli

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/schedule"
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

// newScheduleCmd is the schedule group. Its commands live in schedule_*.go:
// create (schedule_create.go), list, show and next (schedule_show.go), pause,
// resume and delete (schedule_control.go).
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
		err = asUsage(err)
	}
	return campaignError(err)
}

// parseScheduleID parses a schedule id argument.
var parseScheduleID = idArg("schedule id")

// firingTime is one firing in the schedule's zone and in UTC.
type firingTime struct {
	Local string    `json:"local"`
	UTC   time.Time `json:"utc"`
}

func firingTimes(ts []time.Time) []firingTime {
	out := make([]firingTime, len(ts))
	for i, t := range ts {
		out[i] = firingTime{Local: t.Format(minuteLayout + " MST (-07:00)"), UTC: t.UTC()}
	}
	return out
}

func localTime(t *time.Time, zone string) string {
	if t == nil {
		return "-"
	}
	loc, err := schedule.LoadZone(zone)
	if err != nil {
		return utcMinute(*t) + " UTC"
	}
	return t.In(loc).Format(minuteLayout + " MST")
}
