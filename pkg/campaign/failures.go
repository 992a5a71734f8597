package campaign

import (
	"context"
	"fmt"
	"time"

	"mkt/pkg/store"
)

// Failure is one failed delivery: a member on a channel (a push_failure row).
type Failure struct {
	MemberID  uint64    `db:"member_id" json:"member_id"`
	Channel   string    `db:"channel" json:"channel"`
	ShardNo   int       `db:"shard_no" json:"shard_no"`
	Reason    string    `db:"reason" json:"reason"`
	Attempts  int       `db:"attempts" json:"attempts"`
	UpdatedAt time.Time `db:"updated_at" json:"updated_at"`
}

// ListFailures pages through a campaign's failed deliveries in member id
// order, starting after member afterID, at most limit rows (1..10000).
func ListFailures(ctx context.Context, h store.Handler, kind Kind, campaignID, afterID uint64, limit int) ([]Failure, error) {
	limit = min(max(limit, 1), 10_000)
	var out []Failure
	err := h.SelectContext(ctx, &out, `SELECT member_id, channel, shard_no, reason, attempts, updated_at
		FROM push_failure WHERE campaign_kind = ? AND campaign_id = ? AND member_id > ?
		ORDER BY member_id, channel LIMIT ?`, kind, campaignID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("campaign %d: list failures: %w", campaignID, store.MapError(err))
	}
	return out, nil
}

// FailureReason is how many deliveries of a campaign failed on a channel for one reason.
type FailureReason struct {
	Channel string `db:"channel" json:"channel"`
	Reason  string `db:"reason" json:"reason"`
	Count   int64  `db:"n" json:"count"`
}

// CountFailureReasons groups a campaign's failed deliveries by channel and
// reason, most frequent first (the top 50).
func CountFailureReasons(ctx context.Context, h store.Handler, kind Kind, campaignID uint64) ([]FailureReason, error) {
	return failureReasons(ctx, h, kind, campaignID, 0, 50)
}

// failureReasons groups the first sample failed deliveries of a campaign
// (every one when sample is 0) by channel and reason and returns the top
// most frequent.
func failureReasons(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, sample, top int) ([]FailureReason, error) {
	from := `push_failure WHERE campaign_kind = ? AND campaign_id = ?`
	args := []any{kind, campaignID}
	if sample > 0 {
		from = `(SELECT channel, reason FROM push_failure WHERE campaign_kind = ? AND campaign_id = ? LIMIT ?) f`
		args = append(args, sample)
	}
	var out []FailureReason
	err := h.SelectContext(ctx, &out, `SELECT channel, reason, COUNT(*) AS n FROM `+from+`
		GROUP BY channel, reason ORDER BY n DESC, channel, reason LIMIT ?`, append(args, top)...)
	if err != nil {
		return nil, fmt.Errorf("campaign %d: count failure reasons: %w", campaignID, store.MapError(err))
	}
	return out, nil
}
