package cli

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/audience"
	"mkt/pkg/bench"
	"mkt/pkg/campaign"
	"mkt/pkg/coupon"
	"mkt/pkg/hotgoods"
	"mkt/pkg/membership"
	"mkt/pkg/providersim"
	"mkt/pkg/push"
	"mkt/pkg/schedule"
	"mkt/pkg/store"
)

// The flag tables of every mktctl command that has no table of its own
// elsewhere (campaign create, plan, watch and bench push have theirs): each
// command is built with a runF that records the options it receives, so
// nothing is opened or run. A case either names the options runF must
// receive — compared whole, so a flag setting the wrong field or a default
// changing fails — or a substring of the usage error, in which case runF
// must not have been called.

// flagCase is one command line of a flag table.
type flagCase[O any] struct {
	name string
	args []string
	// want is the options runF receives when err is "".
	want O
	// check replaces the comparison with want, for options that depend on
	// the clock.
	check func(t *testing.T, o *O)
	// err is a substring of the usage error; "" = the line is accepted.
	err string
}

// testFlags runs each case on a command newCmd builds around runF, in
// parallel subtests.
func testFlags[O any](t *testing.T, newCmd func(runF func(*O) error) *cobra.Command, cases []flagCase[O]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []*O
			cmd := newCmd(func(o *O) error { got = append(got, o); return nil })
			err := runCmd(cmd, tc.args...)
			if tc.err != "" {
				if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%q: error = %v, want a usage error mentioning %q", tc.args, err, tc.err)
				}
				if len(got) != 0 {
					t.Errorf("%q: refused, yet runF was called with %+v", tc.args, *got[0])
				}
				return
			}
			if err != nil {
				t.Fatalf("%q: unexpected error: %v", tc.args, err)
			}
			if len(got) != 1 {
				t.Fatalf("%q: runF called %d times, want once", tc.args, len(got))
			}
			if tc.check != nil {
				tc.check(t, got[0])
				return
			}
			if !reflect.DeepEqual(*got[0], tc.want) {
				t.Errorf("%q: options\n got %+v\nwant %+v", tc.args, *got[0], tc.want)
			}
		})
	}
}

// withAction adapts a constructor whose runF also receives the action
// (pause, resume, ...) to testFlags, checking the action passed through.
func withAction[O any](action string, newCmd func(runF func(string, *O) error) *cobra.Command) func(func(*O) error) *cobra.Command {
	return func(runF func(*O) error) *cobra.Command {
		return newCmd(func(got string, o *O) error {
			if got != action {
				return fmt.Errorf("runF called with action %q, want %q", got, action)
			}
			return runF(o)
		})
	}
}

// idCases are the refusals every command taking one id argument shares;
// what names the id in the message ("coupon id", "run id", ...), and extra
// are the flags the command requires.
func idCases[O any](what string, extra ...string) []flagCase[O] {
	with := func(args ...string) []string { return append(args, extra...) }
	return []flagCase[O]{
		{name: "no id", args: with(), err: "accepts 1 arg(s), received 0"},
		{name: "two ids", args: with("1", "2"), err: "accepts 1 arg(s), received 2"},
		{name: "zero id", args: with("0"), err: what + ` "0": want a positive integer`},
		{name: "id not a number", args: with("abc"), err: what + ` "abc": want a positive integer`},
		{name: "leading zero", args: with("007"), err: what + ` "007"`},
		{name: "plus sign", args: with("+5"), err: what + ` "+5"`},
		{name: "id above int64", args: with("9223372036854775808"), err: what + ` "9223372036854775808"`},
		{name: "negative id is a flag", args: with("-3"), err: "unknown shorthand flag"},
		{name: "unknown flag", args: with("1", "--bogus"), err: "unknown flag: --bogus"},
	}
}

// noArgCases are the refusals every command without arguments shares.
func noArgCases[O any]() []flagCase[O] {
	return []flagCase[O]{
		{name: "extra argument", args: []string{"extra"}, err: `unknown command "extra"`},
		{name: "unknown flag", args: []string{"--bogus"}, err: "unknown flag: --bogus"},
	}
}

func cases[O any](lists ...[]flagCase[O]) []flagCase[O] { return slices.Concat(lists...) }

func utcDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestCommandGroups: every group holds the commands it is documented to,
// refuses an unknown one as a usage error, and prints its help alone.
func TestCommandGroups(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		group *cobra.Command
		subs  []string
	}{
		{newCampaignCmd(&App{}), []string{"cancel", "create", "failures", "list", "pause", "resume", "retry-failed", "show"}},
		{newCouponCmd(&App{}), []string{"claim", "create", "disable", "expire", "issue", "list", "lock", "member-coupons",
			"pause", "redeem", "release", "resume", "retry-failed", "show"}},
		{newHotgoodsCmd(&App{}), []string{"cancel", "import", "list", "pause", "resume", "retry-failed", "run", "show"}},
		{newScheduleCmd(&App{}), []string{"create", "delete", "list", "next", "pause", "resume", "show"}},
		{newEventsCmd(&App{}), []string{"dlq", "login"}},
		{newEventsDLQCmd(&App{}), []string{"list", "replay"}},
		{newUsersCmd(&App{}), []string{"count", "seed"}},
		{newMigrateCmd(&App{}), []string{"status", "up"}},
		{newDevCmd(&App{}), []string{"hotgoods", "provider"}},
		{newBenchCmd(&App{}), []string{"coupons", "push"}},
	} {
		name := tc.group.Name()
		var subs []string
		for _, c := range tc.group.Commands() {
			subs = append(subs, c.Name())
		}
		slices.Sort(subs)
		if !slices.Equal(subs, tc.subs) {
			t.Errorf("%s: subcommands %v, want %v", name, subs, tc.subs)
		}
		if err := runCmd(tc.group, "bogus"); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `unknown command "bogus"`) {
			t.Errorf("%s bogus: error = %v, want a usage error naming the command", name, err)
		}
		if name == "migrate" {
			continue // alone it is `migrate up`, which needs a database
		}
		if err := runCmd(tc.group); err != nil {
			t.Errorf("%s alone: %v, want its help", name, err)
		}
	}
}

