package membership

import (
	"errors"
	"fmt"
	"math/bits"
)

// Tag is a member portrait tag. membership_filter.portrait_tags stores a
// member's tags as a bitmask: bit n is set when the member has Tag(n). The
// dictionary is fixed; new tags are appended, never renumbered.
type Tag uint8

// The portrait tag dictionary.
const (
	TagNewCustomer   Tag = iota // registered recently, few orders
	TagBargainHunter            // buys mostly on discount
	TagHighSpender              // large average basket
	TagMotherBaby               // mother & baby products
	TagDigital                  // phones, computers, gadgets
	TagFashion                  // clothing, shoes, bags
	TagBeauty                   // cosmetics, skin care
	TagSports                   // sports and outdoor
	TagBooks                    // books and media
	TagFood                     // groceries and snacks
	TagHome                     // home and furniture
	TagPets                     // pet supplies
	TagTravel                   // travel and luggage
	TagStudent                  // student
	TagSenior                   // senior
	TagNightOwl                 // shops late at night
)

// NumTags is the size of the tag dictionary; valid tags are 0..NumTags-1.
const NumTags = 16

// ErrUnknownTag is returned by ParseTag for a name outside the dictionary.
var ErrUnknownTag = errors.New("membership: unknown portrait tag")

// tagNames is indexed by Tag; a constant-like table, never written.
var tagNames = [NumTags]string{
	"new_customer", "bargain_hunter", "high_spender", "mother_baby",
	"digital", "fashion", "beauty", "sports",
	"books", "food", "home", "pets",
	"travel", "student", "senior", "night_owl",
}

// String returns the tag's stable snake_case name, used in segment filters.
func (t Tag) String() string {
	if !t.Valid() {
		return fmt.Sprintf("tag(%d)", uint8(t))
	}
	return tagNames[t]
}

// Valid reports whether t is in the dictionary.
func (t Tag) Valid() bool { return t < NumTags }

// Mask returns the tag's bit in membership_filter.portrait_tags.
func (t Tag) Mask() uint64 { return 1 << t }

// ParseTag returns the tag with the given name.
func ParseTag(name string) (Tag, error) {
	for i, n := range tagNames {
		if n == name {
			return Tag(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownTag, name)
}

// AllTags returns the whole dictionary in bit order.
func AllTags() []Tag {
	out := make([]Tag, NumTags)
	for i := range out {
		out[i] = Tag(i)
	}
	return out
}

// TagMask returns the bitmask with the given tags set. A segment "has all of
// T" is `(portrait_tags & mask) = mask`, "has any of T" is
// `(portrait_tags & mask) <> 0`.
func TagMask(tags ...Tag) uint64 {
	var m uint64
	for _, t := range tags {
		m |= t.Mask()
	}
	return m
}

// TagsOf lists the tags set in mask, in bit order; bits outside the
// dictionary are ignored.
func TagsOf(mask uint64) []Tag {
	mask &= 1<<NumTags - 1
	out := make([]Tag, 0, bits.OnesCount64(mask))
	for mask != 0 {
		t := Tag(bits.TrailingZeros64(mask))
		out = append(out, t)
		mask &^= t.Mask()
	}
	return out
}
