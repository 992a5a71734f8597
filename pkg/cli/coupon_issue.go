package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/coupon"
)

// --- issue

type couponIssueOptions struct {
	CouponID int64
	Members  string // --members 1,2,3
	Range    string // --range A-B
	// MemberIDs are the members --members or --range name.
	MemberIDs []int64
}

// check reads --members or --range into MemberIDs.
func (o *couponIssueOptions) check() (err error) {
	o.MemberIDs, err = couponParseMembers(o.Members, o.Range)
	return err
}

func newCouponIssueCmd(app *App, runF func(*couponIssueOptions) error) *cobra.Command {
	o := &couponIssueOptions{}
	cmd := &cobra.Command{
		Use:   "issue COUPON_ID --members 1,2,3 | --range A-B",
		Short: "Issue a coupon to members now, in bulk (idempotent; what push workers call)",
		Long: `issue tops each member up to the coupon's per-member limit while the quota
lasts, 1,000 members per transaction. Running it again issues nothing more.
It does not check the audience: the caller chooses the members.`,
		Args: cobra.ExactArgs(1),
		RunE: runArgE(app, o, &o.CouponID, parseCouponID, o.check, runF, runCouponIssue),
	}
	cmd.Flags().StringVar(&o.Members, "members", "", "member ids, e.g. 1,2,3")
	cmd.Flags().StringVar(&o.Range, "range", "", "member id range, inclusive, e.g. 1-1000")
	return cmd
}

// couponParseMembers reads --members 1,2,3 or --range A-B.
func couponParseMembers(list, rng string) ([]int64, error) {
	switch {
	case list != "" && rng != "":
		return nil, usageErrorf("give --members or --range, not both")
	case list != "":
		var out []int64
		for _, p := range couponSplitList(list) {
			id, err := couponParseID("member id", p)
			if err != nil {
				return nil, err
			}
			out = append(out, id)
		}
		if len(out) == 0 {
			return nil, usageErrorf("--members %q names no member", list)
		}
		return out, nil
	case rng != "":
		a, b, err := couponParseRange(rng) // at most maxRangeMembers
		if err != nil {
			return nil, err
		}
		out := make([]int64, 0, b-a+1)
		for m := a; m <= b; m++ {
			out = append(out, m)
		}
		return out, nil
	}
	return nil, usageErrorf("give --members or --range")
}

func runCouponIssue(ctx context.Context, app *App, o *couponIssueOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	if err := coupon.CheckMembers(ctx, db, o.MemberIDs); err != nil {
		return couponErr(err)
	}
	res, err := coupon.IssueToMembers(ctx, db, o.CouponID, o.MemberIDs, time.Now())
	if err != nil {
		return couponErr(err)
	}
	if app.JSON {
		return writeJSON(app.Out, res)
	}
	if res.NotIssuable {
		fmt.Fprintf(app.Out, "coupon %d is disabled or outside its window: nothing issued\n", o.CouponID)
		return nil
	}
	fmt.Fprintf(app.Out, "%d items issued to %d of %d members; %d already held theirs, %d left short by the quota\n",
		res.Issued, res.Served, res.Members, res.AlreadyHeld, res.Short)
	return nil
}

// --- expire

type couponExpireOptions struct{}

func newCouponExpireCmd(app *App, runF func(*couponExpireOptions) error) *cobra.Command {
	o := &couponExpireOptions{}
	return &cobra.Command{
		Use:   "expire",
		Short: "Mark expired every issued or claimed coupon whose window has ended (couponsd does it every minute)",
		Args:  cobra.NoArgs,
		RunE:  runE(app, o, nil, runF, runCouponExpire),
	}
}

func runCouponExpire(ctx context.Context, app *App, _ *couponExpireOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	n, err := coupon.ExpireDue(ctx, db, time.Now(), 1000)
	if err != nil {
		return err
	}
	if app.JSON {
		return writeJSON(app.Out, map[string]int64{"expired": n})
	}
	fmt.Fprintf(app.Out, "%d items expired\n", n)
	return nil
}
