package pushd_test

// Schedules fired by real pushd processes on the real stack, in real
// minutes (cron has no seconds field): three pushd fire each firing once; a
// pushd killed in the middle of a firing (after claiming it, and after
// creating its campaign) leaves it to another, which never creates a second
// campaign; every pushd down across firings, back within and beyond the
// max lateness. The injected-clock tests of the same logic are in
// pkg/schedule.

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/childproc"
	"mkt/pkg/mkttest"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/schedule"
)

// template stores and announces the promotion the schedules copy: the
// inbox only, to every member.
func (s *stack) template() uint64 {
	s.t.Helper()
	return s.create(campaign.Spec{Name: "Daily inbox note", Offer: campaign.OfferFlatDiscount, DiscountCents: 300,
		Template: "{discount} off today", Channels: []provider.Channel{provider.ChannelInbox}, Audience: audience.Segment{}, ShardSize: 1000})
}

func (s *stack) dbNow() time.Time {
	s.t.Helper()
	now, err := schedule.DBNow(context.Background(), s.db)
	if err != nil {
		s.t.Fatal(err)
	}
	return now
}

// everyMinute creates a schedule copying tmpl every minute (UTC).
func (s *stack) everyMinute(tmpl uint64, lateness time.Duration) *schedule.Schedule {
	s.t.Helper()
	sc, err := schedule.Create(context.Background(), s.db, schedule.Spec{Cron: "* * * * *", Zone: "UTC",
		Action: schedule.ActionCampaign, TemplateID: tmpl, MaxLateness: lateness, CreatedBy: "e2e"}, s.dbNow())
	if err != nil {
		s.t.Fatal(err)
	}
	return sc
}

// threeFirings returns an expression naming three firings a minute apart
// from f0, the next minute at least 10 s away, and none in the 57 minutes
// after them, so a test's timing after f0 cannot bring in a fourth.
func (s *stack) threeFirings() (string, time.Time) {
	s.t.Helper()
	now := s.dbNow()
	f0 := now.Truncate(time.Minute).Add(time.Minute)
	if f0.Sub(now) < 10*time.Second {
		f0 = f0.Add(time.Minute)
	}
	var mins, hours []string
	for i := range 3 {
		t := f0.Add(time.Duration(i) * time.Minute)
		if m := strconv.Itoa(t.Minute()); !slices.Contains(mins, m) {
			mins = append(mins, m)
		}
		if h := strconv.Itoa(t.Hour()); !slices.Contains(hours, h) {
			hours = append(hours, h)
		}
	}
	return strings.Join(mins, ",") + " " + strings.Join(hours, ",") + " * * *", f0
}

func (s *stack) firings(id uint64) []schedule.Firing {
	s.t.Helper()
	fs, err := schedule.ListFirings(context.Background(), s.db, id, 1000)
	if err != nil {
		s.t.Fatal(err)
	}
	return fs
}

// firingAt returns the schedule's firing at the instant, or nil.
func (s *stack) firingAt(id uint64, at time.Time) *schedule.Firing {
	s.t.Helper()
	for _, f := range s.firings(id) {
		if f.FireAt.Equal(at) {
			return &f
		}
	}
	return nil
}

// settled waits until the schedule's firing at the instant is settled
// (fired, skipped or failed) and returns it.
func (s *stack) settled(id uint64, at time.Time, d time.Duration) schedule.Firing {
	s.t.Helper()
	var f *schedule.Firing
	mkttest.WaitFor(s.t, d, fmt.Sprintf("schedule %d's firing at %s to settle", id, at.Format(time.TimeOnly)), func() bool {
		f = s.firingAt(id, at)
		return f != nil && f.Status != schedule.FiringInProgress
	})
	return *f
}

// campaignsOf counts the promotions a schedule's firings created.
func (s *stack) campaignsOf(id uint64) int {
	s.t.Helper()
	var n int
	if err := s.db.GetContext(context.Background(), &n, `SELECT COUNT(*) FROM sales_promotion WHERE request_id LIKE ?`,
		fmt.Sprintf("schedule-%d-%%", id)); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// waitDB waits until the database clock reaches at.
func (s *stack) waitDB(at time.Time) {
	s.t.Helper()
	mkttest.WaitFor(s.t, time.Until(at)+time.Minute, "the database clock to reach "+at.Format(time.TimeOnly), func() bool {
		return !s.dbNow().Before(at)
	})
}

// firedCounted sums mkt_schedule_firings_total{outcome} over the processes'
// /metrics.
func firedCounted(t *testing.T, outcome string, ps ...*childproc.Proc) int {
	t.Helper()
	sum := 0
	for _, p := range ps {
		resp, err := http.Get("http://" + p.OpsAddr() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		prefix := `mkt_schedule_firings_total{outcome="` + outcome + `"} `
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
				n, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: %q", p.Instance(), sc.Text())
				}
				sum += int(n)
			}
		}
		resp.Body.Close()
	}
	return sum
}

