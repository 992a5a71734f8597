// Package coupon owns coupon campaigns and the coupons members hold: what an
// operator may create (a validated Spec) and how it is stored
// (sales_promotion_coupon), the Redis state that makes lazy issuance cheap
// (active-coupon set, per-member counts, quota counter, all rebuilt from
// MySQL when missing), issuance itself — on login through the batching
// Issuer, or in bulk for the push pipeline — and the coupon lifecycle
// (claim, lock for an order, release, redeem, expire) on
// sales_promotion_coupon_item.
//
// MySQL is the source of truth everywhere. Every issuance runs one
// transaction per coupon that locks the coupon row, inserts the items under
// UNIQUE(coupon_id, member_id, seq) and raises issued_count only while it
// stays within total_quota, so it never over-issues whatever Redis says.
// Redis is the fast path in front of it: one Lua script reserves a member's
// items and the quota atomically, so repeated logins and a sold-out coupon
// cost one Redis call and no SQL. Every lifecycle transition is a
// conditional UPDATE from the expected state, so concurrent requests cannot
// double-spend a coupon. docs/COUPONS.md tells the whole story.
package coupon

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/money"
	"mkt/pkg/provider"
)

// Errors callers branch on (test with errors.Is).
var (
	// ErrInvalid is wrapped by every validation error (of a Spec, a request
	// argument or an order).
	ErrInvalid = errors.New("coupon: invalid")
	// ErrNotFound means no coupon or item has the id asked for.
	ErrNotFound = errors.New("coupon: not found")
	// ErrNotOwner means the item belongs to another member.
	ErrNotOwner = errors.New("coupon: item belongs to another member")
	// ErrConflict means the item (or coupon) is not in a state the
	// transition starts from: e.g. locked by another order, already
	// redeemed, or the coupon is disabled.
	ErrConflict = errors.New("coupon: state conflict")
	// ErrExpired means the item's validity window has ended.
	ErrExpired = errors.New("coupon: expired")
	// ErrNotYetValid means the item's validity window has not started.
	ErrNotYetValid = errors.New("coupon: not yet valid")
	// ErrThreshold means the order total is below the coupon's threshold.
	ErrThreshold = errors.New("coupon: order total below the threshold")
	// ErrRetry means issuance could not decide now (Redis state being
	// rebuilt, a concurrent reservation in flight); try again shortly.
	ErrRetry = errors.New("coupon: busy, retry later")
)

// Kind is what a coupon takes off an order.
type Kind string

// Coupon kinds.
const (
	// KindAmount takes AmountCents off an order of at least ThresholdCents.
	KindAmount Kind = "amount"
	// KindPercent takes PercentOff % off an order of at least
	// ThresholdCents, at most CapCents (0 = no cap).
	KindPercent Kind = "percent"
)

// ValidityKind says how an item's usable window is computed.
type ValidityKind string

// Validity kinds.
const (
	// ValidityFixed: items are usable in the coupon's own window.
	ValidityFixed ValidityKind = "fixed"
	// ValidityRelative: an item is usable for ValidDays days from its issue.
	ValidityRelative ValidityKind = "relative"
)

// IssueMode says how members get the coupon.
type IssueMode string

// Issue modes.
const (
	// ModeLazy issues the coupon to each eligible member at their next
	// login inside the window (couponsd).
	ModeLazy IssueMode = "lazy"
	// ModePush issues it to a segment in bulk and announces it by push (the
	// push pipeline, through IssueToMembers).
	ModePush IssueMode = "push"
)

// PushNone is the push_status of a lazy coupon, which has no push run. A
// push-mode coupon's push_status is a campaign.Status: created → planning →
// running → completed, with paused, cancelled and failed.
const PushNone campaign.Status = "none"

// placeholder matches {name} in a push-mode coupon's template.
var placeholder = regexp.MustCompile(`\{([a-z_]*)\}`)

// Placeholders are the names a push-mode coupon's message template may
// use: {name} the coupon's name, {offer} its description (e.g. "10.00 off
// orders from 100.00"), {amount}, {threshold}, {percent}, {cap}, {valid_until}
// (the last day it is issued, UTC, e.g. 2026-12-07) and {member_id}.
var Placeholders = []string{"name", "offer", "amount", "threshold", "percent", "cap", "valid_until", "member_id"}

