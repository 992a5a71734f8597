// Package audience owns who a campaign reaches: a Segment is a structured
// filter over membership_filter (member level, active days, portrait tags),
// never raw SQL from the operator. It turns a Segment into a parameterised
// WHERE fragment, counts the audience with bounded queries, and cuts it into
// shards: id ranges for everyone, keyset boundaries for a segment.
package audience

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"mkt/pkg/membership"
	"mkt/pkg/strictjson"
	"mkt/pkg/textlimit"
)

// ErrInvalid is wrapped by every error about a Segment that cannot be used.
var ErrInvalid = errors.New("audience: invalid segment")

// Segment filters members. The zero Segment is everyone. Conditions combine
// with AND; Levels and TagsAny are each an OR within themselves.
type Segment struct {
	// Levels keeps members whose level is one of these (1..5).
	Levels []int `json:"levels,omitempty"`
	// MinActiveDays keeps members active on at least this many of the last
	// 30 days (0..30; 0 = no bound).
	MinActiveDays int `json:"min_active_days,omitempty"`
	// MaxActiveDays keeps members active on at most this many days (0 = no
	// bound; use it with MinActiveDays for "dormant" segments).
	MaxActiveDays int `json:"max_active_days,omitempty"`
	// TagsAll keeps members that have every one of these portrait tags.
	TagsAll []string `json:"tags_all,omitempty"`
	// TagsAny keeps members that have at least one of these portrait tags.
	TagsAny []string `json:"tags_any,omitempty"`
}

// Everyone reports whether the segment has no condition.
func (s Segment) Everyone() bool {
	return len(s.Levels) == 0 && s.MinActiveDays == 0 && s.MaxActiveDays == 0 &&
		len(s.TagsAll) == 0 && len(s.TagsAny) == 0
}

// Validate checks every field and returns all problems at once.
func (s Segment) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...)))
	}
	for _, l := range s.Levels {
		if l < membership.MinLevel || l > membership.MaxLevel {
			bad("level %d is outside %d..%d", l, membership.MinLevel, membership.MaxLevel)
		}
	}
	if s.MinActiveDays < 0 || s.MinActiveDays > membership.MaxActiveDays {
		bad("min active days %d is outside 0..%d", s.MinActiveDays, membership.MaxActiveDays)
	}
	if s.MaxActiveDays < 0 || s.MaxActiveDays > membership.MaxActiveDays {
		bad("max active days %d is outside 0..%d", s.MaxActiveDays, membership.MaxActiveDays)
	}
	if s.MaxActiveDays > 0 && s.MinActiveDays > s.MaxActiveDays {
		bad("min active days %d is above max active days %d", s.MinActiveDays, s.MaxActiveDays)
	}
	for _, t := range append(slices.Clone(s.TagsAll), s.TagsAny...) {
		if _, err := membership.ParseTag(t); err != nil {
			bad("portrait tag %q is not in the dictionary (%s)", t, strings.Join(TagNames(), ", "))
		}
	}
	return errors.Join(errs...)
}

// Normalize returns the segment with its lists sorted and deduplicated, so
// equal filters encode equally.
func (s Segment) Normalize() Segment {
	s.Levels = sortedUnique(s.Levels)
	s.TagsAll = sortedUnique(s.TagsAll)
	s.TagsAny = sortedUnique(s.TagsAny)
	return s
}

func sortedUnique[T int | string](in []T) []T {
	if len(in) == 0 {
		return nil
	}
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// TagNames lists the portrait tag dictionary.
func TagNames() []string {
	tags := membership.AllTags()
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = t.String()
	}
	return names
}

// Parse decodes a segment from its JSON form (as stored in the audience
// columns), rejecting unknown fields, and validates it. Empty input or "{}"
// is everyone.
func Parse(b []byte) (Segment, error) {
	var s Segment
	if len(bytes.TrimSpace(b)) == 0 {
		return s, nil
	}
	if err := strictjson.Decode(b, &s, strictjson.Options{}); err != nil {
		return Segment{}, fmt.Errorf("%w: decode %q: %w", ErrInvalid, textlimit.RunesMarked(string(b), 120), err)
	}
	if err := s.Validate(); err != nil {
		return Segment{}, err
	}
	return s.Normalize(), nil
}

