package cli

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/money"
	"mkt/pkg/provider"
)

// specOptions are the flags describing a campaign, shared by `campaign
// create` and `plan`. They are parsed into a campaign.Spec by spec, apart
// from running anything.
type specOptions struct {
	Name      string
	Kind      string
	Threshold string
	Discount  string
	Percent   int
	Gift      string
	Template  string
	Channels  string

	audienceOptions

	ShardSize int
	StartAt   string
	CreatedBy string
}

// Bind registers the flags of a campaign's spec on fs (campaign create and
// plan).
func (o *specOptions) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.Name, "name", "", "campaign name (required)")
	fs.StringVar(&o.Kind, "kind", "", "promotion kind: full_reduction, flat_discount, gift or percentage_off (required)")
	fs.StringVar(&o.Threshold, "threshold", "", `full_reduction: order total that unlocks the discount, e.g. "100" or "99.90"`)
	fs.StringVar(&o.Discount, "discount", "", `full_reduction, flat_discount: amount off, e.g. "12.50"`)
	fs.IntVar(&o.Percent, "percent", 0, "percentage_off: percent off, 1..99")
	fs.StringVar(&o.Gift, "gift", "", "gift: what the member gets")
	fs.StringVar(&o.Template, "template", "", "message text (required); placeholders {name}, {member_id} and the kind's own: {threshold} {discount} (full_reduction), {discount} (flat_discount), {percent} (percentage_off), {gift} (gift); braces only write placeholders")
	fs.StringVar(&o.Channels, "channels", "", "comma-separated channels: sms, email, app, inbox (required)")
	o.bindAudience(fs)
	fs.IntVar(&o.ShardSize, "shard-size", audience.DefaultShardSize, shardSizeUsage("members per shard"))
	fs.StringVar(&o.StartAt, "start-at", "", `earliest push time: RFC 3339 ("2030-05-01T09:00:00+08:00") or from now ("+2h", "+90m"); default at once`)
}

// spec parses the flags into a Spec (money, start time, channels, audience)
// and validates it as create would; every problem is a usage error.
func (o *specOptions) spec(now time.Time) (campaign.Spec, error) {
	var problems []string
	s := campaign.Spec{
		Name: o.Name, Offer: campaign.Offer(o.Kind), PercentOff: o.Percent, GiftText: o.Gift,
		Template: o.Template, ShardSize: o.ShardSize, CreatedBy: o.CreatedBy,
	}
	var err error
	if s.ThresholdCents, err = parseMoney(o.Threshold); err != nil {
		problems = append(problems, "--threshold: "+err.Error())
	}
	if s.DiscountCents, err = parseMoney(o.Discount); err != nil {
		problems = append(problems, "--discount: "+err.Error())
	}
	if strings.TrimSpace(o.Channels) == "" {
		problems = append(problems, "--channels is required (sms, email, app, inbox)")
	} else if s.Channels, err = provider.ParseChannels(o.Channels); err != nil {
		problems = append(problems, "--channels: "+err.Error())
	}
	problems = append(problems, o.parseWhenAndWho(&s, now)...)
	problems = append(problems, o.irrelevant()...)
	if len(problems) > 0 {
		return s, usageErrorf("%s", strings.Join(problems, "; "))
	}
	if err := s.Validate(now); err != nil {
		return s, usageErrorf("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return s, nil
}

// irrelevant reports amount flags given for a kind that does not use them.
func (o *specOptions) irrelevant() []string {
	k := campaign.Offer(o.Kind)
	var out []string
	check := func(given bool, flag string, kinds ...campaign.Offer) {
		if !given {
			return
		}
		for _, ok := range kinds {
			if k == ok {
				return
			}
		}
		names := make([]string, len(kinds))
		for i, kk := range kinds {
			names[i] = string(kk)
		}
		out = append(out, fmt.Sprintf("%s applies only to --kind %s", flag, strings.Join(names, " or ")))
	}
	if !slices.Contains(campaign.Offers(), k) {
		return nil // the kind itself is reported
	}
	check(o.Threshold != "", "--threshold", campaign.OfferFullReduction)
	check(o.Discount != "", "--discount", campaign.OfferFullReduction, campaign.OfferFlatDiscount)
	check(o.Percent != 0, "--percent", campaign.OfferPercentageOff)
	check(o.Gift != "", "--gift", campaign.OfferGift)
	return out
}

// parsePreview is spec for `plan`. A create command line (any of --name,
// --kind, --template or an amount) is validated exactly as create validates
// it, so plan never accepts what create refuses; an audience alone (with
// channels, shard size and start) is previewed with those checked by the
// same rules.
func (o *specOptions) parsePreview(now time.Time) (campaign.Spec, error) {
	if o.Name != "" || o.Kind != "" || o.Template != "" || o.Threshold != "" || o.Discount != "" || o.Percent != 0 || o.Gift != "" {
		return o.spec(now)
	}
	var problems []string
	s := campaign.Spec{ShardSize: o.ShardSize}
	var err error
	if strings.TrimSpace(o.Channels) == "" {
		s.Channels = []provider.Channel{provider.ChannelSMS}
	} else if s.Channels, err = provider.ParseChannels(o.Channels); err != nil {
		problems = append(problems, "--channels: "+err.Error())
	}
	problems = append(problems, o.parseWhenAndWho(&s, now)...)
	if err := audience.CheckShardSize(o.ShardSize); err != nil {
		problems = append(problems, "--shard-size: "+err.Error())
	}
	if s.StartAt != nil {
		if p := campaign.StartProblem(*s.StartAt, now); p != "" {
			problems = append(problems, "--start-at: "+p)
		}
	}
	if len(problems) > 0 {
		return s, usageErrorf("%s", strings.Join(problems, "; "))
	}
	return s, nil
}

// parseWhenAndWho parses --start-at and the audience flags into s, create's
// and plan's rules alike, and returns their problems.
func (o *specOptions) parseWhenAndWho(s *campaign.Spec, now time.Time) (problems []string) {
	var err error
	if s.StartAt, err = parseStartAt(o.StartAt, now); err != nil {
		problems = append(problems, "--start-at: "+err.Error())
	}
	if s.Audience, err = o.segment(); err != nil {
		problems = append(problems, strings.TrimPrefix(err.Error(), ErrUsage.Error()+": "))
	}
	return problems
}

// parseMoney parses an optional amount flag: empty is 0, anything else is
// money.Parse's notation.
func parseMoney(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	return money.Parse(s)
}

// parseStartAt parses RFC 3339 or "+<duration>" relative to now; empty is
// nil (at once).
func parseStartAt(s string, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%q: want a positive duration after '+', e.g. +2h or +90m", s)
		}
		t := now.Add(d).UTC().Truncate(time.Millisecond)
		return &t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("%q: want RFC 3339 (2030-05-01T09:00:00Z) or +duration (+2h)", s)
	}
	t = t.UTC()
	return &t, nil
}

// parseID parses a campaign id argument.
var parseID = idArg("campaign id")
