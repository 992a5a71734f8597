package coupon

import (
	"errors"
	"strings"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/provider"
)

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ok := baseSpec(now)
	if err := ok.Validate(now); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	for _, tc := range []struct {
		name string
		mod  func(*Spec)
		want string
	}{
		{"no name", func(s *Spec) { s.Name = "  " }, "name is required"},
		{"long name", func(s *Spec) { s.Name = strings.Repeat("x", 129) }, "longer than 128"},
		{"bad kind", func(s *Spec) { s.Kind = "gift" }, "want amount or percent"},
		{"no amount", func(s *Spec) { s.AmountCents = 0 }, "positive amount"},
		{"amount above threshold", func(s *Spec) { s.AmountCents = 20000 }, "below the threshold"},
		{"percent on amount", func(s *Spec) { s.PercentOff = 10 }, "percent and cap"},
		{"percent range", func(s *Spec) { s.Kind, s.AmountCents, s.PercentOff = KindPercent, 0, 100 }, "1..99"},
		{"amount on percent", func(s *Spec) { s.Kind, s.PercentOff = KindPercent, 10 }, "amount is for amount coupons"},
		{"negative money", func(s *Spec) { s.ThresholdCents = -1 }, "outside 0.."},
		{"window reversed", func(s *Spec) { s.ValidUntil = s.ValidFrom }, "not after its start"},
		{"window ended", func(s *Spec) { s.ValidFrom, s.ValidUntil = now.Add(-2*time.Hour), now.Add(-time.Hour) }, "already ended"},
		{"no window", func(s *Spec) { s.ValidFrom = time.Time{} }, "needs a start and an end"},
		{"days on fixed", func(s *Spec) { s.ValidDays = 3 }, "for relative validity"},
		{"relative without days", func(s *Spec) { s.Validity = ValidityRelative }, "valid days within"},
		{"bad validity", func(s *Spec) { s.Validity = "forever" }, "want fixed or relative"},
		{"zero quota", func(s *Spec) { s.TotalQuota = quota(0) }, "total quota 0"},
		{"limit too high", func(s *Spec) { s.PerMemberLimit = 101 }, "per-member limit 101"},
		{"bad audience", func(s *Spec) { s.Audience = audience.Segment{Levels: []int{9}} }, "audience"},
		{"template on lazy", func(s *Spec) { s.Template = "hi" }, "for push-mode"},
		{"push without template", func(s *Spec) { s.Mode = ModePush; s.Channels = []provider.Channel{"sms"} }, "needs a message template"},
		{"push without channels", func(s *Spec) { s.Mode = ModePush; s.Template = "hi" }, "at least one channel"},
		{"push bad channel", func(s *Spec) { s.Mode = ModePush; s.Template = "hi"; s.Channels = []provider.Channel{"fax"} }, `"fax" is unknown`},
		{"bad mode", func(s *Spec) { s.Mode = "drip" }, "want lazy or push"},
	} {
		s := baseSpec(now)
		tc.mod(&s)
		err := s.Validate(now)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate = %v, want ErrInvalid mentioning %q", tc.name, err, tc.want)
		}
	}
	// Every problem at once.
	bad := Spec{Kind: "x", PerMemberLimit: -1}
	if err := bad.Validate(now); err == nil || strings.Count(err.Error(), "\n") < 3 {
		t.Errorf("want all problems reported, got %v", err)
	}
	push := baseSpec(now)
	push.Mode, push.Template, push.Channels = ModePush, "Your coupon is waiting", []provider.Channel{"app", "inbox"}
	push.Validity, push.ValidDays = ValidityRelative, 7
	push.TotalQuota = quota(1000)
	if err := push.Validate(now); err != nil {
		t.Errorf("valid push spec: %v", err)
	}
}

func TestDiscountAndWindow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	amount := Coupon{Kind: KindAmount, AmountCents: 1000}
	if d := amount.Discount(5000); d != 1000 {
		t.Errorf("amount discount = %d", d)
	}
	if d := amount.Discount(600); d != 600 {
		t.Errorf("amount discount on a small order = %d, want the total", d)
	}
	pct := Coupon{Kind: KindPercent, PercentOff: 15, CapCents: 2000}
	if d := pct.Discount(10000); d != 1500 {
		t.Errorf("percent discount = %d", d)
	}
	if d := pct.Discount(100000); d != 2000 {
		t.Errorf("capped percent discount = %d", d)
	}
	c := Coupon{Status: StatusActive, ValidFrom: now, ValidUntil: now.Add(time.Hour), Validity: ValidityFixed}
	if !c.IssuableAt(now) || c.IssuableAt(now.Add(time.Hour)) || c.IssuableAt(now.Add(-time.Millisecond)) {
		t.Error("IssuableAt: window is [from, until)")
	}
	if from, until := c.ItemWindow(now.Add(time.Minute)); !from.Equal(now) || !until.Equal(now.Add(time.Hour)) {
		t.Error("fixed item window")
	}
	c.Validity, c.ValidDays = ValidityRelative, 3
	if from, until := c.ItemWindow(now); !from.Equal(now) || !until.Equal(now.AddDate(0, 0, 3)) {
		t.Error("relative item window")
	}
	c.Status = StatusDisabled
	if c.IssuableAt(now) {
		t.Error("disabled coupon issuable")
	}
}