// TestScheduleThreePushdFireEachMinuteOnce: three pushd, a schedule firing
// every minute for three minutes: exactly three campaigns, each planned and
// delivered to every member's inbox once.
func TestScheduleThreePushdFireEachMinuteOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, 20, providersim.Config{})
	ps := s.startCluster(3)
	tmpl := s.template()
	s.waitStatus(tmpl, campaign.StatusCompleted, time.Minute)
	sc := s.everyMinute(tmpl, time.Hour)
	first := *sc.NextFireAt
	var last schedule.Firing
	for i := range 3 {
		last = s.settled(sc.ID, first.Add(time.Duration(i)*time.Minute), 2*time.Minute)
		if last.Status != schedule.FiringFired || last.CampaignID == nil {
			t.Fatalf("firing %d: %+v", i, last)
		}
	}
	// Deleted a second or so after its third firing: there is no fourth.
	if _, err := schedule.Delete(context.Background(), s.db, sc.ID); err != nil {
		t.Fatal(err)
	}
	if s.dbNow().After(first.Add(3 * time.Minute)) {
		t.Fatalf("the third firing settled only at %s", s.dbNow())
	}
	fs := s.firings(sc.ID)
	if len(fs) != 3 || s.campaignsOf(sc.ID) != 3 {
		t.Fatalf("%d firings and %d campaigns, want 3 and 3: %+v", len(fs), s.campaignsOf(sc.ID), fs)
	}
	owners := map[string]bool{}
	for _, f := range fs {
		owners[f.Owner] = true
		s.waitStatus(*f.CampaignID, campaign.StatusCompleted, time.Minute)
		var inbox int
		if err := s.db.GetContext(context.Background(), &inbox, `SELECT COUNT(*) FROM member_inbox WHERE campaign_kind = 'promotion' AND campaign_id = ?`, *f.CampaignID); err != nil {
			t.Fatal(err)
		}
		if inbox != 20 {
			t.Errorf("campaign %d reached %d inboxes, want 20", *f.CampaignID, inbox)
		}
	}
	if got := firedCounted(t, "fired", ps...); got != 3 {
		t.Errorf("/metrics of the three pushd count %d fired, want 3", got)
	}
	t.Logf("3 firings by %d distinct pushd", len(owners))
}

// TestSchedulePushdKilledMidFiring: a pushd killed -9 after creating a
// firing's campaign (before recording it) and one killed after claiming a
// firing (before creating anything): another pushd takes each over when
// its lease ends; each firing has exactly one campaign.
func TestSchedulePushdKilledMidFiring(t *testing.T) {
	t.Parallel()
	for _, at := range []string{schedule.HoldAfterCreate, schedule.HoldAfterClaim} {
		t.Run("killed after "+at, func(t *testing.T) {
			t.Parallel()
			// A stack each: one case's heir would fire the other's schedule.
			s := newStack(t, 20, providersim.Config{})
			tmpl := s.template()
			dying := s.startPushd("dying-"+at, "--schedule-test-hold", "1h", "--schedule-test-hold-at", at, "--schedule-lease", "3s")
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			if err := dying.WaitReady(ctx); err != nil {
				t.Fatal(err)
			}
			sc := s.everyMinute(tmpl, time.Hour)
			fireAt := *sc.NextFireAt
			reqID := schedule.RequestID(sc.ID, fireAt)
			mkttest.WaitFor(t, 2*time.Minute, "the firing to be held", func() bool {
				f := s.firingAt(sc.ID, fireAt)
				if f == nil || f.Status != schedule.FiringInProgress {
					return false
				}
				_, err := campaign.KindPromotion.GetRunByRequestID(context.Background(), s.db, reqID)
				return (err == nil) == (at == schedule.HoldAfterCreate)
			})
			if err := dying.Kill(); err != nil {
				t.Fatal(err)
			}
			// No more firings of this schedule after the one under test.
			if _, err := schedule.Pause(context.Background(), s.db, sc.ID); err != nil {
				t.Fatal(err)
			}
			heir := s.startPushd("heir-" + at)
			f := s.settled(sc.ID, fireAt, 2*time.Minute)
			if f.Status != schedule.FiringFired || f.CampaignID == nil || f.Attempts != 2 || !strings.HasPrefix(f.Owner, "heir-") {
				t.Fatalf("the firing after the takeover: %+v", f)
			}
			if n := s.campaignsOf(sc.ID); n != 1 {
				t.Fatalf("%d campaigns for one firing", n)
			}
			s.waitStatus(*f.CampaignID, campaign.StatusCompleted, time.Minute)
			stop, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			if code, err := heir.Stop(stop); err != nil || code != 0 {
				t.Fatalf("stop %s: exit %d, %v", heir.Instance(), code, err)
			}
		})
	}
}

