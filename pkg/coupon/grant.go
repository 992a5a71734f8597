package coupon

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"mkt/pkg/store"
)

// errCommitUnknown marks a grant whose COMMIT failed: it may or may not have
// been applied, so its Redis reservation is left to the lease repair.
var errCommitUnknown = errors.New("coupon: commit outcome unknown")

// maxGrantMembers bounds the members of one grant transaction (and of one IN
// list): at most MaxPerMemberLimit rows each, in INSERTs of insertChunk rows.
const (
	maxGrantMembers = 1000
	insertChunk     = 1000
	grantAttempts   = 4
)

// held is what a member holds of a coupon in MySQL.
type held struct {
	count  int
	maxSeq int
}

// heldCounts returns, for each of members holding items of coupon id, how
// many and the highest seq. Members holding none are absent.
func heldCounts(ctx context.Context, h store.Handler, id int64, members []int64) (map[int64]held, error) {
	out := make(map[int64]held, len(members))
	for chunk := range slices.Chunk(members, maxGrantMembers) {
		q := `SELECT member_id, COUNT(*) AS n, MAX(seq) AS max_seq FROM sales_promotion_coupon_item
			WHERE coupon_id = ? AND member_id IN (?` + strings.Repeat(",?", len(chunk)-1) + `) GROUP BY member_id`
		args := make([]any, 0, 1+len(chunk))
		args = append(args, id)
		for _, m := range chunk {
			args = append(args, m)
		}
		var rows []struct {
			Member int64 `db:"member_id"`
			N      int   `db:"n"`
			MaxSeq int   `db:"max_seq"`
		}
		if err := h.SelectContext(ctx, &rows, q, args...); err != nil {
			return nil, fmt.Errorf("coupon: read items held of coupon %d: %w", id, store.MapError(err))
		}
		for _, r := range rows {
			out[r.Member] = held{count: r.N, maxSeq: r.MaxSeq}
		}
	}
	return out, nil
}

// grantOutcome is one member's part of a grant.
type grantOutcome struct {
	member   int64
	had      int // items held before
	inserted int // items inserted now
}

// grantResult is the outcome of one grant transaction.
type grantResult struct {
	// issuable is false when the coupon is disabled (or, when a window time
	// was given, outside its window): nothing was issued.
	issuable bool
	outcomes []grantOutcome // one per member, in the order given
	inserted int64
	// limit is the coupon's per-member limit.
	limit int
	// soldOut: some member was left short because the quota ran out.
	soldOut bool
}

// grant tops each member up to the coupon's per-member limit, while the
// quota lasts, in one transaction that is correct on its own whatever Redis
// said: it locks the coupon row (serialising every issuer of this coupon),
// reads what the members already hold, inserts the missing items with seq
// max+1.. under UNIQUE(coupon_id, member_id, seq), and raises issued_count
// only while it stays within total_quota. members must be distinct, at most
// maxGrantMembers; earlier members are served first when the quota runs
// out. windowAt, when not zero, must be inside the coupon's window.
// Deadlocks are retried. A failed COMMIT returns an error wrapping
// errCommitUnknown; every other error means nothing was written.
func grant(ctx context.Context, db *store.DB, id int64, members []int64, now, windowAt time.Time) (grantResult, error) {
	if len(members) > maxGrantMembers {
		return grantResult{}, fmt.Errorf("coupon: grant to %d members at once (at most %d)", len(members), maxGrantMembers)
	}
	var res grantResult
	var err error
	for attempt := 1; ; attempt++ {
		res, err = grantOnce(ctx, db, id, members, now, windowAt)
		if err == nil || !store.Retryable(err) || attempt == grantAttempts || errors.Is(err, errCommitUnknown) {
			return res, err
		}
	}
}

func grantOnce(ctx context.Context, db *store.DB, id int64, members []int64, now, windowAt time.Time) (grantResult, error) {
	var res grantResult
	bodyDone := false
	err := db.InTxOptions(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx store.Handler) error {
		var c Coupon
		if err := tx.GetContext(ctx, &c, `SELECT `+couponColumns+` FROM sales_promotion_coupon WHERE id = ? FOR UPDATE`, id); err != nil {
			err = store.MapError(err)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("%w: coupon %d", ErrNotFound, id)
			}
			return fmt.Errorf("coupon: lock coupon %d: %w", id, err)
		}
		res = grantResult{outcomes: make([]grantOutcome, len(members))}
		for i, m := range members {
			res.outcomes[i].member = m
		}
		if c.Status != StatusActive || (!windowAt.IsZero() && !c.IssuableAt(windowAt)) {
			bodyDone = true
			return nil
		}
		res.issuable = true
		res.limit = c.PerMemberLimit
		// READ COMMITTED: this read sees every grant committed before we
		// got the coupon lock.
		hold, err := heldCounts(ctx, tx, id, members)
		if err != nil {
			return err
		}
		remaining := c.Remaining() // -1 = unlimited
		from, until := c.ItemWindow(now)
		var rows []any
		nrows := 0
		for i := range res.outcomes {
			o := &res.outcomes[i]
			h := hold[o.member]
			o.had = h.count
			want := c.PerMemberLimit - h.count
			if want <= 0 {
				continue
			}
			if remaining >= 0 && int64(want) > remaining {
				want = int(remaining)
				res.soldOut = true
			}
			for k := 1; k <= want; k++ {
				rows = append(rows, id, o.member, h.maxSeq+k, from, until, now)
				nrows++
			}
			o.inserted = want
			res.inserted += int64(want)
			if remaining > 0 {
				remaining -= int64(want)
			}
		}
		if nrows == 0 {
			bodyDone = true
			return nil
		}
		const cols = 6
		for start := 0; start < nrows; start += insertChunk {
			n := min(insertChunk, nrows-start)
			q := `INSERT INTO sales_promotion_coupon_item (coupon_id, member_id, seq, valid_from, valid_until, issued_at) VALUES (?,?,?,?,?,?)` +
				strings.Repeat(",(?,?,?,?,?,?)", n-1)
			if _, err := tx.ExecContext(ctx, q, rows[start*cols:(start+n)*cols]...); err != nil {
				return fmt.Errorf("coupon: insert %d items of coupon %d: %w", n, id, store.MapError(err))
			}
		}
		r, err := tx.ExecContext(ctx, `UPDATE sales_promotion_coupon SET issued_count = issued_count + ?
			WHERE id = ? AND (total_quota IS NULL OR issued_count + ? <= total_quota)`, res.inserted, id, res.inserted)
		if err != nil {
			return fmt.Errorf("coupon: count %d items issued of coupon %d: %w", res.inserted, id, store.MapError(err))
		}
		n, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("coupon: count %d items issued of coupon %d: read the rows updated: %w", res.inserted, id, err)
		}
		if n != 1 {
			return fmt.Errorf("coupon: count %d items issued of coupon %d: quota check refused the update (%d rows)", res.inserted, id, n)
		}
		bodyDone = true
		return nil
	})
	if err != nil && bodyDone {
		return grantResult{}, fmt.Errorf("%w: grant of coupon %d: %w", errCommitUnknown, id, err)
	}
	if err != nil {
		return grantResult{}, err
	}
	return res, nil
}

