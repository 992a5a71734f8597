package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/provider"
	"mkt/pkg/schedule"
)

// TestScheduleUsage: every bad input exits 2 before anything is opened.
func TestScheduleUsage(t *testing.T) {
	t.Parallel()
	create := []string{"schedule", "create", "--cron", "0 10 * * *", "--tz", "Asia/Shanghai"}
	with := func(extra ...string) []string { return append(append([]string(nil), create...), extra...) }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"schedule", "bogus"}, `unknown command "bogus" for "mktctl schedule"`},
		{create, "an action is required: --hotgoods"},
		{with("--hotgoods", "--from-campaign", "3"), "give one action: --hotgoods or --from-campaign, not both"},
		{[]string{"schedule", "create", "--hotgoods"}, "--cron is required"},
		{with("--hotgoods", "--cron", "61 * * * *"), `cron expression "61 * * * *"`},
		{with("--hotgoods", "--cron", "0 10 * *"), "five fields"},
		{with("--hotgoods", "--cron", "@every 5m"), "@every"},
		{with("--hotgoods", "--cron", "0 0 30 2 *"), "names no time in the next five years"},
		{with("--hotgoods", "--tz", "Mars/Olympus_Mons"), `time zone "Mars/Olympus_Mons": not an IANA time zone`},
		{with("--hotgoods", "--tz", "Local"), "IANA"},
		{with("--hotgoods", "--max-lateness", "1s"), "max lateness 1s: want 10s..168h0m0s"},
		{with("--hotgoods", "--max-lateness", "200h"), "max lateness 200h0m0s"},
		{with("--hotgoods", "--max-lateness", "soon"), "invalid argument"},
		{with("--from-campaign", "coupon:3"), "a coupon push cannot be a template"},
		{with("--from-campaign", "hot_goods:4"), "a hot-goods run cannot be a template"},
		{with("--from-campaign", "x"), `--from-campaign "x": want a campaign id`},
		{with("--from-campaign", "0"), "want a campaign id"},
		{with("--from-campaign", ""), "want a campaign id"},
		{with("--from-campaign", "bogus:3"), `--from-campaign "bogus:3"`},
		{with("--hotgoods", "--name", "bad\x1bname"), "name"},
		{with("--hotgoods", "extra"), "unknown command"},
		{[]string{"schedule", "show"}, "accepts 1 arg(s), received 0"},
		{[]string{"schedule", "show", "0"}, `schedule id "0"`},
		{[]string{"schedule", "show", "1", "--firings", "0"}, "--firings 0: want 1..1000"},
		{[]string{"schedule", "next", "1", "--count", "0"}, "--count 0: want 1..1000"},
		{[]string{"schedule", "next", "x"}, `schedule id "x"`},
		{[]string{"schedule", "pause"}, "accepts 1 arg(s)"},
		{[]string{"schedule", "resume", "+1"}, `schedule id "+1"`},
		{[]string{"schedule", "delete", "1", "2"}, "accepts 1 arg(s), received 2"},
		{[]string{"schedule", "list", "x"}, "unknown command"},
	} {
		expectUsage(t, tc.args, tc.want)
	}
}

