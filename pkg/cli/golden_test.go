package cli

import (
	"bytes"
	"database/sql"
	"io"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/coupon"
	"mkt/pkg/deadletter"
	"mkt/pkg/hotgoods"
	"mkt/pkg/provider"
	"mkt/pkg/schedule"
	"mkt/pkg/store"
)

// The human tables of mktctl, each checked against testdata/<Test>/<case>.golden.
// The values are fixed (UTC times, no database, no clock) so the output is
// stable; refresh the files with
//
//	go test ./pkg/cli -run Golden -update
//
// and read every changed file: the golden files are the spec of the tables.

// goldenT0 is the instant the fixtures are built around.
var goldenT0 = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// atT0 is goldenT0 moved by d.
func atT0(d time.Duration) time.Time { return goldenT0.Add(d) }

// goldenCase is one rendering compared with its golden file.
type goldenCase struct {
	name  string
	write func(w io.Writer) error
}

// runGolden renders each case and compares it with its golden file.
func runGolden(t *testing.T, cases []goldenCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.write(&buf); err != nil {
				t.Fatalf("render: %v", err)
			}
			if buf.Len() == 0 {
				t.Fatal("rendered nothing")
			}
			golden.RequireEqual(t, buf.Bytes())
		})
	}
}

// --- campaigns

// runningPromotion is a full-reduction promotion half way through, with
// failed deliveries.
func runningPromotion() *campaign.Campaign {
	return &campaign.Campaign{
		ID: 42, RequestID: new("spring-sale-2026"), Name: "Spring sale: spend 200, save 30",
		Offer: campaign.OfferFullReduction, ThresholdCents: 20000, DiscountCents: 3000,
		Template: "Hi {name}, spend 200.00 and save 30.00 until Sunday: {link}",
		Status:   campaign.StatusRunning, ShardSize: 5000, PlannedMembers: 200000, PlannedShards: 40,
		CreatedBy: "alice", PlannedAt: new(atT0(-20 * time.Minute)), CreatedAt: atT0(-time.Hour), UpdatedAt: atT0(-20 * time.Minute),
		Channels: []provider.Channel{provider.ChannelSMS, provider.ChannelApp},
		Audience: audience.Segment{Levels: []int{3, 4}, MinActiveDays: 10},
	}
}

