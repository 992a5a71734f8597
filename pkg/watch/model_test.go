package watch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/muesli/termenv"

	"mkt/pkg/campaign"
	"mkt/pkg/provider"
)

// The goldens are drawn without colour so that they read as text and do not
// depend on the terminal running the tests; `go test ./pkg/watch -update`
// rewrites them.
func TestMain(m *testing.M) {
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

var t0 = time.Date(2026, 12, 1, 12, 3, 0, 0, time.UTC)

// promo is a running promotion of shards shards, 1,000 members each, with
// done shards finished and the next running ones at half their range.
func promo(id uint64, name string, shards, done, running int, at time.Time) Run {
	planned := t0.Add(-2 * time.Minute)
	r := Run{Summary: campaign.Summary{Kind: campaign.KindPromotion, ID: id, Name: name, Status: campaign.StatusRunning,
		Channels:       []provider.Channel{provider.ChannelSMS, provider.ChannelApp, provider.ChannelInbox},
		PlannedMembers: int64(shards) * 1000, PlannedShards: shards, CreatedAt: planned.Add(-time.Second), PlannedAt: &planned}}
	p := &r.Progress
	p.Shards, p.Done, p.Running, p.Pending = shards, done, running, shards-done-running
	p.Expected = int64(shards) * 1000
	r.Processed = int64(done)*1000 + int64(running)*500
	p.Sent = 3*r.Processed - 40
	p.FailedN = 40
	r.Percent = 100 * float64(r.Processed) / float64(p.Expected)
	r.Live = &campaign.Live{Channels: []campaign.ChannelCount{
		{Channel: provider.ChannelSMS, Sent: r.Processed - 40, Failed: 40},
		{Channel: provider.ChannelApp, Sent: r.Processed},
		{Channel: provider.ChannelInbox, Sent: r.Processed},
	}, Members: map[string]int64{"host-a:101:aa": r.Processed / 2, "host-b:202:bb": r.Processed - r.Processed/2}}
	r.ElapsedSeconds = at.Sub(planned).Seconds()
	return r
}

// advance counts n more members processed in r, and its percentage with
// them.
func advance(r *Run, n int) {
	r.Processed += int64(n)
	r.Percent = 100 * float64(r.Processed) / float64(r.Progress.Expected)
}

// heat lays out a run's shards as the Source would for cells cells: done
// first, then running, then pending.
func heat(r *Run, cells int) {
	p := r.Progress
	per := max(1, (p.Shards+cells-1)/cells)
	h := &campaign.Heatmap{Shards: p.Shards, PerCell: per, Cells: make([]campaign.ShardStatus, (p.Shards+per-1)/per)}
	for i := range h.Cells {
		lo, hi := i*per, min((i+1)*per, p.Shards) // shards lo..hi-1
		switch {
		case hi <= p.Done:
			h.Cells[i] = campaign.ShardDone
		case lo < p.Done+p.Running:
			h.Cells[i] = campaign.ShardRunning
		default:
			h.Cells[i] = campaign.ShardPending
		}
	}
	r.Heatmap = h
}

func workers(runningA, runningB int) []Worker {
	return []Worker{
		{Worker: campaign.Worker{Owner: "host-a:101:aa", Shards: runningA}},
		{Worker: campaign.Worker{Owner: "host-b:202:bb", Shards: runningB}},
	}
}

// feed applies messages to m in order and returns the model.
func feed(t *testing.T, m Model, msgs ...tea.Msg) Model {
	t.Helper()
	for _, msg := range msgs {
		next, _ := m.Update(msg)
		m = next.(Model)
	}
	return m
}

func size(w, h int) tea.WindowSizeMsg { return tea.WindowSizeMsg{Width: w, Height: h} }

func keys(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

// sizes are the terminals every golden is drawn for.
var sizes = []struct{ w, h int }{{80, 24}, {160, 48}}

func goldens(t *testing.T, build func(w, h int) Model) {
	t.Helper()
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			m := build(sz.w, sz.h)
			out := m.View()
			for i, line := range strings.Split(out, "\n") {
				if w := lipgloss.Width(line); w > sz.w {
					t.Errorf("line %d is %d cells wide, more than %d: %q", i+1, w, sz.w, line)
				}
			}
			if n := strings.Count(out, "\n") + 1; n > sz.h {
				t.Errorf("%d lines, more than %d", n, sz.h)
			}
			golden.RequireEqual(t, []byte(out))
		})
	}
}

// twoSnapshots are the same runs 1 s apart, the second having processed
// 2,000 more members per run (2,000 members/s).
func twoSnapshots(runs func(at time.Time, extra int) []Run, ws []Worker) (Snapshot, Snapshot) {
	a := Snapshot{At: t0.Add(-time.Second), Runs: runs(t0.Add(-time.Second), 0), Workers: ws}
	b := Snapshot{At: t0, Runs: runs(t0, 2000), Workers: ws}
	return a, b
}

