package audience

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"mkt/pkg/store"
)

// Shard limits.
const (
	DefaultShardSize = 1000
	MinShardSize     = 10
	MaxShardSize     = 100_000
)

// Range is one shard of an audience: member ids in [Start, End).
type Range struct {
	No       int    `json:"shard_no"`
	Start    uint64 `json:"start_id"`
	End      uint64 `json:"end_id"`
	Expected int    `json:"expected_members"`
}

// Plan is an audience cut into shards.
type Plan struct {
	// Members is the audience size: for everyone, the member id span (ids
	// are dense, so it counts disabled members too, which are skipped at
	// send time); for a segment, the exact number of matching members.
	Members int64 `json:"members"`
	// ShardSize is the members per shard asked for.
	ShardSize int `json:"shard_size"`
	// Shards are in id order, numbered from 0.
	Shards []Range `json:"shards"`
}

// CheckShardSize validates a shard size.
func CheckShardSize(n int) error {
	if n < MinShardSize || n > MaxShardSize {
		return fmt.Errorf("%w: shard size %d is outside %d..%d", ErrInvalid, n, MinShardSize, MaxShardSize)
	}
	return nil
}

// Count returns the exact number of members in the segment (a COUNT over
// membership_filter; for everyone, over the active accounts).
func Count(ctx context.Context, h store.Handler, s Segment) (int64, error) {
	var n int64
	var err error
	if s.Everyone() {
		err = h.GetContext(ctx, &n, `SELECT COUNT(*) FROM membership_account WHERE status = 'active'`)
	} else {
		where, args := s.Where("f")
		err = h.GetContext(ctx, &n, `SELECT COUNT(*) FROM membership_filter f WHERE `+where, args...)
	}
	if err != nil {
		return 0, fmt.Errorf("audience: count %s: %w", s, store.MapError(err))
	}
	return n, nil
}

// Shard cuts the audience into shards of shardSize members. Everyone is cut
// into id ranges from MIN(id) and MAX(id) alone (two index look-ups, whatever
// the member count); a segment is cut by keyset boundaries so that each shard
// holds shardSize matching members (one bounded query per shard, walking the
// primary key). Nothing is written.
func Shard(ctx context.Context, h store.Handler, s Segment, shardSize int) (Plan, error) {
	if err := CheckShardSize(shardSize); err != nil {
		return Plan{}, err
	}
	if s.Everyone() {
		return shardEveryone(ctx, h, shardSize)
	}
	return shardSegment(ctx, h, s, shardSize)
}

func shardEveryone(ctx context.Context, h store.Handler, shardSize int) (Plan, error) {
	var span struct {
		Min sql.NullInt64 `db:"lo"`
		Max sql.NullInt64 `db:"hi"`
	}
	if err := h.GetContext(ctx, &span, `SELECT MIN(id) AS lo, MAX(id) AS hi FROM membership_account`); err != nil {
		return Plan{}, fmt.Errorf("audience: member id span: %w", store.MapError(err))
	}
	p := Plan{ShardSize: shardSize}
	if !span.Min.Valid {
		return p, nil
	}
	lo, hi := uint64(span.Min.Int64), uint64(span.Max.Int64)
	p.Members = int64(hi - lo + 1)
	size := uint64(shardSize)
	p.Shards = make([]Range, 0, (hi-lo)/size+1)
	for start, no := lo, 0; start <= hi; start, no = start+size, no+1 {
		end := min(start+size, hi+1)
		p.Shards = append(p.Shards, Range{No: no, Start: start, End: end, Expected: int(end - start)})
	}
	return p, nil
}

func shardSegment(ctx context.Context, h store.Handler, s Segment, shardSize int) (Plan, error) {
	where, args := s.Where("f")
	// The shardSize-th matching member at or after a position closes a shard.
	q := `SELECT f.member_id FROM membership_filter f WHERE ` + where +
		` AND f.member_id >= ? ORDER BY f.member_id LIMIT 1 OFFSET ?`
	p := Plan{ShardSize: shardSize}
	var start uint64 = 1
	for no := 0; ; no++ {
		if err := ctx.Err(); err != nil {
			return Plan{}, err
		}
		var last uint64
		err := h.GetContext(ctx, &last, q, append(args[:len(args):len(args)], start, shardSize-1)...)
		if errors.Is(err, sql.ErrNoRows) {
			// Fewer than shardSize left: the tail shard, if any.
			var n int64
			var maxID sql.NullInt64
			tail := `SELECT COUNT(*), MAX(f.member_id) FROM membership_filter f WHERE ` + where + ` AND f.member_id >= ?`
			if err := h.QueryRowxContext(ctx, tail, append(args[:len(args):len(args)], start)...).Scan(&n, &maxID); err != nil {
				return Plan{}, fmt.Errorf("audience: tail of %s: %w", s, store.MapError(err))
			}
			if n > 0 {
				p.Shards = append(p.Shards, Range{No: no, Start: start, End: uint64(maxID.Int64) + 1, Expected: int(n)})
				p.Members += n
			}
			return p, nil
		}
		if err != nil {
			return Plan{}, fmt.Errorf("audience: shard %d boundary of %s: %w", no, s, store.MapError(err))
		}
		p.Shards = append(p.Shards, Range{No: no, Start: start, End: last + 1, Expected: shardSize})
		p.Members += int64(shardSize)
		start = last + 1
	}
}
