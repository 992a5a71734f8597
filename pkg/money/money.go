// Package money is mkt's one notation for amounts: whole cents in an int64,
// written and read as a decimal with two places ("12.50"). Campaigns,
// coupons and hot-goods prices all parse and print amounts here, so an
// amount an operator types reads the same in every command and file.
package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid amount")

// maxWholeDigits bounds the units part: 12 digits keep every amount, in
// cents, far inside int64 and inside the schema's BIGINT columns.
const maxWholeDigits = 12

// Parse reads a non-negative decimal amount into cents, exactly (no
// floating point): digits, optionally a point and one or two more digits —
// "12", "12.5", "12.50", "007.10". Surrounding spaces are ignored. A sign,
// an exponent, a thousands separator, a bare point ("1.", ".5"), more than
// two decimals or more than 12 digits before the point are refused, as is
// the empty string.
func Parse(s string) (int64, error) {
	s = strings.TrimSpace(s)
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && (frac == "" || len(frac) > 2)) || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%w %q: want digits with at most two decimals, e.g. 12 or 12.50", ErrInvalid, s)
	}
	if len(strings.TrimLeft(whole, "0")) > maxWholeDigits {
		return 0, fmt.Errorf("%w %q: more than %d digits before the point", ErrInvalid, s, maxWholeDigits)
	}
	units, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %w", ErrInvalid, s, err)
	}
	var cents int64
	if frac != "" {
		cents, _ = strconv.ParseInt(frac, 10, 64) // digits, at most two
		if len(frac) == 1 {
			cents *= 10
		}
	}
	return units*100 + cents, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Format writes cents as a decimal amount with two places: 1250 → "12.50",
// -5 → "-0.05".
func Format(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}
