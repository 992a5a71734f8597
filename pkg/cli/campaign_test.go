package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/provider"
)

// run parses args with cmd (whose runF captured the options) the way the
// root command does, mapping flag errors to usage errors.
func runCmd(cmd *cobra.Command, args ...string) error {
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	usageInOnePlace(cmd)
	return cmd.Execute()
}

var testNow = time.Date(2030, 3, 1, 8, 0, 0, 0, time.UTC)

func TestCampaignCreateFlags(t *testing.T) {
	t.Parallel()
	base := []string{"--name", "Spring sale", "--template", "Save {discount} on {name}", "--channels", "sms,app"}
	type check func(t *testing.T, s campaign.Spec, o *campaignCreateOptions)
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string // substring; "" = valid
		check   check
	}{
		{name: "full reduction", args: append([]string{"--kind", "full_reduction", "--threshold", "100", "--discount", "12.5"}, base...),
			check: func(t *testing.T, s campaign.Spec, _ *campaignCreateOptions) {
				if s.ThresholdCents != 10000 || s.DiscountCents != 1250 || s.Offer != campaign.OfferFullReduction {
					t.Errorf("amounts %d/%d kind %s", s.ThresholdCents, s.DiscountCents, s.Offer)
				}
				if len(s.Channels) != 2 || s.Channels[1] != provider.ChannelApp || !s.Audience.Everyone() || s.ShardSize != 1000 || s.StartAt != nil {
					t.Errorf("spec %+v", s)
				}
			}},
		{name: "segment and start", args: append([]string{"--kind", "flat_discount", "--discount", "5", "--levels", "4,3",
			"--min-active-days", "5", "--tags-all", "digital", "--tags-any", "books, pets", "--start-at", "+2h", "--shard-size", "500",
			"--request-id", "ops-42", "--created-by", "alice"}, base...),
			check: func(t *testing.T, s campaign.Spec, o *campaignCreateOptions) {
				want := audience.Segment{Levels: []int{3, 4}, MinActiveDays: 5, TagsAll: []string{"digital"}, TagsAny: []string{"books", "pets"}}
				if string(s.Audience.JSON()) != string(want.JSON()) || s.ShardSize != 500 || s.CreatedBy != "alice" || o.RequestID != "ops-42" {
					t.Errorf("spec %+v, request id %q", s, o.RequestID)
				}
				if s.StartAt == nil || !s.StartAt.Equal(testNow.Add(2*time.Hour)) {
					t.Errorf("start %v", s.StartAt)
				}
			}},
		{name: "audience json", args: append(append([]string{"--kind", "gift", "--gift", "a mug", "--audience-json", `{"levels":[5]}`,
			"--start-at", "2030-03-02T09:00:00+08:00"}, base...), "--template", "{gift} for {name}"),
			check: func(t *testing.T, s campaign.Spec, _ *campaignCreateOptions) {
				if len(s.Audience.Levels) != 1 || s.Audience.Levels[0] != 5 || s.StartAt.Format(time.RFC3339) != "2030-03-02T01:00:00Z" {
					t.Errorf("spec %+v start %v", s.Audience, s.StartAt)
				}
			}},
		{name: "percentage", args: append(append([]string{"--kind", "percentage_off", "--percent", "15"}, base...), "--template", "{percent} off {name}")},
		{name: "placeholder of another kind", args: append([]string{"--kind", "percentage_off", "--percent", "15"}, base...), wantErr: "{discount} is unknown"},
		{name: "no kind", args: base, wantErr: `kind ""`},
		{name: "unknown kind", args: append([]string{"--kind", "bogo"}, base...), wantErr: `kind "bogo"`},
		{name: "negative money", args: append([]string{"--kind", "flat_discount", "--discount", "-5"}, base...), wantErr: "--discount"},
		{name: "three decimals", args: append([]string{"--kind", "flat_discount", "--discount", "1.005"}, base...), wantErr: "at most two decimals"},
		{name: "exponent", args: append([]string{"--kind", "flat_discount", "--discount", "1e3"}, base...), wantErr: "--discount"},
		{name: "discount above threshold", args: append([]string{"--kind", "full_reduction", "--threshold", "10", "--discount", "10"}, base...), wantErr: "below its threshold"},
		{name: "irrelevant percent", args: append([]string{"--kind", "flat_discount", "--discount", "5", "--percent", "10"}, base...), wantErr: "--percent applies only"},
		{name: "percent range", args: append([]string{"--kind", "percentage_off", "--percent", "100"}, base...), wantErr: "1..99"},
		{name: "no channels", args: []string{"--name", "x", "--kind", "gift", "--gift", "g", "--template", "t"}, wantErr: "--channels is required"},
		{name: "bad channel", args: append([]string{"--kind", "gift", "--gift", "g"}, append(base, "--channels", "sms,fax")...), wantErr: `"fax"`},
		{name: "bad placeholder", args: []string{"--name", "x", "--kind", "gift", "--gift", "g", "--template", "hi {nmae}", "--channels", "sms"}, wantErr: "{nmae}"}, //nolint:misspell // a misspelt placeholder on purpose
		{name: "bad level", args: append([]string{"--kind", "gift", "--gift", "g", "--levels", "9"}, base...), wantErr: "level 9"},
		{name: "level not a number", args: append([]string{"--kind", "gift", "--gift", "g", "--levels", "high"}, base...), wantErr: "--levels"},
		{name: "unknown tag", args: append([]string{"--kind", "gift", "--gift", "g", "--tags-any", "astronaut"}, base...), wantErr: `"astronaut"`},
		{name: "json and flags", args: append([]string{"--kind", "gift", "--gift", "g", "--levels", "3", "--audience-json", "{}"}, base...), wantErr: "cannot be combined"},
		{name: "bad json", args: append([]string{"--kind", "gift", "--gift", "g", "--audience-json", `{"sql":"1=1"}`}, base...), wantErr: "unknown field"},
		{name: "past start", args: append([]string{"--kind", "gift", "--gift", "g", "--start-at", "2020-01-01T00:00:00Z"}, base...), wantErr: "in the past"},
		{name: "bad relative start", args: append([]string{"--kind", "gift", "--gift", "g", "--start-at", "+soon"}, base...), wantErr: "positive duration"},
		{name: "shard size", args: append([]string{"--kind", "gift", "--gift", "g", "--shard-size", "5"}, base...), wantErr: "shard size 5"},
		{name: "request id", args: append([]string{"--kind", "gift", "--gift", "g", "--request-id", "a b"}, base...), wantErr: "--request-id"},
		{name: "extra argument", args: append([]string{"--kind", "gift", "--gift", "g", "oops"}, base...), wantErr: "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *campaignCreateOptions
			cmd := newCampaignCreateCmd(&App{}, &campaignQueues{}, func(o *campaignCreateOptions) error { got = o; return nil })
			err := runCmd(cmd, tc.args...)
			var spec campaign.Spec
			if err == nil {
				spec, err = got.spec(testNow)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if tc.check != nil {
					tc.check(t, spec, got)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to mention %q", err, tc.wantErr)
			}
			if !errors.Is(err, ErrUsage) {
				t.Errorf("error %v is not a usage error", err)
			}
		})
	}
}

