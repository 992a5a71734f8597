package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/cache"
	"mkt/pkg/campaign"
	"mkt/pkg/coupon"
)

const couponLong = `coupon creates, lists, shows and disables coupon campaigns, and lets an
operator look at and move a member's coupons through their lifecycle (the same
functions couponsd's HTTP API serves): member-coupons, claim, lock, release,
redeem, plus issue (bulk, idempotent) and expire (sweep now).

A push-mode coupon is issued to its segment and announced by pushd: create
stores it and publishes its "created" event atomically; pause, resume and
retry-failed control its push run; disable stops it for good.`

// newCouponCmd is the coupon group. Its commands live in coupon_*.go:
// create (coupon_create.go), list and show (coupon_show.go), disable
// (coupon_disable.go), the push controls (coupon_push.go), a member's items
// and their lifecycle (coupon_items.go), issue and expire (coupon_issue.go).
func newCouponCmd(app *App) *cobra.Command {
	q := &campaignQueues{}
	cmd := &cobra.Command{
		Use:   "coupon",
		Short: "Coupon campaigns and the coupons members hold",
		Long:  couponLong,
	}
	app.afterResolve = append(app.afterResolve, func(a *App) { q.fill(&a.Common) })
	cmd.AddCommand(
		newCouponCreateCmd(app, q, nil),
		newCouponPushControlCmd(app, q, campaign.ActionPause, nil),
		newCouponPushControlCmd(app, q, campaign.ActionResume, nil),
		newCouponPushControlCmd(app, q, campaign.ActionRetryFailed, nil),
		newCouponListCmd(app, nil),
		newCouponShowCmd(app, nil),
		newCouponDisableCmd(app, nil),
		newCouponMemberCouponsCmd(app, nil),
		newCouponClaimCmd(app, nil),
		newCouponLockCmd(app, nil),
		newCouponOrderStepCmd(app, "release", nil),
		newCouponOrderStepCmd(app, "redeem", nil),
		newCouponIssueCmd(app, nil),
		newCouponExpireCmd(app, nil),
	)
	return cmd
}

// couponState opens Redis and returns the coupons' Redis state for the
// configured database, and a closer. Redis being down is ErrUnavailable.
func couponState(ctx context.Context, app *App) (*coupon.State, func(), error) {
	db, err := app.DB(ctx)
	if err != nil {
		return nil, nil, err
	}
	c, err := cache.Open(ctx, cache.Config{Addr: app.Common.RedisAddr, Password: string(app.Common.RedisPassword), DB: app.Common.RedisDB})
	if err != nil {
		return nil, nil, fmt.Errorf("%w: Redis at %s: %w", ErrUnavailable, app.Common.RedisAddr, err)
	}
	st, err := coupon.NewState(coupon.StateConfig{Cache: c, Namespace: db.Name(), Logger: app.Logger})
	if err != nil {
		_ = c.Close()
		return nil, nil, err
	}
	return st, func() { _ = c.Close() }, nil
}

// couponErr maps coupon errors: invalid input is a usage error.
func couponErr(err error) error {
	if errors.Is(err, coupon.ErrInvalid) {
		return asUsage(err)
	}
	return err
}

// parseCouponID and parseItemID read a coupon's and a coupon item's id.
func parseCouponID(s string) (int64, error) { return couponParseID("coupon id", s) }
func parseItemID(s string) (int64, error)   { return couponParseID("item id", s) }

// couponParseID parses a coupon, item or member id named what (coupon ids
// are int64 in the coupon tables).
func couponParseID(what, s string) (int64, error) {
	id, err := idArg(what)(s)
	return int64(id), err
}

// couponParseTime accepts RFC 3339, "2006-01-02T15:04" or "2006-01-02" (UTC).
func couponParseTime(name, s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usageErrorf("--%s %q: want RFC 3339 (2026-12-01T00:00:00Z), 2026-12-01T08:00 or 2026-12-01 (UTC)", name, s)
}

// couponParseDays accepts a Go duration or "<n>d", positive and at most
// coupon.MaxWindow (checked before multiplying: a large day count must not
// wrap around).
func couponParseDays(s string) (time.Duration, error) {
	bad := usageErrorf("--for %q: want a positive duration up to %d days, such as 72h or 30d", s, int(coupon.MaxWindow/(24*time.Hour)))
	if n, ok := strings.CutSuffix(s, "d"); ok {
		d, err := strconv.Atoi(n)
		if err != nil || d <= 0 || time.Duration(d) > coupon.MaxWindow/(24*time.Hour) {
			return 0, bad
		}
		return time.Duration(d) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > coupon.MaxWindow {
		return 0, bad
	}
	return d, nil
}

func couponSplitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// maxRangeMembers bounds a member id range given on the command line (bulk
// issue, login events): ten million, the member base this system is sized
// for.
const maxRangeMembers = 10_000_000

// couponParseRange parses "A-B" (inclusive, positive, A ≤ B).
func couponParseRange(s string) (int64, int64, error) {
	as, bs, ok := strings.Cut(s, "-")
	a, err1 := strconv.ParseInt(strings.TrimSpace(as), 10, 64)
	b, err2 := strconv.ParseInt(strings.TrimSpace(bs), 10, 64)
	if !ok || err1 != nil || err2 != nil || a < 1 || b < a {
		return 0, 0, usageErrorf("range %q: want A-B with 1 ≤ A ≤ B, e.g. 1-1000", s)
	}
	if b-a >= maxRangeMembers {
		return 0, 0, usageErrorf("range %q covers %d members: at most %d at once", s, b-a+1, maxRangeMembers)
	}
	return a, b, nil
}

func couponQuotaText(c *coupon.Coupon) string {
	if c.TotalQuota == nil {
		return "unlimited"
	}
	return fmt.Sprintf("%d (%d issued)", *c.TotalQuota, c.IssuedCount)
}
