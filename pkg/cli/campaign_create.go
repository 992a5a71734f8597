package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/campaign"
)

const campaignCreateLong = `create validates every flag, then stores the campaign and publishes its
"created" event in one RocketMQ transaction: either both happen or neither.
It prints the new campaign's id (--json: the campaign). pushd plans and sends it.

--request-id is the idempotency key: running create again with the same key
prints the campaign created the first time instead of creating a second one,
so a create whose outcome is unknown (timeout, lost connection) is safely
re-run. By default a random key is used.

Money is a decimal amount with at most two decimals ("100", "12.50"). The
audience is everyone unless narrowed by --levels, --min-active-days,
--max-active-days, --tags-all, --tags-any, or given whole as --audience-json.
Bad input exits 2 and stores nothing.`

const campaignCreateExample = `  mktctl campaign create --name "Spring sale" --kind full_reduction \
    --threshold 100 --discount 15 --template "Spend {threshold}, save {discount}!" \
    --channels sms,app --levels 3,4 --min-active-days 5 --start-at +2h`

type campaignCreateOptions struct {
	specOptions
	RequestID string
}

func (o *campaignCreateOptions) check() error {
	if o.RequestID != "" {
		if err := campaign.CheckRequestID(o.RequestID); err != nil {
			return usageErrorf("--request-id: %v", err)
		}
	}
	return nil
}

func newCampaignCreateCmd(app *App, q *campaignQueues, runF func(*campaignCreateOptions) error) *cobra.Command {
	o := &campaignCreateOptions{}
	cmd := &cobra.Command{
		Use:     "create --name N --kind K --template T --channels C [audience flags]",
		Short:   "Create a promotion campaign (stored and announced atomically)",
		Long:    campaignCreateLong,
		Example: campaignCreateExample,
		Args:    cobra.NoArgs,
		RunE: runE(app, o, o.check, runF, func(ctx context.Context, app *App, o *campaignCreateOptions) error {
			return runCampaignCreate(ctx, app, q, o, time.Now())
		}),
	}
	f := cmd.Flags()
	o.Bind(f) // the spec's flags
	f.StringVar(&o.CreatedBy, "created-by", operatorName(), "operator name recorded with the campaign")
	f.StringVar(&o.RequestID, "request-id", "", "idempotency key, up to 64 of A-Z a-z 0-9 _ . : - (default: random)")
	return cmd
}

// createReport is `campaign create --json`'s output.
type createReport struct {
	ID        uint64             `json:"id"`
	RequestID string             `json:"request_id"`
	Created   bool               `json:"created"` // false: the request id's campaign existed
	Campaign  *campaign.Campaign `json:"campaign"`
}

func runCampaignCreate(ctx context.Context, app *App, q *campaignQueues, o *campaignCreateOptions, now time.Time) error {
	spec, err := o.spec(now)
	if err != nil {
		return err
	}
	reqID := cmp.Or(o.RequestID, campaign.NewRequestID("mktctl"))
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	// Fast path for a re-run: no broker needed to answer it.
	res := campaign.Created{}
	if res.Campaign, err = campaign.FindRequest(ctx, db, spec, reqID); err != nil {
		if !errors.Is(err, campaign.ErrNotFound) {
			return campaignError(err)
		}
		tx, err := q.txProducer(app, db)
		if err != nil {
			return err
		}
		defer shutdown(app, "transactional producer", tx.Shutdown)
		cr := campaign.Creator{DB: db, Tx: tx, Topic: q.EventsTopic, Now: func() time.Time { return now }}
		if res, err = cr.Create(ctx, spec, reqID); err != nil {
			return campaignError(err)
		}
	}
	if app.JSON {
		return writeJSON(app.Out, createReport{ID: res.Campaign.ID, RequestID: reqID, Created: res.New, Campaign: res.Campaign})
	}
	if !res.New {
		fmt.Fprintf(app.Err, "campaign %d already exists for request id %s (status %s); nothing created\n",
			res.Campaign.ID, reqID, res.Campaign.Status)
	}
	fmt.Fprintln(app.Out, res.Campaign.ID)
	return nil
}
