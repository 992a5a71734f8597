// Package deadletter owns what happens to messages a consumer group gave up
// on. RocketMQ moves them to the group's %DLQ% topic, keeps them only as
// long as its commit log (72 h by default) and offers no way to list or
// re-send them; here a Drain (a consumer group of its own on that topic)
// stores each one in MySQL (mq_dead_letter, keyed by group and message id),
// List shows them and Replay republishes them to their original topic,
// marking each row so it is replayed once.
//
// Replaying is safe only for consumers whose handling is idempotent (every
// consumer of mkt is): a replayed message may reach a consumer that had
// already handled it, or be published again when a replay dies between
// publishing and marking the row.
package deadletter

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

// ErrUnknownGroup is returned for a group whose dead letters are not drained.
var ErrUnknownGroup = errors.New("deadletter: no drain for this consumer group")

// ErrBadMsgID is returned for a string that is not a message id.
var ErrBadMsgID = errors.New("deadletter: not a message id: want 32 hexadecimal digits")

// ErrNotFound is returned for message ids with no dead letter in the group.
var ErrNotFound = errors.New("deadletter: no such dead letter")

// PropReplayOf is the user property a replayed message carries: the id of
// the dead letter it replays.
const PropReplayOf = "dlq_replay_of"

// Column limits of mq_dead_letter.
const (
	maxReasonRunes = 500
	maxKeysLen     = 1024
	maxTagLen      = 255
)

var msgIDPattern = regexp.MustCompile(`^[0-9A-Fa-f]{32}$`)

// ParseMsgID checks a message id as an operator types it (RocketMQ's unique
// message ids are 32 hexadecimal digits) and returns it upper-case, as the
// broker writes it.
func ParseMsgID(s string) (string, error) {
	if !msgIDPattern.MatchString(s) {
		return "", fmt.Errorf("%w: %q", ErrBadMsgID, campaign.Printable(textlimit.RunesMarked(s, 40)))
	}
	return strings.ToUpper(s), nil
}

// Letter is one dead-lettered message.
type Letter struct {
	ID             int64          `db:"id"`
	Group          string         `db:"group_name"`
	MsgID          string         `db:"msg_id"`
	Topic          string         `db:"topic"`
	Tag            string         `db:"tag"`
	Keys           string         `db:"msg_keys"`
	PropertiesJSON sql.NullString `db:"properties"`
	Body           []byte         `db:"body"`
	Reason         string         `db:"reason"`
	ReconsumeTimes int            `db:"reconsume_times"`
	BornAt         sql.NullTime   `db:"born_at"`
	StoredAt       sql.NullTime   `db:"stored_at"`
	DrainedAt      sql.NullTime   `db:"drained_at"`
	ClaimedAt      sql.NullTime   `db:"replay_claimed_at"`
	ReplayedAt     sql.NullTime   `db:"replayed_at"`
	ReplayedBy     string         `db:"replayed_by"`
}

const letterColumns = `id, group_name, msg_id, topic, tag, msg_keys, properties, body, reason, reconsume_times,
	born_at, stored_at, drained_at, replay_claimed_at, replayed_at, replayed_by`

// Properties returns the letter's user properties.
func (l *Letter) Properties() map[string]string {
	if !l.PropertiesJSON.Valid || l.PropertiesJSON.String == "" {
		return nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(l.PropertiesJSON.String), &m); err != nil {
		return nil
	}
	return m
}

// KeyList returns the letter's message keys.
func (l *Letter) KeyList() []string { return strings.Fields(l.Keys) }

// BodyPreview is the body safe to print: control characters and bytes that
// are not UTF-8 escaped, at most n runes.
func BodyPreview(body []byte, n int) string {
	return textlimit.RunesMarked(campaign.Printable(string(body)), n)
}

// cleanReason makes a reason storable: valid UTF-8 without control
// characters, bounded.
func cleanReason(s string) string {
	return textlimit.RunesMarked(campaign.Printable(s), maxReasonRunes)
}