func TestCouponFlags(t *testing.T) {
	t.Parallel()
	t.Run("create", func(t *testing.T) {
		t.Parallel()
		def := couponCreateOptions{Name: "x", Kind: "amount", PerMember: 1, Mode: "lazy",
			ShardSize: audience.DefaultShardSize, CreatedBy: operatorName()}
		all := couponCreateOptions{Name: "Spring", Kind: "percent", Amount: "9.90", Threshold: "100", Cap: "30", Percent: 15,
			From: "2026-12-01", Until: "2026-12-31", For: "30d", ValidDays: 3, Quota: 1000, PerMember: 2,
			audienceOptions: audienceOptions{JSON: `{"levels":[3]}`, Levels: []int{3, 4}, MinActiveDays: 5, MaxActiveDays: 20,
				TagsAll: []string{"digital"}, TagsAny: []string{"books", " pets"}}, Mode: "push",
			Message: "{name}", Channels: "app,inbox", ShardSize: 500, RequestID: "ops-1", CreatedBy: "alice"}
		testFlags(t, func(runF func(*couponCreateOptions) error) *cobra.Command {
			return newCouponCreateCmd(&App{}, &campaignQueues{}, runF)
		}, cases([]flagCase[couponCreateOptions]{
			{name: "defaults", args: []string{"--name", "x"}, want: def},
			{name: "every flag", args: []string{"--name", "Spring", "--kind", "percent", "--amount", "9.90", "--threshold", "100",
				"--cap", "30", "--percent", "15", "--from", "2026-12-01", "--until", "2026-12-31", "--for", "30d", "--valid-days", "3",
				"--quota", "1000", "--per-member", "2", "--audience-json", `{"levels":[3]}`, "--levels", "3,4", "--min-active-days", "5",
				"--max-active-days", "20", "--tags-all", "digital", "--tags-any", "books, pets", "--mode", "push", "--message", "{name}",
				"--channels", "app,inbox", "--shard-size", "500", "--request-id", "ops-1", "--created-by", "alice"}, want: all},
			{name: "audience by its former name", args: []string{"--name", "x", "--audience", `{"levels":[3]}`},
				want: func() couponCreateOptions { o := def; o.oldJSON = `{"levels":[3]}`; return o }()},
			{name: "no name", args: []string{"--amount", "1", "--for", "1d"}, err: `required flag(s) "name" not set`},
			{name: "percent not a number", args: []string{"--name", "x", "--percent", "ten"}, err: `invalid argument "ten" for "--percent"`},
			{name: "level not a number", args: []string{"--name", "x", "--levels", "high"}, err: `invalid argument "high" for "--levels"`},
			{name: "quota not an integer", args: []string{"--name", "x", "--quota", "1.5"}, err: `invalid argument "1.5" for "--quota"`},
		}, noArgCases[couponCreateOptions]()))

		// What the flags mean is the spec runCouponCreate validates before
		// anything is opened: amounts, the window, the audience.
		now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
		base := []string{"--name", "x", "--amount", "10"}
		for _, tc := range []struct {
			args  []string
			err   string
			check func(s coupon.Spec) bool
		}{
			{args: append(base, "--threshold", "99.5", "--for", "7d"), check: func(s coupon.Spec) bool {
				return s.AmountCents == 1000 && s.ThresholdCents == 9950 && s.ValidFrom.Equal(now) && s.ValidUntil.Equal(now.Add(7*24*time.Hour)) &&
					s.TotalQuota == nil && s.Validity != coupon.ValidityRelative && s.Audience.Everyone()
			}},
			{args: append(base, "--from", "2026-12-01T08:00", "--until", "2026-12-02", "--quota", "5", "--valid-days", "2", "--tags-any", "books, pets"),
				check: func(s coupon.Spec) bool {
					return s.ValidFrom.Equal(time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)) && s.ValidUntil.Equal(utcDay(2026, 12, 2)) &&
						*s.TotalQuota == 5 && s.Validity == coupon.ValidityRelative && slices.Equal(s.Audience.TagsAny, []string{"books", "pets"})
				}},
			{args: append(base, "--for", "72h", "--audience-json", `{"levels":[3,4]}`), check: func(s coupon.Spec) bool {
				return s.ValidUntil.Sub(s.ValidFrom) == 72*time.Hour && slices.Equal(s.Audience.Levels, []int{3, 4})
			}},
			{args: append(base, "--for", "1d", "--audience", `{"levels":[2]}`), check: func(s coupon.Spec) bool {
				return slices.Equal(s.Audience.Levels, []int{2}) // the former name still works
			}},
			{args: append(base, "--until", "2026-12-01", "--for", "1d"), err: "give --until or --for, not both"},
			{args: base, err: "the window needs an end: --until or --for"},
			{args: append(base, "--for", "soon"), err: `--for "soon": want a positive duration`},
			{args: append(base, "--for", "-1h"), err: `--for "-1h"`},
			{args: append(base, "--until", "2026-13-01"), err: `--until "2026-13-01": want RFC 3339`},
			{args: append(base, "--from", "tomorrow", "--for", "1d"), err: `--from "tomorrow"`},
			{args: []string{"--name", "x", "--amount", "1.234", "--for", "1d"}, err: "--amount: "},
			{args: append(base, "--threshold", "-5", "--for", "1d"), err: "--threshold: "},
			{args: append(base, "--cap", "1e3", "--for", "1d"), err: "--cap: "},
			{args: append(base, "--for", "1d", "--per-member", "0"), err: "--per-member 0: want 1..100"},
			{args: append(base, "--for", "1d", "--per-member", "101"), err: "--per-member 101"},
			{args: append(base, "--for", "1d", "--quota", "-1"), err: "--quota -1: want a positive number, or 0 for unlimited"},
			{args: append(base, "--for", "1d", "--audience-json", `{"levels":[3]}`, "--min-active-days", "2"), err: "--audience-json cannot be combined with --levels"},
			{args: append(base, "--for", "1d", "--audience", `{"levels":[3]}`, "--min-active-days", "2"), err: "--audience-json cannot be combined with --levels"},
			{args: append(base, "--for", "1d", "--audience-json", `{"sql":"1=1"}`), err: "--audience-json: "},
			{args: append(base, "--for", "1d", "--audience", `{"levels":[3]}`, "--audience-json", `{"levels":[4]}`), err: "give --audience-json only"},
			{args: append(base, "--for", "1d", "--levels", "9"), err: "audience: "},
			{args: append(base, "--for", "1d", "--channels", "sms,fax"), err: "--channels: "},
			{args: append(base, "--for", "1d", "--mode", "push", "--shard-size", "5"), err: "--shard-size: "},
		} {
			var got *couponCreateOptions
			cmd := newCouponCreateCmd(&App{}, &campaignQueues{}, func(o *couponCreateOptions) error { got = o; return nil })
			if err := runCmd(cmd, tc.args...); err != nil {
				t.Errorf("%q: %v", tc.args, err)
				continue
			}
			s, err := got.spec(now)
			if tc.err != "" {
				if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("%q: spec error = %v, want a usage error mentioning %q", tc.args, err, tc.err)
				}
				continue
			}
			if err != nil || !tc.check(s) {
				t.Errorf("%q: spec %+v, %v", tc.args, s, err)
			}
		}
	})

	for _, action := range []string{"pause", "resume", "retry-failed"} {
		t.Run(action, func(t *testing.T) {
			t.Parallel()
			testFlags(t, withAction(action, func(runF func(string, *couponPushControlOptions) error) *cobra.Command {
				return newCouponPushControlCmd(&App{}, &campaignQueues{}, campaign.Action(action), runF)
			}), cases([]flagCase[couponPushControlOptions]{
				{name: "id", args: []string{"42"}, want: couponPushControlOptions{ID: 42}},
				{name: "largest id", args: []string{"9223372036854775807"}, want: couponPushControlOptions{ID: 9223372036854775807}},
				{name: "no reason on coupons", args: []string{"42", "--reason", "x"}, err: "unknown flag: --reason"},
			}, idCases[couponPushControlOptions]("coupon id")))
		})
	}

	t.Run("list", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*couponListOptions) error) *cobra.Command { return newCouponListCmd(&App{}, runF) },
			cases([]flagCase[couponListOptions]{
				{name: "defaults", want: couponListOptions{Limit: 50}},
				{name: "every flag", args: []string{"--status", "disabled", "--mode", "push", "--limit", "10", "--before", "99"},
					want: couponListOptions{Status: "disabled", Mode: "push", Limit: 10, Before: 99}},
				{name: "active lazy", args: []string{"--status", "active", "--mode", "lazy"},
					want: couponListOptions{Status: "active", Mode: "lazy", Limit: 50}},
				{name: "bad status", args: []string{"--status", "expired"}, err: `--status "expired": want active or disabled`},
				{name: "bad mode", args: []string{"--mode", "eager"}, err: `--mode "eager": want lazy or push`},
				{name: "limit not a number", args: []string{"--limit", "many"}, err: `invalid argument "many" for "--limit"`},
				{name: "before not a number", args: []string{"--before", "x"}, err: `invalid argument "x" for "--before"`},
				{name: "limit zero", args: []string{"--limit", "0"}, err: "--limit 0: want 1..1000"},
				{name: "limit too large", args: []string{"--limit", "5000"}, err: "--limit 5000: want 1..1000"},
				{name: "negative before", args: []string{"--before", "-4"}, err: "--before -4"},
			}, noArgCases[couponListOptions]()))
	})

	t.Run("show", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*couponShowOptions) error) *cobra.Command { return newCouponShowCmd(&App{}, runF) },
			cases([]flagCase[couponShowOptions]{{name: "id", args: []string{"7"}, want: couponShowOptions{ID: 7}}},
				idCases[couponShowOptions]("coupon id")))
	})

	t.Run("disable", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*couponDisableOptions) error) *cobra.Command { return newCouponDisableCmd(&App{}, runF) },
			cases([]flagCase[couponDisableOptions]{{name: "id", args: []string{"7"}, want: couponDisableOptions{ID: 7}}},
				idCases[couponDisableOptions]("coupon id")))
	})

	t.Run("member-coupons", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*couponMemberCouponsOptions) error) *cobra.Command {
			return newCouponMemberCouponsCmd(&App{}, runF)
		}, cases([]flagCase[couponMemberCouponsOptions]{
			{name: "defaults", args: []string{"--member", "5"}, want: couponMemberCouponsOptions{Member: 5, Limit: 100}},
			{name: "every flag", args: []string{"--member", "5", "--status", "claimed", "--limit", "10"},
				want: couponMemberCouponsOptions{Member: 5, Status: "claimed", Limit: 10}},
			{name: "no member", args: nil, err: `required flag(s) "member" not set`},
			{name: "member zero", args: []string{"--member", "0"}, err: "--member must be a positive member id"},
			{name: "negative member", args: []string{"--member", "-2"}, err: "--member must be a positive member id"},
			{name: "member not a number", args: []string{"--member", "bob"}, err: `invalid argument "bob" for "--member"`},
			{name: "unknown status", args: []string{"--member", "5", "--status", "bogus"}, err: `--status "bogus": want one of issued, claimed, locked, redeemed, expired`},
			{name: "limit zero", args: []string{"--member", "5", "--limit", "0"}, err: "--limit 0: want 1..1000"},
			{name: "limit too large", args: []string{"--member", "5", "--limit", "5000"}, err: "--limit 5000: want 1..1000"},
			{name: "extra argument", args: []string{"--member", "5", "extra"}, err: `unknown command "extra"`},
		}))
	})

	t.Run("claim", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*couponClaimOptions) error) *cobra.Command { return newCouponClaimCmd(&App{}, runF) },
			cases([]flagCase[couponClaimOptions]{
				{name: "item and member", args: []string{"9", "--member", "5"}, want: couponClaimOptions{ItemID: 9, Member: 5}},
				{name: "no member", args: []string{"9"}, err: `required flag(s) "member" not set`},
				{name: "member not a number", args: []string{"9", "--member", "x"}, err: `invalid argument "x" for "--member"`},
				{name: "member zero", args: []string{"9", "--member", "0"}, err: "--member 0: want a positive member id"},
			}, idCases[couponClaimOptions]("item id", "--member", "5")))
	})

	t.Run("lock", func(t *testing.T) {
		t.Parallel()
		lock := func(extra ...string) []string {
			return append([]string{"9", "--member", "5", "--order", "o-1", "--total", "120.50"}, extra...)
		}
		testFlags(t, func(runF func(*couponLockOptions) error) *cobra.Command { return newCouponLockCmd(&App{}, runF) },
			cases([]flagCase[couponLockOptions]{
				{name: "amount parsed", args: lock(), want: couponLockOptions{ItemID: 9, Member: 5, Order: "o-1", Total: "120.50", TotalCents: 12050}},
				{name: "whole amount", args: []string{"9", "--member", "5", "--order", "o-1", "--total", "7"},
					want: couponLockOptions{ItemID: 9, Member: 5, Order: "o-1", Total: "7", TotalCents: 700}},
				{name: "nothing required given", args: []string{"9"}, err: `required flag(s) "member", "order", "total" not set`},
				{name: "no total", args: []string{"9", "--member", "5", "--order", "o-1"}, err: `required flag(s) "total" not set`},
				{name: "negative total", args: lock("--total", "-3"), err: `--total: `},
				{name: "three decimals", args: lock("--total", "1.005"), err: "at most two decimals"},
				{name: "total not a number", args: lock("--total", "abc"), err: `--total: `},
				{name: "id before the amount", args: []string{"x", "--member", "5", "--order", "o", "--total", "-1"}, err: `item id "x"`},
			}, idCases[couponLockOptions]("item id", "--member", "5", "--order", "o-1", "--total", "1")))
	})

	for _, step := range []string{"release", "redeem"} {
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			testFlags(t, withAction(step, func(runF func(string, *couponOrderStepOptions) error) *cobra.Command {
				return newCouponOrderStepCmd(&App{}, step, runF)
			}), cases([]flagCase[couponOrderStepOptions]{
				{name: "item and order", args: []string{"9", "--order", "o-1"}, want: couponOrderStepOptions{ItemID: 9, Order: "o-1"}},
				{name: "member checked", args: []string{"9", "--order", "o-1", "--member", "5"},
					want: couponOrderStepOptions{ItemID: 9, Order: "o-1", Member: 5}},
				{name: "no order", args: []string{"9", "--member", "5"}, err: `required flag(s) "order" not set`},
			}, idCases[couponOrderStepOptions]("item id", "--order", "o-1")))
		})
	}

	t.Run("issue", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*couponIssueOptions) error) *cobra.Command { return newCouponIssueCmd(&App{}, runF) },
			cases([]flagCase[couponIssueOptions]{
				{name: "member list", args: []string{"3", "--members", "1, 2,,40"},
					want: couponIssueOptions{CouponID: 3, Members: "1, 2,,40", MemberIDs: []int64{1, 2, 40}}},
				{name: "range", args: []string{"3", "--range", "5-7"},
					want: couponIssueOptions{CouponID: 3, Range: "5-7", MemberIDs: []int64{5, 6, 7}}},
				{name: "range of one", args: []string{"3", "--range", "8-8"},
					want: couponIssueOptions{CouponID: 3, Range: "8-8", MemberIDs: []int64{8}}},
				{name: "largest range", args: []string{"3", "--range", "1-10000000"}, check: func(t *testing.T, o *couponIssueOptions) {
					if len(o.MemberIDs) != 10_000_000 || o.MemberIDs[0] != 1 || o.MemberIDs[len(o.MemberIDs)-1] != 10_000_000 {
						t.Errorf("%d members", len(o.MemberIDs))
					}
				}},
				{name: "no members", args: []string{"3"}, err: "give --members or --range"},
				{name: "members and range", args: []string{"3", "--members", "1", "--range", "1-2"}, err: "give --members or --range, not both"},
				{name: "bad member", args: []string{"3", "--members", "1,x"}, err: `member id "x": want a positive integer`},
				{name: "member zero", args: []string{"3", "--members", "0"}, err: `member id "0"`},
				{name: "no member in the list", args: []string{"3", "--members", ","}, err: `--members "," names no member`},
				{name: "reversed range", args: []string{"3", "--range", "7-5"}, err: `range "7-5": want A-B with 1 ≤ A ≤ B`},
				{name: "range from zero", args: []string{"3", "--range", "0-5"}, err: `range "0-5"`},
				{name: "not a range", args: []string{"3", "--range", "5"}, err: `range "5"`},
				{name: "range too large", args: []string{"3", "--range", "1-10000001"}, err: "covers 10000001 members: at most 10000000 at once"},
			}, idCases[couponIssueOptions]("coupon id", "--members", "1")))
	})

	t.Run("expire", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*couponExpireOptions) error) *cobra.Command { return newCouponExpireCmd(&App{}, runF) },
			cases([]flagCase[couponExpireOptions]{{name: "no flags", want: couponExpireOptions{}}}, noArgCases[couponExpireOptions]()))
	})
}

