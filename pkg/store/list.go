package store

// How many rows one page of a list returns: DefaultListLimit unless the
// caller asks, never more than MaxListLimit. The lists of campaigns, coupons
// and a member's items page by these, and every --limit of mktctl's list
// commands (dead letters' too) takes 1..MaxListLimit.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// ListLimit returns n, or def when n ≤ 0, held to MaxListLimit.
func ListLimit(n, def int) int {
	if n <= 0 {
		n = def
	}
	return min(n, MaxListLimit)
}
