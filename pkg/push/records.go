package push

import (
	"context"
	"fmt"

	"mkt/pkg/campaign"
	"mkt/pkg/provider"
	"mkt/pkg/store"
)

// ReasonNoAddress is the failure reason recorded for a member who has no
// address on a channel (no mobile, e-mail or push token).
const ReasonNoAddress = "no address"

// priorKey names one member on one channel.
type priorKey struct {
	member  uint64
	channel provider.Channel
}

// prior is what push_message already says about a member on a channel.
type prior struct {
	status string
	reason string
}

// loadPrior reads the delivery records of members lo..hi (inclusive) of a
// campaign: one range scan of the primary key (kind, campaign, member,
// channel), forced so the optimizer never prefers the status index.
func loadPrior(ctx context.Context, h store.Handler, kind campaign.Kind, campaignID, lo, hi uint64) (map[priorKey]prior, error) {
	rows, err := h.QueryxContext(ctx, `SELECT member_id, channel, status, reason FROM push_message FORCE INDEX (PRIMARY)
		WHERE campaign_kind = ? AND campaign_id = ? AND member_id BETWEEN ? AND ?`,
		kind, campaignID, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("push: read delivery records of %s %d members %d..%d: %w", kind, campaignID, lo, hi, store.MapError(err))
	}
	defer rows.Close()
	out := make(map[priorKey]prior)
	for rows.Next() {
		var (
			member         uint64
			ch             string
			status, reason string
		)
		if err := rows.Scan(&member, &ch, &status, &reason); err != nil {
			return nil, fmt.Errorf("push: scan delivery record: %w", err)
		}
		c, err := provider.ParseChannel(ch)
		if err != nil {
			continue // a channel this build does not know: never ours
		}
		out[priorKey{member, c}] = prior{status: status, reason: reason}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("push: read delivery records of %s %d: %w", kind, campaignID, store.MapError(err))
	}
	return out, nil
}
