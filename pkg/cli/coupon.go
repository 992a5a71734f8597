package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/audience"
	"mkt/pkg/cache"
	"mkt/pkg/coupon"
	"mkt/pkg/provider"
	"mkt/pkg/store"
)

func newCouponCmd(app *App) *cobra.Command {
	q := &campaignQueues{}
	cmd := &cobra.Command{
		Use:   "coupon",
		Short: "Coupon campaigns and the coupons members hold",
		Long: `coupon creates, lists, shows and disables coupon campaigns, and lets an
operator look at and move a member's coupons through their lifecycle (the same
functions couponsd's HTTP API serves): member-coupons, claim, lock, release,
redeem, plus issue (bulk, idempotent) and expire (sweep now).

A push-mode coupon is issued to its segment and announced by pushd: create
stores it and publishes its "created" event atomically; pause, resume and
retry-failed control its push run; disable stops it for good.`,
	}
	app.afterResolve = append(app.afterResolve, func(a *App) { q.fill(&a.Common) })
	cmd.AddCommand(
		newCouponCreateCmd(app, q),
		newCouponPushControlCmd(app, q, "pause"),
		newCouponPushControlCmd(app, q, "resume"),
		newCouponPushControlCmd(app, q, "retry-failed"),
		newCouponListCmd(app),
		newCouponShowCmd(app),
		newCouponDisableCmd(app),
		newCouponMemberCouponsCmd(app),
		newCouponClaimCmd(app),
		newCouponLockCmd(app),
		newCouponReleaseCmd(app),
		newCouponRedeemCmd(app),
		newCouponIssueCmd(app),
		newCouponExpireCmd(app),
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
	if errors.Is(err, coupon.ErrInvalid) && !errors.Is(err, ErrUsage) {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	return err
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

type couponCreateOptions struct {
	Name, Kind              string
	Amount, Threshold, Cap  string
	Percent                 int
	From, Until, For        string
	ValidDays               int
	Quota                   int64
	PerMember               int
	Audience                string
	Levels                  []int
	MinActive, MaxActive    int
	TagsAll, TagsAny        string
	Mode, Message, Channels string
	ShardSize               int
	RequestID, CreatedBy    string
}

func (o couponCreateOptions) spec(now time.Time) (coupon.Spec, error) {
	s := coupon.Spec{
		Name: o.Name, Kind: coupon.Kind(o.Kind), PercentOff: o.Percent, ValidDays: o.ValidDays,
		PerMemberLimit: o.PerMember, Mode: coupon.IssueMode(o.Mode), Template: o.Message,
		ShardSize: o.ShardSize, CreatedBy: o.CreatedBy,
	}
	// A flag given is taken as given: 0 is not "the default" here.
	if o.PerMember < 1 || o.PerMember > coupon.MaxPerMemberLimit {
		return s, usageErrorf("--per-member %d: want 1..%d", o.PerMember, coupon.MaxPerMemberLimit)
	}
	if err := audience.CheckShardSize(o.ShardSize); err != nil && coupon.IssueMode(o.Mode) == coupon.ModePush {
		return s, usageErrorf("--shard-size: %v", err)
	}
	var err error
	for _, m := range []struct {
		flag, v string
		dst     *int64
	}{{"amount", o.Amount, &s.AmountCents}, {"threshold", o.Threshold, &s.ThresholdCents}, {"cap", o.Cap, &s.CapCents}} {
		if m.v == "" {
			continue
		}
		if *m.dst, err = coupon.ParseMoney(m.v); err != nil {
			return s, usageErrorf("--%s: %v", m.flag, err)
		}
	}
	s.ValidFrom = now
	if o.From != "" {
		if s.ValidFrom, err = couponParseTime("from", o.From); err != nil {
			return s, err
		}
	}
	switch {
	case o.Until != "" && o.For != "":
		return s, usageErrorf("give --until or --for, not both")
	case o.Until != "":
		if s.ValidUntil, err = couponParseTime("until", o.Until); err != nil {
			return s, err
		}
	case o.For != "":
		d, err := couponParseDays(o.For)
		if err != nil {
			return s, err
		}
		s.ValidUntil = s.ValidFrom.Add(d)
	default:
		return s, usageErrorf("the window needs an end: --until or --for")
	}
	if o.ValidDays > 0 {
		s.Validity = coupon.ValidityRelative
	}
	switch {
	case o.Quota < 0:
		return s, usageErrorf("--quota %d: want a positive number, or 0 for unlimited", o.Quota)
	case o.Quota > 0:
		q := o.Quota
		s.TotalQuota = &q
	}
	if o.Audience != "" {
		if len(o.Levels) > 0 || o.MinActive > 0 || o.MaxActive > 0 || o.TagsAll != "" || o.TagsAny != "" {
			return s, usageErrorf("give --audience or the segment flags (--levels, --min-active-days, ...), not both")
		}
		if s.Audience, err = audience.Parse([]byte(o.Audience)); err != nil {
			return s, usageErrorf("--audience: %v", err)
		}
	} else {
		s.Audience = audience.Segment{Levels: o.Levels, MinActiveDays: o.MinActive, MaxActiveDays: o.MaxActive,
			TagsAll: couponSplitList(o.TagsAll), TagsAny: couponSplitList(o.TagsAny)}
	}
	if o.Channels != "" {
		chs, err := provider.ParseChannels(o.Channels)
		if err != nil {
			return s, usageErrorf("--channels: %v", err)
		}
		s.Channels = chs
	}
	return s, nil
}

func newCouponCreateCmd(app *App, q *campaignQueues) *cobra.Command {
	var o couponCreateOptions
	cmd := &cobra.Command{
		Use:   "create --name NAME --amount 10 --threshold 100 --for 30d [flags]",
		Short: "Create a coupon campaign (lazy: MySQL then Redis; push: stored and announced atomically)",
		Long: `create validates every field, stores the coupon in MySQL, then writes its Redis
state (the active-coupon entry and counters couponsd issues from). If the Redis
write fails the coupon still exists: the command says so, and couponsd repairs
Redis from MySQL at start and at every sync; re-running with the same
--request-id retries the write and creates nothing twice.

A push-mode coupon (--mode push --message ... --channels ...) is stored and its
"created" event published in one RocketMQ transaction, like a campaign: pushd
shards its segment (--shard-size members per shard) from --from on, issues the
coupon to each page of members in bulk and sends the message to every member
holding it. The message may use {name}, {offer}, {threshold}, {valid_until},
{member_id}, and {amount} (amount coupons) or {percent} and {cap} (percent
coupons); braces only write placeholders.

Kinds: amount (--amount off orders of at least --threshold), percent (--percent
off, at most --cap, orders of at least --threshold). Money is decimal (12.50).
Window: --from (default now) to --until, or --for 30d. Items are usable in that
window, or for --valid-days days from their issue (relative validity).
Audience: everyone, or a segment by --levels, --min-active-days,
--max-active-days, --tags-all, --tags-any, or --audience '{"levels":[3,4]}'.
Mode: lazy (issued at the member's next login, by couponsd) or push (issued
and announced by the push pipeline; needs --message and --channels).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			now := time.Now().UTC()
			s, err := o.spec(now)
			if err != nil {
				return err
			}
			if err := s.Validate(now); err != nil {
				return couponErr(err)
			}
			if o.RequestID == "" {
				o.RequestID = coupon.NewRequestID("mktctl")
			}
			if err := coupon.CheckRequestID(o.RequestID); err != nil {
				return couponErr(err)
			}
			db, err := app.DB(ctx)
			if err != nil {
				return err
			}
			st, closeState, serr := couponState(ctx, app)
			if serr != nil {
				st = nil // MySQL first; couponsd repairs Redis.
			} else {
				defer closeState()
			}
			cr := coupon.Creator{DB: db, State: st, Topic: q.EventsTopic, Now: func() time.Time { return now }}
			if s.WithDefaults().Mode == coupon.ModePush {
				// A re-run needs no broker; a new push coupon does.
				if _, err := coupon.GetByRequestID(ctx, db, o.RequestID); errors.Is(err, coupon.ErrNotFound) {
					tx, err := q.txProducer(app, db)
					if err != nil {
						return err
					}
					defer shutdown(app, "transactional producer", tx.Shutdown)
					cr.Tx = tx
				} else if err != nil {
					return err
				}
			}
			res, err := cr.Create(ctx, s, o.RequestID)
			if err != nil {
				return campaignError(couponErr(err))
			}
			if serr != nil {
				res.RedisError = serr.Error()
			}
			if app.JSON {
				return writeJSON(app.Out, res)
			}
			c := res.Coupon
			verb := "created"
			if !res.New {
				verb = "already existed (same request id)"
			}
			fmt.Fprintf(app.Out, "coupon %d %s: %s — %s, %s mode, %s → %s, quota %s, %d per member, audience %s\n",
				c.ID, verb, c.Name, c.Describe(), c.Mode, couponTime(c.ValidFrom), couponTime(c.ValidUntil),
				couponQuotaText(c), c.PerMemberLimit, c.Audience.String())
			if c.Mode == coupon.ModePush && res.New {
				fmt.Fprintf(app.Out, "push announced to pushd (status %s): follow it with `mktctl coupon show %d`\n", c.PushStatus, c.ID)
			}
			if res.RedisError != "" {
				fmt.Fprintf(app.Err, "warning: coupon %d is stored, but its Redis state was not written (%s); couponsd repairs it from MySQL within its sync interval\n",
					c.ID, res.RedisError)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Name, "name", "", "coupon name shown to members (required)")
	f.StringVar(&o.Kind, "kind", "amount", "amount or percent")
	f.StringVar(&o.Amount, "amount", "", "amount coupon: value off, e.g. 10 or 9.90")
	f.StringVar(&o.Threshold, "threshold", "", "minimum order total, e.g. 100 (default none)")
	f.IntVar(&o.Percent, "percent", 0, "percent coupon: percent off, 1..99")
	f.StringVar(&o.Cap, "cap", "", "percent coupon: maximum discount (default none)")
	f.StringVar(&o.From, "from", "", "window start, UTC (default now)")
	f.StringVar(&o.Until, "until", "", "window end, exclusive, UTC")
	f.StringVar(&o.For, "for", "", "window length instead of --until, e.g. 72h or 30d")
	f.IntVar(&o.ValidDays, "valid-days", 0, "items are usable this many days from their issue (relative validity)")
	f.Int64Var(&o.Quota, "quota", 0, "items that may ever be issued (0 = unlimited)")
	f.IntVar(&o.PerMember, "per-member", 1, "items each member gets (1..100)")
	f.StringVar(&o.Audience, "audience", "", `segment as JSON, e.g. '{"levels":[3,4],"min_active_days":10}'`)
	f.IntSliceVar(&o.Levels, "levels", nil, "segment: member levels, e.g. 3,4")
	f.IntVar(&o.MinActive, "min-active-days", 0, "segment: active on at least N of the last 30 days")
	f.IntVar(&o.MaxActive, "max-active-days", 0, "segment: active on at most N of the last 30 days")
	f.StringVar(&o.TagsAll, "tags-all", "", "segment: portrait tags the member has all of")
	f.StringVar(&o.TagsAny, "tags-any", "", "segment: portrait tags the member has any of")
	f.StringVar(&o.Mode, "mode", "lazy", "lazy (at next login) or push (issued and announced by push)")
	f.StringVar(&o.Message, "message", "", "push mode: announcement text")
	f.StringVar(&o.Channels, "channels", "", "push mode: channels, e.g. app,inbox")
	f.IntVar(&o.ShardSize, "shard-size", coupon.DefaultShardSize, "push mode: members per shard")
	f.StringVar(&o.RequestID, "request-id", "", "idempotency key (default random): re-running with it creates nothing twice")
	f.StringVar(&o.CreatedBy, "created-by", operatorName(), "operator name")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func couponQuotaText(c *coupon.Coupon) string {
	if c.TotalQuota == nil {
		return "unlimited"
	}
	return fmt.Sprintf("%d (%d issued)", *c.TotalQuota, c.IssuedCount)
}

func couponTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

func newCouponListCmd(app *App) *cobra.Command {
	var status, mode string
	var limit int
	var before int64
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List coupons, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch coupon.Status(status) {
			case "", coupon.StatusActive, coupon.StatusDisabled:
			default:
				return usageErrorf("--status %q: want active or disabled", status)
			}
			switch coupon.IssueMode(mode) {
			case "", coupon.ModeLazy, coupon.ModePush:
			default:
				return usageErrorf("--mode %q: want lazy or push", mode)
			}
			db, err := app.DB(cmd.Context())
			if err != nil {
				return err
			}
			list, err := coupon.List(cmd.Context(), db, coupon.ListOptions{Status: coupon.Status(status), Mode: coupon.IssueMode(mode), Limit: limit, BeforeID: before})
			if err != nil {
				return err
			}
			if app.JSON {
				if list == nil {
					list = []coupon.Coupon{}
				}
				return writeJSON(app.Out, list)
			}
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
					c.ValidFrom.UTC().Format("2006-01-02 15:04") + " → " + c.ValidUntil.UTC().Format("2006-01-02 15:04"),
					strconv.FormatInt(c.IssuedCount, 10), q, strconv.Itoa(c.PerMemberLimit), c.Audience.String()})
			}
			return table(app.Out, rows)
		},
	}
	f := cmd.Flags()
	f.StringVar(&status, "status", "", "only active or disabled coupons")
	f.StringVar(&mode, "mode", "", "only lazy or push coupons")
	f.IntVar(&limit, "limit", 50, "at most this many (max 1000)")
	f.Int64Var(&before, "before", 0, "page: only ids below this one")
	return cmd
}

func couponParseID(what, s string) (int64, error) {
	id, err := store.ParseID(s)
	if err != nil {
		return 0, usageErrorf("%s %q: want a positive integer", what, s)
	}
	return int64(id), nil
}

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

func newCouponShowCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "show COUPON_ID",
		Short: "Show a coupon, its items by status and its Redis counters",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := couponParseID("coupon id", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := app.DB(ctx)
			if err != nil {
				return err
			}
			c, err := coupon.Get(ctx, db, id)
			if err != nil {
				return err
			}
			out := couponShow{Coupon: c}
			if out.Items, err = coupon.ItemCounts(ctx, db, id); err != nil {
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
				if rc, err := st.ReadCounters(ctx, id); err != nil {
					out.Error = err.Error()
				} else {
					out.Redis = &rc
				}
				if list, _, err := st.LoadActive(ctx); err == nil {
					active := false
					for _, a := range list {
						active = active || a.ID == id
					}
					out.Active = &active
				}
			}
			if app.JSON {
				return writeJSON(app.Out, out)
			}
			rows := [][]string{
				{"id", strconv.FormatInt(c.ID, 10)},
				{"name", c.Name},
				{"offer", c.Describe()},
				{"status", string(c.Status)},
				{"mode", string(c.Mode)},
				{"window (UTC)", couponTime(c.ValidFrom) + " → " + couponTime(c.ValidUntil)},
				{"validity", couponValidityText(c)},
				{"quota", couponQuotaText(c)},
				{"per member", strconv.Itoa(c.PerMemberLimit)},
				{"audience", c.Audience.String()},
				{"created", couponTime(c.CreatedAt) + " by " + c.CreatedBy},
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
			return table(app.Out, rows)
		},
	}
}

func couponValidityText(c *coupon.Coupon) string {
	if c.Validity == coupon.ValidityRelative {
		return fmt.Sprintf("%d days from issue", c.ValidDays)
	}
	return "the window"
}

func newCouponDisableCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "disable COUPON_ID",
		Short: "Stop issuing a coupon, and cancel its push (items already held keep their lifecycle)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := couponParseID("coupon id", args[0])
			if err != nil {
				return err
			}
			ctx := cmd.Context()
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
		},
	}
}

func newCouponMemberCouponsCmd(app *App) *cobra.Command {
	var member int64
	var status string
	var limit int
	cmd := &cobra.Command{
		Use:   "member-coupons --member N",
		Short: "List a member's coupons, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if member <= 0 {
				return usageErrorf("--member must be a positive member id")
			}
			db, err := app.DB(cmd.Context())
			if err != nil {
				return err
			}
			items, err := coupon.MemberItems(cmd.Context(), db, member, coupon.MemberItemsOptions{Status: coupon.ItemStatus(status), Limit: limit})
			if err != nil {
				return err
			}
			if app.JSON {
				if items == nil {
					items = []coupon.MemberItem{}
				}
				return writeJSON(app.Out, items)
			}
			rows := [][]string{{"ITEM", "COUPON", "NAME", "SEQ", "STATUS", "ORDER", "USABLE (UTC)", "ISSUED"}}
			for _, it := range items {
				order := ""
				if it.OrderID != nil {
					order = *it.OrderID
				}
				rows = append(rows, []string{strconv.FormatInt(it.ID, 10), strconv.FormatInt(it.CouponID, 10), it.CouponName,
					strconv.Itoa(it.Seq), string(it.Status), order,
					it.ValidFrom.UTC().Format("2006-01-02 15:04") + " → " + it.ValidUntil.UTC().Format("2006-01-02 15:04"),
					couponTime(it.IssuedAt)})
			}
			return table(app.Out, rows)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&member, "member", 0, "member id (required)")
	f.StringVar(&status, "status", "", "only items in this status (issued, claimed, locked, redeemed, expired)")
	f.IntVar(&limit, "limit", 100, "at most this many (max 1000)")
	_ = cmd.MarkFlagRequired("member")
	return cmd
}

// couponPrintTransition prints a lifecycle step's outcome.
func couponPrintTransition(app *App, verb string, t coupon.Transition) error {
	if app.JSON {
		return writeJSON(app.Out, t)
	}
	it := t.Item
	state := string(it.Status)
	if it.OrderID != nil {
		state += " by order " + *it.OrderID
	}
	if !t.Changed {
		fmt.Fprintf(app.Out, "item %d unchanged (already %s)\n", it.ID, state)
		return nil
	}
	fmt.Fprintf(app.Out, "item %d %s: now %s", it.ID, verb, state)
	if t.DiscountCents > 0 {
		fmt.Fprintf(app.Out, ", discount %s", coupon.FormatMoney(t.DiscountCents))
	}
	fmt.Fprintln(app.Out)
	return nil
}

func newCouponClaimCmd(app *App) *cobra.Command {
	var member int64
	cmd := &cobra.Command{
		Use:   "claim ITEM_ID --member N",
		Short: "Claim an issued coupon for its member (issued → claimed)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := couponParseID("item id", args[0])
			if err != nil {
				return err
			}
			db, err := app.DB(cmd.Context())
			if err != nil {
				return err
			}
			t, err := coupon.Claim(cmd.Context(), db, id, member, time.Now())
			if err != nil {
				return couponErr(err)
			}
			return couponPrintTransition(app, "claimed", t)
		},
	}
	cmd.Flags().Int64Var(&member, "member", 0, "the member claiming (required)")
	_ = cmd.MarkFlagRequired("member")
	return cmd
}

func newCouponLockCmd(app *App) *cobra.Command {
	var member int64
	var order, total string
	cmd := &cobra.Command{
		Use:   "lock ITEM_ID --member N --order ORDER --total 120.00",
		Short: "Hold a coupon for an order (checks owner, validity, threshold; idempotent per order)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := couponParseID("item id", args[0])
			if err != nil {
				return err
			}
			cents, err := coupon.ParseMoney(total)
			if err != nil {
				return usageErrorf("--total: %v", err)
			}
			db, err := app.DB(cmd.Context())
			if err != nil {
				return err
			}
			t, err := coupon.Lock(cmd.Context(), db, coupon.LockRequest{ItemID: id, MemberID: member, OrderID: order, OrderTotalCents: cents}, time.Now())
			if err != nil {
				return couponErr(err)
			}
			return couponPrintTransition(app, "locked", t)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&member, "member", 0, "the order's member (required)")
	f.StringVar(&order, "order", "", "order id (required)")
	f.StringVar(&total, "total", "", "order total before the coupon, e.g. 120.00 (required)")
	for _, n := range []string{"member", "order", "total"} {
		_ = cmd.MarkFlagRequired(n)
	}
	return cmd
}

func newCouponOrderStepCmd(app *App, use, short, verb string, step func(ctx context.Context, app *App, item, member int64, order string) (coupon.Transition, error)) *cobra.Command {
	var member int64
	var order string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := couponParseID("item id", args[0])
			if err != nil {
				return err
			}
			t, err := step(cmd.Context(), app, id, member, order)
			if err != nil {
				return couponErr(err)
			}
			return couponPrintTransition(app, verb, t)
		},
	}
	f := cmd.Flags()
	f.StringVar(&order, "order", "", "order id (required)")
	f.Int64Var(&member, "member", 0, "check the item belongs to this member (optional)")
	_ = cmd.MarkFlagRequired("order")
	return cmd
}

func newCouponReleaseCmd(app *App) *cobra.Command {
	return newCouponOrderStepCmd(app, "release ITEM_ID --order ORDER", "Give back a coupon held by a cancelled order (locked → claimed)", "released",
		func(ctx context.Context, app *App, item, member int64, order string) (coupon.Transition, error) {
			db, err := app.DB(ctx)
			if err != nil {
				return coupon.Transition{}, err
			}
			return coupon.Release(ctx, db, item, member, order, time.Now())
		})
}

func newCouponRedeemCmd(app *App) *cobra.Command {
	return newCouponOrderStepCmd(app, "redeem ITEM_ID --order ORDER", "Consume a coupon held by a paid order (locked → redeemed)", "redeemed",
		func(ctx context.Context, app *App, item, member int64, order string) (coupon.Transition, error) {
			db, err := app.DB(ctx)
			if err != nil {
				return coupon.Transition{}, err
			}
			return coupon.Redeem(ctx, db, item, member, order, time.Now())
		})
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
		return out, nil
	case rng != "":
		a, b, err := couponParseRange(rng)
		if err != nil {
			return nil, err
		}
		if b-a+1 > 10_000_000 {
			return nil, usageErrorf("--range %s: at most 10,000,000 members at once", rng)
		}
		out := make([]int64, 0, b-a+1)
		for m := a; m <= b; m++ {
			out = append(out, m)
		}
		return out, nil
	}
	return nil, usageErrorf("give --members or --range")
}

// couponParseRange parses "A-B" (inclusive, positive, A ≤ B).
// maxRangeMembers bounds a member id range given on the command line (bulk
// issue, login events): ten million, the member base this system is sized
// for.
const maxRangeMembers = 10_000_000

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

func newCouponIssueCmd(app *App) *cobra.Command {
	var list, rng string
	cmd := &cobra.Command{
		Use:   "issue COUPON_ID --members 1,2,3 | --range A-B",
		Short: "Issue a coupon to members now, in bulk (idempotent; what push workers call)",
		Long: `issue tops each member up to the coupon's per-member limit while the quota
lasts, 1,000 members per transaction. Running it again issues nothing more.
It does not check the audience: the caller chooses the members.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := couponParseID("coupon id", args[0])
			if err != nil {
				return err
			}
			members, err := couponParseMembers(list, rng)
			if err != nil {
				return err
			}
			db, err := app.DB(cmd.Context())
			if err != nil {
				return err
			}
			if err := coupon.CheckMembers(cmd.Context(), db, members); err != nil {
				return couponErr(err)
			}
			res, err := coupon.IssueToMembers(cmd.Context(), db, id, members, time.Now())
			if err != nil {
				return couponErr(err)
			}
			if app.JSON {
				return writeJSON(app.Out, res)
			}
			if res.NotIssuable {
				fmt.Fprintf(app.Out, "coupon %d is disabled or outside its window: nothing issued\n", id)
				return nil
			}
			fmt.Fprintf(app.Out, "%d items issued to %d of %d members; %d already held theirs, %d left short by the quota\n",
				res.Issued, res.Served, res.Members, res.AlreadyHeld, res.Short)
			return nil
		},
	}
	cmd.Flags().StringVar(&list, "members", "", "member ids, e.g. 1,2,3")
	cmd.Flags().StringVar(&rng, "range", "", "member id range, inclusive, e.g. 1-1000")
	return cmd
}

func newCouponExpireCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "expire",
		Short: "Mark expired every issued or claimed coupon whose window has ended (couponsd does it every minute)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := app.DB(cmd.Context())
			if err != nil {
				return err
			}
			n, err := coupon.ExpireDue(cmd.Context(), db, time.Now(), 1000)
			if err != nil {
				return err
			}
			if app.JSON {
				return writeJSON(app.Out, map[string]int64{"expired": n})
			}
			fmt.Fprintf(app.Out, "%d items expired\n", n)
			return nil
		},
	}
}
