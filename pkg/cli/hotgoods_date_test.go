package cli

import (
	"errors"
	"testing"
	"time"
)

// TestHotgoodsRunDate: --date today is the date in --tz at the moment it
// runs; a bad zone, an empty one or --tz with an explicit date is a usage
// error.
func TestHotgoodsRunDate(t *testing.T) {
	t.Parallel()
	// 2026-12-01 17:30 UTC is already 2 December in Shanghai (UTC+8) and
	// still 1 December in New York.
	now := time.Date(2026, 12, 1, 17, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		date, tz string
		tzGiven  bool
		want     string // YYYY-MM-DD, or "" for a usage error
	}{
		{"today", "Asia/Shanghai", true, "2026-12-02"},
		{"today", "America/New_York", true, "2026-12-01"},
		{"today", "UTC", false, "2026-12-01"},
		{"2026-11-30", "Asia/Shanghai", false, "2026-11-30"}, // zone from the environment: ignored
		{"2026-11-30", "Asia/Shanghai", true, ""},            // --tz with an explicit date
		{"today", "Mars/Olympus_Mons", true, ""},
		{"today", "../../etc/passwd", true, ""},
		{"today", "", true, ""},
		{"Today", "UTC", false, ""},
		{"", "UTC", false, ""},
	} {
		got, err := hotgoodsRunDate(tc.date, tc.tz, tc.tzGiven, now)
		if tc.want == "" {
			if !errors.Is(err, ErrUsage) {
				t.Errorf("%q in %q: %v, %v; want a usage error", tc.date, tc.tz, got, err)
			}
			continue
		}
		if err != nil || got.Format(time.DateOnly) != tc.want || got.Location() != time.UTC || got.Hour() != 0 {
			t.Errorf("%q in %q: %v, %v; want %s 00:00 UTC", tc.date, tc.tz, got, err, tc.want)
		}
	}
}

// TestHotgoodsRunTodayFlags: the command reads --date today with --tz and
// MKT_HOTGOODS_TZ; refusals exit 2 before anything is opened.
func TestHotgoodsRunTodayFlags(t *testing.T) {
	t.Setenv("MKT_HOTGOODS_TZ", "Pacific/Kiritimati") // UTC+14: never behind UTC's date
	var got *hotgoodsRunOptions
	cmd := newHotgoodsRunCmd(&App{}, &campaignQueues{}, func(o *hotgoodsRunOptions) error { got = o; return nil })
	if err := runCmd(cmd, "--date", "today"); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC().Truncate(24 * time.Hour)
	if got == nil || got.Date.Before(before) || got.Date.After(before.Add(24*time.Hour)) {
		t.Errorf("--date today in Pacific/Kiritimati = %v, want today or tomorrow in UTC", got)
	}
	expectUsage(t, []string{"hotgoods", "run", "--date", "today", "--tz", "Nowhere/City"}, `--tz "Nowhere/City": unknown time zone`)
	expectUsage(t, []string{"hotgoods", "run", "--date", "2026-12-02", "--tz", "UTC"}, "--tz applies to --date today only")
	expectUsage(t, []string{"hotgoods", "run", "--date", "yesterday"}, "--date: ")
}