// Record stores a drained dead letter once: a dead letter delivered to the
// drain again changes nothing. A reason noted earlier (NoteReason) is kept.
// It reports whether the letter was new.
func Record(ctx context.Context, db store.Handler, l Letter, now time.Time) (bool, error) {
	var props any
	if l.PropertiesJSON.Valid {
		props = l.PropertiesJSON.String
	}
	// MariaDB applies the assignments in order, each seeing the ones
	// before: drained_at, the guard of the others, comes last.
	res, err := db.ExecContext(ctx, `INSERT INTO mq_dead_letter
		(group_name, msg_id, topic, tag, msg_keys, properties, body, reason, reconsume_times, born_at, stored_at, drained_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE
			topic = IF(drained_at IS NULL, VALUES(topic), topic),
			tag = IF(drained_at IS NULL, VALUES(tag), tag),
			msg_keys = IF(drained_at IS NULL, VALUES(msg_keys), msg_keys),
			properties = IF(drained_at IS NULL, VALUES(properties), properties),
			body = IF(drained_at IS NULL, VALUES(body), body),
			reason = IF(reason = '', VALUES(reason), reason),
			reconsume_times = IF(drained_at IS NULL AND reconsume_times = 0, VALUES(reconsume_times), reconsume_times),
			born_at = IF(drained_at IS NULL, VALUES(born_at), born_at),
			stored_at = IF(drained_at IS NULL, VALUES(stored_at), stored_at),
			drained_at = IF(drained_at IS NULL, VALUES(drained_at), drained_at)`,
		l.Group, l.MsgID, l.Topic, textlimit.RunesMarked(l.Tag, maxTagLen), textlimit.Bytes(l.Keys, maxKeysLen), props, l.Body,
		cleanReason(l.Reason), l.ReconsumeTimes, l.BornAt, l.StoredAt, now.UTC())
	if err != nil {
		return false, fmt.Errorf("deadletter: store %s of group %s: %w", l.MsgID, l.Group, store.MapError(err))
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// NoteReason records why the group dead-lettered msgID, if no reason is
// known yet, and the redeliveries it had. The consumer knows the reason
// when it gives up; the drain, which stores the message, does not.
func NoteReason(ctx context.Context, db store.Handler, group, msgID, reason string, reconsumeTimes int) error {
	_, err := db.ExecContext(ctx, `INSERT INTO mq_dead_letter (group_name, msg_id, reason, reconsume_times)
		VALUES (?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE reason = IF(reason = '', VALUES(reason), reason),
			reconsume_times = IF(drained_at IS NULL, VALUES(reconsume_times), reconsume_times)`,
		group, msgID, cleanReason(reason), reconsumeTimes)
	if err != nil {
		return fmt.Errorf("deadletter: note reason of %s: %w", msgID, store.MapError(err))
	}
	return nil
}

// RegisterDrain records that group's dead letters are drained by drainGroup.
func RegisterDrain(ctx context.Context, db store.Handler, group, dlqTopic, drainGroup string, now time.Time) error {
	_, err := db.ExecContext(ctx, `INSERT INTO mq_dead_letter_drain (group_name, dlq_topic, drain_group, started_at)
		VALUES (?, ?, ?, ?)
		ON DUPLICATE KEY UPDATE dlq_topic = VALUES(dlq_topic), drain_group = VALUES(drain_group), started_at = VALUES(started_at)`,
		group, dlqTopic, drainGroup, now.UTC())
	if err != nil {
		return fmt.Errorf("deadletter: register the drain of group %s: %w", group, store.MapError(err))
	}
	return nil
}

// DrainInfo is a group whose dead letters are drained.
type DrainInfo struct {
	Group      string    `db:"group_name" json:"group"`
	DLQTopic   string    `db:"dlq_topic" json:"dlq_topic"`
	DrainGroup string    `db:"drain_group" json:"drain_group"`
	StartedAt  time.Time `db:"started_at" json:"started_at"`
}

// Groups lists the groups whose dead letters are drained.
func Groups(ctx context.Context, db store.Handler) ([]DrainInfo, error) {
	var out []DrainInfo
	if err := db.SelectContext(ctx, &out, `SELECT group_name, dlq_topic, drain_group, started_at
		FROM mq_dead_letter_drain ORDER BY group_name`); err != nil {
		return nil, fmt.Errorf("deadletter: list drained groups: %w", store.MapError(err))
	}
	return out, nil
}

// CheckGroup returns ErrUnknownGroup, naming the known groups, unless
// group's dead letters are drained.
func CheckGroup(ctx context.Context, db store.Handler, group string) error {
	gs, err := Groups(ctx, db)
	if err != nil {
		return err
	}
	names := make([]string, len(gs))
	for i, g := range gs {
		if g.Group == group {
			return nil
		}
		names[i] = g.Group
	}
	known := "none: is couponsd running with --drain-dlq?"
	if len(names) > 0 {
		known = strings.Join(names, ", ")
	}
	return fmt.Errorf("%w: %q (drained groups: %s)", ErrUnknownGroup, campaign.Printable(group), known)
}

// Counts are a group's dead letters by state.
type Counts struct {
	Pending  int64 `db:"pending" json:"pending"`
	Replayed int64 `db:"replayed" json:"replayed"`
}

// Count counts group's drained dead letters.
func Count(ctx context.Context, db store.Handler, group string) (Counts, error) {
	var c Counts
	err := db.GetContext(ctx, &c, `SELECT
			COALESCE(SUM(replayed_at IS NULL), 0) AS pending,
			COALESCE(SUM(replayed_at IS NOT NULL), 0) AS replayed
		FROM mq_dead_letter WHERE group_name = ? AND drained_at IS NOT NULL`, group)
	if err != nil {
		return Counts{}, fmt.Errorf("deadletter: count dead letters of group %s: %w", group, store.MapError(err))
	}
	return c, nil
}

// ListOptions select dead letters.
type ListOptions struct {
	Group string
	// Limit is the most rows returned, newest first; required.
	Limit int
	// PendingOnly leaves out the replayed ones.
	PendingOnly bool
	// Oldest returns the rows with an id above AfterID, oldest first
	// (paging through them) instead of the newest.
	Oldest  bool
	AfterID int64
}

// List returns group's drained dead letters, newest first (or, with
// Oldest, oldest first after AfterID).
func List(ctx context.Context, db store.Handler, o ListOptions) ([]Letter, error) {
	q := `SELECT ` + letterColumns + ` FROM mq_dead_letter WHERE group_name = ? AND drained_at IS NOT NULL`
	args := []any{o.Group}
	if o.PendingOnly {
		q += ` AND replayed_at IS NULL`
	}
	if o.Oldest {
		q += ` AND id > ? ORDER BY id LIMIT ?`
		args = append(args, o.AfterID, o.Limit)
	} else {
		q += ` ORDER BY id DESC LIMIT ?`
		args = append(args, o.Limit)
	}
	var out []Letter
	if err := db.SelectContext(ctx, &out, q, args...); err != nil {
		return nil, fmt.Errorf("deadletter: list dead letters of group %s: %w", o.Group, store.MapError(err))
	}
	return out, nil
}

// Get returns group's drained dead letters with the given message ids, in
// that order; ErrNotFound names those missing.
func Get(ctx context.Context, db store.Handler, group string, msgIDs []string) ([]Letter, error) {
	if len(msgIDs) == 0 {
		return nil, nil
	}
	q := `SELECT ` + letterColumns + ` FROM mq_dead_letter WHERE group_name = ? AND drained_at IS NOT NULL AND msg_id IN (?` +
		strings.Repeat(", ?", len(msgIDs)-1) + `)`
	args := []any{group}
	for _, id := range msgIDs {
		args = append(args, id)
	}
	var rows []Letter
	if err := db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("deadletter: read dead letters of group %s: %w", group, store.MapError(err))
	}
	by := make(map[string]Letter, len(rows))
	for _, r := range rows {
		by[r.MsgID] = r
	}
	out := make([]Letter, 0, len(msgIDs))
	var missing []string
	seen := make(map[string]bool)
	for _, id := range msgIDs {
		if seen[id] {
			continue
		}
		seen[id] = true
		l, ok := by[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		out = append(out, l)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w in group %s: %s", ErrNotFound, group, strings.Join(missing, ", "))
	}
	return out, nil
}
