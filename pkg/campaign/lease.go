package campaign

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

// Shard leases. A worker owns a shard while its lease runs: it claims the
// shard with one conditional UPDATE, renews the lease while it works (every
// checkpoint renews it too), and gives it up by finishing, parking or
// releasing the shard. Lease times are the database's clock
// (CURRENT_TIMESTAMP), so the hosts' clocks never matter.

// ErrLeaseLost is returned when a worker acts on a shard it no longer owns:
// its lease expired and another worker took the shard, or an operator
// paused or cancelled it.
var ErrLeaseLost = errors.New("campaign: shard lease lost")

// MaxOwnerLen bounds the name of a lease's owner, in bytes: the owner
// columns of shards, scheduled launches and schedule firings.
const MaxOwnerLen = 128

// DefaultOwner returns "<host>-<pid>-<random>", a lease owner's name unique
// to this call, at most 100 bytes (the host is cut to 80), so that a
// component may add a suffix of its own.
func DefaultOwner() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", textlimit.Bytes(host, 80), os.Getpid(), hex.EncodeToString(b[:]))
}

// ClaimOptions says who claims a shard and which states it may take it from.
type ClaimOptions struct {
	// Owner names the claiming worker (host:pid:instance), required.
	Owner string
	// Lease is how long the claim holds without renewal, required.
	Lease time.Duration
	// Paused allows claiming a paused shard (its campaign runs again).
	Paused bool
	// Done allows claiming a finished shard (retry of its failed members).
	Done bool
}

// ClaimShard takes a shard for opts.Owner with one conditional UPDATE: the
// shard must be pending, or running with no live lease (none, expired,
// released) or a lease held by the same owner, or paused / done when opts
// allow it. A claim sets status running, a fresh lease and attempts+1. It
// returns the shard as it is after the attempt and whether the claim won; a
// lost claim's shard tells why (finished, or held: Owner and LeaseUntil).
func ClaimShard(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, no int, opts ClaimOptions) (*Shard, bool, error) {
	if opts.Owner == "" || opts.Lease <= 0 {
		return nil, false, fmt.Errorf("campaign %d: claim shard %d: owner and lease are required", campaignID, no)
	}
	res, err := h.ExecContext(ctx, `UPDATE campaign_shard SET
		attempts = LEAST(attempts + 1, 65535),
		started_at = COALESCE(started_at, CURRENT_TIMESTAMP(3)),
		owner = ?,
		lease_until = CURRENT_TIMESTAMP(3) + INTERVAL ? MICROSECOND,
		status = 'running'
		WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ? AND (
			status = 'pending'
			OR (status = 'running' AND (owner = '' OR owner = ? OR lease_until IS NULL OR lease_until < CURRENT_TIMESTAMP(3)))
			OR (status = 'paused' AND ?)
			OR (status = 'done' AND ?))`,
		opts.Owner, opts.Lease.Microseconds(), kind, campaignID, no, opts.Owner, opts.Paused, opts.Done)
	if err != nil {
		return nil, false, fmt.Errorf("campaign %d: claim shard %d: %w", campaignID, no, store.MapError(err))
	}
	n, _ := res.RowsAffected()
	s, err := GetShard(ctx, h, kind, campaignID, no)
	if err != nil {
		return nil, false, err
	}
	return s, n == 1 && s.Owner == opts.Owner && s.Status == ShardRunning, nil
}

