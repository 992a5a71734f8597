package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/coupon"
	"mkt/pkg/money"
	"mkt/pkg/store"
)

// A member's coupon items and their lifecycle: member-coupons lists them;
// claim, lock, release and redeem move one item (issued → claimed → locked
// → redeemed, release giving a locked item back), as couponsd's HTTP API
// does.

// --- member-coupons

type couponMemberCouponsOptions struct {
	Member int64
	Status string
	Limit  int
}

func (o *couponMemberCouponsOptions) validate() error {
	if o.Member <= 0 {
		return usageErrorf("--member must be a positive member id")
	}
	if o.Status != "" && !slices.Contains(coupon.ItemStatuses(), coupon.ItemStatus(o.Status)) {
		return usageErrorf("--status %q: want one of %s", o.Status, joinStrings(coupon.ItemStatuses()))
	}
	return inRange("--limit", o.Limit, 1, store.MaxListLimit)
}

func newCouponMemberCouponsCmd(app *App, runF func(*couponMemberCouponsOptions) error) *cobra.Command {
	o := &couponMemberCouponsOptions{}
	cmd := &cobra.Command{
		Use:   "member-coupons --member N",
		Short: "List a member's coupons, newest first",
		Args:  cobra.NoArgs,
		RunE:  runE(app, o, o.validate, runF, runCouponMemberCoupons),
	}
	f := cmd.Flags()
	f.Int64Var(&o.Member, "member", 0, "member id (required)")
	f.StringVar(&o.Status, "status", "", "only items in this status (issued, claimed, locked, redeemed, expired)")
	f.IntVar(&o.Limit, "limit", coupon.DefaultMemberItemsLimit, limitUsage)
	_ = cmd.MarkFlagRequired("member")
	return cmd
}

func runCouponMemberCoupons(ctx context.Context, app *App, o *couponMemberCouponsOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	items, err := coupon.MemberItems(ctx, db, o.Member, coupon.MemberItemsOptions{Status: coupon.ItemStatus(o.Status), Limit: o.Limit})
	if err != nil {
		return err
	}
	return render(app, nonNil(items), writeMemberItems)
}

// writeMemberItems prints `coupon member-coupons`'s table.
func writeMemberItems(w io.Writer, items []coupon.MemberItem) error {
	rows := [][]string{{"ITEM", "COUPON", "NAME", "SEQ", "STATUS", "ORDER", "USABLE (UTC)", "ISSUED"}}
	for _, it := range items {
		order := ""
		if it.OrderID != nil {
			order = *it.OrderID
		}
		rows = append(rows, []string{strconv.FormatInt(it.ID, 10), strconv.FormatInt(it.CouponID, 10), it.CouponName,
			strconv.Itoa(it.Seq), string(it.Status), order,
			utcMinute(it.ValidFrom) + " → " + utcMinute(it.ValidUntil),
			utcTime(it.IssuedAt)})
	}
	return table(w, rows)
}

// --- claim

type couponClaimOptions struct {
	ItemID int64
	Member int64
}

func (o *couponClaimOptions) check() error {
	if o.Member <= 0 {
		return usageErrorf("--member %d: want a positive member id", o.Member)
	}
	return nil
}

func newCouponClaimCmd(app *App, runF func(*couponClaimOptions) error) *cobra.Command {
	o := &couponClaimOptions{}
	cmd := &cobra.Command{
		Use:   "claim ITEM_ID --member N",
		Short: "Claim an issued coupon for its member (issued → claimed)",
		Args:  cobra.ExactArgs(1),
		RunE:  runArgE(app, o, &o.ItemID, parseItemID, o.check, runF, runCouponClaim),
	}
	cmd.Flags().Int64Var(&o.Member, "member", 0, "the member claiming (required)")
	_ = cmd.MarkFlagRequired("member")
	return cmd
}

func runCouponClaim(ctx context.Context, app *App, o *couponClaimOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	t, err := coupon.Claim(ctx, db, o.ItemID, o.Member, time.Now())
	if err != nil {
		return couponErr(err)
	}
	return printTransition(app, "claimed", t)
}

// --- lock

type couponLockOptions struct {
	ItemID     int64
	Member     int64
	Order      string
	Total      string
	TotalCents int64 // Total parsed
}

func (o *couponLockOptions) check() error {
	if o.Member <= 0 {
		return usageErrorf("--member %d: want a positive member id", o.Member)
	}
	cents, err := money.Parse(o.Total)
	if err != nil {
		return usageErrorf("--total: %v", err)
	}
	o.TotalCents = cents
	return nil
}