// BulkResult reports IssueToMembers.
type BulkResult struct {
	// Members is the number of distinct member ids given.
	Members int `json:"members"`
	// Issued is the number of items inserted by this call.
	Issued int64 `json:"issued"`
	// Served is the number of members who got at least one new item.
	Served int `json:"served"`
	// AlreadyHeld is the number of members who held their limit already
	// (a repeated call lands here).
	AlreadyHeld int `json:"already_held"`
	// Short is the number of members left below the limit because the
	// quota ran out (a member served in part counts in Served and Short).
	Short int `json:"short"`
	// NotIssuable is true when the coupon is disabled or now is outside its
	// window: nothing was issued.
	NotIssuable bool `json:"not_issuable,omitempty"`
}

// IssueToMembers issues coupon id to memberIDs in bulk — the push
// pipeline's step for a page of a segment: each member is topped up to the
// per-member limit while the quota lasts, in transactions of up to 1,000
// members (see grant). It is idempotent: calling it again with the same
// members (a redelivered shard, a retry) inserts nothing more, and members
// keep what they got from login issuance. It does not check the audience
// (the caller's segment query did) nor touch Redis (lazy issuance treats
// Redis as a lower bound of MySQL and settles the difference itself). now is
// the issue time (zero = time.Now()).
func IssueToMembers(ctx context.Context, db *store.DB, id int64, memberIDs []int64, now time.Time) (BulkResult, error) {
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC().Truncate(time.Millisecond)
	members := dedupe(memberIDs)
	res := BulkResult{Members: len(members)}
	for _, m := range members {
		if m <= 0 {
			return res, fmt.Errorf("%w: member id %d", ErrInvalid, m)
		}
	}
	for chunk := range slices.Chunk(members, maxGrantMembers) {
		g, err := grant(ctx, db, id, chunk, now, now)
		if err != nil {
			return res, fmt.Errorf("coupon: issue coupon %d to %d members (%d items issued before): %w", id, len(chunk), res.Issued, err)
		}
		if !g.issuable {
			res.NotIssuable = true
			return res, nil
		}
		res.Issued += g.inserted
		for _, o := range g.outcomes {
			if o.inserted > 0 {
				res.Served++
			}
			switch {
			case o.had >= g.limit:
				res.AlreadyHeld++
			case o.had+o.inserted < g.limit:
				res.Short++
			}
		}
	}
	return res, nil
}

// CheckMembers refuses member ids that are not members, naming them (at
// most 20): what a person or another system asks
// to issue to is checked before anything is issued.
func CheckMembers(ctx context.Context, db store.Handler, memberIDs []int64) error {
	members := dedupe(memberIDs)
	ok, err := existingMembers(ctx, db, members)
	if err != nil {
		return err
	}
	var unknown []string
	for _, m := range members {
		if !ok[m] && len(unknown) < 20 {
			unknown = append(unknown, strconv.FormatInt(m, 10))
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%w: no such members: %s", ErrInvalid, strings.Join(unknown, ", "))
	}
	return nil
}

// existingMembers returns which of members (without repeats) exist, by
// primary key, 1,000 at a time; nothing is cached.
func existingMembers(ctx context.Context, db store.Handler, members []int64) (map[int64]bool, error) {
	ok := make(map[int64]bool, len(members))
	for chunk := range slices.Chunk(members, maxGrantMembers) {
		args := make([]any, len(chunk))
		for i, m := range chunk {
			args[i] = m
		}
		var found []int64
		if err := db.SelectContext(ctx, &found, `SELECT id FROM membership_account
			WHERE id IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...); err != nil {
			return nil, fmt.Errorf("coupon: look up members: %w", store.MapError(err))
		}
		for _, f := range found {
			ok[f] = true
		}
	}
	return ok, nil
}

// dedupe returns ids without repeats, in first-seen order.
func dedupe(ids []int64) []int64 {
	seen := make(map[int64]struct{}, len(ids))
	out := make([]int64, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; ok {
			continue
		}
		seen[id] = struct{}{}
		out = append(out, id)
	}
	return out
}
