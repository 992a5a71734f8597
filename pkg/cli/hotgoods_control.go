package cli

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"mkt/pkg/campaign"
	"mkt/pkg/store"
)

// --- pause, resume, cancel, retry-failed

type hotgoodsControlOptions struct {
	ID     uint64
	Reason string
}

func newHotgoodsControlCmd(app *App, q *campaignQueues, action string, runF func(string, *hotgoodsControlOptions) error) *cobra.Command {
	o := &hotgoodsControlOptions{}
	cmd := &cobra.Command{
		Use:   action + " RUN_ID",
		Short: strings.ToUpper(action[:1]) + action[1:] + " a hot-goods run, as `campaign " + action + "` does a promotion",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := store.ParseID(args[0])
			if err != nil {
				return usageErrorf("run id %q: want a positive integer", args[0])
			}
			o.ID = id
			if utf8.RuneCountInString(o.Reason) > 200 {
				return usageErrorf("--reason is longer than 200 characters")
			}
			if runF != nil {
				return runF(action, o)
			}
			return runHotgoodsControl(cmd.Context(), app, q, action, o)
		},
	}
	if action == "cancel" {
		cmd.Flags().StringVar(&o.Reason, "reason", "", "why, recorded with the run (default \"cancelled by operator\")")
	}
	return cmd
}

func runHotgoodsControl(ctx context.Context, app *App, q *campaignQueues, action string, o *hotgoodsControlOptions) error {
	res, err := campaignControl(ctx, app, q, campaign.KindHotGoods, action, o.ID, o.Reason)
	if err != nil {
		return campaignError(err)
	}
	if app.JSON {
		return writeJSON(app.Out, res)
	}
	fmt.Fprintln(app.Out, controlLine(fmt.Sprintf("hot-goods run %d", o.ID), res))
	return nil
}