func TestViewEmpty(t *testing.T) {
	goldens(t, func(w, h int) Model {
		return feed(t, New(Config{}), size(w, h), snapshotMsg(Snapshot{At: t0}))
	})
}

func TestViewOneRunning(t *testing.T) {
	goldens(t, func(w, h int) Model {
		m := feed(t, New(Config{}), size(w, h))
		a, b := twoSnapshots(func(at time.Time, extra int) []Run {
			r := promo(7, "Spring sale", 200, 60, 64, at)
			advance(&r, extra)
			r.Live.Members["host-a:101:aa"] += int64(extra)
			heat(&r, m.heatCapacity())
			return []Run{r}
		}, workers(32, 32))
		return feed(t, m, snapshotMsg(a), snapshotMsg(b))
	})
}

// TestViewUpcomingFirings: the all-campaigns view lists the schedules'
// next firings, each in its zone and relative to the snapshot.
func TestViewUpcomingFirings(t *testing.T) {
	goldens(t, func(w, h int) Model {
		m := feed(t, New(Config{}), size(w, h))
		a, b := twoSnapshots(func(at time.Time, extra int) []Run {
			r := promo(7, "Spring sale", 200, 60, 64, at)
			advance(&r, extra)
			heat(&r, m.heatCapacity())
			return []Run{r}
		}, workers(32, 32))
		b.Upcoming = []Upcoming{
			{ScheduleID: 2, Name: "hot goods at 0 22 * * * Asia/Shanghai", Does: "hot-goods run of the day",
				FireAt: time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC), Zone: "Asia/Shanghai"},
			{ScheduleID: 1, Name: "Nightly gift", Does: "copy of promotion 3",
				FireAt: time.Date(2026, 12, 2, 7, 30, 0, 0, time.UTC), Zone: "America/New_York"},
		}
		return feed(t, m, snapshotMsg(a), snapshotMsg(b))
	})
}

func TestView10000Shards(t *testing.T) {
	goldens(t, func(w, h int) Model {
		m := feed(t, New(Config{Target: Target{Kind: campaign.KindPromotion, ID: 42}}), size(w, h))
		a, b := twoSnapshots(func(at time.Time, extra int) []Run {
			r := promo(42, "Ten million members", 10000, 4200, 128, at)
			advance(&r, extra)
			heat(&r, m.heatCapacity())
			return []Run{r}
		}, workers(64, 64))
		b.Focus = Target{Kind: campaign.KindPromotion, ID: 42}
		b.Detail = &Detail{Failures: campaign.FailureSample{Sampled: 40, Reasons: []campaign.FailureReason{
			{Channel: "sms", Reason: "provider sms: HTTP 500", Count: 30},
			{Channel: "sms", Reason: "no address for the channel", Count: 10},
		}}}
		return feed(t, m, snapshotMsg(a), snapshotMsg(b))
	})
}

func TestViewPausedWithReason(t *testing.T) {
	goldens(t, func(w, h int) Model {
		m := feed(t, New(Config{}), size(w, h))
		r := promo(9, "Flash sale", 500, 120, 0, t0)
		r.Status = campaign.StatusPaused
		r.StatusReason = "auto-paused: 312 of the last 1000 sends failed (31%, threshold 20%)"
		r.Progress.Paused, r.Progress.Pending = r.Progress.Pending, 0
		heat(&r, m.heatCapacity())
		for i, c := range r.Heatmap.Cells {
			if c == campaign.ShardPending {
				r.Heatmap.Cells[i] = campaign.ShardPaused
			}
		}
		coupon := promo(3, "Welcome coupon", 40, 40, 0, t0)
		coupon.Kind, coupon.Status = campaign.KindCoupon, campaign.StatusCompleted
		finished := t0.Add(-10 * time.Minute)
		coupon.FinishedAt = &finished
		ws := []Worker{{Worker: campaign.Worker{Owner: "host-a:101:aa", Shards: 2, Expired: 2}}}
		return feed(t, m, snapshotMsg(Snapshot{At: t0, Runs: []Run{r, coupon}, Workers: ws}))
	})
}

func TestViewDependencyDown(t *testing.T) {
	goldens(t, func(w, h int) Model {
		m := feed(t, New(Config{}), size(w, h))
		r := promo(7, "Spring sale", 200, 60, 64, t0.Add(-5*time.Second))
		heat(&r, m.heatCapacity())
		good := Snapshot{At: t0.Add(-5 * time.Second), Runs: []Run{r}, Workers: workers(32, 32)}
		// MySQL stops answering at 12:03:00; Redis at 12:03:01.
		down1 := Snapshot{At: t0, MySQLError: "dial tcp 127.0.0.1:3306: connect: connection refused"}
		down2 := Snapshot{At: t0.Add(time.Second), MySQLError: "dial tcp 127.0.0.1:3306: connect: connection refused",
			RedisError: "dial tcp 127.0.0.1:6379: connect: connection refused"}
		return feed(t, m, snapshotMsg(good), snapshotMsg(down1), snapshotMsg(down2))
	})
}

