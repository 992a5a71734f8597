package hotgoods

import (
	"cmp"
	"slices"

	"mkt/pkg/audience"
)

// Day is a day's rows compiled to resolve each member's row: the rows in
// order of precedence (priority, highest first; then row id) with their
// segments as bit masks, so a member is matched against 200 segments in
// about a microsecond.
type Day struct {
	rows []compiled
}

type compiled struct {
	row                  *Row
	levels               uint8 // bit l = level l allowed; 0 = any
	minActive, maxActive int   // 0 = no bound
	all, any             uint64
}

// NewDay compiles a day's rows (every row of the day, launched or not: a
// member's row is the same whichever run looks).
func NewDay(rows []Row) *Day {
	d := &Day{rows: make([]compiled, len(rows))}
	for i := range rows {
		r := &rows[i]
		c := compiled{row: r, minActive: r.Filter.MinActiveDays, maxActive: r.Filter.MaxActiveDays,
			all: audience.TagMask(r.Filter.TagsAll), any: audience.TagMask(r.Filter.TagsAny)}
		for _, l := range r.Filter.Levels {
			c.levels |= 1 << l
		}
		d.rows[i] = c
	}
	slices.SortStableFunc(d.rows, func(a, b compiled) int {
		if a.row.Priority != b.row.Priority {
			return b.row.Priority - a.row.Priority
		}
		return cmp.Compare(a.row.ID, b.row.ID)
	})
	return d
}

// Winner is the row of the day a member with these attributes is sent: the
// first in precedence whose segment they fall in; nil when none.
func (d *Day) Winner(level, activeDays int, tags uint64) *Row {
	for i := range d.rows {
		c := &d.rows[i]
		if c.levels != 0 && (level < 0 || level > 7 || c.levels&(1<<level) == 0) {
			continue
		}
		if c.minActive > 0 && activeDays < c.minActive {
			continue
		}
		if c.maxActive > 0 && activeDays > c.maxActive {
			continue
		}
		if c.all != 0 && tags&c.all != c.all {
			continue
		}
		if c.any != 0 && tags&c.any == 0 {
			continue
		}
		return c.row
	}
	return nil
}

// Rows returns the day's rows in order of precedence.
func (d *Day) Rows() []*Row {
	out := make([]*Row, len(d.rows))
	for i, c := range d.rows {
		out[i] = c.row
	}
	return out
}
