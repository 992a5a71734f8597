package membership

import (
	"math/bits"
	"strings"
	"testing"
	"time"
)

func TestSyntheticIsDeterministic(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, id := range []int64{1, 2, 999, 123_456, 9_999_999} {
		a, b := Synthetic(id, now), Synthetic(id, now)
		if a != b {
			t.Errorf("Synthetic(%d) differs between calls:\n%+v\n%+v", id, a, b)
		}
		later := Synthetic(id, now.Add(48*time.Hour))
		later.LastLoginAt, a.LastLoginAt = time.Time{}, time.Time{}
		if later != a {
			t.Errorf("Synthetic(%d) attributes depend on now:\n%+v\n%+v", id, a, later)
		}
	}
	if Synthetic(1, now) == Synthetic(2, now) {
		t.Error("members 1 and 2 are identical")
	}
}

func TestSyntheticDomainsAndSpread(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const n = 200_000
	var (
		levels                        [MaxLevel + 1]int
		inactive, daily, never, email int
		push, disabled                int
		tagCounts                     [5]int
		tagUse                        [NumTags]int
	)
	usernames := map[string]bool{}
	for id := int64(1); id <= n; id++ {
		m := Synthetic(id, now)
		if m.ID != id || usernames[m.Username] || !strings.HasPrefix(m.Username, "member") {
			t.Fatalf("member %d: bad or duplicate username %q", id, m.Username)
		}
		usernames[m.Username] = true
		if m.Level < MinLevel || m.Level > MaxLevel {
			t.Fatalf("member %d: level %d", id, m.Level)
		}
		levels[m.Level]++
		if m.ActiveDays < 0 || m.ActiveDays > MaxActiveDays {
			t.Fatalf("member %d: active days %d", id, m.ActiveDays)
		}
		if m.Points < 0 || m.Points > m.LifetimePoints {
			t.Fatalf("member %d: points %d > lifetime %d", id, m.Points, m.LifetimePoints)
		}
		band := levelBands[m.Level]
		if m.LifetimePoints < band[0] || m.LifetimePoints >= band[1] {
			t.Fatalf("member %d: lifetime %d outside level %d band %v", id, m.LifetimePoints, m.Level, band)
		}
		c := bits.OnesCount64(m.Tags)
		if c > 4 || m.Tags>>NumTags != 0 {
			t.Fatalf("member %d: tags %b", id, m.Tags)
		}
		tagCounts[c]++
		for _, tag := range TagsOf(m.Tags) {
			tagUse[tag]++
		}
		if len(m.Mobile) != 11 || m.Mobile[0] != '1' {
			t.Fatalf("member %d: mobile %q", id, m.Mobile)
		}
		if m.Email != "" {
			email++
			if !strings.HasPrefix(m.Email, m.Username+"@example.") {
				t.Fatalf("member %d: email %q", id, m.Email)
			}
		}
		if m.PushToken != "" {
			push++
			if len(m.PushToken) != 32 {
				t.Fatalf("member %d: push token %q", id, m.PushToken)
			}
		}
		if m.Status == StatusDisabled {
			disabled++
		} else if m.Status != StatusActive {
			t.Fatalf("member %d: status %q", id, m.Status)
		}
		switch m.ActiveDays {
		case 0:
			inactive++
		case MaxActiveDays:
			daily++
		}
		if m.LastLoginAt.IsZero() {
			never++
			if m.ActiveDays > 0 {
				t.Fatalf("member %d: active %d days but never logged in", id, m.ActiveDays)
			}
		} else {
			if m.LastLoginAt.After(now) || m.LastLoginAt.Before(m.CreatedAt) {
				t.Fatalf("member %d: last login %s outside [created %s, now]", id, m.LastLoginAt, m.CreatedAt)
			}
			recent := now.Sub(m.LastLoginAt) <= (MaxActiveDays+1)*24*time.Hour
			if recent != (m.ActiveDays > 0) {
				t.Fatalf("member %d: active %d days, last login %s", id, m.ActiveDays, m.LastLoginAt)
			}
		}
	}
	near := func(name string, got int, wantPerMille int) {
		t.Helper()
		if lo, hi := n*(wantPerMille-15)/1000, n*(wantPerMille+15)/1000; got < lo || got > hi {
			t.Errorf("%s: %d of %d, want about %d‰", name, got, n, wantPerMille)
		}
	}
	near("level 1", levels[1], 500)
	near("level 2", levels[2], 250)
	near("level 3", levels[3], 150)
	near("level 4", levels[4], 70)
	near("level 5", levels[5], 30)
	near("inactive", inactive, 350)
	near("daily active", daily, 50)
	near("never logged in", never, 70)
	near("with e-mail", email, 850)
	near("with push token", push, 700)
	near("disabled", disabled, 20)
	near("0 tags", tagCounts[0], 200)
	near("4 tags", tagCounts[4], 100)
	for tag, c := range tagUse {
		if c < n/NumTags/2 {
			t.Errorf("tag %s used %d times: badly spread", Tag(tag), c)
		}
	}
}

func TestAppendDatetime(t *testing.T) {
	t.Parallel()
	for _, ts := range []time.Time{
		time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(2024, 2, 29, 7, 5, 3, 42_000_000, time.UTC),
	} {
		got := string(appendDatetime(nil, ts.UnixMilli()))
		if want := ts.Format("2006-01-02 15:04:05.000"); got != want {
			t.Errorf("appendDatetime(%s) = %q, want %q", ts, got, want)
		}
	}
}

func BenchmarkGenerateRows(b *testing.B) {
	now := time.Now()
	tables := seedTables()
	var buf []byte
	b.ReportAllocs()
	for i := range b.N {
		a := attributesOf(int64(i+1), now)
		buf = buf[:0]
		for _, t := range tables {
			buf = t.appendRow(buf, &a, now.UnixMilli())
		}
	}
}
