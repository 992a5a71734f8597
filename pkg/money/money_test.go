package money

import (
	"errors"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"0": 0, "12": 1200, "100": 10000, "12.5": 1250, "12.50": 1250, "0.01": 1, "007.10": 710,
		" 0.05 ": 5, "999999999999.99": 99999999999999, "0000000000000001": 100, //nolint:gocritic // " 0.05 ": the spaces are under test
	} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", " ", "-1", "+1", "1.", ".5", ".", "1.234", "1e2", "1e3", "1,000", "1,50",
		"ten", "abc", "1 000", "1.5.0", "12345678901234", "1000000000000", "１２"} {
		if got, err := Parse(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %d, %v; want an ErrInvalid error", in, got, err)
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	for cents, want := range map[int64]string{0: "0.00", 5: "0.05", 1250: "12.50", 10000: "100.00", -5: "-0.05", -1250: "-12.50"} {
		if got := Format(cents); got != want {
			t.Errorf("Format(%d) = %q, want %q", cents, got, want)
		}
	}
	for _, s := range []string{"0.00", "12.50", "999999999999.99"} {
		if c, err := Parse(s); err != nil || Format(c) != s {
			t.Errorf("Format(Parse(%q)) = %q, %v", s, Format(c), err)
		}
	}
}