// TestScheduleCommands: create, list, show, next, pause, resume and delete
// against MariaDB; an unknown or uncopyable template exits 2 with nothing
// stored.
func TestScheduleCommands(t *testing.T) {
	e := newE2E(t, 10)
	ctx := context.Background()
	tmpl, err := campaign.Insert(ctx, e.db, campaign.Spec{Name: "Weekly", Offer: campaign.OfferGift, GiftText: "a mug",
		Template: "Free {gift}", Channels: []provider.Channel{provider.ChannelInbox}, Audience: audience.Segment{}, ShardSize: 1000}, "")
	if err != nil {
		t.Fatal(err)
	}
	// Stored before templates were checked: its copy would be refused.
	if _, err := e.db.ExecContext(ctx, `INSERT INTO sales_promotion (name, kind, discount_cents, message_template, channels, audience)
		VALUES ('old', 'flat_discount', 100, '{nickname}', 'sms', '{}')`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ from, want string }{
		{"999", "template campaign 999: no such promotion"},
		{"promotion:2", "template campaign 2 cannot be copied"},
	} {
		code, _, errOut := e.run("schedule", "create", "--cron", "0 10 * * *", "--from-campaign", tc.from)
		if code != ExitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("--from-campaign %s: exit %d, %s", tc.from, code, errOut)
		}
	}
	var n int
	if err := e.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM schedule`); err != nil || n != 0 {
		t.Fatalf("refused creates stored %d schedules (%v)", n, err)
	}

	var created scheduleReport
	e.runJSON(&created, "schedule", "create", "--cron", "30 2 * * *", "--tz", "America/New_York",
		"--from-campaign", "1", "--name", "Nightly gift", "--max-lateness", "30m")
	s := created.Schedule
	if s == nil || s.Name != "Nightly gift" || s.Zone != "America/New_York" || s.Status != schedule.StatusActive ||
		s.MaxLateness() != 30*time.Minute || s.TemplateID == nil || *s.TemplateID != tmpl || len(created.NextFirings) != 3 {
		t.Fatalf("created: %+v", created)
	}
	for _, f := range created.NextFirings {
		// 02:30 local, or 03:30 EDT on a spring-forward day.
		if !strings.Contains(f.Local, " 02:30 E") && !strings.Contains(f.Local, " 03:30 EDT") {
			t.Errorf("next firing %+v", f)
		}
	}
	var hot scheduleReport
	e.runJSON(&hot, "schedule", "create", "--cron", "0 10 * * *", "--tz", "Asia/Shanghai", "--hotgoods")
	if hot.Schedule.Action != schedule.ActionHotGoods || !strings.HasPrefix(hot.Schedule.Name, "hot goods at 0 10 * * * Asia/Shanghai") {
		t.Errorf("hot-goods schedule: %+v", hot.Schedule)
	}

	var list []schedule.Schedule
	e.runJSON(&list, "schedule", "list")
	if len(list) != 2 {
		t.Fatalf("list: %+v", list)
	}
	code, out, errOut := e.run("schedule", "list")
	if code != 0 || !strings.Contains(out, "copy of promotion 1") || !strings.Contains(out, "hot-goods run of the day") {
		t.Errorf("list: exit %d\n%s%s", code, out, errOut)
	}

	var next scheduleNext
	e.runJSON(&next, "schedule", "next", "2", "--count", "7")
	if len(next.Firings) != 7 || next.Zone != "Asia/Shanghai" {
		t.Fatalf("next: %+v", next)
	}
	for i, f := range next.Firings {
		if f.UTC.Hour() != 2 || f.UTC.Minute() != 0 || !strings.Contains(f.Local, " 10:00 CST (+08:00)") ||
			(i > 0 && f.UTC.Sub(next.Firings[i-1].UTC) != 24*time.Hour) {
			t.Errorf("firing %d: %+v", i, f)
		}
	}
	code, out, _ = e.run("schedule", "next", "2", "--count", "2")
	if code != 0 || !strings.Contains(out, "LOCAL (Asia/Shanghai)") || !strings.Contains(out, "02:00 UTC") {
		t.Errorf("next: exit %d\n%s", code, out)
	}

	// mktctl watch shows the upcoming firings, soonest first.
	code, out, errOut = e.run("watch", "--once")
	var snap struct {
		Upcoming []struct {
			ScheduleID uint64    `json:"schedule_id"`
			Does       string    `json:"does"`
			FireAt     time.Time `json:"fire_at"`
		} `json:"upcoming_firings"`
	}
	if err := json.Unmarshal([]byte(out), &snap); code != 0 || err != nil || len(snap.Upcoming) != 2 ||
		snap.Upcoming[0].FireAt.After(snap.Upcoming[1].FireAt) || snap.Upcoming[0].Does == "" {
		t.Errorf("watch --once: exit %d, %v: %s %s", code, err, out, errOut)
	}

	// pause, pause again, resume, delete, resume a deleted one.
	for _, step := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"schedule", "pause", "1"}, 0, "schedule 1 paused"},
		{[]string{"schedule", "pause", "1"}, 0, "schedule 1 was already paused; nothing changed"},
		{[]string{"schedule", "resume", "1"}, 0, "schedule 1 resumed; next firing "},
		{[]string{"schedule", "delete", "1"}, 0, "schedule 1 deleted"},
		{[]string{"schedule", "resume", "1"}, ExitFailure, "schedule 1 is deleted"},
		{[]string{"schedule", "show", "99"}, ExitFailure, "not found"},
	} {
		code, out, errOut := e.run(step.args...)
		if code != step.code || !strings.Contains(out+errOut, step.want) {
			t.Errorf("%v: exit %d, %q %q; want %d and %q", step.args, code, out, errOut, step.code, step.want)
		}
	}
	e.runJSON(&list, "schedule", "list")
	if len(list) != 1 {
		t.Errorf("a deleted schedule is listed: %+v", list)
	}
	e.runJSON(&list, "schedule", "list", "--all")
	if len(list) != 2 {
		t.Errorf("list --all: %+v", list)
	}
	var shown scheduleReport
	e.runJSON(&shown, "schedule", "show", "1")
	if shown.Schedule.Status != schedule.StatusDeleted || len(shown.NextFirings) != 0 || shown.Firings == nil {
		t.Errorf("show a deleted schedule: %+v", shown)
	}
	code, out, _ = e.run("schedule", "show", "2")
	if code != 0 || !strings.Contains(out, "does:          hot-goods run of the day") || !strings.Contains(out, "recent firings (0)") {
		t.Errorf("show: exit %d\n%s", code, out)
	}
}