func TestGoldenCampaignShow(t *testing.T) {
	t.Parallel()
	running := runningPromotion()
	paused := &campaign.Campaign{
		ID: 43, Name: "Flat 15 off for dormant members", Offer: campaign.OfferFlatDiscount, DiscountCents: 1500,
		Template: "We miss you: 15.00 off your next order", Status: campaign.StatusPaused,
		StatusReason: "auto-paused: 612 of the last 1000 sends failed (61%, threshold 50%)",
		ShardSize:    10000, PlannedMembers: 80000, PlannedShards: 8, CreatedBy: "bob",
		PlannedAt: new(atT0(-3 * time.Hour)), CreatedAt: atT0(-4 * time.Hour),
		Channels: []provider.Channel{provider.ChannelSMS},
		Audience: audience.Segment{MaxActiveDays: 2, TagsAny: []string{"lapsed", "churn-risk"}},
	}
	scheduled := &campaign.Campaign{
		ID: 44, Name: "Weekend 10% off", Offer: campaign.OfferPercentageOff, PercentOff: 10,
		Template: "10% off everything this weekend", Status: campaign.StatusCreated, ShardSize: 5000,
		StartAt: new(atT0(48 * time.Hour)), CreatedBy: "carol", CreatedAt: atT0(-10 * time.Minute),
		Channels: []provider.Channel{provider.ChannelEmail, provider.ChannelInbox},
	}
	cancelling := &campaign.Campaign{
		ID: 45, Name: "Gift with every order", Offer: campaign.OfferGift, GiftText: "a tote bag",
		Template: "A free tote bag with your next order", Status: campaign.StatusCancelled,
		StatusReason: "cancelled by operator", ShardSize: 2000, PlannedMembers: 6000, PlannedShards: 3,
		CreatedBy: "dave", PlannedAt: new(atT0(-2 * time.Hour)), FinishedAt: new(atT0(-time.Minute)), CreatedAt: atT0(-2 * time.Hour),
		Channels: []provider.Channel{provider.ChannelApp},
		Audience: audience.Segment{TagsAll: []string{"vip"}},
	}
	runF := func(rep campaignReport) func(io.Writer) error {
		return func(w io.Writer) error { return writeCampaignReport(w, rep) }
	}
	runGolden(t, []goldenCase{
		{"running_with_failures", runF(campaignReport{
			Campaign: running,
			Report: campaign.Report{
				Progress:  campaign.Progress{Shards: 40, Pending: 10, Running: 4, Done: 26, Expected: 200000, Sent: 251000, FailedN: 1234},
				Processed: 130000, Percent: 65,
				Live: &campaign.Live{Channels: []campaign.ChannelCount{
					{Channel: provider.ChannelSMS, Sent: 126500, Failed: 1234},
					{Channel: provider.ChannelApp, Sent: 124500},
				}},
			},
			ETA: new(646.2),
			Schedules: []campaign.ScheduledPush{{ID: 7, Kind: campaign.KindPromotion, CampaignID: 42,
				RunAt: atT0(-20 * time.Minute), Status: campaign.ScheduleDone, Attempts: 1}},
		})},
		{"paused_auto_pause_reason", runF(campaignReport{
			Campaign: paused,
			Report: campaign.Report{
				Progress:  campaign.Progress{Shards: 8, Paused: 5, Done: 3, Expected: 80000, Sent: 29400, FailedN: 612},
				Processed: 30012, Percent: 37.515,
				LiveError: "redis: connection refused",
			},
			Schedules: []campaign.ScheduledPush{},
		})},
		{"created_scheduled", runF(campaignReport{
			Campaign: scheduled,
			Schedules: []campaign.ScheduledPush{{ID: 9, Kind: campaign.KindPromotion, CampaignID: 44,
				RunAt: atT0(48 * time.Hour), Status: campaign.SchedulePending, Attempts: 1,
				LastError: "launch: broker unreachable"}},
		})},
		{"cancelling_gift", runF(campaignReport{
			Campaign: cancelling,
			Report: campaign.Report{
				Progress:  campaign.Progress{Shards: 3, Running: 2, Cancelled: 1, Expected: 6000, Sent: 2100, FailedN: 3},
				Processed: 2103, Percent: 35.05,
				Live: &campaign.Live{Channels: []campaign.ChannelCount{{Channel: provider.ChannelApp, Sent: 2100, Failed: 3}}},
			},
			Schedules: []campaign.ScheduledPush{},
		})},
	})
}

func TestGoldenCampaignList(t *testing.T) {
	t.Parallel()
	running := runningPromotion()
	scheduled := campaign.Campaign{
		ID: 44, Name: "Weekend 10% off for members who have been active at least ten days", Offer: campaign.OfferPercentageOff,
		PercentOff: 10, Status: campaign.StatusCreated, ShardSize: 5000, StartAt: new(atT0(48 * time.Hour)),
		CreatedAt: atT0(-10 * time.Minute), Channels: []provider.Channel{provider.ChannelEmail, provider.ChannelInbox},
		Audience: audience.Segment{Levels: []int{1, 2, 3, 4, 5}, MinActiveDays: 10, MaxActiveDays: 30, TagsAll: []string{"newsletter"}},
	}
	escaped := campaign.Campaign{
		ID: 41, Name: "Gift\nwith every order", Offer: campaign.OfferGift, GiftText: "a tote bag",
		Status: campaign.StatusCompleted, ShardSize: 2000, PlannedMembers: 1999, PlannedShards: 1,
		PlannedAt: new(atT0(-48 * time.Hour)), FinishedAt: new(atT0(-47 * time.Hour)), CreatedAt: atT0(-49 * time.Hour),
		Channels: []provider.Channel{provider.ChannelApp},
	}
	runGolden(t, []goldenCase{
		{"three", func(w io.Writer) error {
			return writeCampaignList(w, []campaign.Campaign{scheduled, *running, escaped})
		}},
		{"empty", func(w io.Writer) error { return writeCampaignList(w, nil) }},
	})
}

