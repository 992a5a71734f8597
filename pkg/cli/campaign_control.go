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

// controlHelp is the short and long help of each control command.
var controlHelp = map[campaign.Action][2]string{
	campaign.ActionPause: {"Pause a campaign: every pushd parks its shards within seconds, keeping their checkpoint",
		`pause moves a created, planning or running campaign to paused and its pending
shards to paused. Workers notice within seconds and park the shard they hold
at its checkpoint. resume continues without re-sending anything sent.`},
	campaign.ActionResume: {"Resume a paused campaign from its shards' checkpoints",
		`resume moves a paused campaign back to running, its paused shards to pending,
and republishes a task for every pending shard; each shard continues from its
checkpoint, so nothing already sent is sent again. A campaign paused before it
was planned goes back to the planner. On a running campaign it republishes the
pending shards (repairing an interrupted resume). Other statuses exit 1.`},
	campaign.ActionCancel: {"Cancel a campaign: nothing more is sent",
		`cancel moves an unfinished campaign to cancelled, its pending and paused
shards to cancelled and its scheduled launch to cancelled; workers stop the
shards they hold within seconds. A finished campaign exits 1.`},
	campaign.ActionRetryFailed: {"Re-send to the members whose delivery failed",
		`retry-failed republishes, for every finished shard holding failed deliveries,
a task that re-sends only to those members (push_message rows with status
failed, listed in push_failure). A completed campaign goes back to running. Shards still running are
left to finish; run it again afterwards.`},
}

// controlOptions are the options of a control command (pause, resume,
// cancel, retry-failed) of a kind of run: promotions (`mktctl campaign
// ACTION`) and hot-goods runs (`mktctl hotgoods ACTION`).
type controlOptions struct {
	ID     uint64
	Reason string
}

func (o *controlOptions) check() error {
	if utf8.RuneCountInString(o.Reason) > 200 {
		return usageErrorf("--reason is longer than 200 characters")
	}
	return nil
}

// controlTarget is the kind of run control commands act on, and its names.
type controlTarget struct {
	kind campaign.Kind
	noun string // the run in messages: "campaign", "hot-goods run"
	id   string // its id in usage errors: "campaign id", "run id"
}

var (
	promotionControl = controlTarget{kind: campaign.KindPromotion, noun: "campaign", id: "campaign id"}
	hotgoodsControl  = controlTarget{kind: campaign.KindHotGoods, noun: "hot-goods run", id: "run id"}
)

func newCampaignControlCmd(app *App, q *campaignQueues, action campaign.Action, runF func(string, *controlOptions) error) *cobra.Command {
	help := controlHelp[action]
	return newControlCmd(app, q, promotionControl, action, "ID", help[0], help[1], runF)
}

// newControlCmd is the control command action of target's runs; the action
// runs campaignControl, the code behind `mktctl watch`'s control keys too.
func newControlCmd(app *App, q *campaignQueues, target controlTarget, action campaign.Action, arg, short, long string,
	runF func(string, *controlOptions) error) *cobra.Command {
	o := &controlOptions{}
	cmd := &cobra.Command{
		Use:   string(action) + " " + arg,
		Short: short,
		Long:  long,
		Args:  cobra.ExactArgs(1),
		RunE: runArgE(app, o, &o.ID, idArg(target.id), o.check, forAction(string(action), runF),
			func(ctx context.Context, app *App, o *controlOptions) error {
				return runControl(ctx, app, q, target, action, o)
			}),
	}
	if action == campaign.ActionCancel {
		cmd.Flags().StringVar(&o.Reason, "reason", "", "why, recorded with the "+target.noun+" (default \"cancelled by operator\")")
	}
	return cmd
}

func runControl(ctx context.Context, app *App, q *campaignQueues, target controlTarget, action campaign.Action, o *controlOptions) error {
	res, err := campaignControl(ctx, app, q, target.kind, action, o.ID, o.Reason)
	if err != nil {
		return campaignError(err)
	}
	if app.JSON {
		return writeJSON(app.Out, res)
	}
	fmt.Fprintln(app.Out, controlLine(fmt.Sprintf("%s %d", target.noun, o.ID), res))
	return nil
}

// campaignControl runs action (pause, resume, cancel, retry-failed) on run
// id of kind (promotions, hot-goods runs): the code behind `mktctl campaign
// ACTION`, `mktctl hotgoods ACTION` and the control keys of `mktctl watch`.
func campaignControl(ctx context.Context, app *App, q *campaignQueues, kind campaign.Kind, action campaign.Action, id uint64, reason string) (campaign.ControlResult, error) {
	var res campaign.ControlResult
	db, err := app.DB(ctx)
	if err != nil {
		return res, err
	}
	if action.Publishes() {
		// Fail on a bad id or status before starting a producer.
		r, err := kind.GetRun(ctx, db, id)
		if err != nil {
			return res, err
		}
		if action == campaign.ActionResume && r.Status != campaign.StatusPaused && r.Status != campaign.StatusRunning {
			return res, fmt.Errorf("%w: %s %d is %s, only a paused %s can be resumed", campaign.ErrConflict, kindLabel(kind), r.ID, r.Status, kindLabel(kind))
		}
	}
	return q.control(ctx, app, db, kind, action, id, reason)
}

// control runs action on run id of kind through campaign.Control, with a
// producer when the action publishes (an unknown one publishes nothing and
// is refused by Control.Do).
func (q *campaignQueues) control(ctx context.Context, app *App, db *store.DB, kind campaign.Kind, action campaign.Action, id uint64,
	reason string) (campaign.ControlResult, error) {
	ctl := &campaign.Control{DB: db, Kind: kind, EventsTopic: q.EventsTopic, Logger: app.Logger,
		Publish: campaign.PublishOptions{Topic: q.ShardTopic}}
	if action.Publishes() {
		p, err := q.producer(app)
		if err != nil {
			return campaign.ControlResult{}, err
		}
		defer shutdown(app, "producer", p.Shutdown)
		ctl.Publisher = p
	}
	return ctl.Do(ctx, action, id, reason)
}

// kindLabel names a kind of run for the operator: its control target's
// noun, else the kind.
func kindLabel(k campaign.Kind) string {
	for _, t := range []controlTarget{promotionControl, hotgoodsControl} {
		if t.kind == k {
			return t.noun
		}
	}
	return string(k)
}

// controlLine says what a control operation did, after what ("campaign 7").
func controlLine(what string, res campaign.ControlResult) string {
	var parts []string
	switch {
	case res.Shards > 0 && res.Published > 0:
		parts = append(parts, fmt.Sprintf("%d shards changed, %d tasks published", res.Shards, res.Published))
	case res.Shards > 0:
		parts = append(parts, fmt.Sprintf("%d shards changed", res.Shards))
	case res.Published > 0:
		parts = append(parts, fmt.Sprintf("%d published", res.Published))
	}
	if res.Note != "" {
		parts = append(parts, res.Note)
	}
	status := ""
	switch {
	case res.Campaign != nil:
		status = string(res.Campaign.Status)
	case res.Run != nil:
		status = string(res.Run.Status)
	}
	line := what + ": " + status
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, "; ") + ")"
	}
	return line
}
