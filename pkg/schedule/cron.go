package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // zones resolve the same on every host, with or without /usr/share/zoneinfo

	"github.com/robfig/cron/v3"
)

// ErrNeverFires is wrapped by Parse's error for an expression that names no
// instant within the next five years (e.g. "0 0 30 2 *").
var ErrNeverFires = errors.New("schedule: the expression never fires")

// parser reads standard five-field expressions (minute, hour, day of month,
// month, day of week) and the @yearly, @monthly, @weekly, @daily and
// @hourly descriptors. There is no seconds field.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// allHours is the hour bit set of an expression whose hour field matches
// every hour.
const allHours = 1<<24 - 1

// lookback is how far before a given instant's wall clock Next looks for
// wall-clock firings that a daylight-saving gap moved past it.
const lookback = 3 * time.Hour

// Cron is a parsed cron expression read in a time zone. It is immutable and
// safe for concurrent use.
//
// Daylight-saving time follows RFC 5545 (iCalendar) for expressions that
// name particular hours ("30 2 * * *", "0 9-17 * * 1-5", @daily): a local
// time that occurs twice (the clocks go back) fires once, at its first
// occurrence; a local time that does not exist (the clocks go forward) fires
// at the offset in force before the change, i.e. moved later by the gap
// (02:30 on the spring-forward day in New York fires at 03:30 EDT, exactly
// 24 hours after the day before's). Expressions whose hour field matches
// every hour ("*/15 * * * *", @hourly) fire by elapsed time instead: at
// every matching instant, so twice in an hour that occurs twice and not in
// an hour that does not exist.
type Cron struct {
	expr      string
	loc       *time.Location
	spec      *cron.SpecSchedule
	everyHour bool
}

// Parse parses expr read in the IANA zone (e.g. "Asia/Shanghai"; "UTC").
// Every problem is an error wrapping ErrInvalid (or ErrNeverFires).
func Parse(expr, zone string) (*Cron, error) {
	loc, err := LoadZone(zone)
	if err != nil {
		return nil, err
	}
	expr = strings.Join(strings.Fields(expr), " ")
	switch {
	case expr == "":
		return nil, fmt.Errorf("%w: cron expression is empty", ErrInvalid)
	case len(expr) > MaxCronLen:
		return nil, fmt.Errorf("%w: cron expression is longer than %d characters", ErrInvalid, MaxCronLen)
	case strings.HasPrefix(expr, "@every"):
		return nil, fmt.Errorf("%w: cron expression %q: @every is an interval from whenever a daemon started, not a calendar time; write it as fields, e.g. \"*/5 * * * *\"", ErrInvalid, expr)
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return nil, fmt.Errorf("%w: cron expression %q: give the zone with --tz, not in the expression", ErrInvalid, expr)
	}
	sched, err := parser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("%w: cron expression %q: %w (want five fields: minute hour day-of-month month day-of-week, or @hourly/@daily/@weekly/@monthly/@yearly)", ErrInvalid, expr, err)
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("%w: cron expression %q: not a calendar expression", ErrInvalid, expr)
	}
	c := &Cron{expr: expr, loc: loc, spec: spec, everyHour: spec.Hour&allHours == allHours}
	if c.wallNext(time.Now()).IsZero() {
		return nil, fmt.Errorf("%w: %q names no time in the next five years", ErrNeverFires, expr)
	}
	return c, nil
}

// LoadZone loads an IANA zone by name. "Local" and the empty name are
// refused: a schedule must mean the same on every host.
func LoadZone(zone string) (*time.Location, error) {
	switch {
	case zone == "" || zone == "Local":
		return nil, fmt.Errorf("%w: time zone %q: want an IANA name such as Asia/Shanghai or UTC", ErrInvalid, zone)
	case len(zone) > MaxZoneLen:
		return nil, fmt.Errorf("%w: time zone is longer than %d characters", ErrInvalid, MaxZoneLen)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("%w: time zone %q: not an IANA time zone (e.g. Asia/Shanghai, America/New_York, UTC)", ErrInvalid, zone)
	}
	return loc, nil
}

// String returns the expression as parsed (spaces normalised).
func (c *Cron) String() string { return c.expr }

// Location returns the zone the expression is read in.
func (c *Cron) Location() *time.Location { return c.loc }

// Next returns the first firing strictly after t, in the schedule's zone;
// the zero time when there is none within five years.
func (c *Cron) Next(t time.Time) time.Time {
	if c.everyHour {
		n := c.spec.Next(t.In(c.loc))
		if n.IsZero() {
			return n
		}
		return n.In(c.loc)
	}
	return c.wallNext(t)
}

// NextN returns the next n firings after t.
func (c *Cron) NextN(t time.Time, n int) []time.Time {
	out := make([]time.Time, 0, n)
	for len(out) < n {
		t = c.Next(t)
		if t.IsZero() {
			break
		}
		out = append(out, t)
	}
	return out
}

// wallNext is Next for expressions naming particular hours: the wall-clock
// times the expression names are enumerated on a clock without
// daylight-saving changes (UTC) and each is placed in the zone by resolve.
// A gap moves a wall time later, so the candidates start lookback before
// t's wall clock, and the earliest instant after t wins.
func (c *Cron) wallNext(t time.Time) time.Time {
	after := t.In(c.loc)
	wall := naive(after)
	cur := wall.Add(-lookback)
	var best time.Time
	for range 100_000 {
		cand := c.spec.Next(cur)
		if cand.IsZero() {
			break
		}
		if at := resolve(cand, c.loc); at.After(after) && (best.IsZero() || at.Before(best)) {
			best = at
		}
		if !best.IsZero() && cand.After(wall.Add(lookback)) {
			break
		}
		cur = cand
	}
	return best
}

// naive returns t's wall clock read as UTC.
func naive(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// resolve places the wall clock w (its fields, read as UTC) in loc as RFC
// 5545 does: the first occurrence of a time that occurs twice; for a time
// that does not occur, the offset in force before the gap.
func resolve(w time.Time, loc *time.Location) time.Time {
	_, before := time.Unix(w.Unix()-86400, 0).In(loc).Zone()
	_, after := time.Unix(w.Unix()+86400, 0).In(loc).Zone()
	var found time.Time
	for _, off := range []int{before, after} {
		at := time.Unix(w.Unix()-int64(off), int64(w.Nanosecond())).In(loc)
		if naive(at).Equal(w) && (found.IsZero() || at.Before(found)) {
			found = at
		}
	}
	if !found.IsZero() {
		return found
	}
	return time.Unix(w.Unix()-int64(before), int64(w.Nanosecond())).In(loc)
}