func TestHotgoodsFlags(t *testing.T) {
	t.Parallel()
	t.Run("import", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*hotgoodsImportOptions) error) *cobra.Command {
			return newHotgoodsImportCmd(&App{}, runF)
		},
			cases([]flagCase[hotgoodsImportOptions]{
				{name: "defaults", args: []string{"--date", "2026-12-02", "day.jsonl"},
					want: hotgoodsImportOptions{Date: utcDay(2026, 12, 2), Path: "day.jsonl", Format: hotgoods.FormatAuto}},
				{name: "stdin as csv", args: []string{"--date", "2026-12-02", "--format", "csv", "-"},
					want: hotgoodsImportOptions{Date: utcDay(2026, 12, 2), Path: "-", Format: hotgoods.FormatCSV}},
				{name: "jsonl", args: []string{"--date", "2027-01-31", "--format", "jsonl", "f"},
					want: hotgoodsImportOptions{Date: utcDay(2027, 1, 31), Path: "f", Format: hotgoods.FormatJSONL}},
				{name: "no date", args: []string{"f"}, err: "--date is required (YYYY-MM-DD)"},
				{name: "bad date", args: []string{"--date", "2026-13-01", "f"}, err: `--date: `},
				{name: "date with time", args: []string{"--date", "2026-12-02T00:00:00Z", "f"}, err: `--date: `},
				{name: "bad format", args: []string{"--date", "2026-12-02", "--format", "xml", "f"}, err: `--format "xml": want auto, jsonl or csv`},
				{name: "no file", args: []string{"--date", "2026-12-02"}, err: "accepts 1 arg(s), received 0"},
				{name: "two files", args: []string{"--date", "2026-12-02", "a", "b"}, err: "accepts 1 arg(s), received 2"},
			}))
	})

	t.Run("list", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*hotgoodsListOptions) error) *cobra.Command { return newHotgoodsListCmd(&App{}, runF) },
			cases([]flagCase[hotgoodsListOptions]{
				{name: "date", args: []string{"--date", "2026-12-02"}, want: hotgoodsListOptions{Date: utcDay(2026, 12, 2)}},
				{name: "no date", err: "--date is required"},
				{name: "bad date", args: []string{"--date", "today"}, err: "--date: "},
			}, noArgCases[hotgoodsListOptions]()))
	})

	t.Run("show", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*hotgoodsShowOptions) error) *cobra.Command { return newHotgoodsShowCmd(&App{}, runF) },
			cases([]flagCase[hotgoodsShowOptions]{{name: "id", args: []string{"12"}, want: hotgoodsShowOptions{ID: 12}}},
				idCases[hotgoodsShowOptions]("row id")))
	})

	t.Run("run", func(t *testing.T) {
		t.Parallel()
		date := []string{"--date", "2026-12-02"}
		with := func(extra ...string) []string { return append(append([]string(nil), date...), extra...) }
		def := hotgoodsRunOptions{Date: utcDay(2026, 12, 2), ShardIndex: 0, ShardTotal: 1, ShardSize: audience.DefaultShardSize,
			CreatedBy: operatorName()}
		testFlags(t, func(runF func(*hotgoodsRunOptions) error) *cobra.Command {
			return newHotgoodsRunCmd(&App{}, &campaignQueues{}, runF)
		}, cases([]flagCase[hotgoodsRunOptions]{
			{name: "defaults", args: date, want: def},
			{name: "every flag", args: with("--shard-index", "2", "--shard-total", "4", "--shard-size", "500", "--request-id", "cron:2026-12-02",
				"--created-by", "timer"),
				want: hotgoodsRunOptions{Date: utcDay(2026, 12, 2), ShardIndex: 2, ShardTotal: 4, ShardSize: 500, RequestID: "cron:2026-12-02", CreatedBy: "timer"}},
			{name: "last shard", args: with("--shard-index", "1023", "--shard-total", "1024"),
				want: hotgoodsRunOptions{Date: utcDay(2026, 12, 2), ShardIndex: 1023, ShardTotal: 1024, ShardSize: audience.DefaultShardSize, CreatedBy: operatorName()}},
			{name: "today in a zone", args: []string{"--date", "today", "--tz", "UTC"}, check: func(t *testing.T, o *hotgoodsRunOptions) {
				now := time.Now().UTC()
				if today := utcDay(now.Date()); !o.Date.Equal(today) && !o.Date.Equal(today.Add(-24*time.Hour)) {
					t.Errorf("--date today --tz UTC = %v, want %v", o.Date, today)
				}
			}},
			{name: "no date", err: "--date is required"},
			{name: "bad date", args: []string{"--date", "12/02/2026"}, err: "--date: "},
			{name: "zone with a date", args: with("--tz", "UTC"), err: "--tz applies to --date today only"},
			{name: "unknown zone", args: []string{"--date", "today", "--tz", "Nowhere/City"}, err: `--tz "Nowhere/City": unknown time zone`},
			{name: "empty zone", args: []string{"--date", "today", "--tz", ""}, err: "--tz: want a zone name"},
			{name: "index alone", args: with("--shard-index", "1"), err: "--shard-index and --shard-total go together"},
			{name: "total alone", args: with("--shard-total", "4"), err: "--shard-index and --shard-total go together"},
			{name: "index past total", args: with("--shard-index", "4", "--shard-total", "4"), err: "shard index 4: want 0..3"},
			{name: "negative index", args: with("--shard-index", "-1", "--shard-total", "4"), err: "shard index -1"},
			{name: "total zero", args: with("--shard-index", "0", "--shard-total", "0"), err: "--shard-total 0: want 1..1024"},
			{name: "total too large", args: with("--shard-index", "0", "--shard-total", "1025"), err: "shard total 1025: want 1..1024"},
			{name: "shard size", args: with("--shard-size", "5"), err: "shard size 5 is outside"},
			{name: "shard size zero", args: with("--shard-size", "0"), err: "--shard-size: "},
			{name: "request id", args: with("--request-id", "a b"), err: `request id "a b"`},
			{name: "created-by too long", args: with("--created-by", strings.Repeat("x", 65)), err: "created-by is longer than 64 characters"},
			{name: "shard index not a number", args: with("--shard-index", "x", "--shard-total", "2"), err: `invalid argument "x" for "--shard-index"`},
		}, noArgCases[hotgoodsRunOptions]()))
	})

	for _, action := range []string{"pause", "resume", "cancel", "retry-failed"} {
		t.Run(action, func(t *testing.T) {
			t.Parallel()
			cs := cases([]flagCase[controlOptions]{{name: "id", args: []string{"7"}, want: controlOptions{ID: 7}}},
				idCases[controlOptions]("run id"))
			if action == "cancel" {
				cs = append(cs,
					flagCase[controlOptions]{name: "reason", args: []string{"7", "--reason", "wrong day"},
						want: controlOptions{ID: 7, Reason: "wrong day"}},
					flagCase[controlOptions]{name: "longest reason", args: []string{"7", "--reason", strings.Repeat("r", 200)},
						want: controlOptions{ID: 7, Reason: strings.Repeat("r", 200)}},
					flagCase[controlOptions]{name: "reason too long", args: []string{"7", "--reason", strings.Repeat("r", 201)},
						err: "--reason is longer than 200 characters"})
				cs = append(cs, flagCase[controlOptions]{name: "200 Chinese characters", args: []string{"7", "--reason", strings.Repeat("错", 200)},
					want: controlOptions{ID: 7, Reason: strings.Repeat("错", 200)}})
			} else {
				cs = append(cs, flagCase[controlOptions]{name: "reason only on cancel", args: []string{"7", "--reason", "x"},
					err: "unknown flag: --reason"})
			}
			testFlags(t, withAction(action, func(runF func(string, *controlOptions) error) *cobra.Command {
				return newHotgoodsControlCmd(&App{}, &campaignQueues{}, campaign.Action(action), runF)
			}), cs)
		})
	}
}