// Placeholders returns the placeholders a template of a coupon of kind k
// may use: its amounts, not the other kind's.
func (k Kind) Placeholders() []string {
	if k == KindPercent {
		return []string{"name", "offer", "percent", "cap", "threshold", "valid_until", "member_id"}
	}
	return []string{"name", "offer", "amount", "threshold", "valid_until", "member_id"}
}

// Status is whether a coupon is being issued.
type Status string

// Coupon statuses. A disabled coupon is issued no more; items already held
// keep their own lifecycle.
const (
	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
)

// ItemStatus is where a member's coupon is in its life.
type ItemStatus string

// Item statuses: issued → claimed → locked → redeemed, locked → claimed on
// release, issued|claimed → expired when its window ends.
const (
	ItemIssued   ItemStatus = "issued"
	ItemClaimed  ItemStatus = "claimed"
	ItemLocked   ItemStatus = "locked"
	ItemRedeemed ItemStatus = "redeemed"
	ItemExpired  ItemStatus = "expired"
)

// ItemStatuses lists every item status in lifecycle order.
func ItemStatuses() []ItemStatus {
	return []ItemStatus{ItemIssued, ItemClaimed, ItemLocked, ItemRedeemed, ItemExpired}
}

// Limits on operator input.
const (
	MaxNameLen        = 128
	MaxTemplateLen    = 2000
	MaxCreatedByLen   = campaign.MaxCreatedByLen
	MaxRequestIDLen   = campaign.MaxRequestIDLen
	MaxOrderIDLen     = 64
	MaxPerMemberLimit = 100 // Redis keeps a member's count in one byte
	MaxValidDays      = 3650
	MaxWindow         = 10 * 366 * 24 * time.Hour
	MaxMoneyCents     = campaign.MaxMoneyCents // 100 million in currency units, as campaigns
	MaxQuota          = 1_000_000_000
)

// Spec is what an operator asks for when creating a coupon.
type Spec struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// AmountCents is what KindAmount takes off.
	AmountCents int64 `json:"amount_cents,omitempty"`
	// ThresholdCents is the minimum order total, 0 = none.
	ThresholdCents int64 `json:"threshold_cents,omitempty"`
	// PercentOff is what KindPercent takes off, 1..99.
	PercentOff int `json:"percent_off,omitempty"`
	// CapCents bounds KindPercent's discount, 0 = no cap.
	CapCents int64 `json:"cap_cents,omitempty"`
	// Validity is fixed (default) or relative.
	Validity ValidityKind `json:"validity_kind"`
	// ValidFrom and ValidUntil (exclusive) bound when the coupon is issued,
	// and for fixed validity when items are usable.
	ValidFrom  time.Time `json:"valid_from"`
	ValidUntil time.Time `json:"valid_until"`
	// ValidDays is how long a relative item stays usable after its issue.
	ValidDays int `json:"valid_days,omitempty"`
	// TotalQuota is how many items may ever be issued; nil = unlimited.
	TotalQuota *int64 `json:"total_quota,omitempty"`
	// PerMemberLimit is how many items one member gets (item seq 1..limit),
	// 1..MaxPerMemberLimit; 0 means 1.
	PerMemberLimit int `json:"per_member_limit"`
	// Audience is who may get it; the zero Segment is everyone.
	Audience audience.Segment `json:"audience"`
	// Mode is lazy (default) or push.
	Mode IssueMode `json:"issue_mode"`
	// Template and Channels announce a push-mode coupon; ShardSize is its
	// shard size (default audience.DefaultShardSize).
	Template  string             `json:"template,omitempty"`
	Channels  []provider.Channel `json:"channels,omitempty"`
	ShardSize int                `json:"shard_size,omitempty"`
	// CreatedBy names the operator.
	CreatedBy string `json:"created_by,omitempty"`
}

