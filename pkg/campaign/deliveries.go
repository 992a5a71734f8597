package campaign

import (
	"context"
	"fmt"
	"strings"
	"time"

	"mkt/pkg/provider"
	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

// Delivery is one delivery outcome to record: a member on a channel, sent
// (OK, with the provider's message id) or failed with a reason.
type Delivery struct {
	MemberID   uint64
	Channel    provider.Channel
	OK         bool
	Reason     string
	ProviderID string
}

// Delivery record statuses (push_message.status).
const (
	DeliverySent   = "sent"
	DeliveryFailed = "failed"
)

// deliveryChunk bounds rows per INSERT (9 placeholders each).
const deliveryChunk = 1000

// RecordDeliveries stores a page of outcomes of one shard, inside the
// caller's transaction. push_message gets a row per member and channel, or,
// for an existing one, attempts+1 and the new outcome — except that a sent
// row stays sent (never downgraded to failed). push_failure is then brought
// in step with push_message over the page's member range: it holds exactly
// the failed rows, so listing and retrying failures reads only them while
// the fan-out writes one B-tree per delivery.
func RecordDeliveries(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, shardNo int, ds []Delivery, now time.Time) error {
	if len(ds) == 0 {
		return nil
	}
	lo, hi := ds[0].MemberID, ds[0].MemberID
	anyFailed, anySent := false, false
	for _, d := range ds {
		lo, hi = min(lo, d.MemberID), max(hi, d.MemberID)
		if d.OK {
			anySent = true
		} else {
			anyFailed = true
		}
	}
	if err := upsertDeliveries(ctx, h, len(ds), func(i int) (Kind, uint64, int, *Delivery) {
		return kind, campaignID, shardNo, &ds[i]
	}, now); err != nil {
		return fmt.Errorf("campaign %d shard %d: %w", campaignID, shardNo, err)
	}
	// The rows just written are locked by this transaction, so both
	// statements below see their outcome, whoever else wrote them first.
	if anyFailed {
		if _, err := h.ExecContext(ctx, `INSERT INTO push_failure (campaign_kind, campaign_id, member_id, channel,
				shard_no, reason, attempts, updated_at)
			SELECT campaign_kind, campaign_id, member_id, channel, shard_no, reason, attempts, updated_at
			FROM push_message WHERE campaign_kind = ? AND campaign_id = ? AND member_id BETWEEN ? AND ? AND status = 'failed'
			ON DUPLICATE KEY UPDATE shard_no = VALUES(shard_no), reason = VALUES(reason),
				attempts = VALUES(attempts), updated_at = VALUES(updated_at)`,
			kind, campaignID, lo, hi); err != nil {
			return fmt.Errorf("campaign %d shard %d: record failed deliveries: %w", campaignID, shardNo, store.MapError(err))
		}
	}
	if anySent {
		if err := clearDelivered(ctx, h, kind, campaignID, lo, hi); err != nil {
			return fmt.Errorf("campaign %d shard %d: %w", campaignID, shardNo, err)
		}
	}
	return nil
}

// upsertDeliveries writes n delivery records, row i given by at(i), in
// multi-row upserts of deliveryChunk rows: a new row per member and
// channel, or attempts+1 and the new outcome for an existing one — a sent
// row stays sent.
func upsertDeliveries(ctx context.Context, h store.Handler, n int, at func(i int) (Kind, uint64, int, *Delivery), now time.Time) error {
	for lo := 0; lo < n; lo += deliveryChunk {
		hi := min(lo+deliveryChunk, n)
		var b strings.Builder
		b.Grow(300 + (hi-lo)*20)
		b.WriteString(`INSERT INTO push_message (campaign_kind, campaign_id, shard_no, member_id, channel, status, reason,
			provider_message_id, sent_at) VALUES `)
		args := make([]any, 0, (hi-lo)*9)
		for i := lo; i < hi; i++ {
			if i > lo {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?,?,?,?,?,?,?)")
			kind, campaignID, shardNo, d := at(i)
			status, sentAt := DeliveryFailed, any(nil)
			if d.OK {
				status, sentAt = DeliverySent, now
			}
			args = append(args, kind, campaignID, shardNo, d.MemberID, string(d.Channel), status,
				textlimit.Bytes(d.Reason, 255), textlimit.Bytes(d.ProviderID, 128), sentAt)
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
			return fmt.Errorf("record %d deliveries: %w", hi-lo, store.MapError(err))
		}
	}
	return nil
}

// clearDelivered deletes the push_failure rows of members lo..hi that
// push_message now records sent (usually an empty range: nothing to read).
func clearDelivered(ctx context.Context, h store.Handler, kind Kind, campaignID, lo, hi uint64) error {
	if _, err := h.ExecContext(ctx, `DELETE FROM push_failure
		WHERE campaign_kind = ? AND campaign_id = ? AND member_id BETWEEN ? AND ?
		AND EXISTS (SELECT 1 FROM push_message p WHERE p.campaign_kind = push_failure.campaign_kind
			AND p.campaign_id = push_failure.campaign_id AND p.member_id = push_failure.member_id
			AND p.channel = push_failure.channel AND p.status = 'sent')`,
		kind, campaignID, lo, hi); err != nil {
		return fmt.Errorf("clear delivered failures: %w", store.MapError(err))
	}
	return nil
}

// FailedMembers returns the next members (after after, inside [start, end))
// with a failed delivery, in id order, at most limit.
func FailedMembers(ctx context.Context, h store.Handler, kind Kind, campaignID, start, after, end uint64, limit int) ([]uint64, error) {
	var ids []uint64
	err := h.SelectContext(ctx, &ids, `SELECT DISTINCT member_id FROM push_failure
		WHERE campaign_kind = ? AND campaign_id = ? AND member_id >= ? AND member_id > ? AND member_id < ?
		ORDER BY member_id LIMIT ?`, kind, campaignID, start, after, end, limit)
	if err != nil {
		return nil, fmt.Errorf("campaign %d: failed members after %d: %w", campaignID, after, store.MapError(err))
	}
	return ids, nil
}

// ShardSends are deliveries of one shard that went out (every one OK), for
// RecordSent.
type ShardSends struct {
	Kind       Kind
	CampaignID uint64
	ShardNo    int
	Deliveries []Delivery
	// PriorFailed is how many of Deliveries were recorded failed before, as
	// the caller read them when its page began.
	PriorFailed int
	// Owner is the worker whose page sent them. When it no longer holds the
	// shard (taken over, parked), the sends are recorded as RecordUnchecked
	// records them: the counters change by what the records change, since
	// the shard's new holder may have counted the same members already.
	Owner string
}

// RecordSent stores sends of several shards, inside the caller's
// transaction, in as few statements as the rows allow, and adds them to each
// shard's counters: sent + len(Deliveries), failed - PriorFailed. It does
// not touch a shard's lease or checkpoint: it is the fast journal of sends
// (push's group commit), written while the pages are still in flight, so
// that a worker resuming a shard after a crash finds them sent and skips
// them. Give the shards sorted by kind, campaign and shard number (one order
// everywhere, against deadlocks; a campaign's shards contiguous). A shard
// its Owner no longer holds is recorded like RecordUnchecked.
func RecordSent(ctx context.Context, h store.Handler, shards []ShardSends, now time.Time) error {
	shards, err := recordUnheld(ctx, h, shards, now)
	if err != nil {
		return err
	}
	type row struct{ g, i int }
	var rows []row
	for g := range shards {
		for i := range shards[g].Deliveries {
			rows = append(rows, row{g, i})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := upsertDeliveries(ctx, h, len(rows), func(k int) (Kind, uint64, int, *Delivery) {
		s := &shards[rows[k].g]
		return s.Kind, s.CampaignID, s.ShardNo, &s.Deliveries[rows[k].i]
	}, now); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	for _, s := range shards {
		if len(s.Deliveries) == 0 || s.PriorFailed == 0 {
			continue
		}
		lo, hi := s.Deliveries[0].MemberID, s.Deliveries[0].MemberID
		for _, d := range s.Deliveries {
			lo, hi = min(lo, d.MemberID), max(hi, d.MemberID)
		}
		if err := clearDelivered(ctx, h, s.Kind, s.CampaignID, lo, hi); err != nil {
			return fmt.Errorf("campaign %d shard %d: %w", s.CampaignID, s.ShardNo, err)
		}
	}
	// The counters: one UPDATE per campaign, its shards' deltas in CASEs.
	for lo := 0; lo < len(shards); {
		hi := lo + 1
		for hi < len(shards) && shards[hi].Kind == shards[lo].Kind && shards[hi].CampaignID == shards[lo].CampaignID {
			hi++
		}
		if err := addCampaignShardCounts(ctx, h, shards[lo:hi]); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// recordUnheld locks the rows of shards whose sends name an Owner, records
// the sends of those the owner no longer holds (running under its lease)
// with RecordUnchecked, and returns the others: the sends RecordSent may
// count in full. Without the check, a page whose lease was taken over
// while its calls were on the wire would add its late answers to counters
// the new holder had already advanced for the same members.
func recordUnheld(ctx context.Context, h store.Handler, shards []ShardSends, now time.Time) ([]ShardSends, error) {
	held := shards[:0:0]
	for lo := 0; lo < len(shards); {
		hi := lo + 1
		for hi < len(shards) && shards[hi].Kind == shards[lo].Kind && shards[hi].CampaignID == shards[lo].CampaignID {
			hi++
		}
		group := shards[lo:hi]
		lo = hi
		in := make([]string, 0, len(group))
		args := []any{group[0].Kind, group[0].CampaignID}
		for _, s := range group {
			if s.Owner != "" {
				in = append(in, "?")
				args = append(args, s.ShardNo)
			}
		}
		if len(in) == 0 {
			held = append(held, group...)
			continue
		}
		var cur []struct {
			No     int         `db:"shard_no"`
			Status ShardStatus `db:"status"`
			Owner  string      `db:"owner"`
		}
		if err := h.SelectContext(ctx, &cur, `SELECT shard_no, status, owner FROM campaign_shard
			WHERE campaign_kind = ? AND campaign_id = ? AND shard_no IN (`+strings.Join(in, ",")+`) ORDER BY shard_no FOR UPDATE`,
			args...); err != nil {
			return nil, fmt.Errorf("campaign %d: lock shards to count the journal's sends: %w", group[0].CampaignID, store.MapError(err))
		}
		holder := make(map[int]string, len(cur))
		for _, c := range cur {
			if c.Status == ShardRunning {
				holder[c.No] = c.Owner
			}
		}
		for _, s := range group {
			if s.Owner == "" || holder[s.ShardNo] == s.Owner {
				held = append(held, s)
				continue
			}
			if err := RecordUnchecked(ctx, h, s.Kind, s.CampaignID, s.ShardNo, s.Deliveries, now); err != nil {
				return nil, err
			}
		}
	}
	return held, nil
}

// addCampaignShardCounts adds each shard's sends to its counters (shards of
// one campaign, contiguous in shards) in one statement.
func addCampaignShardCounts(ctx context.Context, h store.Handler, shards []ShardSends) error {
	var sent, failed, in strings.Builder
	var sentArgs, failedArgs, inArgs []any
	for _, s := range shards {
		if len(s.Deliveries) == 0 {
			continue
		}
		if in.Len() > 0 {
			in.WriteByte(',')
		}
		in.WriteByte('?')
		inArgs = append(inArgs, s.ShardNo)
		sent.WriteString(" WHEN ? THEN ?")
		sentArgs = append(sentArgs, s.ShardNo, len(s.Deliveries))
		if s.PriorFailed > 0 {
			failed.WriteString(" WHEN ? THEN ?")
			failedArgs = append(failedArgs, s.ShardNo, -s.PriorFailed)
		}
	}
	if in.Len() == 0 {
		return nil
	}
	q := `UPDATE campaign_shard SET sent = sent + CASE shard_no` + sent.String() + ` ELSE 0 END`
	args := sentArgs
	if failed.Len() > 0 {
		q += `, failed = GREATEST(CAST(failed AS SIGNED) + CASE shard_no` + failed.String() + ` ELSE 0 END, 0)`
		args = append(args, failedArgs...)
	}
	q += ` WHERE campaign_kind = ? AND campaign_id = ? AND shard_no IN (` + in.String() + `)`
	args = append(args, shards[0].Kind, shards[0].CampaignID)
	args = append(args, inArgs...)
	if _, err := h.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("campaign %d: count the journal's sends: %w", shards[0].CampaignID, store.MapError(err))
	}
	return nil
}

// RecordUnchecked stores outcomes of a shard's page whose checkpoint cannot
// be written — the lease was lost, or the run was stopped mid-page — inside
// the caller's transaction: the records are facts whoever holds the shard
// now. The shard's counters change by what the records actually change
// (read under lock first, since another worker may have recorded some of
// these members meanwhile), and its cursor does not move: whoever resumes
// the shard redoes the page and skips what is recorded sent.
func RecordUnchecked(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, shardNo int, ds []Delivery, now time.Time) error {
	if len(ds) == 0 {
		return nil
	}
	lo, hi := ds[0].MemberID, ds[0].MemberID
	for _, d := range ds {
		lo, hi = min(lo, d.MemberID), max(hi, d.MemberID)
	}
	rows, err := h.QueryxContext(ctx, `SELECT member_id, channel, status FROM push_message FORCE INDEX (PRIMARY)
		WHERE campaign_kind = ? AND campaign_id = ? AND member_id BETWEEN ? AND ? FOR UPDATE`, kind, campaignID, lo, hi)
	if err != nil {
		return fmt.Errorf("campaign %d shard %d: lock delivery records: %w", campaignID, shardNo, store.MapError(err))
	}
	type key struct {
		member uint64
		ch     string
	}
	cur := make(map[key]string)
	for rows.Next() {
		var k key
		var st string
		if err := rows.Scan(&k.member, &k.ch, &st); err != nil {
			rows.Close()
			return fmt.Errorf("campaign %d shard %d: scan delivery record: %w", campaignID, shardNo, err)
		}
		cur[k] = st
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("campaign %d shard %d: read delivery records: %w", campaignID, shardNo, store.MapError(err))
	}
	sent, failed := 0, 0
	for _, d := range ds {
		k := key{d.MemberID, string(d.Channel)}
		switch st, had := cur[k]; {
		case st == DeliverySent: // stays sent
		case d.OK:
			sent++
			if had {
				failed--
			}
			cur[k] = DeliverySent
		case !had:
			failed++
			cur[k] = DeliveryFailed
		}
	}
	if err := RecordDeliveries(ctx, h, kind, campaignID, shardNo, ds, now); err != nil {
		return err
	}
	return addShardCounts(ctx, h, kind, campaignID, shardNo, sent, failed)
}

// addShardCounts adds to a shard's sent and failed counters, whoever owns it.
func addShardCounts(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, shardNo, sent, failed int) error {
	if sent == 0 && failed == 0 {
		return nil
	}
	_, err := h.ExecContext(ctx, `UPDATE campaign_shard SET sent = sent + ?, failed = GREATEST(CAST(failed AS SIGNED) + ?, 0)
		WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ?`, max(sent, 0), failed, kind, campaignID, shardNo)
	if err != nil {
		return fmt.Errorf("campaign %d shard %d: count deliveries: %w", campaignID, shardNo, store.MapError(err))
	}
	return nil
}
