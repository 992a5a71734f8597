package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"mkt/pkg/campaign"
)

type campaignFailuresOptions struct {
	ID      uint64
	After   uint64
	Limit   int
	Summary bool
}

func (o *campaignFailuresOptions) check() error {
	if o.Limit < 1 || o.Limit > 10_000 {
		return usageErrorf("--limit must be within 1..10000 (got %d)", o.Limit)
	}
	return nil
}

func newCampaignFailuresCmd(app *App, runF func(*campaignFailuresOptions) error) *cobra.Command {
	o := &campaignFailuresOptions{}
	cmd := &cobra.Command{
		Use:   "failures ID",
		Short: "List a campaign's failed deliveries (member, channel, reason), or --summary by reason",
		Long: `failures pages through the deliveries recorded failed (push_failure, the
failed push_message rows), in member id order: --after continues after a
member id (the last one printed). --summary counts them by channel and
reason instead. retry-failed re-sends exactly these.`,
		Args: cobra.ExactArgs(1),
		RunE: runArgE(app, o, &o.ID, parseID, o.check, runF, runCampaignFailures),
	}
	f := cmd.Flags()
	f.Uint64Var(&o.After, "after", 0, "list failures of members after this id")
	f.IntVar(&o.Limit, "limit", 100, "rows at most (1..10000)")
	f.BoolVar(&o.Summary, "summary", false, "count failures by channel and reason")
	return cmd
}

func runCampaignFailures(ctx context.Context, app *App, o *campaignFailuresOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	if _, err := campaign.Get(ctx, db, o.ID); err != nil {
		return err
	}
	if o.Summary {
		rs, err := campaign.CountFailureReasons(ctx, db, campaign.KindPromotion, o.ID)
		if err != nil {
			return err
		}
		return render(app, rs, writeFailureReasons)
	}
	fs, err := campaign.ListFailures(ctx, db, campaign.KindPromotion, o.ID, o.After, o.Limit)
	if err != nil {
		return err
	}
	if app.JSON {
		return writeJSON(app.Out, nonNil(fs))
	}
	if err := writeFailures(app.Out, fs); err != nil {
		return err
	}
	if len(fs) == o.Limit {
		fmt.Fprintf(app.Err, "more: --after %d\n", fs[len(fs)-1].MemberID)
	}
	return nil
}

// writeFailureReasons prints `campaign failures --summary`'s table.
func writeFailureReasons(w io.Writer, rs []campaign.FailureReason) error {
	rows := [][]string{{"CHANNEL", "REASON", "DELIVERIES"}}
	for _, r := range rs {
		rows = append(rows, []string{r.Channel, r.Reason, strconv.FormatInt(r.Count, 10)})
	}
	return table(w, rows)
}

// writeFailures prints `campaign failures`'s table.
func writeFailures(w io.Writer, fs []campaign.Failure) error {
	rows := [][]string{{"MEMBER", "CHANNEL", "SHARD", "ATTEMPTS", "REASON", "AT"}}
	for _, f := range fs {
		rows = append(rows, []string{strconv.FormatUint(f.MemberID, 10), f.Channel, strconv.Itoa(f.ShardNo),
			strconv.Itoa(f.Attempts), f.Reason, utcTime(f.UpdatedAt)})
	}
	return table(w, rows)
}