// WithDefaults returns s with its zero optional fields filled.
func (s Spec) WithDefaults() Spec {
	if s.Validity == "" {
		s.Validity = ValidityFixed
	}
	if s.Mode == "" {
		s.Mode = ModeLazy
	}
	if s.PerMemberLimit == 0 {
		s.PerMemberLimit = 1
	}
	if s.ShardSize == 0 {
		s.ShardSize = audience.DefaultShardSize
	}
	s.Name = strings.TrimSpace(s.Name)
	s.Template = strings.TrimSpace(s.Template)
	s.Audience = s.Audience.Normalize()
	s.ValidFrom = s.ValidFrom.UTC().Truncate(time.Millisecond)
	s.ValidUntil = s.ValidUntil.UTC().Truncate(time.Millisecond)
	return s
}

// Validate checks every field (after WithDefaults) against now and returns
// all problems at once, each wrapping ErrInvalid.
func (s Spec) Validate(now time.Time) error {
	s = s.WithDefaults()
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...)))
	}
	switch n := utf8.RuneCountInString(s.Name); {
	case n == 0:
		bad("name is required")
	case n > MaxNameLen:
		bad("name is longer than %d characters", MaxNameLen)
	}
	for _, f := range []struct{ name, value string }{{"name", s.Name}, {"created-by", s.CreatedBy}} {
		for _, p := range campaign.TextProblems(f.value, false) {
			bad("%s %s", f.name, p)
		}
	}
	inRange := func(what string, v int64) {
		if v < 0 || v > MaxMoneyCents {
			bad("%s %s is outside 0..%s", what, money.Format(v), money.Format(MaxMoneyCents))
		}
	}
	inRange("amount", s.AmountCents)
	inRange("threshold", s.ThresholdCents)
	inRange("cap", s.CapCents)
	switch s.Kind {
	case KindAmount:
		if s.AmountCents <= 0 {
			bad("an amount coupon needs a positive amount")
		}
		if s.ThresholdCents > 0 && s.AmountCents >= s.ThresholdCents {
			bad("amount %s must be below the threshold %s", money.Format(s.AmountCents), money.Format(s.ThresholdCents))
		}
		if s.PercentOff != 0 || s.CapCents != 0 {
			bad("percent and cap are for percent coupons")
		}
	case KindPercent:
		if s.PercentOff < 1 || s.PercentOff > 99 {
			bad("a percent coupon needs a percent within 1..99 (got %d)", s.PercentOff)
		}
		if s.AmountCents != 0 {
			bad("amount is for amount coupons (a percent coupon's maximum discount is its cap)")
		}
	default:
		bad("kind %q: want amount or percent", s.Kind)
	}
	switch {
	case s.ValidFrom.IsZero() || s.ValidUntil.IsZero():
		bad("the validity window needs a start and an end")
	case !s.ValidUntil.After(s.ValidFrom):
		bad("the window end %s is not after its start %s", fmtTime(s.ValidUntil), fmtTime(s.ValidFrom))
	case !s.ValidUntil.After(now):
		bad("the window already ended at %s", fmtTime(s.ValidUntil))
	case s.ValidUntil.Sub(s.ValidFrom) > MaxWindow:
		bad("the window is longer than %d days", int(MaxWindow.Hours()/24))
	case s.ValidFrom.After(now.Add(campaign.MaxStartAhead)):
		// As a campaign's start: at most MaxStartAhead ahead.
		bad("the window starts at %s, more than %d days ahead", fmtTime(s.ValidFrom), int(campaign.MaxStartAhead.Hours()/24))
	}
	switch s.Validity {
	case ValidityFixed:
		if s.ValidDays != 0 {
			bad("valid days are for relative validity")
		}
	case ValidityRelative:
		if s.ValidDays < 1 || s.ValidDays > MaxValidDays {
			bad("relative validity needs valid days within 1..%d (got %d)", MaxValidDays, s.ValidDays)
		}
	default:
		bad("validity %q: want fixed or relative", s.Validity)
	}
	if s.TotalQuota != nil && (*s.TotalQuota < 1 || *s.TotalQuota > MaxQuota) {
		bad("total quota %d is outside 1..%d (leave it out for unlimited)", *s.TotalQuota, MaxQuota)
	}
	if s.PerMemberLimit < 1 || s.PerMemberLimit > MaxPerMemberLimit {
		bad("per-member limit %d is outside 1..%d", s.PerMemberLimit, MaxPerMemberLimit)
	}
	if err := s.Audience.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: audience: %w", ErrInvalid, err))
	}
	switch s.Mode {
	case ModeLazy:
		if s.Template != "" || len(s.Channels) > 0 {
			bad("message template and channels are for push-mode coupons")
		}
	case ModePush:
		switch n := utf8.RuneCountInString(s.Template); {
		case n == 0:
			bad("a push-mode coupon needs a message template")
		case n > MaxTemplateLen:
			bad("message template is longer than %d characters", MaxTemplateLen)
		}
		for _, p := range campaign.TemplateProblems(s.Template, s.Kind.Placeholders()) {
			bad("message template: %s", p)
		}
		if len(s.Channels) == 0 {
			bad("a push-mode coupon needs at least one channel")
		}
		for _, p := range provider.ListProblems(s.Channels) {
			bad("%s", p)
		}
		if err := audience.CheckShardSize(s.ShardSize); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w", ErrInvalid, err))
		}
	default:
		bad("issue mode %q: want lazy or push", s.Mode)
	}
	if len(s.CreatedBy) > MaxCreatedByLen {
		bad("created-by is longer than %d characters", MaxCreatedByLen)
	}
	return errors.Join(errs...)
}

