package deadletter

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"mkt/pkg/mq"
	"mkt/pkg/store"
)

// ClaimTimeout is how long a replay's claim on a dead letter holds: a replay
// that died between claiming and marking leaves the row claimed, and another
// replay takes it over after this long (publishing it again is harmless to
// idempotent consumers).
const ClaimTimeout = 5 * time.Minute

// Sender publishes one message (*mq.Producer).
type Sender interface {
	Send(ctx context.Context, m mq.Message) error
}

// Replay outcomes.
const (
	OutcomeReplayed        = "replayed"
	OutcomeWouldReplay     = "would_replay" // dry run
	OutcomeAlreadyReplayed = "already_replayed"
	OutcomeBusy            = "being_replayed" // another replay holds it
	OutcomeFailed          = "failed"
)

// ReplayOptions say what to replay.
type ReplayOptions struct {
	Group string
	// MsgIDs are the dead letters to replay (checked with ParseMsgID), or
	// All for every one not replayed yet.
	MsgIDs []string
	All    bool
	// DryRun reports what would be replayed and changes nothing.
	DryRun bool
	// By names the operator, recorded on each row.
	By string
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// ReplayResult is what happened to one dead letter.
type ReplayResult struct {
	MsgID   string `json:"msg_id"`
	Topic   string `json:"topic"`
	Keys    string `json:"keys"`
	Outcome string `json:"outcome"`
	Error   string `json:"error,omitempty"`
}

// Replay republishes dead letters of a group to their original topic, with
// their tag, keys, body and properties plus PropReplayOf, and marks each
// replayed so no later Replay sends it again. Every named id must be a
// drained dead letter of the group (ErrNotFound otherwise, nothing done).
// A dead letter is claimed before it is published and marked after; one
// whose publish fails is released for a later replay. The error is about
// the whole run; per-letter failures are in the results.
func Replay(ctx context.Context, db *store.DB, s Sender, o ReplayOptions) ([]ReplayResult, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := CheckGroup(ctx, db, o.Group); err != nil {
		return nil, err
	}
	if o.All == (len(o.MsgIDs) > 0) {
		return nil, errors.New("deadletter: replay needs message ids or All, not both")
	}
	var out []ReplayResult
	if !o.All {
		letters, err := Get(ctx, db, o.Group, o.MsgIDs)
		if err != nil {
			return nil, err
		}
		for i := range letters {
			out = append(out, replayOne(ctx, db, s, &letters[i], o))
		}
		return out, nil
	}
	var after int64
	for {
		page, err := List(ctx, db, ListOptions{Group: o.Group, Limit: 500, PendingOnly: true, Oldest: true, AfterID: after})
		if err != nil {
			return out, err
		}
		for i := range page {
			out = append(out, replayOne(ctx, db, s, &page[i], o))
			after = page[i].ID
		}
		if len(page) < 500 {
			return out, nil
		}
	}
}

func replayOne(ctx context.Context, db *store.DB, s Sender, l *Letter, o ReplayOptions) ReplayResult {
	r := ReplayResult{MsgID: l.MsgID, Topic: l.Topic, Keys: l.Keys}
	now := o.Now().UTC()
	switch {
	case l.ReplayedAt.Valid:
		r.Outcome = OutcomeAlreadyReplayed
		return r
	case l.ClaimedAt.Valid && now.Sub(l.ClaimedAt.Time) < ClaimTimeout:
		r.Outcome = OutcomeBusy
		return r
	}
	msg := mq.Message{Topic: l.Topic, Tag: l.Tag, Keys: l.KeyList(), Body: l.Body, Properties: maps.Clone(l.Properties())}
	if msg.Properties == nil {
		msg.Properties = make(map[string]string)
	}
	msg.Properties[PropReplayOf] = l.MsgID
	if l.Topic == "" {
		r.Outcome, r.Error = OutcomeFailed, "the original topic is unknown"
		return r
	}
	if o.DryRun {
		r.Outcome = OutcomeWouldReplay
		return r
	}
	res, err := db.ExecContext(ctx, `UPDATE mq_dead_letter SET replay_claimed_at = ?, replayed_by = ?
		WHERE id = ? AND replayed_at IS NULL AND drained_at IS NOT NULL
		AND (replay_claimed_at IS NULL OR replay_claimed_at < ?)`,
		now, o.By, l.ID, now.Add(-ClaimTimeout))
	if err != nil {
		r.Outcome, r.Error = OutcomeFailed, fmt.Sprintf("claim: %v", store.MapError(err))
		return r
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Another replay got there first.
		var replayed bool
		if err := db.GetContext(ctx, &replayed, `SELECT replayed_at IS NOT NULL FROM mq_dead_letter WHERE id = ?`, l.ID); err == nil && replayed {
			r.Outcome = OutcomeAlreadyReplayed
		} else {
			r.Outcome = OutcomeBusy
		}
		return r
	}
	if err := s.Send(ctx, msg); err != nil {
		r.Outcome, r.Error = OutcomeFailed, fmt.Sprintf("publish: %v", err)
		// Give the claim back so a later replay tries again; if even that
		// fails, the claim times out.
		_, _ = db.ExecContext(context.WithoutCancel(ctx), `UPDATE mq_dead_letter SET replay_claimed_at = NULL WHERE id = ? AND replayed_at IS NULL`, l.ID)
		return r
	}
	// Published: mark it, retrying a database blip. Should marking fail,
	// the claim times out and a later replay publishes it again, which
	// the consumer's idempotence makes harmless.
	var merr error
	for attempt := range 3 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 500 * time.Millisecond)
		}
		_, merr = db.ExecContext(context.WithoutCancel(ctx), `UPDATE mq_dead_letter SET replayed_at = ?, replay_claimed_at = NULL WHERE id = ?`, now, l.ID)
		if merr == nil {
			break
		}
	}
	r.Outcome = OutcomeReplayed
	if merr != nil {
		r.Error = fmt.Sprintf("published, but not marked replayed (a replay after %s may publish it again): %v", ClaimTimeout, store.MapError(merr))
	}
	return r
}