func TestParseMoney(t *testing.T) {
	t.Parallel()
	// An empty flag is 0; the notation itself is pkg/money's (tested there).
	for in, want := range map[string]int64{"": 0, "12.5": 1250} {
		if got, err := parseMoney(in); err != nil || got != want {
			t.Errorf("parseMoney(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if got, err := parseMoney("-1"); err == nil {
		t.Errorf("parseMoney(%q) = %d, want an error", "-1", got)
	}
}

func TestControlAndListFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		wantErr string
		wantID  uint64
	}{
		{args: []string{"42"}, wantID: 42},
		{args: []string{}, wantErr: "accepts 1 arg"},
		{args: []string{"0"}, wantErr: "positive integer"},
		{args: []string{"-3"}, wantErr: "unknown shorthand"},
		{args: []string{"abc"}, wantErr: "positive integer"},
		{args: []string{"1", "2"}, wantErr: "accepts 1 arg"},
	} {
		for _, action := range []string{"pause", "resume", "cancel", "retry-failed"} {
			var got *controlOptions
			cmd := newCampaignControlCmd(&App{}, &campaignQueues{}, campaign.Action(action), func(_ string, o *controlOptions) error { got = o; return nil })
			err := runCmd(cmd, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("%s %v: error %v, want %q", action, tc.args, err, tc.wantErr)
				}
				continue
			}
			if err != nil || got.ID != tc.wantID {
				t.Errorf("%s %v: %v, %+v", action, tc.args, err, got)
			}
		}
	}
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{args: nil},
		{args: []string{"--status", "running", "--limit", "10"}},
		{args: []string{"--status", "sleeping"}, wantErr: `--status "sleeping"`},
		{args: []string{"--limit", "0"}, wantErr: "--limit 0"},
		{args: []string{"--limit", "5000"}, wantErr: "--limit 5000"},
	} {
		cmd := newCampaignListCmd(&App{}, func(*campaignListOptions) error { return nil })
		err := runCmd(cmd, tc.args...)
		if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("list %v: error %v, want %q", tc.args, err, tc.wantErr)
		}
	}
}