func TestScheduleFlags(t *testing.T) {
	t.Parallel()
	t.Run("create", func(t *testing.T) {
		t.Parallel()
		cron := []string{"--cron", "0 10 * * *"}
		with := func(extra ...string) []string { return append(append([]string(nil), cron...), extra...) }
		spec := func(s schedule.Spec) scheduleCreateOptions {
			s.Cron, s.Zone = cmp.Or(s.Cron, "0 10 * * *"), cmp.Or(s.Zone, "UTC")
			s.MaxLateness = cmp.Or(s.MaxLateness, schedule.DefaultMaxLateness)
			s.CreatedBy = cmp.Or(s.CreatedBy, operatorName())
			return scheduleCreateOptions{Spec: s}
		}
		testFlags(t, func(runF func(*scheduleCreateOptions) error) *cobra.Command {
			return newScheduleCreateCmd(&App{}, runF)
		},
			cases([]flagCase[scheduleCreateOptions]{
				{name: "hot goods, defaults", args: with("--hotgoods"), want: spec(schedule.Spec{Action: schedule.ActionHotGoods})},
				{name: "campaign by id", args: with("--from-campaign", "7"),
					want: spec(schedule.Spec{Action: schedule.ActionCampaign, TemplateKind: campaign.KindPromotion, TemplateID: 7})},
				{name: "campaign by kind and id", args: with("--from-campaign", " promotion:8 "),
					want: spec(schedule.Spec{Action: schedule.ActionCampaign, TemplateKind: campaign.KindPromotion, TemplateID: 8})},
				{name: "every flag", args: []string{"--cron", "30 9 * * 1-5", "--tz", "Asia/Shanghai", "--hotgoods", "--name", "Weekday goods",
					"--max-lateness", "30m", "--created-by", "bob"},
					want: scheduleCreateOptions{Spec: schedule.Spec{Name: "Weekday goods", Cron: "30 9 * * 1-5", Zone: "Asia/Shanghai",
						Action: schedule.ActionHotGoods, MaxLateness: 30 * time.Minute, CreatedBy: "bob"}}},
				{name: "macro", args: []string{"--cron", "@daily", "--hotgoods"}, want: spec(schedule.Spec{Cron: "@daily", Action: schedule.ActionHotGoods})},
				{name: "no action", args: cron, err: "an action is required: --hotgoods (the day's hot-goods run) or --from-campaign ID"},
				{name: "two actions", args: with("--hotgoods", "--from-campaign", "3"), err: "give one action: --hotgoods or --from-campaign, not both"},
				{name: "no cron", args: []string{"--hotgoods"}, err: `--cron is required, e.g. "0 10 * * *"`},
				{name: "blank cron", args: []string{"--hotgoods", "--cron", "  "}, err: "--cron is required"},
				{name: "bad cron", args: []string{"--hotgoods", "--cron", "61 * * * *"}, err: `cron expression "61 * * * *"`},
				{name: "bad zone", args: with("--hotgoods", "--tz", "Mars/Olympus_Mons"), err: `time zone "Mars/Olympus_Mons"`},
				{name: "lateness too short", args: with("--hotgoods", "--max-lateness", "1s"), err: "max lateness 1s: want 10s..168h0m0s"},
				{name: "lateness not a duration", args: with("--hotgoods", "--max-lateness", "soon"), err: `invalid argument "soon" for "--max-lateness"`},
				{name: "coupon template", args: with("--from-campaign", "coupon:3"), err: "a coupon push cannot be a template"},
				{name: "unknown kind", args: with("--from-campaign", "bogus:3"), err: `--from-campaign "bogus:3"`},
				{name: "template not an id", args: with("--from-campaign", "x"), err: `--from-campaign "x": want a campaign id (a positive integer)`},
				{name: "template zero", args: with("--from-campaign", "0"), err: `--from-campaign "0": want a campaign id`},
				{name: "empty template", args: with("--from-campaign", ""), err: `--from-campaign "": want a campaign id`},
				{name: "name with an escape", args: with("--hotgoods", "--name", "a\x1bb"), err: "name "},
				{name: "problems joined on one line", args: []string{"--hotgoods", "--cron", "61 * * * *", "--max-lateness", "1s"},
					err: "; max lateness 1s"},
			}, noArgCases[scheduleCreateOptions]()))
	})

	t.Run("list", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*scheduleListOptions) error) *cobra.Command { return newScheduleListCmd(&App{}, runF) },
			cases([]flagCase[scheduleListOptions]{
				{name: "defaults", want: scheduleListOptions{}},
				{name: "all", args: []string{"--all"}, want: scheduleListOptions{All: true}},
			}, noArgCases[scheduleListOptions]()))
	})

	t.Run("show", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*scheduleShowOptions) error) *cobra.Command { return newScheduleShowCmd(&App{}, runF) },
			cases([]flagCase[scheduleShowOptions]{
				{name: "defaults", args: []string{"4"}, want: scheduleShowOptions{ID: 4, Firings: 20}},
				{name: "most firings", args: []string{"4", "--firings", "1000"}, want: scheduleShowOptions{ID: 4, Firings: 1000}},
				{name: "one firing", args: []string{"4", "--firings", "1"}, want: scheduleShowOptions{ID: 4, Firings: 1}},
				{name: "no firings", args: []string{"4", "--firings", "0"}, err: "--firings 0: want 1..1000"},
				{name: "too many firings", args: []string{"4", "--firings", "1001"}, err: "--firings 1001: want 1..1000"},
			}, idCases[scheduleShowOptions]("schedule id")))
	})

	t.Run("next", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*scheduleNextOptions) error) *cobra.Command { return newScheduleNextCmd(&App{}, runF) },
			cases([]flagCase[scheduleNextOptions]{
				{name: "defaults", args: []string{"4"}, want: scheduleNextOptions{ID: 4, Count: 5}},
				{name: "most", args: []string{"4", "--count", "1000"}, want: scheduleNextOptions{ID: 4, Count: 1000}},
				{name: "count zero", args: []string{"4", "--count", "0"}, err: "--count 0: want 1..1000"},
				{name: "count too large", args: []string{"4", "--count", "1001"}, err: "--count 1001: want 1..1000"},
				{name: "count not a number", args: []string{"4", "--count", "x"}, err: `invalid argument "x" for "--count"`},
			}, idCases[scheduleNextOptions]("schedule id")))
	})

	for _, action := range []string{"pause", "resume", "delete"} {
		t.Run(action, func(t *testing.T) {
			t.Parallel()
			testFlags(t, withAction(action, func(runF func(string, *scheduleControlOptions) error) *cobra.Command {
				return newScheduleControlCmd(&App{}, action, runF)
			}), cases([]flagCase[scheduleControlOptions]{{name: "id", args: []string{"3"}, want: scheduleControlOptions{ID: 3}}},
				idCases[scheduleControlOptions]("schedule id")))
		})
	}
}

