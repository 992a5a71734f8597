package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, expr, zone string) *Cron {
	t.Helper()
	c, err := Parse(expr, zone)
	if err != nil {
		t.Fatalf("Parse(%q, %q): %v", expr, zone, err)
	}
	return c
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// expectFirings checks the next firings after from, in UTC.
func expectFirings(t *testing.T, c *Cron, from string, want ...string) {
	t.Helper()
	got := c.NextN(utc(from), len(want))
	if len(got) != len(want) {
		t.Fatalf("%s in %s after %s: got %d firings %v, want %v", c, c.Location(), from, len(got), got, want)
	}
	for i := range want {
		if !got[i].Equal(utc(want[i])) {
			t.Errorf("%s in %s after %s: firing %d is %s (%s), want %s", c, c.Location(), from, i,
				got[i].UTC().Format(time.RFC3339), got[i].Format("2006-01-02 15:04 MST"), want[i])
		}
		if got[i].Location() != c.Location() {
			t.Errorf("firing %d is in %v, want the schedule's zone", i, got[i].Location())
		}
	}
}

func TestNextInAZoneWithoutDST(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "0 10 * * *", "Asia/Shanghai")
	expectFirings(t, c, "2026-03-01T00:00:00Z", "2026-03-01T02:00:00Z", "2026-03-02T02:00:00Z")
	// Strictly after: a firing at exactly t is not "next".
	expectFirings(t, c, "2026-03-01T02:00:00Z", "2026-03-02T02:00:00Z")
	expectFirings(t, mustParse(t, "  */20   9 * * 1-5 ", "UTC"), "2026-03-06T09:30:00Z", // a Friday
		"2026-03-06T09:40:00Z", "2026-03-09T09:00:00Z", "2026-03-09T09:20:00Z")
	expectFirings(t, mustParse(t, "@daily", "Asia/Shanghai"), "2026-03-01T00:00:00Z", "2026-03-01T16:00:00Z")
}

// TestNewYorkDST: America/New_York moves from EST (-5) to EDT (-4) at 02:00
// on 2026-03-08 and back at 02:00 EDT on 2026-11-01.
func TestNewYorkDST(t *testing.T) {
	t.Parallel()
	ny := "America/New_York"
	// A fixed time keeps its wall clock across the change.
	expectFirings(t, mustParse(t, "0 10 * * *", ny), "2026-03-07T00:00:00Z",
		"2026-03-07T15:00:00Z", "2026-03-08T14:00:00Z", "2026-03-09T14:00:00Z")
	expectFirings(t, mustParse(t, "0 10 * * *", ny), "2026-10-31T00:00:00Z",
		"2026-10-31T14:00:00Z", "2026-11-01T15:00:00Z", "2026-11-02T15:00:00Z")
	// 02:30 does not exist on 2026-03-08: it fires at 03:30 EDT, 24 hours
	// after the day before's, and the day after at 02:30 EDT again.
	expectFirings(t, mustParse(t, "30 2 * * *", ny), "2026-03-07T00:00:00Z",
		"2026-03-07T07:30:00Z", "2026-03-08T07:30:00Z", "2026-03-09T06:30:00Z")
	// 02:00 and 03:00 both land on 03:00 EDT that day: one firing.
	expectFirings(t, mustParse(t, "0 2,3 * * *", ny), "2026-03-08T00:00:00Z",
		"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z", "2026-03-09T07:00:00Z")
	// 01:30 occurs twice on 2026-11-01: it fires once, at the first (EDT).
	expectFirings(t, mustParse(t, "30 1 * * *", ny), "2026-10-31T00:00:00Z",
		"2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z")
	// ... also when asked from inside the repeated hour.
	expectFirings(t, mustParse(t, "30 1 * * *", ny), "2026-11-01T06:10:00Z", "2026-11-02T06:30:00Z")
	// Every hour by elapsed time: nothing in the missing hour, both copies
	// of the repeated one.
	expectFirings(t, mustParse(t, "*/30 * * * *", ny), "2026-03-08T05:45:00Z", // 00:45 EST
		"2026-03-08T06:00:00Z", "2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z")
	expectFirings(t, mustParse(t, "*/30 * * * *", ny), "2026-11-01T04:45:00Z", // 00:45 EDT
		"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z")
	expectFirings(t, mustParse(t, "@hourly", ny), "2026-11-01T04:30:00Z",
		"2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z", "2026-11-01T07:00:00Z")
	// In its own zone a firing reads as the expression says.
	first := mustParse(t, "0 10 * * *", ny).Next(utc("2026-03-08T00:00:00Z"))
	if got := first.Format("15:04 MST"); got != "10:00 EDT" {
		t.Errorf("local time of the first firing after the change: %s", got)
	}
}

