package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"mkt/pkg/coupon"
	"mkt/pkg/store"
)

// --- list

type couponListOptions struct {
	Status string
	Mode   string
	Limit  int
	Before int64
}

func newCouponListCmd(app *App, runF func(*couponListOptions) error) *cobra.Command {
	o := &couponListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List coupons, newest first",
		Args:  cobra.NoArgs,
		RunE:  runE(app, o, o.validate, runF, runCouponList),
	}
	f := cmd.Flags()
	f.StringVar(&o.Status, "status", "", "only active or disabled coupons")
	f.StringVar(&o.Mode, "mode", "", "only lazy or push coupons")
	f.IntVar(&o.Limit, "limit", store.DefaultListLimit, limitUsage)
	f.Int64Var(&o.Before, "before", 0, "page: only ids below this one")
	return cmd
}

func (o *couponListOptions) validate() error {
	switch coupon.Status(o.Status) {
	case "", coupon.StatusActive, coupon.StatusDisabled:
	default:
		return usageErrorf("--status %q: want %s or %s", o.Status, coupon.StatusActive, coupon.StatusDisabled)
	}
	switch coupon.IssueMode(o.Mode) {
	case "", coupon.ModeLazy, coupon.ModePush:
	default:
		return usageErrorf("--mode %q: want %s or %s", o.Mode, coupon.ModeLazy, coupon.ModePush)
	}
	if err := inRange("--limit", o.Limit, 1, store.MaxListLimit); err != nil {
		return err
	}
	if o.Before < 0 {
		return usageErrorf("--before %d: want a coupon id (0 for the newest)", o.Before)
	}
	return nil
}

func runCouponList(ctx context.Context, app *App, o *couponListOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	list, err := coupon.List(ctx, db, coupon.ListOptions{Status: coupon.Status(o.Status), Mode: coupon.IssueMode(o.Mode), Limit: o.Limit, BeforeID: o.Before})
	if err != nil {
		return err
	}
	return render(app, nonNil(list), writeCouponList)
}

// writeCouponList prints `coupon list`'s table.
func writeCouponList(w io.Writer, list []coupon.Coupon) error {
	rows := [][]string{{"ID", "NAME", "OFFER", "MODE", "STATUS", "WINDOW (UTC)", "ISSUED", "QUOTA", "PER MEMBER", "AUDIENCE"}}
	for i := range list {
		c := &list[i]
		q := "unlimited"
		if c.TotalQuota != nil {
			q = strconv.FormatInt(*c.TotalQuota, 10)
		}
		mode := string(c.Mode)
		if c.Mode == coupon.ModePush {
			mode += " (" + string(c.PushStatus) + ")"
		}
		rows = append(rows, []string{strconv.FormatInt(c.ID, 10), c.Name, c.Describe(), mode, string(c.Status),
			utcMinute(c.ValidFrom) + " → " + utcMinute(c.ValidUntil),
			strconv.FormatInt(c.IssuedCount, 10), q, strconv.Itoa(c.PerMemberLimit), c.Audience.String()})
	}
	return table(w, rows)
}

// --- show

type couponShowOptions struct{ ID int64 }

// couponShow is `coupon show`'s JSON.
type couponShow struct {
	Coupon *coupon.Coupon              `json:"coupon"`
	Items  map[coupon.ItemStatus]int64 `json:"items"`
	Redis  *coupon.Counters            `json:"redis,omitempty"`
	Active *bool                       `json:"redis_active,omitempty"`
	Error  string                      `json:"redis_error,omitempty"`
	// Push is a push-mode coupon's push run: its shards and deliveries.
	Push *couponPushShow `json:"push,omitempty"`
}

func newCouponShowCmd(app *App, runF func(*couponShowOptions) error) *cobra.Command {
	o := &couponShowOptions{}
	return &cobra.Command{
		Use:   "show COUPON_ID",
		Short: "Show a coupon, its items by status and its Redis counters",
		Args:  cobra.ExactArgs(1),
		RunE:  runArgE(app, o, &o.ID, parseCouponID, nil, runF, runCouponShow),
	}
}

func runCouponShow(ctx context.Context, app *App, o *couponShowOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	c, err := coupon.Get(ctx, db, o.ID)
	if err != nil {
		return err
	}
	out := couponShow{Coupon: c}
	if out.Items, err = coupon.ItemCounts(ctx, db, o.ID); err != nil {
		return err
	}
	if c.Mode == coupon.ModePush {
		if out.Push, err = loadCouponPush(ctx, db, c); err != nil {
			return err
		}
	}
	if st, closeState, err := couponState(ctx, app); err != nil {
		out.Error = err.Error()
	} else {
		defer closeState()
		if rc, err := st.ReadCounters(ctx, o.ID); err != nil {
			out.Error = err.Error()
		} else {
			out.Redis = &rc
		}
		if list, _, err := st.LoadActive(ctx); err == nil {
			active := false
			for _, a := range list {
				active = active || a.ID == o.ID
			}
			out.Active = &active
		}
	}
	return render(app, out, writeCouponShow)
}

// writeCouponShow prints `coupon show`'s table.
func writeCouponShow(w io.Writer, out couponShow) error {
	c := out.Coupon
	rows := [][]string{
		{"id", strconv.FormatInt(c.ID, 10)},
		{"name", c.Name},
		{"offer", c.Describe()},
		{"status", string(c.Status)},
		{"mode", string(c.Mode)},
		{"window (UTC)", utcTime(c.ValidFrom) + " → " + utcTime(c.ValidUntil)},
		{"validity", couponValidityText(c)},
		{"quota", couponQuotaText(c)},
		{"per member", strconv.Itoa(c.PerMemberLimit)},
		{"audience", c.Audience.String()},
		{"created", utcTime(c.CreatedAt) + " by " + c.CreatedBy},
	}
	for _, s := range coupon.ItemStatuses() {
		rows = append(rows, []string{"items " + string(s), strconv.FormatInt(out.Items[s], 10)})
	}
	if out.Push != nil {
		rows = append(rows, out.Push.rows(c)...)
	}
	switch {
	case out.Redis != nil:
		rows = append(rows, []string{"redis", fmt.Sprintf("loaded %v, quota counter %d, reservations pending %d, in active set %v",
			out.Redis.Loaded, out.Redis.Issued, out.Redis.Pending, out.Active != nil && *out.Active)})
	case out.Error != "":
		rows = append(rows, []string{"redis", "unreadable: " + out.Error})
	}
	return table(w, rows)
}

func couponValidityText(c *coupon.Coupon) string {
	if c.Validity == coupon.ValidityRelative {
		return fmt.Sprintf("%d days from issue", c.ValidDays)
	}
	return "the window"
}
