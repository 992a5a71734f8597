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
func ListFailures(ctx context.Context, h store.Handler, kind CampaignKind, campaignID, afterID uint64, limit int) ([]Failure, error) {
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
// reason, most frequent first.
func CountFailureReasons(ctx context.Context, h store.Handler, kind CampaignKind, campaignID uint64) ([]FailureReason, error) {
	var out []FailureReason
	err := h.SelectContext(ctx, &out, `SELECT channel, reason, COUNT(*) AS n FROM push_failure
		WHERE campaign_kind = ? AND campaign_id = ?
		GROUP BY channel, reason ORDER BY n DESC LIMIT 50`, kind, campaignID)
	if err != nil {
		return nil, fmt.Errorf("campaign %d: count failure reasons: %w", campaignID, store.MapError(err))
	}
	return out, nil
}
