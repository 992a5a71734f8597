package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/campaign"
	"mkt/pkg/money"
	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

// --- list

type campaignListOptions struct {
	Status string
	Limit  int
}

func newCampaignListCmd(app *App, runF func(*campaignListOptions) error) *cobra.Command {
	o := &campaignListOptions{}
	cmd := &cobra.Command{
		Use:   "list [--status S] [--limit N]",
		Short: "List campaigns, newest first",
		Args:  cobra.NoArgs,
		RunE:  runE(app, o, o.validate, runF, runCampaignList),
	}
	cmd.Flags().StringVar(&o.Status, "status", "", "only campaigns in this status: "+joinStrings(campaignStatuses))
	cmd.Flags().IntVar(&o.Limit, "limit", store.DefaultListLimit, limitUsage)
	return cmd
}

// campaignStatuses are the statuses `campaign list --status` takes, in
// lifecycle order.
var campaignStatuses = []campaign.Status{campaign.StatusCreated, campaign.StatusPlanning, campaign.StatusRunning,
	campaign.StatusPaused, campaign.StatusCancelled, campaign.StatusCompleted, campaign.StatusFailed}

// joinStrings lists the values of a string enum for a help text or an
// error: "a, b, c".
func joinStrings[S ~string](values []S) string {
	names := make([]string, len(values))
	for i, v := range values {
		names[i] = string(v)
	}
	return strings.Join(names, ", ")
}

func (o *campaignListOptions) validate() error {
	if o.Status != "" && !slices.Contains(campaignStatuses, campaign.Status(o.Status)) {
		return usageErrorf("--status %q: want one of %s", o.Status, joinStrings(campaignStatuses))
	}
	return inRange("--limit", o.Limit, 1, store.MaxListLimit)
}

func runCampaignList(ctx context.Context, app *App, o *campaignListOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	list, err := campaign.List(ctx, db, campaign.ListOptions{Status: campaign.Status(o.Status), Limit: o.Limit})
	if err != nil {
		return err
	}
	return render(app, nonNil(list), writeCampaignList)
}

// writeCampaignList prints `campaign list`'s table.
func writeCampaignList(w io.Writer, list []campaign.Campaign) error {
	rows := [][]string{{"ID", "STATUS", "KIND", "NAME", "CHANNELS", "AUDIENCE", "MEMBERS", "SHARDS", "START", "CREATED"}}
	for _, c := range list {
		rows = append(rows, []string{
			fmt.Sprint(c.ID), string(c.Status), string(c.Offer), textlimit.RunesMarked(c.Name, 32), channelList(c),
			textlimit.RunesMarked(c.Audience.String(), 40), plannedOr(c, fmt.Sprint(c.PlannedMembers)), plannedOr(c, fmt.Sprint(c.PlannedShards)),
			startText(c.StartAt), utcTime(c.CreatedAt),
		})
	}
	return table(w, rows)
}

func channelList(c campaign.Campaign) string { return channelNames(c.Channels) }

func plannedOr(c campaign.Campaign, v string) string {
	if c.PlannedAt == nil {
		return "-"
	}
	return v
}

func startText(t *time.Time) string { return utcTimeOr(t, "at once") }

// --- show

type campaignShowOptions struct{ ID uint64 }

func newCampaignShowCmd(app *App, runF func(*campaignShowOptions) error) *cobra.Command {
	o := &campaignShowOptions{}
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a campaign and its progress (shards by status, deliveries, ETA)",
		Args:  cobra.ExactArgs(1),
		RunE:  runArgE(app, o, &o.ID, parseID, nil, runF, runCampaignShow),
	}
}

// campaignReport is `campaign show`'s JSON: the campaign and its
// campaign.Report, the one `mktctl watch` draws.
type campaignReport struct {
	Campaign *campaign.Campaign `json:"campaign"`
	campaign.Report
	// ETA is at the campaign's lifetime average rate (watch uses the rate
	// of its last seconds).
	ETA       *float64                 `json:"eta_seconds,omitempty"`
	Schedules []campaign.ScheduledPush `json:"schedules"`
}