func TestGoldenCampaignFailures(t *testing.T) {
	t.Parallel()
	fs := []campaign.Failure{
		{MemberID: 1007, Channel: "sms", ShardNo: 0, Reason: "provider sms-a: 429 too many requests", Attempts: 3, UpdatedAt: atT0(-12 * time.Minute)},
		{MemberID: 1007, Channel: "app", ShardNo: 0, Reason: "no address", Attempts: 1, UpdatedAt: atT0(-12 * time.Minute)},
		{MemberID: 52311, Channel: "sms", ShardNo: 10, Reason: "provider sms-a: invalid number", Attempts: 1, UpdatedAt: atT0(-3 * time.Minute)},
	}
	rs := []campaign.FailureReason{
		{Channel: "sms", Reason: "provider sms-a: 429 too many requests", Count: 1021},
		{Channel: "app", Reason: "no address", Count: 200},
		{Channel: "sms", Reason: "provider sms-a: invalid number", Count: 13},
	}
	runGolden(t, []goldenCase{
		{"list", func(w io.Writer) error { return writeFailures(w, fs) }},
		{"list_empty", func(w io.Writer) error { return writeFailures(w, nil) }},
		{"summary", func(w io.Writer) error { return writeFailureReasons(w, rs) }},
		{"summary_empty", func(w io.Writer) error { return writeFailureReasons(w, nil) }},
	})
}

// --- coupons

// amountCoupon is a lazy 20-off coupon on orders from 100, with a quota.
func amountCoupon() *coupon.Coupon {
	return &coupon.Coupon{
		ID: 301, Name: "20 off orders from 100", Kind: coupon.KindAmount, AmountCents: 2000, ThresholdCents: 10000,
		Validity: coupon.ValidityFixed, ValidFrom: atT0(-24 * time.Hour), ValidUntil: atT0(30 * 24 * time.Hour),
		TotalQuota: new(int64(50000)), IssuedCount: 12345, PerMemberLimit: 1, Mode: coupon.ModeLazy,
		Status: coupon.StatusActive, PushStatus: coupon.PushNone, CreatedBy: "alice", CreatedAt: atT0(-25 * time.Hour),
		Audience: audience.Segment{Levels: []int{2, 3}},
	}
}

// percentCoupon is a push-mode 15%-off coupon capped at 50, valid 7 days
// from issue, without a quota.
func percentCoupon() *coupon.Coupon {
	return &coupon.Coupon{
		ID: 302, Name: "15% off, at most 50", Kind: coupon.KindPercent, PercentOff: 15, CapCents: 5000,
		Validity: coupon.ValidityRelative, ValidFrom: atT0(-2 * time.Hour), ValidUntil: atT0(60 * 24 * time.Hour), ValidDays: 7,
		IssuedCount: 4000, PerMemberLimit: 2, Mode: coupon.ModePush, Status: coupon.StatusActive,
		Template: new("{name}: {offer}, valid 7 days"), PushStatus: campaign.StatusRunning, ShardSize: 1000,
		PlannedMembers: 10000, PlannedShards: 10, CreatedBy: "bob", CreatedAt: atT0(-3 * time.Hour),
		Audience: audience.Segment{TagsAny: []string{"mobile"}},
		Channels: []provider.Channel{provider.ChannelApp, provider.ChannelInbox},
	}
}

func TestGoldenCouponShow(t *testing.T) {
	t.Parallel()
	items := map[coupon.ItemStatus]int64{coupon.ItemIssued: 9000, coupon.ItemClaimed: 2100, coupon.ItemLocked: 45, coupon.ItemRedeemed: 1200}
	disabled := amountCoupon()
	disabled.Status = coupon.StatusDisabled
	runGolden(t, []goldenCase{
		{"amount_lazy", func(w io.Writer) error {
			return writeCouponShow(w, couponShow{Coupon: amountCoupon(), Items: items,
				Redis: &coupon.Counters{Loaded: true, Issued: 12345, Pending: 3}, Active: new(true)})
		}},
		{"percent_cap_push", func(w io.Writer) error {
			return writeCouponShow(w, couponShow{Coupon: percentCoupon(),
				Items: map[coupon.ItemStatus]int64{coupon.ItemIssued: 3900, coupon.ItemClaimed: 100},
				Redis: &coupon.Counters{Loaded: true, Issued: 4000}, Active: new(true),
				Push: &couponPushShow{Status: campaign.StatusRunning, PlannedMembers: 10000, PlannedShards: 10,
					Shards:    campaign.Progress{Shards: 10, Pending: 5, Running: 1, Done: 4, Expected: 10000, Sent: 7980, FailedN: 20},
					Announced: 3990}})
		}},
		{"disabled_redis_unreadable", func(w io.Writer) error {
			return writeCouponShow(w, couponShow{Coupon: disabled, Items: items,
				Error: "coupon: read redis counters of coupon 301: dial tcp 127.0.0.1:6379: connect: connection refused"})
		}},
	})
}