// JSON encodes the segment for storage; everyone is "{}".
func (s Segment) JSON() []byte {
	b, err := json.Marshal(s.Normalize())
	if err != nil { // cannot happen: plain fields only
		panic(err)
	}
	return b
}

// String is a short human description, e.g. "levels 3,4 · active ≥ 10 days".
func (s Segment) String() string {
	if s.Everyone() {
		return "everyone"
	}
	var parts []string
	if len(s.Levels) > 0 {
		ls := make([]string, len(s.Levels))
		for i, l := range s.Levels {
			ls[i] = fmt.Sprint(l)
		}
		parts = append(parts, "levels "+strings.Join(ls, ","))
	}
	switch {
	case s.MinActiveDays > 0 && s.MaxActiveDays > 0:
		parts = append(parts, fmt.Sprintf("active %d–%d days", s.MinActiveDays, s.MaxActiveDays))
	case s.MinActiveDays > 0:
		parts = append(parts, fmt.Sprintf("active ≥ %d days", s.MinActiveDays))
	case s.MaxActiveDays > 0:
		parts = append(parts, fmt.Sprintf("active ≤ %d days", s.MaxActiveDays))
	}
	if len(s.TagsAll) > 0 {
		parts = append(parts, "all of "+strings.Join(s.TagsAll, ","))
	}
	if len(s.TagsAny) > 0 {
		parts = append(parts, "any of "+strings.Join(s.TagsAny, ","))
	}
	return strings.Join(parts, " · ")
}

// Where returns a WHERE fragment over the membership_filter table aliased as
// alias, and its arguments; "1=1" for everyone. Only placeholders carry
// values. The segment must be valid.
func (s Segment) Where(alias string) (string, []any) {
	var conds []string
	var args []any
	col := func(c string) string { return alias + "." + c }
	if len(s.Levels) > 0 {
		conds = append(conds, col("member_level")+" IN (?"+strings.Repeat(",?", len(s.Levels)-1)+")")
		for _, l := range s.Levels {
			args = append(args, l)
		}
	}
	if s.MinActiveDays > 0 {
		conds = append(conds, col("active_days")+" >= ?")
		args = append(args, s.MinActiveDays)
	}
	if s.MaxActiveDays > 0 {
		conds = append(conds, col("active_days")+" <= ?")
		args = append(args, s.MaxActiveDays)
	}
	if len(s.TagsAll) > 0 {
		m := TagMask(s.TagsAll)
		conds = append(conds, "("+col("portrait_tags")+" & ?) = ?")
		args = append(args, m, m)
	}
	if len(s.TagsAny) > 0 {
		conds = append(conds, "("+col("portrait_tags")+" & ?) <> 0")
		args = append(args, TagMask(s.TagsAny))
	}
	if len(conds) == 0 {
		return "1=1", nil
	}
	return strings.Join(conds, " AND "), args
}

// Matches reports whether a member with these attributes is in the segment
// (the Go twin of Where, for coupons checked at login and for tests).
func (s Segment) Matches(level, activeDays int, tags uint64) bool {
	if len(s.Levels) > 0 && !slices.Contains(s.Levels, level) {
		return false
	}
	if s.MinActiveDays > 0 && activeDays < s.MinActiveDays {
		return false
	}
	if s.MaxActiveDays > 0 && activeDays > s.MaxActiveDays {
		return false
	}
	if m := TagMask(s.TagsAll); len(s.TagsAll) > 0 && tags&m != m {
		return false
	}
	if len(s.TagsAny) > 0 && tags&TagMask(s.TagsAny) == 0 {
		return false
	}
	return true
}

// TagMask is the portrait_tags bits of the named tags (unknown names are
// left out: validate first).
func TagMask(names []string) uint64 {
	var m uint64
	for _, n := range names {
		if t, err := membership.ParseTag(n); err == nil {
			m |= t.Mask()
		}
	}
	return m
}