// Coupon is a stored coupon campaign (a sales_promotion_coupon row).
type Coupon struct {
	ID             int64        `db:"id" json:"id"`
	RequestID      *string      `db:"request_id" json:"request_id,omitempty"`
	Name           string       `db:"name" json:"name"`
	Kind           Kind         `db:"kind" json:"kind"`
	AmountCents    int64        `db:"amount_cents" json:"amount_cents"`
	ThresholdCents int64        `db:"threshold_cents" json:"threshold_cents"`
	PercentOff     int          `db:"percent_off" json:"percent_off"`
	CapCents       int64        `db:"cap_cents" json:"cap_cents"`
	Validity       ValidityKind `db:"validity_kind" json:"validity_kind"`
	ValidFrom      time.Time    `db:"valid_from" json:"valid_from"`
	ValidUntil     time.Time    `db:"valid_until" json:"valid_until"`
	ValidDays      int          `db:"valid_days" json:"valid_days,omitempty"`
	TotalQuota     *int64       `db:"total_quota" json:"total_quota"`
	IssuedCount    int64        `db:"issued_count" json:"issued_count"`
	PerMemberLimit int          `db:"per_member_limit" json:"per_member_limit"`
	AudienceRaw    []byte       `db:"audience" json:"-"`
	Mode           IssueMode    `db:"issue_mode" json:"issue_mode"`
	Status         Status       `db:"status" json:"status"`
	Template       *string      `db:"message_template" json:"template,omitempty"`
	ChannelsRaw    string       `db:"channels" json:"-"`
	// PushStatus is the push run's status (PushNone for a lazy coupon).
	PushStatus campaign.Status `db:"push_status" json:"push_status"`
	ShardSize  int             `db:"shard_size" json:"shard_size"`
	// PlannedMembers and PlannedShards are the push run's plan: the
	// segment's size when it was sharded, and its shard count.
	PlannedMembers int64     `db:"planned_members" json:"planned_members"`
	PlannedShards  int       `db:"planned_shards" json:"planned_shards"`
	CreatedBy      string    `db:"created_by" json:"created_by,omitempty"`
	CreatedAt      time.Time `db:"created_at" json:"created_at"`
	UpdatedAt      time.Time `db:"updated_at" json:"updated_at"`

	// Audience and Channels are decoded from AudienceRaw and ChannelsRaw.
	Audience audience.Segment   `db:"-" json:"audience"`
	Channels []provider.Channel `db:"-" json:"channels,omitempty"`
}

// decode fills Audience and Channels from their stored forms.
func (c *Coupon) decode() error {
	seg, err := audience.Parse(c.AudienceRaw)
	if err != nil {
		return fmt.Errorf("coupon %d: stored audience: %w", c.ID, err)
	}
	c.Audience = seg
	c.Channels = nil
	for part := range strings.SplitSeq(c.ChannelsRaw, ",") {
		if part == "" {
			continue
		}
		ch, err := provider.ParseChannel(part)
		if err != nil {
			return fmt.Errorf("coupon %d: stored channels %q: %w", c.ID, c.ChannelsRaw, err)
		}
		c.Channels = append(c.Channels, ch)
	}
	return nil
}