func TestGoldenCouponList(t *testing.T) {
	t.Parallel()
	runGolden(t, []goldenCase{
		{"two", func(w io.Writer) error {
			return writeCouponList(w, []coupon.Coupon{*percentCoupon(), *amountCoupon()})
		}},
		{"empty", func(w io.Writer) error { return writeCouponList(w, nil) }},
	})
}

func TestGoldenCouponMemberCoupons(t *testing.T) {
	t.Parallel()
	item := func(id int64, seq int, st coupon.ItemStatus, order *string, issued time.Duration) coupon.MemberItem {
		return coupon.MemberItem{
			Item: coupon.Item{ID: id, CouponID: 301, MemberID: 1007, Seq: seq, Status: st, OrderID: order,
				ValidFrom: atT0(-24 * time.Hour), ValidUntil: atT0(30 * 24 * time.Hour), IssuedAt: atT0(issued)},
			CouponName: "20 off orders from 100", Kind: coupon.KindAmount, AmountCents: 2000, ThresholdCents: 10000,
		}
	}
	pct := coupon.MemberItem{
		Item: coupon.Item{ID: 9001, CouponID: 302, MemberID: 1007, Seq: 1, Status: coupon.ItemIssued,
			ValidFrom: atT0(-time.Hour), ValidUntil: atT0(7*24*time.Hour - time.Hour), IssuedAt: atT0(-time.Hour)},
		CouponName: "15% off, at most 50", Kind: coupon.KindPercent, PercentOff: 15, CapCents: 5000,
	}
	runGolden(t, []goldenCase{
		{"items", func(w io.Writer) error {
			return writeMemberItems(w, []coupon.MemberItem{
				pct,
				item(8803, 3, coupon.ItemLocked, new("SO-20260314-0042"), -2*time.Hour),
				item(8802, 2, coupon.ItemClaimed, nil, -20*time.Hour),
				item(8801, 1, coupon.ItemRedeemed, new("SO-20260313-0007"), -23*time.Hour),
			})
		}},
		{"empty", func(w io.Writer) error { return writeMemberItems(w, nil) }},
	})
}

func TestGoldenCouponTransition(t *testing.T) {
	t.Parallel()
	it := func(st coupon.ItemStatus, order *string) *coupon.Item {
		return &coupon.Item{ID: 8803, CouponID: 301, MemberID: 1007, Seq: 3, Status: st, OrderID: order,
			ValidFrom: atT0(-24 * time.Hour), ValidUntil: atT0(30 * 24 * time.Hour), IssuedAt: atT0(-2 * time.Hour)}
	}
	step := func(verb string, tr coupon.Transition) func(io.Writer) error {
		return func(w io.Writer) error { writeTransition(w, verb, tr); return nil }
	}
	order := new("SO-20260314-0042")
	runGolden(t, []goldenCase{
		{"claimed", step("claimed", coupon.Transition{Item: it(coupon.ItemClaimed, nil), Changed: true})},
		{"locked", step("locked", coupon.Transition{Item: it(coupon.ItemLocked, order), Changed: true, DiscountCents: 2000})},
		{"redeemed", step("redeemed", coupon.Transition{Item: it(coupon.ItemRedeemed, order), Changed: true})},
		{"lock_repeated", step("locked", coupon.Transition{Item: it(coupon.ItemLocked, order)})},
	})
}

// --- hot goods

// hotgoodsRows are a day's rows: a launched one (run 77) and a pending one.
func hotgoodsRows() []hotgoods.Row {
	return []hotgoods.Row{
		{
			ID: 501, Date: "2026-03-14", Segment: "young parents", GoodsKind: hotgoods.BestSelling, Priority: 10,
			Filter: audience.Segment{Levels: []int{2, 3}, TagsAll: []string{"parent"}},
			Goods: []hotgoods.Item{
				{ID: "SKU-1001", Name: "Stroller", PriceCents: 129900, URL: "https://shop.example/p/1001"},
				{ID: "SKU-1002", Name: "Baby monitor", PriceCents: 45900},
				{ID: "SKU-1003", Name: "Diapers x120", PriceCents: 8990},
			},
			Template: "{segment}, today's {goods_kind}: {goods}",
			Channels: []provider.Channel{provider.ChannelSMS, provider.ChannelApp},
			Status:   "running", RunID: new(uint64(77)), CreatedAt: atT0(-6 * time.Hour),
		},
		{
			ID: 502, Date: "2026-03-14", Segment: "outdoor enthusiasts who hike every weekend", GoodsKind: hotgoods.MostViewed,
			Filter:   audience.Segment{MinActiveDays: 20, TagsAny: []string{"hiking", "camping", "climbing"}},
			Goods:    []hotgoods.Item{{ID: "SKU-2001", Name: "Tent", PriceCents: 59900}},
			Template: "Most viewed today: {top1}", Channels: []provider.Channel{provider.ChannelEmail},
			Status: "pending", CreatedAt: atT0(-6 * time.Hour),
		},
	}
}

