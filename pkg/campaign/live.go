package campaign

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"mkt/pkg/provider"
)

// Live counters. Every pushd adds each page's outcomes to one Redis hash per
// campaign (ProgressKey) right after the page's commit; the views read it for
// what the shard rows do not hold: deliveries per channel and the members each
// worker got through. The counters are live, not the truth: a page redone
// after a crash counts again and a page whose counter update failed not at
// all. The shard rows (Progress) are the truth of the totals.

// ProgressKey is the Redis hash (under the cache prefix) of a campaign's live
// counters, e.g. "progress:promotion:42" or "progress:coupon:7".
func ProgressKey(kind Kind, campaignID uint64) string {
	return fmt.Sprintf("progress:%s:%d", kind, campaignID)
}

// Live counter fields. "sent", "failed" and "no_address" (the failures for
// want of an address, included in failed) count deliveries (a member on a
// channel); "sent.CHANNEL" and "failed.CHANNEL" split them by channel;
// "members.OWNER" counts the audience members worker OWNER went through
// (the pages it committed); a coupon's also "issued" and "not_issued"; a
// hot-goods run's "row.ID" the members each of its rows won (RowField).
const (
	FieldSent      = "sent"
	FieldFailed    = "failed"
	FieldNoAddress = "no_address"
	// FieldIssued counts the coupon items a push-mode coupon's run issued,
	// FieldNotIssued its audience members left without the coupon (quota
	// exhausted, window ended), who are not messaged. Both count members
	// of a redone page again; the coupon's issued_count is the truth.
	FieldIssued    = "issued"
	FieldNotIssued = "not_issued"
	// FieldMembersPrefix starts the per-worker member counters.
	FieldMembersPrefix = "members."
)

// FieldRowPrefix starts a hot-goods run's per-row counters: the members
// each of its rows won ("row.17").
const FieldRowPrefix = "row."

// RowField is the live counter field of a hot-goods row.
func RowField(rowID uint64) string { return FieldRowPrefix + strconv.FormatUint(rowID, 10) }

// ChannelField is the live counter field of one channel's sent or failed
// deliveries, e.g. "sent.sms".
func ChannelField(field string, ch provider.Channel) string { return field + "." + string(ch) }

// ChannelCount is one channel's deliveries of a campaign, from the live
// counters.
type ChannelCount struct {
	Channel provider.Channel `json:"channel"`
	Sent    int64            `json:"sent"`
	Failed  int64            `json:"failed"`
}

// LiveCounters reads a live counter hash; *cache.Client is one.
type LiveCounters interface {
	// HCounters reads every field of the hash key as integers (empty when
	// the key does not exist).
	HCounters(ctx context.Context, key string) (map[string]int64, error)
}

// Live is a campaign's live counters, decoded.
type Live struct {
	// Channels has one entry per channel of the campaign, in its order.
	Channels []ChannelCount `json:"channels"`
	// Members is the members each worker went through, by owner.
	Members map[string]int64 `json:"members_by_worker,omitempty"`
	// Rows is, for a hot-goods run, the members each row won, by row id.
	Rows map[uint64]int64 `json:"members_by_row,omitempty"`
}

// ReadLive reads the live counters of a campaign sending on channels.
func ReadLive(ctx context.Context, lc LiveCounters, kind Kind, id uint64, channels []provider.Channel) (Live, error) {
	raw, err := lc.HCounters(ctx, ProgressKey(kind, id))
	if err != nil {
		return Live{}, err
	}
	return decodeLive(raw, channels), nil
}

func decodeLive(raw map[string]int64, channels []provider.Channel) Live {
	out := Live{Channels: make([]ChannelCount, 0, len(channels))}
	for _, ch := range channels {
		out.Channels = append(out.Channels, ChannelCount{Channel: ch,
			Sent: raw[ChannelField(FieldSent, ch)], Failed: raw[ChannelField(FieldFailed, ch)]})
	}
	for f, v := range raw {
		if row, ok := strings.CutPrefix(f, FieldRowPrefix); ok {
			if id, err := strconv.ParseUint(row, 10, 64); err == nil {
				if out.Rows == nil {
					out.Rows = map[uint64]int64{}
				}
				out.Rows[id] = v
			}
			continue
		}
		if owner, ok := strings.CutPrefix(f, FieldMembersPrefix); ok {
			if out.Members == nil {
				out.Members = map[string]int64{}
			}
			out.Members[owner] = v
		}
	}
	return out
}