func TestEventsFlags(t *testing.T) {
	t.Parallel()
	t.Run("login", func(t *testing.T) {
		t.Parallel()
		def := eventsLoginOptions{Batch: 100, Senders: 4}
		with := func(f func(o *eventsLoginOptions)) eventsLoginOptions { o := def; f(&o); return o }
		testFlags(t, func(runF func(*eventsLoginOptions) error) *cobra.Command { return newEventsLoginCmd(&App{}, runF) },
			cases([]flagCase[eventsLoginOptions]{
				{name: "one member", args: []string{"--member", "7"}, want: with(func(o *eventsLoginOptions) { o.Member = 7 })},
				{name: "one member, several logins", args: []string{"--member", "7", "--count", "3", "--rate", "2.5"},
					want: with(func(o *eventsLoginOptions) { o.Member, o.Count, o.Rate = 7, 3, 2.5 })},
				{name: "range", args: []string{"--range", "1-1000"}, want: with(func(o *eventsLoginOptions) { o.Range = "1-1000" })},
				{name: "random for a while", args: []string{"--random", "--duration", "30s"},
					want: with(func(o *eventsLoginOptions) { o.Random, o.Duration = true, 30*time.Second })},
				{name: "every flag", args: []string{"--random", "--range", "1-10", "--count", "50", "--rate", "100", "--topic", "t1",
					"--batch", "1000", "--senders", "64"},
					want: eventsLoginOptions{Random: true, Range: "1-10", Count: 50, Rate: 100, Topic: "t1", Batch: 1000, Senders: 64}},
				{name: "no mode", args: nil, err: "give exactly one of --member, --range or --random"},
				{name: "member and range", args: []string{"--member", "1", "--range", "1-2"}, err: "give exactly one of"},
				{name: "member and random", args: []string{"--member", "1", "--random", "--count", "1"}, err: "give exactly one of"},
				{name: "negative member", args: []string{"--member", "-1"}, err: "--member must be a positive member id"},
				{name: "negative rate", args: []string{"--member", "1", "--rate", "-1"}, err: "--rate must not be negative"},
				{name: "rate NaN", args: []string{"--member", "1", "--rate", "NaN"}, err: "--rate NaN: want a finite number"},
				{name: "rate Inf", args: []string{"--member", "1", "--rate", "+Inf"}, err: "--rate +Inf: want a finite number"},
				{name: "batch zero", args: []string{"--member", "1", "--batch", "0"}, err: "--batch must be within 1..1000"},
				{name: "batch too large", args: []string{"--member", "1", "--batch", "1001"}, err: "--batch must be within 1..1000"},
				{name: "no senders", args: []string{"--member", "1", "--senders", "0"}, err: "--senders must be within 1..64"},
				{name: "too many senders", args: []string{"--member", "1", "--senders", "65"}, err: "--senders must be within 1..64"},
				{name: "negative count", args: []string{"--member", "1", "--count", "-1"}, err: "--count and --duration must not be negative"},
				{name: "negative duration", args: []string{"--random", "--duration", "-1s"}, err: "--count and --duration must not be negative"},
				{name: "random without end", args: []string{"--random"}, err: "--random needs --duration or --count"},
				{name: "duration without random", args: []string{"--member", "1", "--duration", "1s"}, err: "--duration goes with --random"},
				{name: "count with range", args: []string{"--range", "1-10", "--count", "3"}, err: "--count does not go with --range"},
				{name: "reversed range", args: []string{"--range", "5-1"}, err: `range "5-1": want A-B`},
				{name: "random from a bad range", args: []string{"--random", "--range", "x", "--count", "1"}, err: `range "x"`},
				{name: "range too large", args: []string{"--range", "1-99999999999"}, err: "covers 99999999999 members: at most 10000000"},
				{name: "duration not a duration", args: []string{"--random", "--duration", "soon"}, err: `invalid argument "soon" for "--duration"`},
				{name: "rate not a number", args: []string{"--member", "1", "--rate", "fast"}, err: `invalid argument "fast" for "--rate"`},
			}, noArgCases[eventsLoginOptions]()))
	})

	t.Run("dlq list", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*dlqListOptions) error) *cobra.Command { return newEventsDLQListCmd(&App{}, runF) },
			cases([]flagCase[dlqListOptions]{
				{name: "defaults", want: dlqListOptions{Limit: store.DefaultListLimit}},
				{name: "every flag", args: []string{"--group", "mkt_couponsd", "--limit", "1000", "--pending"},
					want: dlqListOptions{Group: "mkt_couponsd", Limit: 1000, Pending: true}},
				{name: "limit one", args: []string{"--limit", "1"}, want: dlqListOptions{Limit: 1}},
				{name: "limit zero", args: []string{"--limit", "0"}, err: "--limit 0: want 1..1000"},
				{name: "limit too large", args: []string{"--limit", "1001"}, err: "--limit 1001: want 1..1000"},
				{name: "bad group", args: []string{"--group", "a b"}, err: "--group: "},
			}, noArgCases[dlqListOptions]()))
	})

	t.Run("dlq replay", func(t *testing.T) {
		t.Parallel()
		const a, b = "0A0B0C0D0E0F00112233445566778899", "0A000000000000000000000000000002"
		many := make([]string, dlqMaxIDs+1)
		for i := range many {
			many[i] = fmt.Sprintf("%032X", i+1)
		}
		testFlags(t, func(runF func(*dlqReplayOptions) error) *cobra.Command { return newEventsDLQReplayCmd(&App{}, runF) },
			cases([]flagCase[dlqReplayOptions]{
				{name: "all", args: []string{"--all"}, want: dlqReplayOptions{All: true, By: operatorName(), MsgIDs: []string{}}},
				{name: "ids, repeated and comma separated, upper-cased", args: []string{"--id", strings.ToLower(a) + "," + b, "--id", a},
					want: dlqReplayOptions{IDs: []string{strings.ToLower(a), b, a}, MsgIDs: []string{a, b, a}, By: operatorName()}},
				{name: "every flag", args: []string{"--group", "g1", "--all", "--dry-run", "--by", "carol"},
					want: dlqReplayOptions{Group: "g1", All: true, DryRun: true, By: "carol", MsgIDs: []string{}}},
				{name: "most ids", args: []string{"--id", strings.Join(many[:dlqMaxIDs], ",")}, check: func(t *testing.T, o *dlqReplayOptions) {
					if len(o.MsgIDs) != dlqMaxIDs || o.MsgIDs[dlqMaxIDs-1] != many[dlqMaxIDs-1] {
						t.Errorf("%d ids", len(o.MsgIDs))
					}
				}},
				{name: "neither ids nor all", args: nil, err: "give --id MSGID (one or more) or --all"},
				{name: "ids and all", args: []string{"--all", "--id", a}, err: "give --id MSGID (one or more) or --all"},
				{name: "short id", args: []string{"--id", "123"}, err: "--id: "},
				{name: "not hex", args: []string{"--id", a[:31] + "Z"}, err: "--id: "},
				{name: "too many ids", args: []string{"--id", strings.Join(many, ",")}, err: "--id: at most 1000 ids at once (or --all)"},
				{name: "bad group", args: []string{"--all", "--group", "%DLQ%x y"}, err: "--group: "},
			}, noArgCases[dlqReplayOptions]()))
	})
}