func hotgoodsRun() *hotgoods.Run {
	return &hotgoods.Run{ID: 77, Name: "hot goods 2026-03-14: 1 segment rows", Date: "2026-03-14", ShardIndex: 0, ShardTotal: 2,
		Status: "running", ShardSize: 10000, PlannedMembers: 1000000, PlannedShards: 100, CreatedBy: "xxl-job",
		PlannedAt: new(atT0(-time.Hour)), CreatedAt: atT0(-time.Hour)}
}

func TestGoldenHotgoodsList(t *testing.T) {
	t.Parallel()
	runs := []hotgoods.Run{*hotgoodsRun()}
	runGolden(t, []goldenCase{
		{"launched_and_pending", func(w io.Writer) error {
			return writeHotgoodsDay(w, hotgoodsDay{Date: "2026-03-14", Rows: hotgoodsRows(), Runs: runs, Audience: map[uint64]int64{501: 48210}})
		}},
		{"audience_unreadable", func(w io.Writer) error {
			return writeHotgoodsDay(w, hotgoodsDay{Date: "2026-03-14", Rows: hotgoodsRows(), Runs: runs})
		}},
		{"empty_day", func(w io.Writer) error { return writeHotgoodsDay(w, hotgoodsDay{Date: "2026-03-15"}) }},
	})
}

func TestGoldenHotgoodsShow(t *testing.T) {
	t.Parallel()
	show := func(r *hotgoods.Row) hotgoodsShow {
		out := hotgoodsShow{Row: r, Messages: map[provider.Channel]string{}}
		for _, ch := range r.Channels {
			out.Messages[ch] = r.Render(ch, 0)
		}
		return out
	}
	rows := hotgoodsRows()
	launched := show(&rows[0])
	launched.Run = hotgoodsRun()
	launched.Report = &campaign.Report{
		Progress:  campaign.Progress{Shards: 100, Pending: 40, Running: 8, Done: 52, Expected: 1000000, Sent: 96000, FailedN: 420},
		Processed: 520000, Percent: 52,
	}
	launched.Won = new(int64(48210))
	runGolden(t, []goldenCase{
		{"launched", func(w io.Writer) error { return writeHotgoodsShow(w, launched) }},
		{"pending", func(w io.Writer) error { return writeHotgoodsShow(w, show(&rows[1])) }},
	})
}

func TestGoldenHotgoodsRun(t *testing.T) {
	t.Parallel()
	rows := hotgoodsRows()
	taken := rows[0]
	skipped := rows[0]
	skipped.ID = 503
	skipped.Segment = "students"
	skipped.RunID = new(uint64(76))
	runGolden(t, []goldenCase{
		{"launched", func(w io.Writer) error {
			return writeHotgoodsLaunch(w, hotgoods.LaunchResult{Date: "2026-03-14", ShardIndex: 0, ShardTotal: 2,
				Run: hotgoodsRun(), Taken: []hotgoods.Row{taken}, Skipped: []hotgoods.Row{skipped}})
		}},
		{"nothing_to_launch", func(w io.Writer) error {
			return writeHotgoodsLaunch(w, hotgoods.LaunchResult{Date: "2026-03-14", ShardIndex: 1, ShardTotal: 2,
				Skipped: []hotgoods.Row{skipped}})
		}},
		{"no_rows", func(w io.Writer) error {
			return writeHotgoodsLaunch(w, hotgoods.LaunchResult{Date: "2026-03-15", ShardIndex: 0, ShardTotal: 1})
		}},
	})
}

// --- schedules

// dailyHotgoods fires the hot-goods run at 08:00 Shanghai time (00:00 UTC).
func dailyHotgoods() *schedule.Schedule {
	return &schedule.Schedule{ID: 3, Name: "daily hot goods", Cron: "0 8 * * *", Zone: "Asia/Shanghai",
		Action: schedule.ActionHotGoods, MaxLatenessMs: 30 * 60 * 1000, Status: schedule.StatusActive,
		NextFireAt: new(time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)), CreatedBy: "alice", CreatedAt: atT0(-30 * 24 * time.Hour)}
}

