package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"mkt/pkg/campaign"
	"mkt/pkg/coupon"
	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

// couponPushHelp is the short and long help of each push control command.
var couponPushHelp = map[campaign.Action][2]string{
	campaign.ActionPause: {"Pause a push-mode coupon's push: pushd parks its shards at their checkpoint",
		`pause moves the push of a push-mode coupon (created, planning or running) to
paused and its pending shards to paused; every pushd parks the shard it holds
at its next page. Nothing more is issued or announced until resume: members
of the pages done hold the coupon and were told, the others wait. The coupon
itself stays active (an item already held can be used).`},
	campaign.ActionResume: {"Resume a paused coupon push from its shards' checkpoints",
		`resume moves a paused coupon push back to running and republishes a task per
pending shard; each continues at its checkpoint, so nothing is issued or
announced twice. A push paused before it was planned goes back to the planner.`},
	campaign.ActionRetryFailed: {"Re-send a coupon's announcement to the members whose delivery failed",
		`retry-failed re-sends the "your coupon is waiting" message only to the
member × channel deliveries recorded failed (push_message rows of kind
coupon). Nothing is issued again.`},
}

type couponPushControlOptions struct{ ID int64 }

func newCouponPushControlCmd(app *App, q *campaignQueues, action campaign.Action, runF func(string, *couponPushControlOptions) error) *cobra.Command {
	o := &couponPushControlOptions{}
	help := couponPushHelp[action]
	return &cobra.Command{
		Use:   string(action) + " COUPON_ID",
		Short: help[0],
		Long:  help[1] + "\n\nTo stop a push for good, disable the coupon (coupon disable): its push is cancelled.",
		Args:  cobra.ExactArgs(1),
		RunE: runArgE(app, o, &o.ID, parseCouponID, nil, forAction(string(action), runF),
			func(ctx context.Context, app *App, o *couponPushControlOptions) error {
				return runCouponPushControl(ctx, app, q, action, o)
			}),
	}
}

func runCouponPushControl(ctx context.Context, app *App, q *campaignQueues, action campaign.Action, o *couponPushControlOptions) error {
	id := o.ID
	res, err := couponPushControl(ctx, app, q, action, id)
	if err != nil {
		return campaignError(err)
	}
	if app.JSON {
		return writeJSON(app.Out, res)
	}
	fmt.Fprintln(app.Out, controlLine(fmt.Sprintf("coupon %d push", id), res))
	return nil
}

// couponPushControl runs action (pause, resume, retry-failed) on the push
// of coupon id: the code behind `mktctl coupon ACTION` and the control keys
// of `mktctl watch` on a coupon push.
func couponPushControl(ctx context.Context, app *App, q *campaignQueues, action campaign.Action, id int64) (campaign.ControlResult, error) {
	var res campaign.ControlResult
	db, err := app.DB(ctx)
	if err != nil {
		return res, err
	}
	// Fail on a bad id or a lazy coupon before starting a producer.
	c, err := coupon.Get(ctx, db, id)
	if err != nil {
		return res, err
	}
	if c.Mode != coupon.ModePush {
		return res, fmt.Errorf("%w: coupon %d is a %s coupon: it has no push to %s", campaign.ErrConflict, id, c.Mode, action)
	}
	switch action {
	case campaign.ActionPause, campaign.ActionResume, campaign.ActionRetryFailed: // a push is cancelled by disabling its coupon
		return q.control(ctx, app, db, campaign.KindCoupon, action, uint64(id), "")
	}
	return res, fmt.Errorf("unknown coupon push action %q", action)
}

// couponPushShow is a push-mode coupon's push run in `coupon show`.
type couponPushShow struct {
	Status         campaign.Status   `json:"status"`
	PlannedMembers int64             `json:"planned_members"`
	PlannedShards  int               `json:"planned_shards"`
	Shards         campaign.Progress `json:"shards"`
	// Announced counts the members sent the message on at least one channel.
	Announced int64 `json:"announced"`
}

func loadCouponPush(ctx context.Context, db *store.DB, c *coupon.Coupon) (*couponPushShow, error) {
	out := &couponPushShow{Status: c.PushStatus, PlannedMembers: c.PlannedMembers, PlannedShards: c.PlannedShards}
	var err error
	if out.Shards, err = campaign.ShardProgress(ctx, db, campaign.KindCoupon, uint64(c.ID)); err != nil {
		return nil, err
	}
	if err := db.GetContext(ctx, &out.Announced, `SELECT COUNT(DISTINCT member_id) FROM push_message
		WHERE campaign_kind = 'coupon' AND campaign_id = ? AND status = 'sent'`, c.ID); err != nil {
		return nil, fmt.Errorf("coupon %d: count members announced to: %w", c.ID, store.MapError(err))
	}
	return out, nil
}

func (p *couponPushShow) rows(c *coupon.Coupon) [][]string {
	chans := make([]string, len(c.Channels))
	for i, ch := range c.Channels {
		chans[i] = string(ch)
	}
	tmpl := ""
	if c.Template != nil {
		tmpl = textlimit.RunesMarked(*c.Template, 60)
	}
	sh := p.Shards
	return [][]string{
		{"push", fmt.Sprintf("%s over %s: %q", p.Status, strings.Join(chans, ","), tmpl)},
		{"push plan", fmt.Sprintf("%d members in %d shards of %d", p.PlannedMembers, p.PlannedShards, c.ShardSize)},
		{"push shards", fmt.Sprintf("%d done, %d running, %d pending, %d paused, %d cancelled, %d failed",
			sh.Done, sh.Running, sh.Pending, sh.Paused, sh.Cancelled, sh.Failed)},
		{"push deliveries", fmt.Sprintf("%d sent, %d failed; %d members told", sh.Sent, sh.FailedN, p.Announced)},
	}
}
