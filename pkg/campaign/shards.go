package campaign

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/store"
)

// ShardStatus is where one shard is.
type ShardStatus string

// Shard statuses.
const (
	ShardPending   ShardStatus = "pending"
	ShardRunning   ShardStatus = "running"
	ShardPaused    ShardStatus = "paused"
	ShardDone      ShardStatus = "done"
	ShardCancelled ShardStatus = "cancelled"
	ShardFailed    ShardStatus = "failed"
)

// Shard is a campaign_shard row: the durable truth of one shard's progress.
type Shard struct {
	Kind       Kind        `db:"campaign_kind" json:"kind"`
	CampaignID uint64      `db:"campaign_id" json:"campaign_id"`
	No         int         `db:"shard_no" json:"shard_no"`
	StartID    uint64      `db:"start_id" json:"start_id"`
	EndID      uint64      `db:"end_id" json:"end_id"`
	Expected   int         `db:"expected_members" json:"expected_members"`
	Status     ShardStatus `db:"status" json:"status"`
	CursorID   uint64      `db:"cursor_id" json:"cursor_id"`
	Sent       int         `db:"sent" json:"sent"`
	Failed     int         `db:"failed" json:"failed"`
	Attempts   int         `db:"attempts" json:"attempts"`
	Owner      string      `db:"owner" json:"owner,omitempty"`
	LeaseUntil *time.Time  `db:"lease_until" json:"lease_until,omitempty"`
	LastError  string      `db:"last_error" json:"last_error,omitempty"`
	StartedAt  *time.Time  `db:"started_at" json:"started_at,omitempty"`
	FinishedAt *time.Time  `db:"finished_at" json:"finished_at,omitempty"`
}

// Task returns the shard's task message in mode m.
func (s Shard) Task(m TaskMode) ShardTask {
	return ShardTask{Kind: s.Kind, CampaignID: s.CampaignID, ShardNo: s.No, StartID: s.StartID, EndID: s.EndID, Mode: m}
}

const shardColumns = `campaign_kind, campaign_id, shard_no, start_id, end_id, expected_members, status,
	cursor_id, sent, failed, attempts, owner, lease_until, last_error, started_at, finished_at`

// shardInsertChunk bounds rows per INSERT statement.
const shardInsertChunk = 1000

// InsertShards stores the planned shards of a campaign idempotently: a shard
// number already present is left as it is (INSERT IGNORE on the primary
// key), so a planner that runs twice creates nothing twice. It returns the
// number of rows it created.
func InsertShards(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, shards []audience.Range) (int64, error) {
	var created int64
	for lo := 0; lo < len(shards); lo += shardInsertChunk {
		chunk := shards[lo:min(lo+shardInsertChunk, len(shards))]
		var b strings.Builder
		b.WriteString(`INSERT IGNORE INTO campaign_shard (campaign_kind, campaign_id, shard_no, start_id, end_id, expected_members) VALUES `)
		args := make([]any, 0, len(chunk)*6)
		for i, r := range chunk {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,?,?,?,?)")
			args = append(args, kind, campaignID, r.No, r.Start, r.End, r.Expected)
		}
		res, err := h.ExecContext(ctx, b.String(), args...)
		if err != nil {
			return created, fmt.Errorf("campaign %d: insert shards %d..%d: %w", campaignID, chunk[0].No, chunk[len(chunk)-1].No, store.MapError(err))
		}
		n, _ := res.RowsAffected()
		created += n
	}
	return created, nil
}

// ListShards returns a campaign's shards in order, optionally only those in
// the given statuses.
func ListShards(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, statuses ...ShardStatus) ([]Shard, error) {
	q := `SELECT ` + shardColumns + ` FROM campaign_shard WHERE campaign_kind = ? AND campaign_id = ?`
	args := []any{kind, campaignID}
	if len(statuses) > 0 {
		q += ` AND status IN (?` + strings.Repeat(",?", len(statuses)-1) + `)`
		for _, s := range statuses {
			args = append(args, s)
		}
	}
	q += ` ORDER BY shard_no`
	var out []Shard
	if err := h.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("campaign %d: list shards: %w", campaignID, store.MapError(err))
	}
	return out, nil
}

// GetShard loads one shard; ErrNotFound if missing.
func GetShard(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, no int) (*Shard, error) {
	var s Shard
	err := h.GetContext(ctx, &s, `SELECT `+shardColumns+` FROM campaign_shard
		WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ?`, kind, campaignID, no)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: shard %d of %s %d", ErrNotFound, no, kind, campaignID)
	}
	if err != nil {
		return nil, fmt.Errorf("campaign %d: load shard %d: %w", campaignID, no, store.MapError(err))
	}
	return &s, nil
}

// Progress sums a campaign's shards.
type Progress struct {
	Shards    int   `db:"shards" json:"shards"`
	Pending   int   `db:"pending" json:"pending"`
	Running   int   `db:"running" json:"running"`
	Paused    int   `db:"paused" json:"paused"`
	Done      int   `db:"done" json:"done"`
	Cancelled int   `db:"cancelled" json:"cancelled"`
	Failed    int   `db:"failed_shards" json:"failed_shards"`
	Expected  int64 `db:"expected" json:"expected_members"`
	Sent      int64 `db:"sent" json:"sent"`
	FailedN   int64 `db:"failed" json:"failed"`
}