// weeklyCopy copies promotion 42 every Friday 18:00 in New York; paused.
func weeklyCopy() *schedule.Schedule {
	return &schedule.Schedule{ID: 4, Name: "Friday evening promotion", Cron: "0 18 * * FRI", Zone: "America/New_York",
		Action: schedule.ActionCampaign, TemplateID: new(uint64(42)), MaxLatenessMs: 10 * 60 * 1000,
		Status: schedule.StatusPaused, CreatedBy: "bob", CreatedAt: atT0(-7 * 24 * time.Hour)}
}

func TestGoldenScheduleList(t *testing.T) {
	t.Parallel()
	deleted := schedule.Schedule{ID: 2, Name: "old nightly run", Cron: "30 2 * * *", Zone: "UTC", Action: schedule.ActionHotGoods,
		MaxLatenessMs: 60 * 1000, Status: schedule.StatusDeleted, CreatedAt: atT0(-60 * 24 * time.Hour)}
	runGolden(t, []goldenCase{
		{"all", func(w io.Writer) error {
			return writeScheduleList(w, []schedule.Schedule{deleted, *dailyHotgoods(), *weeklyCopy()})
		}},
		{"empty", func(w io.Writer) error { return writeScheduleList(w, nil) }},
	})
}

func TestGoldenScheduleShow(t *testing.T) {
	t.Parallel()
	s := dailyHotgoods()
	active := newScheduleReport(s, goldenT0, 3)
	kind := campaign.KindHotGoods
	day := func(d int) time.Time { return time.Date(2026, 3, 14-d, 0, 0, 0, 0, time.UTC) }
	active.Firings = []schedule.Firing{
		{ID: 30, ScheduleID: 3, FireAt: day(0), Status: schedule.FiringFired, CampaignKind: &kind, CampaignID: new(uint64(77)), Attempts: 1},
		{ID: 29, ScheduleID: 3, FireAt: day(1), Status: schedule.FiringSkipped, Attempts: 0,
			Reason: "late: due 2026-03-13 00:00:00 UTC, reached 41m0s later, beyond the max lateness of 30m0s (no pushd fired it in time)"},
		{ID: 28, ScheduleID: 3, FireAt: day(2), Status: schedule.FiringFailed, Attempts: 5, Reason: "launch: no rows for 2026-03-12"},
	}
	runGolden(t, []goldenCase{
		{"active_with_firings", func(w io.Writer) error { return writeScheduleShow(w, active) }},
		{"paused_no_firings", func(w io.Writer) error { return writeScheduleShow(w, newScheduleReport(weeklyCopy(), goldenT0, 3)) }},
	})
}

func TestGoldenScheduleNext(t *testing.T) {
	t.Parallel()
	s := weeklyCopy()
	c, err := s.Parse()
	if err != nil {
		t.Fatal(err)
	}
	// Across the start of daylight saving time in New York (8 March 2026)
	// and the change back (1 November).
	out := scheduleNext{ScheduleID: s.ID, Cron: s.Cron, Zone: s.Zone, Status: string(s.Status),
		Firings: firingTimes(c.NextN(time.Date(2026, 2, 25, 0, 0, 0, 0, time.UTC), 3))}
	autumn := out
	autumn.Firings = firingTimes(c.NextN(time.Date(2026, 10, 21, 0, 0, 0, 0, time.UTC), 3))
	runGolden(t, []goldenCase{
		{"spring_forward", func(w io.Writer) error { return writeScheduleNext(w, out) }},
		{"fall_back", func(w io.Writer) error { return writeScheduleNext(w, autumn) }},
	})
}

// --- status, migrations, dead letters, plan