func newCouponLockCmd(app *App, runF func(*couponLockOptions) error) *cobra.Command {
	o := &couponLockOptions{}
	cmd := &cobra.Command{
		Use:   "lock ITEM_ID --member N --order ORDER --total 120.00",
		Short: "Hold a coupon for an order (checks owner, validity, threshold; idempotent per order)",
		Args:  cobra.ExactArgs(1),
		RunE:  runArgE(app, o, &o.ItemID, parseItemID, o.check, runF, runCouponLock),
	}
	f := cmd.Flags()
	f.Int64Var(&o.Member, "member", 0, "the order's member (required)")
	f.StringVar(&o.Order, "order", "", "order id (required)")
	f.StringVar(&o.Total, "total", "", "order total before the coupon, e.g. 120.00 (required)")
	for _, n := range []string{"member", "order", "total"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

func runCouponLock(ctx context.Context, app *App, o *couponLockOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	t, err := coupon.Lock(ctx, db, coupon.LockRequest{ItemID: o.ItemID, MemberID: o.Member, OrderID: o.Order, OrderTotalCents: o.TotalCents}, time.Now())
	if err != nil {
		return couponErr(err)
	}
	return printTransition(app, "locked", t)
}

// --- release, redeem

// couponOrderStepHelp is the use and short help of each step that ends an
// order's hold on an item, and the verb printed after it.
var couponOrderStepHelp = map[string][3]string{
	"release": {"release ITEM_ID --order ORDER", "Give back a coupon held by a cancelled order (locked → claimed)", "released"},
	"redeem":  {"redeem ITEM_ID --order ORDER", "Consume a coupon held by a paid order (locked → redeemed)", "redeemed"},
}

type couponOrderStepOptions struct {
	ItemID int64
	Order  string
	Member int64 // 0: not checked
}

func (o *couponOrderStepOptions) check() error {
	if o.Member < 0 {
		return usageErrorf("--member %d: want a positive member id (or none)", o.Member)
	}
	return nil
}

func newCouponOrderStepCmd(app *App, step string, runF func(string, *couponOrderStepOptions) error) *cobra.Command {
	o := &couponOrderStepOptions{}
	help := couponOrderStepHelp[step]
	cmd := &cobra.Command{
		Use:   help[0],
		Short: help[1],
		Args:  cobra.ExactArgs(1),
		RunE: runArgE(app, o, &o.ItemID, parseItemID, o.check, forAction(step, runF),
			func(ctx context.Context, app *App, o *couponOrderStepOptions) error {
				return runCouponOrderStep(ctx, app, step, o)
			}),
	}
	f := cmd.Flags()
	f.StringVar(&o.Order, "order", "", "order id (required)")
	f.Int64Var(&o.Member, "member", 0, "check the item belongs to this member (optional)")
	_ = cmd.MarkFlagRequired("order")
	return cmd
}

func runCouponOrderStep(ctx context.Context, app *App, step string, o *couponOrderStepOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	var t coupon.Transition
	switch step {
	case "release":
		t, err = coupon.Release(ctx, db, o.ItemID, o.Member, o.Order, time.Now())
	case "redeem":
		t, err = coupon.Redeem(ctx, db, o.ItemID, o.Member, o.Order, time.Now())
	default:
		return fmt.Errorf("unknown coupon step %q", step)
	}
	if err != nil {
		return couponErr(err)
	}
	return printTransition(app, couponOrderStepHelp[step][2], t)
}

// printTransition prints a lifecycle step's outcome: its JSON, or a line.
func printTransition(app *App, verb string, t coupon.Transition) error {
	if app.JSON {
		return writeJSON(app.Out, t)
	}
	writeTransition(app.Out, verb, t)
	return nil
}

// writeTransition says what a lifecycle step did to its item.
func writeTransition(w io.Writer, verb string, t coupon.Transition) {
	it := t.Item
	state := string(it.Status)
	if it.OrderID != nil {
		state += " by order " + *it.OrderID
	}
	if !t.Changed {
		fmt.Fprintf(w, "item %d unchanged (already %s)\n", it.ID, state)
		return
	}
	fmt.Fprintf(w, "item %d %s: now %s", it.ID, verb, state)
	if t.DiscountCents > 0 {
		fmt.Fprintf(w, ", discount %s", money.Format(t.DiscountCents))
	}
	fmt.Fprintln(w)
}
