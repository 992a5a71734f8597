package coupon

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"mkt/pkg/store"
)

// memberAttrs are the segmentation attributes of a member
// (membership_filter); found is false for a member without a row, who
// matches no segment but everyone.
type memberAttrs struct {
	found      bool
	level      int
	activeDays int
	tags       uint64
	at         time.Time
}

// attrCache keeps members' attributes for a while, bounded in size: two
// generations of maps, the older dropped when the newer fills up, so memory
// stays flat whatever the member base and hot members stay cached.
type attrCache struct {
	ttl time.Duration
	max int

	mu   sync.Mutex
	cur  map[int64]memberAttrs
	prev map[int64]memberAttrs
}

func newAttrCache(ttl time.Duration, size int) *attrCache {
	return &attrCache{ttl: ttl, max: max(2, size/2), cur: make(map[int64]memberAttrs)}
}

// lookup returns the attributes of members, loading the ones not cached (or
// expired) with one primary-key query per 1,000.
func (c *attrCache) lookup(ctx context.Context, h store.Handler, members []int64, now time.Time) (map[int64]memberAttrs, error) {
	out := make(map[int64]memberAttrs, len(members))
	var miss []int64
	c.mu.Lock()
	for _, m := range members {
		a, ok := c.cur[m]
		if !ok {
			a, ok = c.prev[m]
		}
		if ok && now.Sub(a.at) < c.ttl {
			out[m] = a
			continue
		}
		miss = append(miss, m)
	}
	c.mu.Unlock()
	if len(miss) == 0 {
		return out, nil
	}
	loaded := make(map[int64]memberAttrs, len(miss))
	for chunk := range slices.Chunk(miss, 1000) {
		// Found means a member: a login of an id that does not exist
		// issues nothing.
		q := `SELECT f.member_id, f.member_level, f.active_days, f.portrait_tags FROM membership_filter f
			JOIN membership_account a ON a.id = f.member_id
			WHERE f.member_id IN (?` + strings.Repeat(",?", len(chunk)-1) + `)`
		args := make([]any, len(chunk))
		for i, m := range chunk {
			args[i] = m
		}
		var rows []struct {
			Member     int64  `db:"member_id"`
			Level      int    `db:"member_level"`
			ActiveDays int    `db:"active_days"`
			Tags       uint64 `db:"portrait_tags"`
		}
		if err := h.SelectContext(ctx, &rows, q, args...); err != nil {
			return nil, fmt.Errorf("coupon: read member attributes: %w", store.MapError(err))
		}
		for _, r := range rows {
			loaded[r.Member] = memberAttrs{found: true, level: r.Level, activeDays: r.ActiveDays, tags: r.Tags, at: now}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range miss {
		a, ok := loaded[m]
		if !ok {
			a = memberAttrs{at: now}
		}
		out[m] = a
		if len(c.cur) >= c.max {
			c.prev, c.cur = c.cur, make(map[int64]memberAttrs, c.max)
		}
		c.cur[m] = a
	}
	return out, nil
}