func TestGoldenStatus(t *testing.T) {
	t.Parallel()
	ok := statusReport{OK: true, Members: 1000000, Components: []componentStatus{
		{Name: "mysql", Addr: "127.0.0.1:3306", OK: true, Detail: "database mkt"},
		{Name: "redis", Addr: "127.0.0.1:6379", OK: true, Detail: "PONG"},
		{Name: "rocketmq name server", Addr: "127.0.0.1:9876", OK: true, Detail: "accepting connections"},
		{Name: "rocketmq broker", Addr: "127.0.0.1:10911", OK: true, Detail: "accepting connections"},
	}}
	ok.Schema.Applied, ok.Schema.Total = 14, 14
	down := statusReport{Members: 1000000, Components: []componentStatus{
		{Name: "mysql", Addr: "127.0.0.1:3306", OK: true, Detail: "database mkt"},
		{Name: "redis", Addr: "127.0.0.1:6379", Detail: "dial tcp 127.0.0.1:6379: connect: connection refused"},
		{Name: "rocketmq name server", Addr: "127.0.0.1:9876", OK: true, Detail: "accepting connections"},
		{Name: "rocketmq broker", Addr: "127.0.0.1:10911", Detail: "dial tcp 127.0.0.1:10911: i/o timeout"},
	}}
	down.Schema.Applied, down.Schema.Total = 12, 14
	runGolden(t, []goldenCase{
		{"all_up", func(w io.Writer) error { return writeStatus(w, ok) }},
		{"redis_and_broker_down", func(w io.Writer) error { return writeStatus(w, down) }},
	})
}

func TestGoldenMigrateStatus(t *testing.T) {
	t.Parallel()
	ms := []store.Migration{
		{Version: 1, Name: "00001_membership.sql", Applied: true, AppliedAt: atT0(-90 * 24 * time.Hour)},
		{Version: 2, Name: "00002_campaign.sql", Applied: true, AppliedAt: atT0(-90 * 24 * time.Hour)},
		{Version: 3, Name: "00003_coupon.sql", Applied: true, AppliedAt: atT0(-30 * 24 * time.Hour)},
		{Version: 4, Name: "00004_schedule.sql"},
		{Version: 5, Name: "00005_dead_letter.sql"},
	}
	runGolden(t, []goldenCase{
		{"partly_applied", func(w io.Writer) error { return writeMigrationStatus(w, ms) }},
		{"no_migrations", func(w io.Writer) error { return writeMigrationStatus(w, nil) }},
	})
}

func TestGoldenEventsDLQList(t *testing.T) {
	t.Parallel()
	nt := func(d time.Duration) sql.NullTime { return sql.NullTime{Time: atT0(d), Valid: true} }
	letters := []deadletter.Letter{
		{MsgID: "0A0B0C0D0E0F10111213141516171819", Topic: "mkt_user_login", Keys: "1007",
			Body: []byte(`{"member_id":1007,"at":"2026-03-14T09:00:00Z"}`), Reason: "coupon 301: issue: deadlock found when trying to get lock",
			ReconsumeTimes: 8, BornAt: nt(-35 * time.Minute), StoredAt: nt(-30 * time.Minute), DrainedAt: nt(-29 * time.Minute)},
		{MsgID: "1A1B1C1D1E1F20212223242526272829", Topic: "mkt_user_login", Keys: "2001 2002 2003",
			Body:           []byte("{\"member_id\":\"not a number\",\n\"note\":\"this body is long enough to be cut: it goes on and on well past the preview of one hundred and twenty runes\"}"),
			ReconsumeTimes: 0, BornAt: nt(-3 * time.Hour), StoredAt: nt(-3 * time.Hour), DrainedAt: nt(-3 * time.Hour),
			ReplayedAt: nt(-2 * time.Hour), ReplayedBy: "alice"},
		{MsgID: "2A2B2C2D2E2F30313233343536373839", Topic: "mkt_user_login", Body: []byte{}},
	}
	rep := dlqListReport{Group: "mkt_couponsd", Pending: 2, Replayed: 1}
	for i := range letters {
		rep.Letters = append(rep.Letters, dlqView(&letters[i]))
	}
	runGolden(t, []goldenCase{
		{"letters", func(w io.Writer) error { return writeDLQList(w, rep) }},
		{"empty", func(w io.Writer) error {
			return writeDLQList(w, dlqListReport{Group: "mkt_couponsd", Letters: []dlqLetterView{}})
		}},
	})
}