func TestViewHelp(t *testing.T) {
	goldens(t, func(w, h int) Model {
		return feed(t, New(Config{}), size(w, h), snapshotMsg(Snapshot{At: t0}), keys("?"))
	})
}

// TestViewManyCampaigns: the list scrolls with the selection and the
// header says which part is shown; no line is wider than the terminal.
func TestViewManyCampaigns(t *testing.T) {
	m := feed(t, New(Config{}), size(100, 24))
	var runs []Run
	for i := range 12 {
		runs = append(runs, promo(uint64(20-i), fmt.Sprintf("campaign number %d with a long name", 20-i), 100, 10, 10, t0))
	}
	m = feed(t, m, snapshotMsg(Snapshot{At: t0, Runs: runs}))
	if v := m.View(); !strings.Contains(v, "(12) · 1–5 shown") || !strings.Contains(v, "promotion:20") || strings.Contains(v, "promotion:15 ") {
		t.Errorf("first page:\n%s", v)
	}
	for range 7 {
		m = feed(t, m, keys("j"))
	}
	v := m.View()
	if !strings.Contains(v, "(12) · 4–8 shown") || !strings.Contains(v, "> promotion:13") || strings.Contains(v, "promotion:20 ") {
		t.Errorf("after 7 × j:\n%s", v)
	}
	for i, line := range strings.Split(v, "\n") {
		if w := lipgloss.Width(line); w > 100 {
			t.Errorf("line %d is %d wide: %q", i+1, w, line)
		}
	}
}

func TestViewBelowMinimum(t *testing.T) {
	m := feed(t, New(Config{}), size(60, 10))
	r := promo(7, "Spring sale", 200, 60, 64, t0)
	m = feed(t, m, snapshotMsg(Snapshot{At: t0, Runs: []Run{r}}))
	out := m.View()
	if !strings.Contains(out, "needs 80×24") || !strings.Contains(out, "promotion:7 running") {
		t.Errorf("compact view:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if lipgloss.Width(line) > 60 {
			t.Errorf("line wider than 60: %q", line)
		}
	}
}

func TestRecoversAfterOutage(t *testing.T) {
	m := feed(t, New(Config{}), size(80, 24))
	r := promo(7, "Spring sale", 200, 60, 64, t0)
	m = feed(t, m, snapshotMsg(Snapshot{At: t0, MySQLError: "connection refused"}))
	if !strings.Contains(m.View(), "MySQL unreachable since 12:03:00, retrying") {
		t.Fatalf("outage not shown:\n%s", m.View())
	}
	m = feed(t, m, snapshotMsg(Snapshot{At: t0.Add(time.Second), Runs: []Run{r}}))
	if v := m.View(); strings.Contains(v, "unreachable") || !strings.Contains(v, "Spring sale") {
		t.Fatalf("not recovered:\n%s", v)
	}
}

// control records the actions the keys ran.
type control struct{ got []string }

func (c *control) run(_ context.Context, t Target, a campaign.Action) (string, error) {
	c.got = append(c.got, string(a)+" "+t.String())
	if a == campaign.ActionRetryFailed {
		return "", errors.New("campaign: status conflict: promotion 7 is paused")
	}
	return fmt.Sprintf("campaign %d: done %s", t.ID, a), nil
}

// exec runs the command a key returned, as the program would, and feeds its
// message back.
func exec(t *testing.T, m Model, msg tea.Msg) Model {
	t.Helper()
	next, cmd := m.Update(msg)
	m = next.(Model)
	if cmd != nil {
		if out := cmd(); out != nil {
			if _, isBatch := out.(tea.BatchMsg); !isBatch {
				m = feed(t, m, out)
			}
		}
	}
	return m
}

