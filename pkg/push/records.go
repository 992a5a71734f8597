package push

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/provider"
	"mkt/pkg/store"
)

// Delivery record statuses (push_message.status).
const (
	recordSent   = "sent"
	recordFailed = "failed"
)

// ReasonNoAddress is the failure reason recorded for a member who has no
// address on a channel (no mobile, e-mail or push token).
const ReasonNoAddress = "no address"

// maxReason is push_message.reason's width.
const maxReason = 255

// recordChunk bounds rows per INSERT (10 placeholders each).
const recordChunk = 1000

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
func loadPrior(ctx context.Context, h store.Handler, kind campaign.CampaignKind, campaignID, lo, hi uint64) (map[priorKey]prior, error) {
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

// failedMembers returns the next members (after after, inside [start, end))
// with a failed delivery record, in id order, at most limit.
func failedMembers(ctx context.Context, h store.Handler, kind campaign.CampaignKind, campaignID, start, after, end uint64, limit int) ([]uint64, error) {
	var ids []uint64
	err := h.SelectContext(ctx, &ids, `SELECT DISTINCT member_id FROM push_message
		WHERE campaign_kind = ? AND campaign_id = ? AND status = 'failed'
		AND member_id >= ? AND member_id > ? AND member_id < ?
		ORDER BY member_id LIMIT ?`, kind, campaignID, start, after, end, limit)
	if err != nil {
		return nil, fmt.Errorf("push: list failed members of %s %d after %d: %w", kind, campaignID, after, store.MapError(err))
	}
	return ids, nil
}

// record is one delivery outcome to store.
type record struct {
	member     uint64
	channel    provider.Channel
	ok         bool
	reason     string
	providerID string
}

// writeRecords upserts outcomes into push_message: a new row per member and
// channel, or, for an existing one, attempts+1 and the new outcome — except
// that a sent row stays sent (never downgraded to failed).
func writeRecords(ctx context.Context, h store.Handler, kind campaign.CampaignKind, campaignID uint64, shardNo int, recs []record, now time.Time) error {
	for lo := 0; lo < len(recs); lo += recordChunk {
		chunk := recs[lo:min(lo+recordChunk, len(recs))]
		var b strings.Builder
		b.Grow(200 + len(chunk)*24)
		b.WriteString(`INSERT INTO push_message (campaign_kind, campaign_id, shard_no, member_id, channel, status, reason,
			attempts, provider_message_id, sent_at) VALUES `)
		args := make([]any, 0, len(chunk)*9)
		for i, r := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?,?,?,?,?,1,?,?)")
			status, sentAt := recordFailed, any(nil)
			if r.ok {
				status, sentAt = recordSent, now
			}
			args = append(args, kind, campaignID, shardNo, r.member, string(r.channel), status,
				truncate(r.reason, maxReason), truncate(r.providerID, 128), sentAt)
		}
		// Assignments run left to right: status, read by the others, last.
		b.WriteString(` ON DUPLICATE KEY UPDATE
			reason = IF(status = 'sent', reason, VALUES(reason)),
			provider_message_id = IF(status = 'sent', provider_message_id, VALUES(provider_message_id)),
			sent_at = IF(status = 'sent', sent_at, VALUES(sent_at)),
			shard_no = VALUES(shard_no),
			attempts = LEAST(attempts + 1, 65535),
			status = IF(status = 'sent', 'sent', VALUES(status))`)
		if _, err := h.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("push: record %d outcomes of %s %d shard %d: %w", len(chunk), kind, campaignID, shardNo, store.MapError(err))
		}
	}
	return nil
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