// TestFiringsIncreaseAndMatch steps through a year in zones with DST
// changes of an hour and of half an hour, in both hemispheres: firings
// strictly increase, and each one not moved by a gap shows the wall clock
// the expression names.
func TestFiringsIncreaseAndMatch(t *testing.T) {
	t.Parallel()
	for _, zone := range []string{"America/New_York", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe", "America/Santiago", "Asia/Shanghai"} {
		for _, tc := range []struct {
			expr       string
			hour, minu int // -1: any
		}{
			{"30 2 * * *", 2, 30}, {"0 0 * * *", 0, 0}, {"15 1 * * 0", 1, 15}, {"*/15 * * * *", -1, -1}, {"45 23 * * *", 23, 45},
		} {
			c := mustParse(t, tc.expr, zone)
			prev := time.Date(2026, 1, 1, 0, 0, 0, 0, c.Location()).Add(-time.Nanosecond)
			n := 0
			for range 20000 {
				next := c.Next(prev)
				if next.IsZero() || next.Year() > 2026 {
					break
				}
				if !next.After(prev) {
					t.Fatalf("%s in %s: %s after %s does not increase", tc.expr, zone, next, prev)
				}
				// A wall clock moved by a gap is later than named by at most the gap.
				if tc.hour >= 0 && (next.Hour() != tc.hour || next.Minute() != tc.minu) {
					named := time.Date(next.Year(), next.Month(), next.Day(), tc.hour, tc.minu, 0, 0, time.UTC)
					if shift := naive(next).Sub(named); shift <= 0 || shift > time.Hour {
						t.Errorf("%s in %s: fires at %s", tc.expr, zone, next.Format("2006-01-02 15:04 MST"))
					}
				}
				prev = next
				n++
			}
			if tc.hour >= 0 && tc.expr != "15 1 * * 0" && (n < 364 || n > 365) {
				t.Errorf("%s in %s: %d firings in 2026, want one a day", tc.expr, zone, n)
			}
		}
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ expr, zone, want string }{
		{"", "UTC", "empty"},
		{"61 * * * *", "UTC", "61"},
		{"* * *", "UTC", "five fields"},
		{"0 0 10 * * *", "UTC", "five fields"},
		{"@every 5m", "UTC", "@every"},
		{"CRON_TZ=Asia/Tokyo 0 10 * * *", "UTC", "--tz"},
		{"0 10 * * *", "Mars/Olympus_Mons", "not an IANA time zone"},
		{"0 10 * * *", "Local", "IANA"},
		{"0 10 * * *", "", "IANA"},
		{"0 10 * * *", strings.Repeat("A", 70), "longer than"},
		{strings.Repeat("1", 300), "UTC", "longer than"},
		{"0 0 30 2 *", "UTC", "names no time"},
	} {
		_, err := Parse(tc.expr, tc.zone)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q, %q) = %v, want an error with %q", tc.expr, tc.zone, err, tc.want)
		}
		if err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrNeverFires) {
			t.Errorf("Parse(%q, %q): %v wraps neither ErrInvalid nor ErrNeverFires", tc.expr, tc.zone, err)
		}
	}
}

func TestDecide(t *testing.T) {
	t.Parallel()
	hourly := mustParse(t, "0 * * * *", "UTC")
	// On time: fire, nothing missed.
	d := Decide(hourly, utc("2026-03-01T10:00:00Z"), utc("2026-03-01T10:00:01Z"), time.Hour)
	if !d.Fire || len(d.Missed) != 0 || !d.FireAt.Equal(utc("2026-03-01T10:00:00Z")) || !d.Next.Equal(utc("2026-03-01T11:00:00Z")) {
		t.Errorf("on time: %+v", d)
	}
	// Back at 12:30 after missing 10:00 and 11:00: fire 12:00 only.
	d = Decide(hourly, utc("2026-03-01T10:00:00Z"), utc("2026-03-01T12:30:00Z"), time.Hour)
	if !d.Fire || d.MissedTotal != 2 || len(d.Missed) != 2 || !d.Missed[0].Equal(utc("2026-03-01T10:00:00Z")) ||
		!d.FireAt.Equal(utc("2026-03-01T12:00:00Z")) || d.Late != 30*time.Minute || !d.Next.Equal(utc("2026-03-01T13:00:00Z")) {
		t.Errorf("catch-up: %+v", d)
	}
	// Back 90 minutes after a daily firing with 1 h max lateness: skip.
	daily := mustParse(t, "0 10 * * *", "Asia/Shanghai")
	d = Decide(daily, utc("2026-03-01T02:00:00Z"), utc("2026-03-01T03:30:00Z"), time.Hour)
	if d.Fire || d.MissedTotal != 0 || !d.Next.Equal(utc("2026-03-02T02:00:00Z")) {
		t.Errorf("late: %+v", d)
	}
	// A year down on an every-minute schedule: bounded work, the newest
	// MaxMissedRecorded recorded, the latest due fired.
	minutely := mustParse(t, "* * * * *", "UTC")
	d = Decide(minutely, utc("2025-03-01T00:00:00Z"), utc("2026-03-01T00:00:30Z"), time.Hour)
	if !d.Fire || !d.MissedCapped || len(d.Missed) != MaxMissedRecorded || !d.FireAt.Equal(utc("2026-03-01T00:00:00Z")) ||
		d.MissedTotal < maxScan {
		t.Errorf("a year down: fire %v at %v, missed %d (capped %v), recorded %d", d.Fire, d.FireAt, d.MissedTotal, d.MissedCapped, len(d.Missed))
	}
	// Never again: Next is zero.
	once := mustParse(t, "0 0 1 1 *", "UTC")
	if d := Decide(once, utc("2026-01-01T00:00:00Z"), utc("2026-01-01T00:00:01Z"), time.Hour); d.Next.IsZero() || !d.Fire {
		t.Errorf("yearly: %+v", d)
	}
}

func TestRequestIDFitsCampaigns(t *testing.T) {
	t.Parallel()
	id := RequestID(18446744073709551615, utc("2026-03-01T02:00:00Z"))
	if id != "schedule-18446744073709551615-20260301T0200Z" || len(id) > 64 {
		t.Errorf("request id %q", id)
	}
}