func TestKeys(t *testing.T) {
	ctl := &control{}
	m := feed(t, New(Config{Control: ctl.run}), size(80, 24))
	a, b := promo(7, "Spring sale", 200, 60, 64, t0), promo(8, "Autumn sale", 100, 10, 10, t0)
	m = feed(t, m, snapshotMsg(Snapshot{At: t0, Runs: []Run{a, b}}))

	if m.focusTarget().ID != 7 {
		t.Fatalf("first run not selected: %v", m.focusTarget())
	}
	m = feed(t, m, keys("j"))
	if m.focusTarget().ID != 8 {
		t.Fatalf("j did not select the next run: %v", m.focusTarget())
	}
	m = feed(t, m, tea.KeyMsg{Type: tea.KeyUp})
	if m.focusTarget().ID != 7 {
		t.Fatalf("↑ did not select the previous run: %v", m.focusTarget())
	}
	m = exec(t, m, keys("p"))
	if !strings.Contains(m.View(), "campaign 7: done pause") {
		t.Errorf("pause outcome not shown:\n%s", m.View())
	}
	m = exec(t, m, keys("f"))
	if !strings.Contains(m.View(), "retry-failed promotion:7: campaign: status conflict") {
		t.Errorf("retry-failed error not shown:\n%s", m.View())
	}
	// c asks first: n abandons, y runs.
	m = exec(t, m, keys("c"))
	if !strings.Contains(m.View(), `cancel promotion:7 "Spring sale"? `) {
		t.Errorf("cancel did not ask:\n%s", m.View())
	}
	m = exec(t, m, keys("n"))
	m = exec(t, m, keys("c"))
	m = exec(t, m, keys("y"))
	if want := []string{"pause promotion:7", "retry-failed promotion:7", "cancel promotion:7"}; fmt.Sprint(ctl.got) != fmt.Sprint(want) {
		t.Errorf("actions run = %v, want %v", ctl.got, want)
	}
	// / filters by name; enter keeps the filter, esc clears it.
	m = feed(t, m, keys("/"), keys("aut"), tea.KeyMsg{Type: tea.KeyEnter})
	if vs := m.visible(); len(vs) != 1 || vs[0].ID != 8 {
		t.Errorf("filter aut: %v", vs)
	}
	m = feed(t, m, tea.KeyMsg{Type: tea.KeyEsc})
	if len(m.visible()) != 2 {
		t.Errorf("esc did not clear the filter")
	}
	// enter drills in, esc goes back.
	m = feed(t, m, tea.KeyMsg{Type: tea.KeyEnter})
	if m.focus.ID != 7 || !strings.Contains(m.View(), "failures") {
		t.Errorf("enter did not drill in:\n%s", m.View())
	}
	m = feed(t, m, tea.KeyMsg{Type: tea.KeyEsc})
	if m.focus.ID != 0 {
		t.Errorf("esc did not go back")
	}
	if _, cmd := m.Update(keys("q")); cmd == nil || cmd() != tea.Quit() {
		t.Errorf("q does not quit")
	}
}

func TestRatesSmoothOverWindow(t *testing.T) {
	var r Rates
	r.Window = 10 * time.Second
	run := promo(1, "x", 100, 0, 10, t0)
	// 1,000 members/s for 20 s, then 5,000/s for 5 s: the rate follows the
	// last 10 s, not the lifetime average.
	var processed int64
	var last Snapshot
	for s := 0; s <= 25; s++ {
		if s > 0 {
			processed += map[bool]int64{true: 1000, false: 5000}[s <= 20]
		}
		run.Processed = processed
		last = Snapshot{At: t0.Add(time.Duration(s) * time.Second), Runs: []Run{run}}
		r.Apply(&last)
	}
	got := last.Runs[0].Rate
	want := float64(5*5000+5*1000) / 10
	if got != want {
		t.Errorf("rate = %.1f, want %.1f (the last 10 s)", got, want)
	}
	if eta := last.Runs[0].ETASeconds; eta == nil || math.Abs(*eta-float64(100_000-processed)/want) > 1e-3 {
		t.Errorf("eta = %v", eta)
	}
	// A paused run has no rate.
	run.Status = campaign.StatusPaused
	s := Snapshot{At: t0.Add(26 * time.Second), Runs: []Run{run}}
	r.Apply(&s)
	if s.Runs[0].Rate != 0 || s.Runs[0].ETASeconds != nil {
		t.Errorf("paused run: rate %v eta %v", s.Runs[0].Rate, s.Runs[0].ETASeconds)
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Target
		err  string
	}{
		{"7", Target{Kind: campaign.KindPromotion, ID: 7}, ""},
		{"promotion:7", Target{Kind: campaign.KindPromotion, ID: 7}, ""},
		{"coupon:3", Target{Kind: campaign.KindCoupon, ID: 3}, ""},
		{"0", Target{}, "positive integer"},
		{"-1", Target{}, "positive integer"},
		{"coupon:", Target{}, "positive integer"},
		{"hot_goods:4", Target{Kind: campaign.KindHotGoods, ID: 4}, ""},
		{"flyer:3", Target{}, "want one of promotion, coupon, hot_goods"},
		{"18446744073709551616", Target{}, "positive integer"},
	} {
		got, err := ParseTarget(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseTarget(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseTarget(%q) = %v, %v", tc.in, got, err)
		}
	}
}