func TestUsersFlags(t *testing.T) {
	t.Parallel()
	t.Run("seed", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*usersSeedOptions) error) *cobra.Command { return newUsersSeedCmd(&App{}, runF) },
			cases([]flagCase[usersSeedOptions]{
				{name: "defaults", args: []string{"--count", "10"}, want: usersSeedOptions{Count: 10, Workers: membership.DefaultSeedWorkers}},
				{name: "every flag", args: []string{"--count", "100000000", "--workers", "16", "--method", "insert", "--quiet"},
					want: usersSeedOptions{Count: 100_000_000, Workers: 16, Method: string(membership.SeedInsert), Quiet: true}},
				{name: "load data", args: []string{"--count", "1", "--workers", "1", "--method", "load-data"},
					want: usersSeedOptions{Count: 1, Workers: 1, Method: string(membership.SeedLoadData)}},
				{name: "no count", args: nil, err: `required flag(s) "count" not set`},
				{name: "count zero", args: []string{"--count", "0"}, err: "--count must be at least 1 (got 0)"},
				{name: "count too large", args: []string{"--count", "100000001"}, err: "--count 100000001 is above the supported 100,000,000"},
				{name: "count not a number", args: []string{"--count", "x"}, err: `invalid argument "x" for "--count"`},
				{name: "no workers", args: []string{"--count", "1", "--workers", "0"}, err: "--workers must be within 1..16 (got 0)"},
				{name: "too many workers", args: []string{"--count", "1", "--workers", "17"}, err: "--workers must be within 1..16 (got 17)"},
				{name: "bad method", args: []string{"--count", "1", "--method", "copy"}, err: `--method "copy": want load-data, insert or empty`},
				{name: "extra argument", args: []string{"--count", "1", "extra"}, err: `unknown command "extra"`},
			}))
	})

	t.Run("count", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*usersCountOptions) error) *cobra.Command { return newUsersCountCmd(&App{}, runF) },
			cases([]flagCase[usersCountOptions]{{name: "no flags", want: usersCountOptions{}}}, noArgCases[usersCountOptions]()))
	})
}

func TestMigrateFlags(t *testing.T) {
	t.Parallel()
	t.Run("up", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*migrateUpOptions) error) *cobra.Command { return newMigrateUpCmd(&App{}, runF) },
			cases([]flagCase[migrateUpOptions]{{name: "no flags", want: migrateUpOptions{}}}, noArgCases[migrateUpOptions]()))
	})
	t.Run("status", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*migrateStatusOptions) error) *cobra.Command { return newMigrateStatusCmd(&App{}, runF) },
			cases([]flagCase[migrateStatusOptions]{{name: "no flags", want: migrateStatusOptions{}}}, noArgCases[migrateStatusOptions]()))
	})
}

