package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestUsageErrorsExitTwo: unknown subcommands, wrong argument counts and
// missing required flags exit 2 with a message, for every command group,
// before anything is opened.
func TestUsageErrorsExitTwo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "mktctl"`},
		{[]string{"campaign", "bogus"}, `unknown command "bogus" for "mktctl campaign"`},
		{[]string{"coupon", "bogus"}, `unknown command "bogus" for "mktctl coupon"`},
		{[]string{"hotgoods", "bogus"}, `unknown command "bogus" for "mktctl hotgoods"`},
		{[]string{"events", "bogus"}, `unknown command "bogus" for "mktctl events"`},
		{[]string{"dev", "bogus"}, `unknown command "bogus" for "mktctl dev"`},
		{[]string{"users", "bogus"}, `unknown command "bogus" for "mktctl users"`},
		{[]string{"bench", "bogus"}, `unknown command "bogus" for "mktctl bench"`},
		{[]string{"users", "seed", "extra"}, "unknown command"},
		{[]string{"users", "seed"}, `required flag(s) "count" not set`},
		{[]string{"migrate", "extra"}, "unknown command"},
		{[]string{"migrate", "status", "extra"}, "unknown command"},
		{[]string{"status", "extra"}, "unknown command"},
		{[]string{"coupon", "show"}, "accepts 1 arg(s), received 0"},
		{[]string{"coupon", "show", "1", "2"}, "accepts 1 arg(s), received 2"},
		{[]string{"coupon", "claim", "5"}, `required flag(s) "member" not set`},
		{[]string{"coupon", "disable"}, "accepts 1 arg(s)"},
		{[]string{"coupon", "list", "x"}, "unknown command"},
		{[]string{"campaign", "show"}, "accepts 1 arg(s), received 0"},
		{[]string{"hotgoods", "show"}, "accepts 1 arg(s), received 0"},
		{[]string{"watch", "1", "2"}, "accepts at most 1 arg(s)"},
		{[]string{"users", "seed", "--count", "x"}, "invalid argument"},
		{[]string{"campaign", "show", "+5"}, `campaign id "+5": want a positive integer`},
		{[]string{"campaign", "pause", "007"}, `campaign id "007"`},
		{[]string{"coupon", "show", "+5012"}, `"+5012": want a positive integer`},
		{[]string{"hotgoods", "show", "0"}, `row id "0"`},
		{[]string{"watch", "promotion:05"}, "positive integer"},
	} {
		expectUsage(t, tc.args, tc.want)
	}
	// A group alone prints its help: exit 0.
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"campaign"}, Streams{In: strings.NewReader(""), Out: &out, Err: &out}); code != 0 ||
		!strings.Contains(out.String(), "Available Commands") {
		t.Errorf("mktctl campaign: exit %d\n%s", code, out.String())
	}
}

// TestBoundedInputs: values that overflowed or flooded are refused before
// anything is done.
func TestBoundedInputs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"coupon", "create", "--name", "x", "--amount", "1", "--for", "213504d"}, `--for "213504d": want a positive duration up to 3660 days`},
		{[]string{"coupon", "create", "--name", "x", "--amount", "1", "--for", "100000000h"}, `--for "100000000h"`},
		{[]string{"coupon", "create", "--name", "x", "--amount", "1", "--for", "0d"}, `--for "0d"`},
		{[]string{"events", "login", "--range", "1-99999999999"}, "covers 99999999999 members: at most 10000000"},
		{[]string{"coupon", "issue", "1", "--range", "1-20000000"}, "at most 10000000"},
	} {
		expectUsage(t, tc.args, tc.want)
	}
}

// TestStoredControlCharactersPrintEscaped: a name stored before names were
// checked (or by another writer) is printed with its escape sequences
// escaped by list and show.
func TestStoredControlCharactersPrintEscaped(t *testing.T) {
	e := newE2E(t, 10)
	if _, err := e.db.ExecContext(context.Background(), `INSERT INTO sales_promotion (name, kind, discount_cents, message_template,
		channels, audience) VALUES (?, 'flat_discount', 100, '{discount} off', 'sms', '{}')`, "evil\x1b[2Jname"); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"campaign", "list"}, {"campaign", "show", "1"}} {
		code, out, errOut := e.run(args...)
		if code != 0 || strings.ContainsRune(out, 0x1b) || !strings.Contains(out, `evil\x1b[2Jname`) {
			t.Errorf("%v: exit %d, %q %s", args, code, out, errOut)
		}
	}
}

// TestPlanRefusesWhatCreateRefuses: one validation for both commands.
func TestPlanRefusesWhatCreateRefuses(t *testing.T) {
	t.Parallel()
	base := []string{"--name", "x", "--channels", "sms"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kind", "flat_discount", "--discount", "-5", "--template", "{discount} off"}, "--discount"},
		{[]string{"--kind", "percentage_off", "--percent", "101", "--template", "{percent} off"}, "1..99"},
		{[]string{"--kind", "flat_discount", "--discount", "5", "--template", "{nickname}"}, "{nickname} is unknown"},
		{[]string{"--kind", "flat_discount", "--discount", "5", "--template", "{discount} off", "--start-at", "2020-01-01T00:00:00Z"}, "is in the past"},
	} {
		for _, cmd := range [][]string{{"plan"}, {"campaign", "create"}} {
			expectUsage(t, append(append(append([]string(nil), cmd...), base...), tc.args...), tc.want)
		}
	}
	// An audience alone is still previewed, its start checked as create does.
	expectUsage(t, []string{"plan", "--levels", "1", "--start-at", "2020-01-01T00:00:00Z"}, "is in the past")
}

// TestNoSilentCoercion: a value given is taken as given or refused, never
// replaced by a default or read in part.
func TestNoSilentCoercion(t *testing.T) {
	t.Parallel()
	coupon := []string{"coupon", "create", "--name", "x", "--amount", "1", "--for", "7d"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(coupon, "--per-member", "0"), "--per-member 0: want 1..100"},
		{append(coupon, "--mode", "push", "--message", "{name}", "--channels", "sms", "--shard-size", "0"), "--shard-size"},
		{append(coupon, "--audience-json", `{"levels":[1]} garbage`), "text after the JSON value"},
		{[]string{"campaign", "create", "--name", "x", "--kind", "flat_discount", "--discount", "5", "--template", "{discount} off",
			"--channels", "sms", "--audience-json", `{"levels":[1]}{"levels":[2]}`}, "text after the JSON value"},
	} {
		expectUsage(t, tc.args, tc.want)
	}
}

// expectUsage runs mktctl with args and expects exit 2 with want in the
// message.
func expectUsage(t *testing.T, args []string, want string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	if code != ExitUsage || !strings.Contains(errOut.String(), want) {
		t.Errorf("mktctl %s: exit %d, %q; want %d and %q", strings.Join(args, " "), code, errOut.String(), ExitUsage, want)
	}
}

// TestSameBoundsForCampaignsAndCoupons: money and how far ahead a start may
// lie are bounded alike.
func TestSameBoundsForCampaignsAndCoupons(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"campaign", "create", "--name", "x", "--kind", "flat_discount", "--discount", "100000001", "--template", "{discount} off",
			"--channels", "sms"}, "amounts must be at most 100000000.00"},
		{[]string{"coupon", "create", "--name", "x", "--amount", "100000001", "--for", "7d"}, "100000000.00"},
		{[]string{"campaign", "create", "--name", "x", "--kind", "flat_discount", "--discount", "5", "--template", "{discount} off",
			"--channels", "sms", "--start-at", "+2400h"}, "more than 90 days ahead"},
		{[]string{"coupon", "create", "--name", "x", "--amount", "5", "--from", "2090-01-01", "--for", "7d"}, "more than 90 days ahead"},
	} {
		expectUsage(t, tc.args, tc.want)
	}
}