// TestScheduleEveryPushdDown: with every pushd stopped across firings, the
// schedule with 1 h max lateness fires its latest missed firing once on
// return (the older one recorded missed), the one with 10 s records it
// skipped (late); nothing is fired twice, no burst of catch-up firings.
func TestScheduleEveryPushdDown(t *testing.T) {
	t.Parallel()
	s := newStack(t, 20, providersim.Config{})
	p := s.startPushd("pushd-a")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := p.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	tmpl := s.template()
	expr, f0 := s.threeFirings()
	mk := func(lateness time.Duration) *schedule.Schedule {
		sc, err := schedule.Create(ctx, s.db, schedule.Spec{Cron: expr, Zone: "UTC", Action: schedule.ActionCampaign,
			TemplateID: tmpl, MaxLateness: lateness}, s.dbNow())
		if err != nil {
			t.Fatal(err)
		}
		if !sc.NextFireAt.Equal(f0) {
			t.Fatalf("%q: next firing %v, want %v", expr, sc.NextFireAt, f0)
		}
		return sc
	}
	patient, strict := mk(time.Hour), mk(10*time.Second)
	// Running: both fire at f0.
	for _, sc := range []*schedule.Schedule{patient, strict} {
		if f := s.settled(sc.ID, f0, 2*time.Minute); f.Status != schedule.FiringFired {
			t.Fatalf("schedule %d at f0: %+v", sc.ID, f)
		}
	}
	// Every pushd down across f1 and f2, back 12 s (and its start-up) after
	// f2: more than the strict schedule's 10 s.
	if code, err := p.Stop(ctx); err != nil || code != 0 {
		t.Fatalf("stop: %d %v", code, err)
	}
	f1, f2 := f0.Add(time.Minute), f0.Add(2*time.Minute)
	s.waitDB(f2.Add(12 * time.Second))
	if fs := s.firings(patient.ID); len(fs) != 1 {
		t.Fatalf("fired while every pushd was down: %+v", fs)
	}
	back := s.startPushd("pushd-b")
	if err := back.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	late := s.settled(patient.ID, f2, time.Minute)
	skipped := s.settled(strict.ID, f2, time.Minute)
	if late.Status != schedule.FiringFired || late.CampaignID == nil {
		t.Errorf("1 h max lateness, 12+ s late: %+v", late)
	}
	if skipped.Status != schedule.FiringSkipped || !strings.HasPrefix(skipped.Reason, "late") {
		t.Errorf("10 s max lateness, 12+ s late: %+v", skipped)
	}
	for _, sc := range []*schedule.Schedule{patient, strict} {
		missed := s.firingAt(sc.ID, f1)
		if missed == nil || missed.Status != schedule.FiringSkipped || !strings.HasPrefix(missed.Reason, "missed") {
			t.Errorf("schedule %d's firing at f1: %+v", sc.ID, missed)
		}
	}
	if n, m := s.campaignsOf(patient.ID), s.campaignsOf(strict.ID); n != 2 || m != 1 {
		t.Errorf("campaigns: %d and %d, want 2 (f0, f2) and 1 (f0)", n, m)
	}
	if got := firedCounted(t, "skipped", back); got != 3 {
		t.Errorf("/metrics counts %d skipped, want 3 (two missed, one late)", got)
	}
}