func TestDevFlags(t *testing.T) {
	t.Parallel()
	t.Run("provider", func(t *testing.T) {
		t.Parallel()
		tokenFile := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, envToken := os.LookupEnv("MKT_SIM_TOKEN")
		_, envTokenFile := os.LookupEnv("MKT_SIM_TOKEN_FILE")
		def := devProviderOptions{Addr: "127.0.0.1:9400", RetryAfter: time.Second}
		cs := []flagCase[devProviderOptions]{
			{name: "every flag", args: []string{"--addr", "127.0.0.1:0", "--latency", "100ms-300ms", "--error-rate", "0.1", "--timeout-rate", "0.2",
				"--rate-limit-rate", "0.3", "--retry-after", "2s", "--fail-members", "7, 42,100-102", "--seed", "9", "--token-file", tokenFile},
				want: devProviderOptions{Addr: "127.0.0.1:0", Latency: providersim.Latency{Kind: providersim.LatencyUniform, Min: 100 * time.Millisecond, Max: 300 * time.Millisecond},
					ErrorRate: 0.1, TimeoutRate: 0.2, Rate429: 0.3, RetryAfter: 2 * time.Second, FailMembers: "7, 42,100-102", Seed: 9, Token: "s3cret",
					FailIDs: []uint64{7, 42, 100, 101, 102}}},
			{name: "normal latency", args: []string{"--latency", "normal:200ms,50ms", "--token-file", tokenFile}, check: func(t *testing.T, o *devProviderOptions) {
				want := providersim.Latency{Kind: providersim.LatencyNormal, Mean: 200 * time.Millisecond, Stddev: 50 * time.Millisecond}
				if o.Latency != want {
					t.Errorf("latency %+v, want %+v", o.Latency, want)
				}
			}},
			{name: "member zero", args: []string{"--fail-members", "0"}, err: `--fail-members: "0" is not a member id`},
			{name: "member not a number", args: []string{"--fail-members", "7,x"}, err: `--fail-members: "x" is not a member id`},
			{name: "reversed range", args: []string{"--fail-members", "5-3"}, err: `--fail-members: "5-3" is not a range of member ids`},
			{name: "too many members", args: []string{"--fail-members", "1-1000001"}, err: "--fail-members: more than 1,000,000 ids"},
			{name: "bad latency", args: []string{"--latency", "soon"}, err: `invalid argument "soon" for "--latency"`},
			{name: "rate not a number", args: []string{"--error-rate", "x"}, err: `invalid argument "x" for "--error-rate"`},
			{name: "token file missing", args: []string{"--token-file", filepath.Join(t.TempDir(), "none")}, err: "read secret file"},
			{name: "no token on the command line", args: []string{"--token", "s3cret"}, err: "unknown flag: --token"},
		}
		if !envToken && !envTokenFile { // the defaults hold without a token in the environment
			cs = append(cs, flagCase[devProviderOptions]{name: "defaults", want: def})
		}
		testFlags(t, func(runF func(*devProviderOptions) error) *cobra.Command { return newDevProviderCmd(&App{}, runF) },
			cases(cs, noArgCases[devProviderOptions]()))
	})

	t.Run("hotgoods", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*devHotgoodsOptions) error) *cobra.Command { return newDevHotgoodsCmd(&App{}, runF) },
			cases([]flagCase[devHotgoodsOptions]{
				{name: "defaults", args: []string{"--date", "2026-12-02"}, want: devHotgoodsOptions{Date: utcDay(2026, 12, 2), Segments: 20, Seed: 1}},
				{name: "print", args: []string{"--print", "--segments", "2000", "--seed", "7"}, want: devHotgoodsOptions{Segments: 2000, Seed: 7, Print: true}},
				{name: "one segment", args: []string{"--date", "2026-12-02", "--segments", "1"}, want: devHotgoodsOptions{Date: utcDay(2026, 12, 2), Segments: 1, Seed: 1}},
				{name: "neither date nor print", args: nil, err: "--date is required (YYYY-MM-DD)"},
				{name: "print and date", args: []string{"--print", "--date", "2026-12-02"}, err: "--print and --date exclude each other"},
				{name: "no segments", args: []string{"--print", "--segments", "0"}, err: "--segments 0: want 1..2000"},
				{name: "too many segments", args: []string{"--print", "--segments", "2001"}, err: "--segments 2001: want 1..2000"},
				{name: "bad date", args: []string{"--date", "2026-02-30"}, err: "--date: "},
				{name: "seed not a number", args: []string{"--print", "--seed", "-1"}, err: `invalid argument "-1" for "--seed"`},
			}, noArgCases[devHotgoodsOptions]()))
	})
}

func TestStatusFlags(t *testing.T) {
	t.Parallel()
	testFlags(t, func(runF func(*statusOptions) error) *cobra.Command { return newStatusCmd(&App{}, runF) },
		cases([]flagCase[statusOptions]{{name: "no flags", want: statusOptions{}}}, noArgCases[statusOptions]()))
}

func TestCampaignCommandFlags(t *testing.T) {
	t.Parallel()
	t.Run("show", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*campaignShowOptions) error) *cobra.Command { return newCampaignShowCmd(&App{}, runF) },
			cases([]flagCase[campaignShowOptions]{{name: "id", args: []string{"42"}, want: campaignShowOptions{ID: 42}}},
				idCases[campaignShowOptions]("campaign id")))
	})

	t.Run("list", func(t *testing.T) {
		t.Parallel()
		cs := []flagCase[campaignListOptions]{
			{name: "defaults", want: campaignListOptions{Limit: 50}},
			{name: "limit bounds", args: []string{"--limit", "1000"}, want: campaignListOptions{Limit: 1000}},
			{name: "limit one", args: []string{"--limit", "1"}, want: campaignListOptions{Limit: 1}},
			{name: "bad status", args: []string{"--status", "sleeping"}, err: `--status "sleeping": want one of created, planning, running, paused, cancelled, completed, failed`},
			{name: "status in capitals", args: []string{"--status", "RUNNING"}, err: `--status "RUNNING"`},
			{name: "limit zero", args: []string{"--limit", "0"}, err: "--limit 0: want 1..1000"},
			{name: "limit too large", args: []string{"--limit", "1001"}, err: "--limit 1001: want 1..1000"},
			{name: "limit not a number", args: []string{"--limit", "ten"}, err: `invalid argument "ten" for "--limit"`},
		}
		for _, s := range campaignStatuses {
			cs = append(cs, flagCase[campaignListOptions]{name: "status " + string(s), args: []string{"--status", string(s), "--limit", "7"},
				want: campaignListOptions{Status: string(s), Limit: 7}})
		}
		testFlags(t, func(runF func(*campaignListOptions) error) *cobra.Command { return newCampaignListCmd(&App{}, runF) },
			cases(cs, noArgCases[campaignListOptions]()))
	})

	t.Run("failures", func(t *testing.T) {
		t.Parallel()
		testFlags(t, func(runF func(*campaignFailuresOptions) error) *cobra.Command {
			return newCampaignFailuresCmd(&App{}, runF)
		},
			cases([]flagCase[campaignFailuresOptions]{
				{name: "defaults", args: []string{"7"}, want: campaignFailuresOptions{ID: 7, Limit: 100}},
				{name: "every flag", args: []string{"7", "--after", "500", "--limit", "10000", "--summary"},
					want: campaignFailuresOptions{ID: 7, After: 500, Limit: 10_000, Summary: true}},
				{name: "limit zero", args: []string{"7", "--limit", "0"}, err: "--limit must be within 1..10000 (got 0)"},
				{name: "limit too large", args: []string{"7", "--limit", "10001"}, err: "--limit must be within 1..10000 (got 10001)"},
				{name: "negative after", args: []string{"7", "--after", "-1"}, err: `invalid argument "-1" for "--after"`},
			}, idCases[campaignFailuresOptions]("campaign id")))
	})

	for _, action := range []string{"pause", "resume", "cancel", "retry-failed"} {
		t.Run(action, func(t *testing.T) {
			t.Parallel()
			cs := cases([]flagCase[controlOptions]{{name: "id", args: []string{"42"}, want: controlOptions{ID: 42}}},
				idCases[controlOptions]("campaign id"))
			if action == "cancel" {
				cs = append(cs,
					flagCase[controlOptions]{name: "reason", args: []string{"42", "--reason", "wrong audience"},
						want: controlOptions{ID: 42, Reason: "wrong audience"}},
					flagCase[controlOptions]{name: "longest reason", args: []string{"42", "--reason", strings.Repeat("r", 200)},
						want: controlOptions{ID: 42, Reason: strings.Repeat("r", 200)}},
					flagCase[controlOptions]{name: "reason too long", args: []string{"42", "--reason", strings.Repeat("r", 201)},
						err: "--reason is longer than 200 characters"})
				cs = append(cs, flagCase[controlOptions]{name: "200 Chinese characters", args: []string{"42", "--reason", strings.Repeat("错", 200)},
					want: controlOptions{ID: 42, Reason: strings.Repeat("错", 200)}})
			} else {
				cs = append(cs, flagCase[controlOptions]{name: "reason only on cancel", args: []string{"42", "--reason", "x"},
					err: "unknown flag: --reason"})
			}
			testFlags(t, withAction(action, func(runF func(string, *controlOptions) error) *cobra.Command {
				return newCampaignControlCmd(&App{}, &campaignQueues{}, campaign.Action(action), runF)
			}), cs)
		})
	}
}

