// Package campaign owns promotion campaigns: what an operator may create (a
// validated Spec), how a campaign is stored in sales_promotion, its status
// machine, its shards in campaign_shard (the durable truth of progress), and
// the messages that carry it through RocketMQ (the created event and shard
// tasks). The push pipeline's machinery here — the status machine
// (Kind's methods, Run), atomic create (Creator.Announce), shards,
// leases and Control — also drives the push runs of push-mode coupons
// (KindCoupon, their push_status in sales_promotion_coupon).
package campaign

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mkt/pkg/audience"
	"mkt/pkg/money"
	"mkt/pkg/provider"
)

// ErrInvalid is wrapped by every validation error of a Spec.
var ErrInvalid = errors.New("campaign: invalid")

// ErrNotFound is returned when no campaign has the id asked for.
var ErrNotFound = errors.New("campaign: not found")

// ErrConflict is returned when a status change is not allowed from the
// campaign's current status.
var ErrConflict = errors.New("campaign: status conflict")

// Offer is what a promotion gives, one of the seed's four promotion kinds
// (stored in sales_promotion.kind). It is not the campaign Kind, which says
// which table a campaign lives in.
type Offer string

// Offers of a promotion.
const (
	OfferFullReduction Offer = "full_reduction" // spend ThresholdCents, get DiscountCents off
	OfferFlatDiscount  Offer = "flat_discount"  // DiscountCents off
	OfferGift          Offer = "gift"           // a gift (GiftText)
	OfferPercentageOff Offer = "percentage_off" // PercentOff % off
)

// Offers lists the offers a promotion may make.
func Offers() []Offer {
	return []Offer{OfferFullReduction, OfferFlatDiscount, OfferGift, OfferPercentageOff}
}

// Status is where a campaign is in its life.
type Status string

// Campaign statuses. created → planning → running → completed, with paused
// (and back to running), cancelled from any unfinished status, and failed
// when planning cannot succeed.
const (
	StatusCreated   Status = "created"
	StatusPlanning  Status = "planning"
	StatusRunning   Status = "running"
	StatusPaused    Status = "paused"
	StatusCancelled Status = "cancelled"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
)

// Finished reports whether no more work happens for the status.
func (s Status) Finished() bool {
	return s == StatusCancelled || s == StatusCompleted || s == StatusFailed
}

// Limits on operator input.
const (
	MaxNameLen     = 128
	MaxTemplateLen = 2000
	MaxGiftLen     = 255
	// MaxCreatedByLen bounds who created a campaign, coupon or schedule,
	// in bytes.
	MaxCreatedByLen = 64
	// MaxErrorLen bounds the errors and reasons stored with shards,
	// scheduled launches and firings (VARCHAR(1000) columns), in bytes.
	MaxErrorLen   = 1000
	MaxStartAhead = 90 * 24 * time.Hour
	// MaxMoneyCents bounds every amount of a campaign or coupon: 100
	// million in currency units.
	MaxMoneyCents = 100_000_000_00
)

// Spec is what an operator asks for when creating a campaign.
type Spec struct {
	Name           string             `json:"name"`
	Offer          Offer              `json:"kind"`
	ThresholdCents int64              `json:"threshold_cents,omitempty"`
	DiscountCents  int64              `json:"discount_cents,omitempty"`
	PercentOff     int                `json:"percent_off,omitempty"`
	GiftText       string             `json:"gift_text,omitempty"`
	Template       string             `json:"template"`
	Channels       []provider.Channel `json:"channels"`
	Audience       audience.Segment   `json:"audience"`
	ShardSize      int                `json:"shard_size"`
	StartAt        *time.Time         `json:"start_at,omitempty"`
	CreatedBy      string             `json:"created_by,omitempty"`
}

// placeholder matches {name} in templates.
var placeholder = regexp.MustCompile(`\{([a-z_]*)\}`)

// Placeholders are the names a template may use, e.g. "{discount} off";
// Offer.Placeholders says which apply to an offer.
var Placeholders = []string{"name", "threshold", "discount", "percent", "gift", "member_id"}

// Placeholders returns the placeholders a template of the offer may use:
// {name} and {member_id}, and the offer's own amounts.
func (k Offer) Placeholders() []string {
	own := map[Offer][]string{
		OfferFullReduction: {"threshold", "discount"},
		OfferFlatDiscount:  {"discount"},
		OfferPercentageOff: {"percent"},
		OfferGift:          {"gift"},
	}[k]
	return append([]string{"name"}, append(own, "member_id")...)
}