// RenewLease extends opts.Owner's lease on a running shard; ErrLeaseLost if
// the shard is no longer running under that owner.
func RenewLease(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, no int, owner string, lease time.Duration) error {
	res, err := h.ExecContext(ctx, `UPDATE campaign_shard SET lease_until = CURRENT_TIMESTAMP(3) + INTERVAL ? MICROSECOND
		WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ? AND owner = ? AND status = 'running'`,
		lease.Microseconds(), kind, campaignID, no, owner)
	if err != nil {
		return fmt.Errorf("campaign %d: renew lease of shard %d: %w", campaignID, no, store.MapError(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	return confirmOwner(ctx, h, kind, campaignID, no, owner, false)
}

// confirmOwner tells "nothing changed" (MySQL reports 0 affected rows when
// an UPDATE writes the values already there) from a lost lease.
func confirmOwner(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, no int, owner string, lock bool) error {
	var cur struct {
		Status ShardStatus `db:"status"`
		Owner  string      `db:"owner"`
	}
	q := `SELECT status, owner FROM campaign_shard WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ?`
	if lock {
		q += ` FOR UPDATE`
	}
	err := h.GetContext(ctx, &cur, q, kind, campaignID, no)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: shard %d of %s %d is gone", ErrLeaseLost, no, kind, campaignID)
	}
	if err != nil {
		return fmt.Errorf("campaign %d: read owner of shard %d: %w", campaignID, no, store.MapError(err))
	}
	if cur.Status == ShardRunning && cur.Owner == owner {
		return nil
	}
	return fmt.Errorf("%w: shard %d of %s %d is %s, owner %q", ErrLeaseLost, no, kind, campaignID, cur.Status, cur.Owner)
}

// Checkpoint is one step of progress on a shard, recorded with
// CheckpointShard in the transaction that records the members' outcomes.
type Checkpoint struct {
	Kind       Kind
	CampaignID uint64
	No         int
	// Owner must hold the shard's lease.
	Owner string
	// Lease renews the lease from now.
	Lease time.Duration
	// Cursor is the last member id fully processed; the stored cursor never
	// moves back (0 leaves it).
	Cursor uint64
	// Sent is added to the shard's sent counter.
	Sent int
	// Failed is added to the failed counter (negative when retries
	// succeeded; the counter stays >= 0).
	Failed int
}

// CheckpointShard moves the shard's cursor, adds to its counters and renews
// the lease, if cp.Owner still holds it; it returns ShardRunning then. If an
// operator parked the shard meanwhile (paused or cancelled, owner cleared),
// the progress is still recorded — the work was done — and the new status
// is returned: the worker must stop. Otherwise it returns ErrLeaseLost and
// records nothing: run it in the transaction recording the outcomes, and
// roll that back. A lost lease is checked under a row lock.
func CheckpointShard(ctx context.Context, h store.Handler, cp Checkpoint) (ShardStatus, error) {
	res, err := h.ExecContext(ctx, `UPDATE campaign_shard SET
		cursor_id = GREATEST(cursor_id, ?), sent = sent + ?, failed = GREATEST(CAST(failed AS SIGNED) + ?, 0),
		lease_until = CURRENT_TIMESTAMP(3) + INTERVAL ? MICROSECOND
		WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ? AND owner = ? AND status = 'running'`,
		cp.Cursor, max(cp.Sent, 0), cp.Failed, cp.Lease.Microseconds(), cp.Kind, cp.CampaignID, cp.No, cp.Owner)
	if err != nil {
		return "", fmt.Errorf("campaign %d: checkpoint shard %d: %w", cp.CampaignID, cp.No, store.MapError(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return ShardRunning, nil
	}
	res, err = h.ExecContext(ctx, `UPDATE campaign_shard SET
		cursor_id = GREATEST(cursor_id, ?), sent = sent + ?, failed = GREATEST(CAST(failed AS SIGNED) + ?, 0)
		WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ? AND owner = '' AND status IN ('paused','cancelled')`,
		cp.Cursor, max(cp.Sent, 0), cp.Failed, cp.Kind, cp.CampaignID, cp.No)
	if err != nil {
		return "", fmt.Errorf("campaign %d: checkpoint parked shard %d: %w", cp.CampaignID, cp.No, store.MapError(err))
	}
	if n, _ := res.RowsAffected(); n == 1 {
		s, err := GetShard(ctx, h, cp.Kind, cp.CampaignID, cp.No)
		if err != nil {
			return "", err
		}
		return s.Status, nil
	}
	if err := confirmOwner(ctx, h, cp.Kind, cp.CampaignID, cp.No, cp.Owner, true); err != nil {
		return "", err
	}
	return ShardRunning, nil // ours, and the update changed nothing
}

// FinishShard marks owner's running shard done, stamps finished_at and
// clears the lease. It reports false (no error) if the owner no longer held
// it: finished, parked or taken by another worker meanwhile.
func FinishShard(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, no int, owner string) (bool, error) {
	return setOwned(ctx, h, kind, campaignID, no, owner, ShardDone, "")
}

// ParkShard moves owner's running shard to to (paused, cancelled or
// failed), keeping its checkpoint and clearing the lease; reason goes to
// last_error. It reports false if the owner no longer held it.
func ParkShard(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, no int, owner string, to ShardStatus, reason string) (bool, error) {
	if to != ShardPaused && to != ShardCancelled && to != ShardFailed {
		return false, fmt.Errorf("campaign %d: park shard %d as %s: want paused, cancelled or failed", campaignID, no, to)
	}
	return setOwned(ctx, h, kind, campaignID, no, owner, to, reason)
}

func setOwned(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, no int, owner string, to ShardStatus, reason string) (bool, error) {
	res, err := h.ExecContext(ctx, `UPDATE campaign_shard SET owner = '', lease_until = NULL,
		last_error = IF(? = 'done', '', ?),
		finished_at = IF(? IN ('done','cancelled','failed'), CURRENT_TIMESTAMP(3), finished_at),
		status = ?
		WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ? AND owner = ? AND status = 'running'`,
		to, textlimit.BytesMarked(reason, MaxErrorLen), to, to, kind, campaignID, no, owner)
	if err != nil {
		return false, fmt.Errorf("campaign %d: shard %d to %s: %w", campaignID, no, to, store.MapError(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReleaseShard gives up owner's lease on a running shard without finishing
// it (the worker stops or failed), so that the next delivery of its task,
// on any worker, claims it at once and resumes from its checkpoint; reason
// goes to last_error. It reports false if the owner no longer held it.
func ReleaseShard(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, no int, owner, reason string) (bool, error) {
	res, err := h.ExecContext(ctx, `UPDATE campaign_shard SET owner = '', lease_until = CURRENT_TIMESTAMP(3),
		last_error = ?
		WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ? AND owner = ? AND status = 'running'`,
		textlimit.BytesMarked(reason, MaxErrorLen), kind, campaignID, no, owner)
	if err != nil {
		return false, fmt.Errorf("campaign %d: release shard %d: %w", campaignID, no, store.MapError(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// SetShardStatusIf moves one shard from one of from to to, clearing any
// lease, and reports whether it moved.
func SetShardStatusIf(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, no int, from []ShardStatus, to ShardStatus) (bool, error) {
	if len(from) == 0 {
		return false, fmt.Errorf("campaign %d: shard %d to %s without a from status", campaignID, no, to)
	}
	args := []any{to, to, kind, campaignID, no}
	for _, f := range from {
		args = append(args, f)
	}
	res, err := h.ExecContext(ctx, `UPDATE campaign_shard SET owner = '', lease_until = NULL,
		finished_at = IF(? IN ('done','cancelled','failed'), CURRENT_TIMESTAMP(3), finished_at), status = ?
		WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ? AND status IN (?`+strings.Repeat(",?", len(from)-1)+`)`, args...)
	if err != nil {
		return false, fmt.Errorf("campaign %d: shard %d to %s: %w", campaignID, no, to, store.MapError(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// AbandonedShards returns running shards of campaigns of kind whose lease
// ended (or was released) more than grace ago, oldest first, at most limit:
// their worker died or gave up and their task message may never come back.
func AbandonedShards(ctx context.Context, h store.Handler, kind Kind, grace time.Duration, limit int) ([]Shard, error) {
	var out []Shard
	err := h.SelectContext(ctx, &out, `SELECT `+shardColumns+` FROM campaign_shard
		WHERE status = 'running' AND (lease_until IS NULL OR lease_until < CURRENT_TIMESTAMP(3) - INTERVAL ? MICROSECOND)
		AND campaign_kind = ?
		ORDER BY lease_until LIMIT ?`, grace.Microseconds(), kind, limit)
	if err != nil {
		return nil, fmt.Errorf("campaign: list abandoned shards: %w", store.MapError(err))
	}
	return out, nil
}

// StrandedPausedShards returns paused shards of kind whose run is running
// again, untouched for more than grace, at most limit: a resume that did not
// republish them (or raced with a worker parking them) left them behind.
func StrandedPausedShards(ctx context.Context, h store.Handler, kind Kind, grace time.Duration, limit int) ([]Shard, error) {
	t, err := kind.runs()
	if err != nil {
		return nil, err
	}
	var out []Shard
	err = h.SelectContext(ctx, &out, `SELECT s.campaign_kind, s.campaign_id, s.shard_no, s.start_id, s.end_id,
		s.expected_members, s.status, s.cursor_id, s.sent, s.failed, s.attempts, s.owner, s.lease_until,
		s.last_error, s.started_at, s.finished_at
		FROM campaign_shard s JOIN `+t.table+` p ON p.id = s.campaign_id
		WHERE s.campaign_kind = ? AND s.status = 'paused' AND p.`+t.status+` = 'running'
		AND s.updated_at < CURRENT_TIMESTAMP(3) - INTERVAL ? MICROSECOND
		ORDER BY s.updated_at LIMIT ?`, kind, grace.Microseconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("campaign: list stranded paused %s shards: %w", kind, store.MapError(err))
	}
	return out, nil
}

// MarkRepublished records that a sweeper republished an abandoned or
// stranded shard's task: a running shard gets an empty owner and a lease
// ending grace from now (so the next sweep leaves it alone while the task
// travels, and any worker may claim it), a paused one a fresh updated_at. It
// reports false when the shard changed since it was listed (another sweeper
// or a worker got there first), in which case nothing must be published.
func MarkRepublished(ctx context.Context, h store.Handler, s Shard, grace time.Duration) (bool, error) {
	var res sql.Result
	var err error
	switch s.Status {
	case ShardRunning:
		res, err = h.ExecContext(ctx, `UPDATE campaign_shard SET owner = '', lease_until = CURRENT_TIMESTAMP(3) + INTERVAL ? MICROSECOND
			WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ? AND status = 'running'
			AND (lease_until IS NULL OR lease_until < CURRENT_TIMESTAMP(3) - INTERVAL ? MICROSECOND)`,
			grace.Microseconds(), s.Kind, s.CampaignID, s.No, grace.Microseconds())
	case ShardPaused:
		res, err = h.ExecContext(ctx, `UPDATE campaign_shard SET updated_at = CURRENT_TIMESTAMP(3)
			WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ? AND status = 'paused'
			AND updated_at < CURRENT_TIMESTAMP(3) - INTERVAL ? MICROSECOND`,
			s.Kind, s.CampaignID, s.No, grace.Microseconds())
	default:
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("campaign %d: mark shard %d republished: %w", s.CampaignID, s.No, store.MapError(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// FailShard marks a shard that keeps failing as failed (with reason), if it
// is still in status from, and reports whether it did.
func FailShard(ctx context.Context, h store.Handler, kind Kind, campaignID uint64, no int, from ShardStatus, reason string) (bool, error) {
	res, err := h.ExecContext(ctx, `UPDATE campaign_shard SET status = 'failed', owner = '', lease_until = NULL,
		last_error = ?, finished_at = CURRENT_TIMESTAMP(3)
		WHERE campaign_kind = ? AND campaign_id = ? AND shard_no = ? AND status = ?`,
		textlimit.BytesMarked(reason, MaxErrorLen), kind, campaignID, no, from)
	if err != nil {
		return false, fmt.Errorf("campaign %d: fail shard %d: %w", campaignID, no, store.MapError(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
