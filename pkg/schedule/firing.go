package schedule

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/store"
)

// FiringStatus is where a firing is.
type FiringStatus string

// Firing statuses.
const (
	FiringInProgress FiringStatus = "firing"  // claimed by a pushd until its lease ends
	FiringFired      FiringStatus = "fired"   // its campaign (or run) was created
	FiringSkipped    FiringStatus = "skipped" // not fired: missed, too late, nothing to launch
	FiringFailed     FiringStatus = "failed"  // its action failed for good
)

// Firing is one firing of a schedule (a schedule_firing row).
type Firing struct {
	ID           uint64         `db:"id" json:"id"`
	ScheduleID   uint64         `db:"schedule_id" json:"schedule_id"`
	FireAt       time.Time      `db:"fire_at" json:"fire_at"`
	Status       FiringStatus   `db:"status" json:"status"`
	RequestID    string         `db:"request_id" json:"request_id"`
	CampaignKind *campaign.Kind `db:"campaign_kind" json:"campaign_kind,omitempty"`
	CampaignID   *uint64        `db:"campaign_id" json:"campaign_id,omitempty"`
	Reason       string         `db:"reason" json:"reason,omitempty"`
	Attempts     int            `db:"attempts" json:"attempts"`
	Owner        string         `db:"owner" json:"owner,omitempty"`
	LeaseUntil   *time.Time     `db:"lease_until" json:"lease_until,omitempty"`
	ClaimedAt    time.Time      `db:"claimed_at" json:"claimed_at"`
	FinishedAt   *time.Time     `db:"finished_at" json:"finished_at,omitempty"`
}

const firingColumns = `id, schedule_id, fire_at, status, request_id, campaign_kind, campaign_id, reason, attempts,
	owner, lease_until, claimed_at, finished_at`

// Campaign names what the firing created, e.g. "promotion:12"; "" when
// nothing.
func (f *Firing) Campaign() string {
	if f.CampaignKind == nil || f.CampaignID == nil {
		return ""
	}
	return string(*f.CampaignKind) + ":" + strconv.FormatUint(*f.CampaignID, 10)
}

// RequestID is the idempotency key of the campaign or run the firing of
// schedule id at fireAt creates: the same on every attempt and every pushd.
func RequestID(id uint64, fireAt time.Time) string {
	return "schedule-" + strconv.FormatUint(id, 10) + "-" + fireAt.UTC().Format("20060102T1504Z")
}

// ListFirings returns the newest limit firings of a schedule, newest first.
func ListFirings(ctx context.Context, h store.Handler, scheduleID uint64, limit int) ([]Firing, error) {
	out := []Firing{}
	if err := h.SelectContext(ctx, &out, `SELECT `+firingColumns+` FROM schedule_firing
		WHERE schedule_id = ? ORDER BY fire_at DESC LIMIT ?`, scheduleID, limit); err != nil {
		return nil, fmt.Errorf("schedule %d: firings: %w", scheduleID, store.MapError(err))
	}
	return out, nil
}

// MaxMissedRecorded bounds the skipped rows one catch-up writes for the
// firings missed before the latest due one (the rest are counted in the
// log and the metrics only).
const MaxMissedRecorded = 100

// maxScan bounds the firings Decide steps through from the first missed one
// before it jumps to the window of max lateness before now.
const maxScan = 100_000

// Decision is what to do with a schedule whose next firing is due.
type Decision struct {
	// FireAt is the latest firing due at now: the one to fire (or skip).
	FireAt time.Time
	// Fire is true when FireAt is no more than the max lateness ago.
	Fire bool
	// Late is how long after FireAt now is.
	Late time.Duration
	// Missed are the newest MaxMissedRecorded firings due before FireAt,
	// oldest first: recorded skipped, never fired. MissedTotal counts them
	// all (a lower bound when MissedCapped).
	Missed       []time.Time
	MissedTotal  int
	MissedCapped bool
	// Next is the firing after FireAt: the schedule's next_fire_at; zero
	// when it never fires again.
	Next time.Time
}

// Decide says what to do at now with a schedule whose next firing, due, is
// not after now: fire the latest due firing if it is no more than
// maxLateness late, else skip it; the earlier due firings (missed while no
// pushd ran) are skipped — never a burst of catch-up firings.
func Decide(c *Cron, due, now time.Time, maxLateness time.Duration) Decision {
	d := Decision{FireAt: due}
	ring := make([]time.Time, 0, MaxMissedRecorded)
	push := func(t time.Time) {
		d.MissedTotal++
		if len(ring) == MaxMissedRecorded {
			ring = append(ring[:0], ring[1:]...)
		}
		ring = append(ring, t)
	}
	for i := 0; ; i++ {
		n := c.Next(d.FireAt)
		if n.IsZero() || n.After(now) {
			d.Next = n
			break
		}
		if i == maxScan {
			// Down for ages on a frequent schedule: everything before the
			// max-lateness window is skipped anyway; count no further.
			d.MissedCapped = true
			push(d.FireAt)
			if j := c.Next(now.Add(-maxLateness)); !j.IsZero() && !j.After(now) && j.After(n) {
				d.FireAt = j
				continue
			}
			// No firing within it: n stands for the latest, skipped.
			d.FireAt, d.Next = n, c.Next(now)
			break
		}
		push(d.FireAt)
		d.FireAt = n
	}
	d.Missed = ring
	d.Late = now.Sub(d.FireAt)
	d.Fire = d.Late <= maxLateness
	return d
}
