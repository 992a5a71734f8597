package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"mkt/pkg/coupon"
)

type couponDisableOptions struct{ ID int64 }

func newCouponDisableCmd(app *App, runF func(*couponDisableOptions) error) *cobra.Command {
	o := &couponDisableOptions{}
	return &cobra.Command{
		Use:   "disable COUPON_ID",
		Short: "Stop issuing a coupon, and cancel its push (items already held keep their lifecycle)",
		Args:  cobra.ExactArgs(1),
		RunE:  runArgE(app, o, &o.ID, parseCouponID, nil, runF, runCouponDisable),
	}
}

func runCouponDisable(ctx context.Context, app *App, o *couponDisableOptions) error {
	id := o.ID
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	// Disabling a push-mode coupon also cancels its push.
	changed, err := coupon.SetStatus(ctx, db, id, coupon.StatusDisabled)
	if err != nil {
		return err
	}
	c, err := coupon.Get(ctx, db, id)
	if err != nil {
		return err
	}
	// MySQL first; Redis after (a failure there is harmless: every
	// issuance re-checks the status in MySQL).
	warn := ""
	if st, closeState, err := couponState(ctx, app); err != nil {
		warn = err.Error()
	} else {
		defer closeState()
		if err := st.RemoveActive(ctx, id); err != nil {
			warn = err.Error()
		}
	}
	if app.JSON {
		return writeJSON(app.Out, map[string]any{"coupon_id": id, "disabled": true, "changed": changed,
			"push_status": c.PushStatus, "redis_error": warn})
	}
	if changed {
		fmt.Fprintf(app.Out, "coupon %d disabled\n", id)
	} else {
		fmt.Fprintf(app.Out, "coupon %d was already disabled\n", id)
	}
	if c.Mode == coupon.ModePush {
		fmt.Fprintf(app.Out, "its push is %s: pushd stops its shards at their next page\n", c.PushStatus)
	}
	if warn != "" {
		fmt.Fprintf(app.Err, "warning: Redis not updated (%s); every issuance re-checks MySQL, and couponsd drops it at its next sync\n", warn)
	}
	return nil
}