// Validate checks every field against now and returns all problems at once.
func (s Spec) Validate(now time.Time) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...)))
	}
	name := strings.TrimSpace(s.Name)
	switch {
	case name == "":
		bad("name is required")
	case utf8.RuneCountInString(name) > MaxNameLen:
		bad("name is longer than %d characters", MaxNameLen)
	}
	switch s.Offer {
	case OfferFullReduction:
		if s.ThresholdCents <= 0 || s.DiscountCents <= 0 {
			bad("full_reduction needs a positive threshold and discount")
		} else if s.DiscountCents >= s.ThresholdCents {
			bad("full_reduction discount %s must be below its threshold %s", money.Format(s.DiscountCents), money.Format(s.ThresholdCents))
		}
	case OfferFlatDiscount:
		if s.DiscountCents <= 0 {
			bad("flat_discount needs a positive discount")
		}
	case OfferGift:
		if strings.TrimSpace(s.GiftText) == "" {
			bad("gift needs the gift's description")
		}
	case OfferPercentageOff:
		if s.PercentOff < 1 || s.PercentOff > 99 {
			bad("percentage_off needs a percent within 1..99 (got %d)", s.PercentOff)
		}
	default:
		bad("kind %q: want one of full_reduction, flat_discount, gift, percentage_off", s.Offer)
	}
	if s.ThresholdCents < 0 || s.DiscountCents < 0 {
		bad("amounts must not be negative")
	}
	if s.ThresholdCents > MaxMoneyCents || s.DiscountCents > MaxMoneyCents {
		bad("amounts must be at most %s", money.Format(MaxMoneyCents))
	}
	if utf8.RuneCountInString(s.GiftText) > MaxGiftLen {
		bad("gift text is longer than %d characters", MaxGiftLen)
	}
	switch tmpl := strings.TrimSpace(s.Template); {
	case tmpl == "":
		bad("message template is required")
	case utf8.RuneCountInString(tmpl) > MaxTemplateLen:
		bad("message template is longer than %d characters", MaxTemplateLen)
	default:
		for _, p := range TemplateProblems(tmpl, s.Offer.Placeholders()) {
			bad("message template: %s", p)
		}
	}
	for _, f := range []struct{ name, value string }{{"name", s.Name}, {"gift text", s.GiftText}, {"created-by", s.CreatedBy}} {
		for _, p := range TextProblems(f.value, false) {
			bad("%s %s", f.name, p)
		}
	}
	if len(s.Channels) == 0 {
		bad("at least one channel is required")
	}
	for _, p := range provider.ListProblems(s.Channels) {
		bad("%s", p)
	}
	if err := s.Audience.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: audience: %w", ErrInvalid, err))
	}
	if err := audience.CheckShardSize(s.ShardSize); err != nil {
		errs = append(errs, fmt.Errorf("%w: %w", ErrInvalid, err))
	}
	if s.StartAt != nil {
		if p := StartProblem(*s.StartAt, now); p != "" {
			bad("%s", p)
		}
	}
	if len(s.CreatedBy) > MaxCreatedByLen {
		bad("created-by is longer than %d characters", MaxCreatedByLen)
	}
	return errors.Join(errs...)
}

// StartProblem says what is wrong with a start time at now: in the past
// (more than a minute ago) or more than MaxStartAhead ahead; "" when fine.
func StartProblem(start, now time.Time) string {
	switch {
	case start.Before(now.Add(-time.Minute)):
		return fmt.Sprintf("start time %s is in the past", start.UTC().Format(time.RFC3339))
	case start.After(now.Add(MaxStartAhead)):
		return fmt.Sprintf("start time %s is more than %d days ahead", start.UTC().Format(time.RFC3339), int(MaxStartAhead.Hours()/24))
	}
	return ""
}

// Campaign is a stored promotion campaign (a sales_promotion row).
type Campaign struct {
	ID             uint64     `db:"id" json:"id"`
	RequestID      *string    `db:"request_id" json:"request_id,omitempty"`
	Name           string     `db:"name" json:"name"`
	Offer          Offer      `db:"kind" json:"kind"`
	ThresholdCents int64      `db:"threshold_cents" json:"threshold_cents"`
	DiscountCents  int64      `db:"discount_cents" json:"discount_cents"`
	PercentOff     int        `db:"percent_off" json:"percent_off"`
	GiftText       string     `db:"gift_text" json:"gift_text,omitempty"`
	Template       string     `db:"message_template" json:"template"`
	ChannelsRaw    string     `db:"channels" json:"-"`
	AudienceRaw    []byte     `db:"audience" json:"-"`
	Status         Status     `db:"status" json:"status"`
	StatusReason   string     `db:"status_reason" json:"status_reason,omitempty"`
	ShardSize      int        `db:"shard_size" json:"shard_size"`
	PlannedMembers int64      `db:"planned_members" json:"planned_members"`
	PlannedShards  int        `db:"planned_shards" json:"planned_shards"`
	StartAt        *time.Time `db:"start_at" json:"start_at,omitempty"`
	CreatedBy      string     `db:"created_by" json:"created_by,omitempty"`
	PlannedAt      *time.Time `db:"planned_at" json:"planned_at,omitempty"`
	FinishedAt     *time.Time `db:"finished_at" json:"finished_at,omitempty"`
	CreatedAt      time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt      time.Time  `db:"updated_at" json:"updated_at"`

	// Channels and Audience are decoded from ChannelsRaw and AudienceRaw.
	Channels []provider.Channel `db:"-" json:"channels"`
	Audience audience.Segment   `db:"-" json:"audience"`
}

// decode fills Channels and Audience from their stored forms.
func (c *Campaign) decode() error {
	chs, err := provider.ParseChannels(c.ChannelsRaw)
	if err != nil {
		return fmt.Errorf("campaign %d: stored channels %q: %w", c.ID, c.ChannelsRaw, err)
	}
	c.Channels = chs
	seg, err := audience.Parse(c.AudienceRaw)
	if err != nil {
		return fmt.Errorf("campaign %d: stored audience: %w", c.ID, err)
	}
	c.Audience = seg
	return nil
}

// Render fills the template's placeholders for one member.
func (c *Campaign) Render(memberID uint64) string {
	return placeholder.ReplaceAllStringFunc(c.Template, func(m string) string {
		switch m[1 : len(m)-1] {
		case "name":
			return c.Name
		case "threshold":
			return money.Format(c.ThresholdCents)
		case "discount":
			return money.Format(c.DiscountCents)
		case "percent":
			return strconv.Itoa(c.PercentOff) + "%"
		case "gift":
			return c.GiftText
		case "member_id":
			return strconv.FormatUint(memberID, 10)
		}
		return m
	})
}

// HasMemberPlaceholder reports whether Render depends on the member, so a
// batch of recipients can share one rendering when it does not.
func (c *Campaign) HasMemberPlaceholder() bool {
	return strings.Contains(c.Template, "{member_id}")
}
