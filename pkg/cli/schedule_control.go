package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/schedule"
)

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
		Args:  cobra.ExactArgs(1),
		RunE: runArgE(app, o, &o.ID, parseScheduleID, nil, forAction(action, runF),
			func(ctx context.Context, app *App, o *scheduleControlOptions) error {
				return runScheduleControl(ctx, app, action, o)
			}),
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
