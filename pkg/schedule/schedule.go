// Package schedule owns recurring schedules: a cron expression read in an
// IANA time zone (Cron: parsing, the next firings, daylight-saving rules),
// an action — the day's hot-goods run or a copy of a template promotion —
// and a max lateness; their storage in the schedule and schedule_firing
// tables; and the Runner, the pushd component that fires them.
//
// Each firing happens once across any number of pushd: it is claimed by
// inserting its schedule_firing row, keyed UNIQUE (schedule_id, fire_at), in
// the transaction that moves the schedule's next_fire_at on; the campaign it
// creates carries a request id derived from the schedule and the fire time,
// so a firing retried after its pushd died finds that campaign instead of
// creating a second. A firing missed while no pushd ran is fired once when
// one returns, if it is no later than the schedule's max lateness, and
// recorded skipped otherwise; older missed firings are recorded skipped,
// never fired in a burst.
package schedule

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mkt/pkg/campaign"
	"mkt/pkg/store"
	"mkt/pkg/textlimit"
)

// ErrInvalid is wrapped by every validation error of a schedule.
var ErrInvalid = errors.New("schedule: invalid")

// ErrNotFound is returned when no schedule has the id asked for (deleted
// schedules are found, with status deleted).
var ErrNotFound = errors.New("schedule: not found")

// ErrConflict is returned when a status change is not allowed from the
// schedule's status (e.g. resuming a deleted schedule).
var ErrConflict = errors.New("schedule: status conflict")

// Limits on operator input.
const (
	MaxNameLen         = 128
	MaxCronLen         = 255
	MaxZoneLen         = 64
	MinMaxLateness     = 10 * time.Second
	MaxMaxLateness     = 7 * 24 * time.Hour
	DefaultMaxLateness = time.Hour
)

// Action is what a firing does.
type Action string

// Actions.
const (
	// ActionHotGoods launches the pending hot-goods rows of the firing's
	// local date (hotgoods.Launch).
	ActionHotGoods Action = "hotgoods"
	// ActionCampaign creates a new promotion with the template campaign's
	// content, audience, channels and shard size.
	ActionCampaign Action = "campaign"
)

// Status is where a schedule is.
type Status string

// Schedule statuses.
const (
	StatusActive  Status = "active"
	StatusPaused  Status = "paused"
	StatusDeleted Status = "deleted"
)

// Spec is what an operator asks for when creating a schedule.
type Spec struct {
	Name string `json:"name"`
	Cron string `json:"cron"`
	Zone string `json:"time_zone"`
	// Action is what each firing does; TemplateKind and TemplateID name the
	// template campaign of ActionCampaign (only promotions can be copied).
	Action       Action        `json:"action"`
	TemplateKind campaign.Kind `json:"template_kind,omitempty"`
	TemplateID   uint64        `json:"template_campaign_id,omitempty"`
	MaxLateness  time.Duration `json:"max_lateness"`
	CreatedBy    string        `json:"created_by,omitempty"`
}