// Unlimited reports whether the coupon has no total quota.
func (c *Coupon) Unlimited() bool { return c.TotalQuota == nil }

// Remaining is the quota left (-1 when unlimited).
func (c *Coupon) Remaining() int64 {
	if c.TotalQuota == nil {
		return -1
	}
	return max(0, *c.TotalQuota-c.IssuedCount)
}

// IssuableAt reports whether the coupon is issued at t: active and t inside
// [ValidFrom, ValidUntil).
func (c *Coupon) IssuableAt(t time.Time) bool {
	return c.Status == StatusActive && !t.Before(c.ValidFrom) && t.Before(c.ValidUntil)
}

// ItemWindow is the usable window of an item issued at issuedAt.
func (c *Coupon) ItemWindow(issuedAt time.Time) (from, until time.Time) {
	if c.Validity == ValidityRelative {
		return issuedAt, issuedAt.AddDate(0, 0, c.ValidDays)
	}
	return c.ValidFrom, c.ValidUntil
}

// Discount is what the coupon takes off an order of total cents (never more
// than the total). It does not check the threshold.
func (c *Coupon) Discount(total int64) int64 {
	var d int64
	switch c.Kind {
	case KindAmount:
		d = c.AmountCents
	case KindPercent:
		d = total * int64(c.PercentOff) / 100
		if c.CapCents > 0 {
			d = min(d, c.CapCents)
		}
	}
	return max(0, min(d, total))
}

// Describe is a short human description, e.g. "10.00 off orders from 100.00".
func (c *Coupon) Describe() string {
	var s string
	switch c.Kind {
	case KindAmount:
		s = money.Format(c.AmountCents) + " off"
	case KindPercent:
		s = strconv.Itoa(c.PercentOff) + "% off"
		if c.CapCents > 0 {
			s += " (at most " + money.Format(c.CapCents) + ")"
		}
	}
	if c.ThresholdCents > 0 {
		s += " orders from " + money.Format(c.ThresholdCents)
	}
	return s
}

// Render fills a push-mode coupon's message template for one member (see
// Placeholders); "" for a coupon without a template.
func (c *Coupon) Render(memberID uint64) string {
	if c.Template == nil {
		return ""
	}
	return placeholder.ReplaceAllStringFunc(*c.Template, func(m string) string {
		switch m[1 : len(m)-1] {
		case "name":
			return c.Name
		case "offer":
			return c.Describe()
		case "amount":
			return money.Format(c.AmountCents)
		case "threshold":
			return money.Format(c.ThresholdCents)
		case "percent":
			return strconv.Itoa(c.PercentOff) + "%"
		case "cap":
			return money.Format(c.CapCents)
		case "valid_until":
			return c.ValidUntil.Add(-time.Millisecond).UTC().Format(time.DateOnly)
		case "member_id":
			return strconv.FormatUint(memberID, 10)
		}
		return m
	})
}

// HasMemberPlaceholder reports whether Render depends on the member, so a
// batch of recipients can share one rendering when it does not.
func (c *Coupon) HasMemberPlaceholder() bool {
	return c.Template != nil && strings.Contains(*c.Template, "{member_id}")
}

// Item is a member's coupon (a sales_promotion_coupon_item row).
type Item struct {
	ID         int64      `db:"id" json:"id"`
	CouponID   int64      `db:"coupon_id" json:"coupon_id"`
	MemberID   int64      `db:"member_id" json:"member_id"`
	Seq        int        `db:"seq" json:"seq"`
	Status     ItemStatus `db:"status" json:"status"`
	OrderID    *string    `db:"order_id" json:"order_id,omitempty"`
	ValidFrom  time.Time  `db:"valid_from" json:"valid_from"`
	ValidUntil time.Time  `db:"valid_until" json:"valid_until"`
	IssuedAt   time.Time  `db:"issued_at" json:"issued_at"`
	ClaimedAt  *time.Time `db:"claimed_at" json:"claimed_at,omitempty"`
	LockedAt   *time.Time `db:"locked_at" json:"locked_at,omitempty"`
	RedeemedAt *time.Time `db:"redeemed_at" json:"redeemed_at,omitempty"`
	UpdatedAt  time.Time  `db:"updated_at" json:"updated_at"`
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