func runCampaignShow(ctx context.Context, app *App, o *campaignShowOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	c, err := campaign.Get(ctx, db, o.ID)
	if err != nil {
		return err
	}
	rep := campaignReport{Campaign: c}
	ropts := campaign.ReportOptions{Channels: c.Channels}
	if live, err := app.LiveCounters(ctx); err != nil {
		rep.LiveError = err.Error()
	} else {
		ropts.Live = live
	}
	if rep.Report, err = campaign.LoadReport(ctx, db, campaign.KindPromotion, c.ID, ropts); err != nil {
		return err
	}
	if c.Status == campaign.StatusRunning && c.PlannedAt != nil {
		rate := float64(rep.Processed) / time.Since(*c.PlannedAt).Seconds()
		if eta := campaign.ETA(rep.Processed, rep.Progress.Expected, rate); eta != nil && rep.Processed > 0 {
			secs := eta.Seconds()
			rep.ETA = &secs
		}
	}
	if rep.Schedules, err = campaign.ListSchedules(ctx, db, campaign.KindPromotion, c.ID); err != nil {
		return err
	}
	rep.Schedules = nonNil(rep.Schedules)
	return render(app, rep, writeCampaignReport)
}

// writeCampaignReport prints `campaign show`'s table.
func writeCampaignReport(w io.Writer, rep campaignReport) error {
	c, p := rep.Campaign, rep.Progress
	offer := ""
	switch c.Offer {
	case campaign.OfferFullReduction:
		offer = fmt.Sprintf("spend %s, save %s", money.Format(c.ThresholdCents), money.Format(c.DiscountCents))
	case campaign.OfferFlatDiscount:
		offer = money.Format(c.DiscountCents) + " off"
	case campaign.OfferPercentageOff:
		offer = fmt.Sprintf("%d%% off", c.PercentOff)
	case campaign.OfferGift:
		offer = c.GiftText
	}
	status := campaign.DisplayStatus(c.Status, p.Running)
	if c.StatusReason != "" {
		status += " (" + c.StatusReason + ")"
	}
	rows := [][]string{
		{"id", fmt.Sprint(c.ID)},
		{"name", c.Name},
		{"kind", fmt.Sprintf("%s: %s", c.Offer, offer)},
		{"status", status},
		{"channels", channelList(*c)},
		{"audience", c.Audience.String()},
		{"template", textlimit.RunesMarked(c.Template, 80)},
		{"shard size", fmt.Sprint(c.ShardSize)},
		{"start", startText(c.StartAt)},
		{"created", utcTime(c.CreatedAt) + " by " + c.CreatedBy},
	}
	if c.RequestID != nil {
		rows = append(rows, []string{"request id", *c.RequestID})
	}
	if c.PlannedAt != nil {
		rows = append(rows, []string{"planned", fmt.Sprintf("%d members in %d shards at %s",
			c.PlannedMembers, c.PlannedShards, utcTime(*c.PlannedAt))})
	}
	if c.FinishedAt != nil {
		rows = append(rows, []string{"finished", utcTime(*c.FinishedAt)})
	}
	if p.Shards > 0 {
		rows = append(rows,
			[]string{"shards", fmt.Sprintf("%d: pending %d, running %d, paused %d, done %d, cancelled %d, failed %d",
				p.Shards, p.Pending, p.Running, p.Paused, p.Done, p.Cancelled, p.Failed)},
			[]string{"members", fmt.Sprintf("%d of %d processed (%.1f%%)", rep.Processed, p.Expected, rep.Percent)},
			[]string{"deliveries", fmt.Sprintf("%d sent, %d failed (member × channel)", p.Sent, p.FailedN)},
		)
		if rep.Live != nil {
			for _, ch := range rep.Live.Channels {
				rows = append(rows, []string{"  " + string(ch.Channel), fmt.Sprintf("%d sent, %d failed (live counters)", ch.Sent, ch.Failed)})
			}
		}
	}
	if rep.ETA != nil {
		rows = append(rows, []string{"eta", time.Duration(*rep.ETA * float64(time.Second)).Round(time.Second).String()})
	}
	for _, s := range rep.Schedules {
		line := fmt.Sprintf("%s at %s (attempts %d)", s.Status, utcTime(s.RunAt), s.Attempts)
		if s.LastError != "" {
			line += ": " + s.LastError
		}
		rows = append(rows, []string{"scheduled launch", line})
	}
	return table(w, rows)
}