func TestPlanFlagsAndEstimate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{args: []string{"--campaign", "7", "--latency", "100ms", "--concurrency", "500", "--rate", "50", "--provider-batch", "100"}},
		{args: []string{"--levels", "3", "--channels", "sms,email", "--name", "copied from create", "--kind", "gift"}},
		{args: []string{"--campaign", "7", "--levels", "3"}, wantErr: "cannot be combined with --levels"},
		{args: []string{"--latency", "0s"}, wantErr: "--latency"},
		{args: []string{"--concurrency", "0"}, wantErr: "--concurrency"},
		{args: []string{"--rate", "-1"}, wantErr: "--rate"},
		{args: []string{"--provider-batch", "0"}, wantErr: "--provider-batch"},
		{args: []string{"--batch", "2000"}, wantErr: "--batch"},
		{args: []string{"--campaign", "x"}, wantErr: "--campaign"},
	} {
		cmd := newPlanCmd(&App{}, func(*planOptions) error { return nil })
		err := runCmd(cmd, tc.args...)
		if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("plan %v: error %v, want %q", tc.args, err, tc.wantErr)
		}
	}
	// Preview parsing checks only what the preview uses.
	o := &specOptions{Channels: "sms,inbox", audienceOptions: audienceOptions{Levels: []int{3}}, ShardSize: 9}
	if _, err := o.parsePreview(testNow); err == nil || !strings.Contains(err.Error(), "--shard-size") {
		t.Errorf("parsePreview with shard size 9: %v", err)
	}

	// 10M members on 2 channels, 200 ms, 2000 in flight: 10,000 calls/s.
	e := estimate(10_000_000, 2, 200*time.Millisecond, 2000, 0, 1)
	if e.Calls != 20_000_000 || e.CallsPerSecond != 10_000 || e.Seconds != 2000 || e.Bound != "concurrency" {
		t.Errorf("per-recipient estimate %+v", e)
	}
	// Batch endpoint of 100, rate limit 300 calls/s per channel.
	e = estimate(10_000_000, 2, 200*time.Millisecond, 2000, 300, 100)
	if e.Calls != 200_000 || e.CallsPerSecond != 600 || e.Bound != "rate" || int(e.Seconds) != 333 {
		t.Errorf("batch estimate %+v", e)
	}
	if e := estimate(101, 1, time.Second, 1, 0, 100); e.Calls != 2 || e.Seconds != 2 {
		t.Errorf("rounding up the last call: %+v", e)
	}
}

// TestBadInputExitsTwoWithoutConnecting: validation happens before any
// connection, so a bad create exits 2 even when MySQL is unreachable (it
// would exit 3 had it tried to connect).
func TestBadInputExitsTwoWithoutConnecting(t *testing.T) {
	t.Parallel()
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte("mkt:mkt@tcp(127.0.0.1:1)/mkt_nowhere?parseTime=true"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"campaign", "create", "--name", "x", "--kind", "flat_discount", "--discount", "abc", "--template", "t", "--channels", "sms"},
		{"campaign", "create", "--name", "", "--kind", "gift", "--template", "t", "--channels", "sms"},
		{"campaign", "show", "zero"},
		{"campaign", "pause"},
		{"campaign", "list", "--status", "nope"},
		{"plan", "--levels", "0"},
		{"plan", "--concurrency", "-1"},
	} {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append([]string{"--mysql-dsn-file", dsnFile}, args...), Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
		if code != ExitUsage || out.Len() != 0 || !strings.Contains(errOut.String(), "mktctl: usage") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 with a usage error", args, code, out.String(), errOut.String())
		}
	}
}