// ShardProgress aggregates the campaign_shard rows of a campaign (the
// Progress of LoadReport).
func ShardProgress(ctx context.Context, h store.Handler, kind Kind, campaignID uint64) (Progress, error) {
	rep, err := LoadReport(ctx, h, kind, campaignID, ReportOptions{})
	return rep.Progress, err
}

// SetShardsStatus moves every shard of a campaign in one of from to to and
// returns how many moved.
func SetShardsStatus(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, from []ShardStatus, to ShardStatus) (int64, error) {
	args := []any{to, to, kind, campaignID}
	for _, f := range from {
		args = append(args, f)
	}
	res, err := h.ExecContext(ctx, `UPDATE campaign_shard SET status = ?, owner = '', lease_until = NULL,
		finished_at = IF(? IN ('done','cancelled','failed'), CURRENT_TIMESTAMP(3), finished_at)
		WHERE campaign_kind = ? AND campaign_id = ? AND status IN (?`+strings.Repeat(",?", len(from)-1)+`)`, args...)
	if err != nil {
		return 0, fmt.Errorf("campaign %d: shards to %s: %w", campaignID, to, store.MapError(err))
	}
	return res.RowsAffected()
}

// CountShards returns how many shard rows a campaign has.
func CountShards(ctx context.Context, h store.Handler, kind Kind, campaignID uint64) (int, error) {
	var n int
	if err := h.GetContext(ctx, &n, `SELECT COUNT(*) FROM campaign_shard WHERE campaign_kind = ? AND campaign_id = ?`,
		kind, campaignID); err != nil {
		return 0, fmt.Errorf("campaign %d: count shards: %w", campaignID, store.MapError(err))
	}
	return n, nil
}

// FailedShardNos lists, in order, the shards of a campaign holding at least
// one failed delivery (push_failure).
func FailedShardNos(ctx context.Context, h store.Handler, kind Kind, campaignID uint64) ([]int, error) {
	var out []int
	if err := h.SelectContext(ctx, &out, `SELECT DISTINCT shard_no FROM push_failure
		WHERE campaign_kind = ? AND campaign_id = ? ORDER BY shard_no`, kind, campaignID); err != nil {
		return nil, fmt.Errorf("campaign %d: shards with failed deliveries: %w", campaignID, store.MapError(err))
	}
	return out, nil
}

// ReopenShards moves the given finished (done or failed) shards of a
// campaign back to pending for another pass, keeping their cursor, counters
// and finished_at (a worker handed a send task for a shard that finished
// once runs it as a retry), and returns how many moved. Retry-failed uses it
// so that the campaign is not completed again before the retries ran.
func ReopenShards(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, nos []int) (int64, error) {
	var moved int64
	for lo := 0; lo < len(nos); lo += shardInsertChunk {
		chunk := nos[lo:min(lo+shardInsertChunk, len(nos))]
		args := []any{kind, campaignID}
		for _, n := range chunk {
			args = append(args, n)
		}
		res, err := h.ExecContext(ctx, `UPDATE campaign_shard SET status = 'pending', owner = '', lease_until = NULL,
			last_error = ''
			WHERE campaign_kind = ? AND campaign_id = ? AND status IN ('done','failed')
			AND shard_no IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return moved, fmt.Errorf("campaign %d: reopen shards: %w", campaignID, store.MapError(err))
		}
		n, _ := res.RowsAffected()
		moved += n
	}
	return moved, nil
}

// ShardsByNo loads the given shards of a campaign, in order (missing numbers
// are left out).
func ShardsByNo(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, nos []int) ([]Shard, error) {
	var out []Shard
	for lo := 0; lo < len(nos); lo += shardInsertChunk {
		chunk := nos[lo:min(lo+shardInsertChunk, len(nos))]
		args := []any{kind, campaignID}
		for _, n := range chunk {
			args = append(args, n)
		}
		var part []Shard
		if err := h.SelectContext(ctx, &part, `SELECT `+shardColumns+` FROM campaign_shard
			WHERE campaign_kind = ? AND campaign_id = ? AND shard_no IN (?`+strings.Repeat(",?", len(chunk)-1)+`)
			ORDER BY shard_no`, args...); err != nil {
			return nil, fmt.Errorf("campaign %d: load shards: %w", campaignID, store.MapError(err))
		}
		out = append(out, part...)
	}
	return out, nil
}

// EstimateProcessed estimates how many of a campaign's audience members its
// workers got through, from the shard checkpoints (processedExpr): a done
// shard counts all its expected members, an unfinished one the share of its
// id range below its cursor (segment shards are id ranges too, so this is
// an estimate). expected sums every shard's expected members.
func EstimateProcessed(ctx context.Context, h store.Handler, kind Kind, campaignID uint64) (processed, expected int64, err error) {
	rep, err := LoadReport(ctx, h, kind, campaignID, ReportOptions{})
	return rep.Processed, rep.Progress.Expected, err
}
