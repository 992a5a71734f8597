package campaign

import (
	"strings"
	"testing"
	"time"
)

func TestTemplateProblems(t *testing.T) {
	allowed := OfferFlatDiscount.Placeholders()
	for _, tc := range []struct {
		tmpl string
		want string // "" = valid
	}{
		{"{discount} off for {name}, member {member_id}", ""},
		{"no placeholder at all", ""},
		{"line one\n\tline two {discount}", ""},
		{"{{name}}", "nested braces"},
		{"{Name}", "{Name} is not a placeholder"},
		{"{ name }", "{ name } is not a placeholder"},
		{"save {discount", "an unclosed {"},
		{"50% off}", "a lone }"},
		{"{}", "{} is not a placeholder"},
		{"{percent} off", "placeholder {percent} is unknown for this message (want one of {name}, {discount}, {member_id})"},
		{"{nickname}", "placeholder {nickname} is unknown"},
		{"bad \xff byte", "not valid UTF-8"},
		{"bell \a here", "control character U+0007"},
		{"escape \x1b[31mred", "control character U+001B"},
	} {
		got := strings.Join(TemplateProblems(tc.tmpl, allowed), "; ")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("TemplateProblems(%q) = %q, want %q", tc.tmpl, got, tc.want)
		}
	}
	if p := TextProblems("two\nlines", false); len(p) != 1 {
		t.Errorf("a name with a line break: %v", p)
	}
}

// TestSpecRefusesBadText: the class, through Spec.Validate: placeholders of
// another kind, malformed braces, and names that are not clean text.
func TestSpecRefusesBadText(t *testing.T) {
	now := time.Now()
	base := Spec{Name: "Sale", Offer: OfferFlatDiscount, DiscountCents: 500, Template: "{discount} off", Channels: nil}
	base.Channels = append(base.Channels, "sms")
	base.ShardSize = 1000
	if err := base.Validate(now); err != nil {
		t.Fatalf("base spec: %v", err)
	}
	for _, tc := range []struct {
		edit func(*Spec)
		want string
	}{
		{func(s *Spec) { s.Template = "{percent} off" }, "{percent} is unknown"},
		{func(s *Spec) { s.Template = "{{discount}} off" }, "nested braces"},
		{func(s *Spec) { s.Name = "Sale\x1b[2J" }, "name holds the control character U+001B"},
		{func(s *Spec) { s.Name = "Sale \xc3" }, "name is not valid UTF-8"},
		{func(s *Spec) { s.Offer, s.PercentOff, s.Template = OfferPercentageOff, 10, "{discount} off" }, "{discount} is unknown"},
	} {
		s := base
		tc.edit(&s)
		if err := s.Validate(now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", s, err, tc.want)
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"Spring sale":         "Spring sale",
		"数码 sale":             "数码 sale",
		"red\x1b[31mtext":     `red\x1b[31mtext`,
		"tab\there":           `tab\x09here`,
		"bad \xff byte":       `bad \xff byte`,
		"line\u2028separator": `line\u2028separator`,
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