func TestBenchPushFlags(t *testing.T) {
	t.Parallel()
	def := bench.PushConfig{Users: 1_000_000, Latency: providersim.Latency{Kind: providersim.LatencyFixed, Min: 200 * time.Millisecond},
		BatchSize: 1, Pushd: 2, ShardSize: 1000, MaxInFlight: push.DefaultMaxInFlight, ShardConcurrency: 32, Channel: "sms",
		SimAddr: "127.0.0.1:0", Settle: 5 * time.Second, Timeout: time.Hour}
	with := func(change func(*bench.PushConfig)) benchPushOptions {
		c := def
		change(&c)
		return benchPushOptions{c}
	}
	testFlags(t, func(runF func(*benchPushOptions) error) *cobra.Command { return newBenchPushCmd(&App{}, runF) },
		cases([]flagCase[benchPushOptions]{
			{name: "defaults", want: benchPushOptions{def}},
			{name: "several flags", args: []string{"--users", "10", "--latency", "100ms-300ms", "--batch-size", "100", "--pushd", "3", "--channel", "app"},
				want: with(func(c *bench.PushConfig) {
					c.Users, c.BatchSize, c.Pushd, c.Channel = 10, 100, 3, "app"
					c.Latency = providersim.Latency{Kind: providersim.LatencyUniform, Min: 100 * time.Millisecond, Max: 300 * time.Millisecond}
				})},
			{name: "watchers", args: []string{"--watchers", "2"}, want: with(func(c *bench.PushConfig) { c.Watchers = 2 })},
			{name: "hot goods", args: []string{"--hotgoods-segments", "20"}, want: with(func(c *bench.PushConfig) { c.HotgoodsSegments = 20 })},
			{name: "no users", args: []string{"--users", "0"}, err: "--users 0"},
			{name: "no batch", args: []string{"--batch-size", "0"}, err: "--batch-size 0"},
			{name: "no pushd", args: []string{"--pushd", "0"}, err: "--pushd 0"},
			{name: "small shards", args: []string{"--shard-size", "5"}, err: "--shard-size"},
			{name: "inbox", args: []string{"--channel", "inbox"}, err: "--channel \"inbox\""},
			{name: "database not a bench one", args: []string{"--database", "other"}, err: "--database \"other\""},
			{name: "negative page size", args: []string{"--page-size", "-1"}, err: "--page-size -1"},
			{name: "latency not a duration", args: []string{"--latency", "soon"}, err: "latency"},
			{name: "too many watchers", args: []string{"--watchers", "9"}, err: "--watchers 9"},
			{name: "negative watchers", args: []string{"--watchers", "-1"}, err: "--watchers -1"},
			{name: "too many segments", args: []string{"--hotgoods-segments", "2001"}, err: "--hotgoods-segments 2001"},
		}, noArgCases[benchPushOptions]()))
}

func TestBenchCouponsFlags(t *testing.T) {
	t.Parallel()
	def := bench.CouponsConfig{Logins: 200_000, PerMember: 1, Instances: 1, Database: "mkt_bench_coupons", Senders: 8, Timeout: 15 * time.Minute}
	testFlags(t, func(runF func(*benchCouponsOptions) error) *cobra.Command { return newBenchCouponsCmd(&App{}, runF) },
		cases([]flagCase[benchCouponsOptions]{
			{name: "defaults", want: benchCouponsOptions{def}},
			{name: "every flag", args: []string{"--logins", "100000000", "--repeat", "0.9", "--per-member", "100", "--quota", "500",
				"--instances", "8", "--couponsd", "/opt/couponsd", "--database", "mkt_bench_x", "--live", "--rate", "50.5", "--senders", "64",
				"--timeout", "1m", "--keep", "--consume-concurrency", "16", "--batch-size", "64", "--batch-workers", "4"},
				want: benchCouponsOptions{bench.CouponsConfig{Logins: 100_000_000, Repeat: 0.9, PerMember: 100, Quota: 500, Instances: 8,
					CouponsdBin: "/opt/couponsd", Database: "mkt_bench_x", Live: true, Rate: 50.5, Senders: 64, Timeout: time.Minute, Keep: true,
					Concurrency: 16, BatchSize: 64, Workers: 4}}},
			{name: "smallest", args: []string{"--logins", "1", "--senders", "1"}, check: func(t *testing.T, o *benchCouponsOptions) {
				if o.Logins != 1 || o.Senders != 1 {
					t.Errorf("%+v", o.CouponsConfig)
				}
			}},
			{name: "no logins", args: []string{"--logins", "0"}, err: "--logins must be within 1..100,000,000"},
			{name: "too many logins", args: []string{"--logins", "100000001"}, err: "--logins must be within 1..100,000,000"},
			{name: "negative repeat", args: []string{"--repeat", "-0.1"}, err: "--repeat must be within 0..0.9"},
			{name: "repeat too high", args: []string{"--repeat", "0.91"}, err: "--repeat must be within 0..0.9"},
			{name: "repeat NaN", args: []string{"--repeat", "NaN"}, err: "--repeat NaN: want a finite number"},
			{name: "rate NaN", args: []string{"--rate", "nan"}, err: "want a finite number"},
			{name: "negative consume concurrency", args: []string{"--consume-concurrency", "-1"}, err: "must not be negative"},
			{name: "negative batch size", args: []string{"--batch-size", "-1"}, err: "must not be negative"},
			{name: "negative batch workers", args: []string{"--batch-workers", "-1"}, err: "must not be negative"},
			{name: "per member zero", args: []string{"--per-member", "0"}, err: "--per-member must be within 1..100"},
			{name: "per member too high", args: []string{"--per-member", "101"}, err: "--per-member must be within 1..100"},
			{name: "negative quota", args: []string{"--quota", "-1"}, err: "--quota must not be negative"},
			{name: "no instances", args: []string{"--instances", "0"}, err: "--instances must be within 1..8"},
			{name: "too many instances", args: []string{"--instances", "9"}, err: "--instances must be within 1..8"},
			{name: "database not a bench one", args: []string{"--database", "mkt"}, err: `--database "mkt": the benchmark empties it`},
			{name: "empty database", args: []string{"--database", ""}, err: `--database ""`},
			{name: "no senders", args: []string{"--senders", "0"}, err: "--senders must be within 1..64"},
			{name: "too many senders", args: []string{"--senders", "65"}, err: "--senders must be within 1..64"},
			{name: "negative rate", args: []string{"--rate", "-1"}, err: "--rate must not be negative and --timeout must be positive"},
			{name: "no timeout", args: []string{"--timeout", "0s"}, err: "--rate must not be negative and --timeout must be positive"},
			{name: "timeout not a duration", args: []string{"--timeout", "long"}, err: `invalid argument "long" for "--timeout"`},
		}, noArgCases[benchCouponsOptions]()))
}