// Validate checks every field that needs no database and returns the
// parsed expression, or every problem at once.
func (s Spec) Validate() (*Cron, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...)))
	}
	c, err := Parse(s.Cron, s.Zone)
	if err != nil {
		errs = append(errs, err)
	}
	if utf8.RuneCountInString(strings.TrimSpace(s.Name)) > MaxNameLen {
		bad("name is longer than %d characters", MaxNameLen)
	}
	for _, f := range []struct{ name, value string }{{"name", s.Name}, {"created-by", s.CreatedBy}} {
		for _, p := range campaign.TextProblems(f.value, false) {
			bad("%s %s", f.name, p)
		}
	}
	if len(s.CreatedBy) > campaign.MaxCreatedByLen {
		bad("created-by is longer than %d characters", campaign.MaxCreatedByLen)
	}
	if s.MaxLateness < MinMaxLateness || s.MaxLateness > MaxMaxLateness {
		bad("max lateness %v: want %v..%v", s.MaxLateness, MinMaxLateness, MaxMaxLateness)
	}
	switch s.Action {
	case ActionHotGoods:
		if s.TemplateID != 0 {
			bad("a hot-goods schedule takes no template campaign")
		}
	case ActionCampaign:
		if err := TemplateKindProblem(s.TemplateKind); err != nil {
			errs = append(errs, err)
		}
		if s.TemplateID == 0 {
			bad("a campaign schedule needs its template campaign's id")
		}
	default:
		bad("action %q: want %s or %s", s.Action, ActionHotGoods, ActionCampaign)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// TemplateKindProblem says why campaigns of kind cannot be templates: only
// promotions are copied.
func TemplateKindProblem(kind campaign.Kind) error {
	switch kind {
	case campaign.KindPromotion, "":
		return nil
	case campaign.KindCoupon:
		return fmt.Errorf("%w: a coupon push cannot be a template: each copy would issue the same coupon again (create a coupon per period instead)", ErrInvalid)
	case campaign.KindHotGoods:
		return fmt.Errorf("%w: a hot-goods run cannot be a template: it launches one day's rows; schedule the daily run with --hotgoods", ErrInvalid)
	}
	return fmt.Errorf("%w: template campaign kind %q: only promotions can be copied", ErrInvalid, kind)
}

// Schedule is a stored schedule (a schedule row).
type Schedule struct {
	ID            uint64     `db:"id" json:"id"`
	Name          string     `db:"name" json:"name"`
	Cron          string     `db:"cron_expr" json:"cron"`
	Zone          string     `db:"time_zone" json:"time_zone"`
	Action        Action     `db:"action" json:"action"`
	TemplateID    *uint64    `db:"template_campaign_id" json:"template_campaign_id,omitempty"`
	MaxLatenessMs int64      `db:"max_lateness_ms" json:"max_lateness_ms"`
	Status        Status     `db:"status" json:"status"`
	NextFireAt    *time.Time `db:"next_fire_at" json:"next_fire_at,omitempty"`
	CreatedBy     string     `db:"created_by" json:"created_by,omitempty"`
	CreatedAt     time.Time  `db:"created_at" json:"created_at"`
	UpdatedAt     time.Time  `db:"updated_at" json:"updated_at"`
}

const scheduleColumns = `id, name, cron_expr, time_zone, action, template_campaign_id, max_lateness_ms, status,
	next_fire_at, created_by, created_at, updated_at`

// MaxLateness returns the schedule's max lateness.
func (s *Schedule) MaxLateness() time.Duration {
	return time.Duration(s.MaxLatenessMs) * time.Millisecond
}

// Parse parses the schedule's stored expression in its zone.
func (s *Schedule) Parse() (*Cron, error) {
	c, err := Parse(s.Cron, s.Zone)
	if err != nil {
		return nil, fmt.Errorf("schedule %d: stored expression: %w", s.ID, err)
	}
	return c, nil
}

// Describe says what a firing does, e.g. "hot-goods run of the day" or
// "copy of promotion 7".
func (s *Schedule) Describe() string {
	if s.Action == ActionCampaign && s.TemplateID != nil {
		return "copy of promotion " + strconv.FormatUint(*s.TemplateID, 10)
	}
	return "hot-goods run of the day"
}

// Create validates spec, checks its template campaign (it must exist and
// its copy must be a valid campaign), and stores the schedule, active, with
// its first firing after now. A validation error wraps ErrInvalid and
// nothing is stored.
func Create(ctx context.Context, h store.Handler, spec Spec, now time.Time) (*Schedule, error) {
	c, err := spec.Validate()
	if err != nil {
		return nil, err
	}
	var tmpl *uint64
	if spec.Action == ActionCampaign {
		t, err := campaign.Get(ctx, h, spec.TemplateID)
		if errors.Is(err, campaign.ErrNotFound) {
			return nil, fmt.Errorf("%w: template campaign %d: no such promotion", ErrInvalid, spec.TemplateID)
		}
		if err != nil {
			return nil, err
		}
		if _, err := TemplateSpec(t, 0, c.Next(now), c.Location()); err != nil {
			return nil, err
		}
		tmpl = &spec.TemplateID
	}
	next := c.Next(now)
	name := strings.TrimSpace(spec.Name)
	if name == "" {
		name = defaultName(spec)
	}
	res, err := h.ExecContext(ctx, `INSERT INTO schedule (name, cron_expr, time_zone, action, template_campaign_id,
		max_lateness_ms, status, next_fire_at, created_by) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?)`,
		name, c.String(), spec.Zone, spec.Action, tmpl, spec.MaxLateness.Milliseconds(), next.UTC(), spec.CreatedBy)
	if err != nil {
		return nil, fmt.Errorf("schedule: insert: %w", store.MapError(err))
	}
	id, err := res.LastInsertId()
	if err != nil {
		return nil, fmt.Errorf("schedule: insert id: %w", err)
	}
	return Get(ctx, h, uint64(id))
}

func defaultName(s Spec) string {
	what := "hot goods"
	if s.Action == ActionCampaign {
		what = "promotion " + strconv.FormatUint(s.TemplateID, 10)
	}
	return fmt.Sprintf("%s at %s %s", what, strings.Join(strings.Fields(s.Cron), " "), s.Zone)
}

// TemplateSpec is the campaign a firing at fireAt of schedule id creates
// from template t: its kind, amounts, message, channels, audience and shard
// size, named after the template and the firing's local time, starting at
// once. It errs (ErrInvalid) when the copy would not be a valid campaign.
func TemplateSpec(t *campaign.Campaign, scheduleID uint64, fireAt time.Time, loc *time.Location) (campaign.Spec, error) {
	suffix := fmt.Sprintf(" · %s", fireAt.In(loc).Format("2006-01-02 15:04 MST"))
	if scheduleID != 0 {
		suffix = fmt.Sprintf(" · schedule %d, %s", scheduleID, fireAt.In(loc).Format("2006-01-02 15:04 MST"))
	}
	name := t.Name
	name = textlimit.RunesMarked(name, campaign.MaxNameLen-utf8.RuneCountInString(suffix))
	s := campaign.Spec{
		Name: name + suffix, Offer: t.Offer, ThresholdCents: t.ThresholdCents, DiscountCents: t.DiscountCents,
		PercentOff: t.PercentOff, GiftText: t.GiftText, Template: t.Template, Channels: t.Channels,
		Audience: t.Audience, ShardSize: t.ShardSize, CreatedBy: "schedule:" + strconv.FormatUint(scheduleID, 10),
	}
	if err := s.Validate(fireAt); err != nil {
		return s, fmt.Errorf("%w: template campaign %d cannot be copied: %s", ErrInvalid, t.ID,
			strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return s, nil
}

// Get loads a schedule; ErrNotFound when there is none.
func Get(ctx context.Context, h store.Handler, id uint64) (*Schedule, error) {
	var s Schedule
	err := h.GetContext(ctx, &s, `SELECT `+scheduleColumns+` FROM schedule WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("schedule: load %d: %w", id, store.MapError(err))
	}
	return &s, nil
}

// List returns the schedules, oldest first; deleted ones only when
// withDeleted.
func List(ctx context.Context, h store.Handler, withDeleted bool) ([]Schedule, error) {
	q := `SELECT ` + scheduleColumns + ` FROM schedule`
	if !withDeleted {
		q += ` WHERE status <> 'deleted'`
	}
	out := []Schedule{}
	if err := h.SelectContext(ctx, &out, q+` ORDER BY id LIMIT 1000`); err != nil {
		return nil, fmt.Errorf("schedule: list: %w", store.MapError(err))
	}
	return out, nil
}

// Upcoming returns up to limit active schedules, soonest next firing first.
func Upcoming(ctx context.Context, h store.Handler, limit int) ([]Schedule, error) {
	out := []Schedule{}
	if err := h.SelectContext(ctx, &out, `SELECT `+scheduleColumns+` FROM schedule
		WHERE status = 'active' AND next_fire_at IS NOT NULL ORDER BY next_fire_at, id LIMIT ?`, limit); err != nil {
		return nil, fmt.Errorf("schedule: upcoming firings: %w", store.MapError(err))
	}
	return out, nil
}

// Change is the outcome of Pause, Resume or Delete.
type Change struct {
	Schedule *Schedule `json:"schedule"`
	// Changed is false when the schedule already was in the status asked.
	Changed bool `json:"changed"`
}

// Pause stops a schedule's firings until Resume (a firing in progress
// finishes). Pausing a paused schedule changes nothing; a deleted one is a
// conflict.
func Pause(ctx context.Context, h store.Handler, id uint64) (Change, error) {
	return setStatus(ctx, h, id, StatusPaused, `status = 'paused', next_fire_at = NULL`, []Status{StatusActive})
}

// Resume makes a paused schedule active again from now: its next firing is
// the first after now; firings that fell in the pause are not made up.
func Resume(ctx context.Context, h store.Handler, id uint64, now time.Time) (Change, error) {
	s, err := Get(ctx, h, id)
	if err != nil {
		return Change{}, err
	}
	c, err := s.Parse()
	if err != nil {
		return Change{}, err
	}
	var next any
	if n := c.Next(now); !n.IsZero() {
		next = n.UTC()
	}
	return setStatus(ctx, h, id, StatusActive, `status = 'active', next_fire_at = ?`, []Status{StatusPaused}, next)
}

// Delete ends a schedule for good: it never fires again and is listed only
// with its deleted status; its firings stay on record.
func Delete(ctx context.Context, h store.Handler, id uint64) (Change, error) {
	return setStatus(ctx, h, id, StatusDeleted, `status = 'deleted', next_fire_at = NULL`, []Status{StatusActive, StatusPaused})
}

func setStatus(ctx context.Context, h store.Handler, id uint64, to Status, set string, from []Status, args ...any) (Change, error) {
	in := make([]string, len(from))
	for i, f := range from {
		in[i] = "'" + string(f) + "'" // constants of this package
	}
	res, err := h.ExecContext(ctx, `UPDATE schedule SET `+set+` WHERE id = ? AND status IN (`+strings.Join(in, ",")+`)`,
		append(args, id)...)
	if err != nil {
		return Change{}, fmt.Errorf("schedule %d: set %s: %w", id, to, store.MapError(err))
	}
	n, _ := res.RowsAffected()
	s, err := Get(ctx, h, id)
	if err != nil {
		return Change{}, err
	}
	switch {
	case n == 1:
		return Change{Schedule: s, Changed: true}, nil
	case s.Status == to:
		return Change{Schedule: s}, nil
	}
	return Change{Schedule: s}, fmt.Errorf("%w: schedule %d is %s", ErrConflict, id, s.Status)
}