func TestGoldenEventsDLQReplay(t *testing.T) {
	t.Parallel()
	results := []deadletter.ReplayResult{
		{MsgID: "0A0B0C0D0E0F10111213141516171819", Topic: "mkt_user_login", Keys: "1007", Outcome: deadletter.OutcomeReplayed},
		{MsgID: "1A1B1C1D1E1F20212223242526272829", Topic: "mkt_user_login", Keys: "2001 2002 2003", Outcome: deadletter.OutcomeAlreadyReplayed},
		{MsgID: "2A2B2C2D2E2F30313233343536373839", Topic: "mkt_user_login", Outcome: deadletter.OutcomeFailed,
			Error: "send: broker 127.0.0.1:10911: i/o timeout"},
	}
	counts := func(rs []deadletter.ReplayResult) map[string]int {
		m := map[string]int{}
		for _, r := range rs {
			m[r.Outcome]++
		}
		return m
	}
	dry := []deadletter.ReplayResult{
		{MsgID: "0A0B0C0D0E0F10111213141516171819", Topic: "mkt_user_login", Keys: "1007", Outcome: deadletter.OutcomeWouldReplay},
		{MsgID: "3A3B3C3D3E3F40414243444546474849", Topic: "mkt_user_login", Keys: "3003", Outcome: deadletter.OutcomeBusy},
	}
	runGolden(t, []goldenCase{
		{"mixed", func(w io.Writer) error {
			return writeDLQReplay(w, dlqReplayReport{Group: "mkt_couponsd", Counts: counts(results), Results: results})
		}},
		{"dry_run", func(w io.Writer) error {
			return writeDLQReplay(w, dlqReplayReport{Group: "mkt_couponsd", DryRun: true, Counts: counts(dry), Results: dry})
		}},
		{"nothing", func(w io.Writer) error {
			return writeDLQReplay(w, dlqReplayReport{Group: "mkt_couponsd", Counts: map[string]int{}, Results: []deadletter.ReplayResult{}})
		}},
	})
}

func TestGoldenPlan(t *testing.T) {
	t.Parallel()
	// shards cuts n members into shards of size, all full but the last,
	// one member in every stride ids being in the audience.
	shards := func(n, size, stride int) []audience.Range {
		var rs []audience.Range
		for no, start := 0, 1; n > 0; no++ {
			k := min(size, n)
			rs = append(rs, audience.Range{No: no, Start: uint64(start), End: uint64(start + k*stride), Expected: k})
			start, n = start+k*stride, n-k
		}
		return rs
	}
	stored := planReport{CampaignID: 42, Segment: audience.Segment{Levels: []int{3, 4}, MinActiveDays: 10},
		Members: 47500, ShardSize: 5000, Ranges: shards(47500, 5000, 4),
		Channels: []provider.Channel{provider.ChannelSMS, provider.ChannelApp}}
	stored.Audience, stored.Shards = stored.Segment.String(), len(stored.Ranges)
	stored.FirstID, stored.EndID = stored.Ranges[0].Start, stored.Ranges[stored.Shards-1].End
	stored.Batch = campaign.SpreadBatch(stored.Shards, campaign.DefaultTaskBatch)
	stored.Sends = (stored.Shards + stored.Batch - 1) / stored.Batch
	stored.Estimate = estimate(stored.Members, 2, 150*time.Millisecond, 4000, 0, 1)

	everyone := planReport{Audience: "everyone", Members: 998000, IDSpan: 1000000, ShardSize: 100000,
		Ranges: shards(1000000, 100000, 1), Channels: []provider.Channel{provider.ChannelSMS, provider.ChannelEmail, provider.ChannelApp},
		StartAt: new(atT0(24 * time.Hour))}
	everyone.Shards = len(everyone.Ranges)
	everyone.FirstID, everyone.EndID = everyone.Ranges[0].Start, everyone.Ranges[everyone.Shards-1].End
	everyone.Batch = campaign.SpreadBatch(everyone.Shards, campaign.DefaultTaskBatch)
	everyone.Sends = (everyone.Shards + everyone.Batch - 1) / everyone.Batch
	everyone.Estimate = estimate(everyone.Members, 3, 200*time.Millisecond, 2000, 500, 100)

	none := planReport{Audience: "levels 5 · all of vip,beta", Segment: audience.Segment{Levels: []int{5}, TagsAll: []string{"vip", "beta"}},
		ShardSize: 5000, Ranges: []audience.Range{}, Batch: campaign.DefaultTaskBatch,
		Channels: []provider.Channel{provider.ChannelInbox}, Estimate: estimate(0, 1, 200*time.Millisecond, 2000, 0, 1)}
	runGolden(t, []goldenCase{
		{"stored_campaign_boundaries_cut", func(w io.Writer) error { return writePlanReport(w, stored, 3) }},
		{"stored_campaign_all_boundaries", func(w io.Writer) error { return writePlanReport(w, stored, 5) }},
		{"everyone_rate_bound", func(w io.Writer) error { return writePlanReport(w, everyone, 3) }},
		{"no_members", func(w io.Writer) error { return writePlanReport(w, none, 3) }},
	})
}
