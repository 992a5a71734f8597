package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/audience"
	"mkt/pkg/coupon"
	"mkt/pkg/money"
	"mkt/pkg/provider"
)

const couponCreateLong = `create validates every field, stores the coupon in MySQL, then writes its Redis
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
--max-active-days, --tags-all, --tags-any, or --audience-json '{"levels":[3,4]}'.
Mode: lazy (issued at the member's next login, by couponsd) or push (issued
and announced by the push pipeline; needs --message and --channels).`

type couponCreateOptions struct {
	Name, Kind             string
	Amount, Threshold, Cap string
	Percent                int
	From, Until, For       string
	ValidDays              int
	Quota                  int64
	PerMember              int
	audienceOptions
	Mode, Message, Channels string
	ShardSize               int
	RequestID, CreatedBy    string
}

func (o *couponCreateOptions) spec(now time.Time) (coupon.Spec, error) {
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
		if *m.dst, err = money.Parse(m.v); err != nil {
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
	if s.Audience, err = o.segment(); err != nil {
		return s, err
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

func newCouponCreateCmd(app *App, q *campaignQueues, runF func(*couponCreateOptions) error) *cobra.Command {
	o := &couponCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create --name NAME --amount 10 --threshold 100 --for 30d [flags]",
		Short: "Create a coupon campaign (lazy: MySQL then Redis; push: stored and announced atomically)",
		Long:  couponCreateLong,
		Args:  cobra.NoArgs,
		RunE: runE(app, o, nil, runF, func(ctx context.Context, app *App, o *couponCreateOptions) error {
			return runCouponCreate(ctx, app, q, o, time.Now().UTC())
		}),
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
	o.bindAudience(f)
	o.bindAudienceOldName(f)
	f.StringVar(&o.Mode, "mode", string(coupon.ModeLazy), "lazy (at next login) or push (issued and announced by push)")
	f.StringVar(&o.Message, "message", "", "push mode: announcement text")
	f.StringVar(&o.Channels, "channels", "", "push mode: channels, e.g. app,inbox")
	f.IntVar(&o.ShardSize, "shard-size", audience.DefaultShardSize, shardSizeUsage("push mode: members per shard"))
	f.StringVar(&o.RequestID, "request-id", "", "idempotency key (default random): re-running with it creates nothing twice")
	f.StringVar(&o.CreatedBy, "created-by", operatorName(), "operator name")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// runCouponCreate validates o as of now, stores the coupon (and, for a push
// coupon, publishes its created event in the same transaction) and writes
// its Redis state.
func runCouponCreate(ctx context.Context, app *App, q *campaignQueues, o *couponCreateOptions, now time.Time) error {
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
	fmt.Fprintf(app.Out, "coupon %d %s: %s — %s, %s mode, %s → %s UTC, quota %s, %d per member, audience %s\n",
		c.ID, verb, c.Name, c.Describe(), c.Mode, utcTime(c.ValidFrom), utcTime(c.ValidUntil),
		couponQuotaText(c), c.PerMemberLimit, c.Audience.String())
	if c.Mode == coupon.ModePush && res.New {
		fmt.Fprintf(app.Out, "push announced to pushd (status %s): follow it with `mktctl coupon show %d`\n", c.PushStatus, c.ID)
	}
	if res.RedisError != "" {
		fmt.Fprintf(app.Err, "warning: coupon %d is stored, but its Redis state was not written (%s); couponsd repairs it from MySQL within its sync interval\n",
			c.ID, res.RedisError)
	}
	return nil
}
