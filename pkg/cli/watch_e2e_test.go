package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"mkt/pkg/bench"
	"mkt/pkg/campaign"
	"mkt/pkg/childproc"
	"mkt/pkg/mkttest"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/pushtest"
	"mkt/pkg/watch"
)

// TestWatchViewDrivesARunningCampaign: the live view of a campaign that a
// real pushd fans out shows it advance; p parks its shards (checked in
// MySQL), r resumes it, and the last screen shows it completed with the
// totals `campaign show --json` reports.
func TestWatchViewDrivesARunningCampaign(t *testing.T) {
	lipgloss.SetColorProfile(termenv.Ascii)
	const members = 6000
	e := newE2E(t, members)
	ctx := context.Background()
	// A slow pushd (20 calls in flight, pages of 100), so the campaign runs
	// for several seconds.
	sim := e.startPushd(t, 1, providersim.Config{Latency: providersim.Latency{Min: 40 * time.Millisecond}},
		"--max-in-flight", "20", "--page-size", "100", "--ramp-up", "0s")

	var created createReport
	e.runJSON(&created, "campaign", "create", "--name", "Watched live", "--kind", "flat_discount", "--discount", "5",
		"--template", "{discount} off", "--channels", "sms", "--shard-size", "500")
	id := created.ID

	// The view, built as `mktctl watch promotion:ID` builds it.
	var out, errOut bytes.Buffer
	root, app := NewRootCmd(Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	defer app.Close()
	for _, c := range root.Commands() {
		if c.Name() == "watch" {
			root.RemoveCommand(c)
		}
	}
	var opts *watchOptions
	root.AddCommand(newWatchCmd(app, func(o *watchOptions) error { opts = o; return nil }))
	root.SetArgs(append([]string{"--mysql-dsn-file", e.dsnFile, "--log-level", "error", "watch"},
		append(e.queues, "promotion:"+formatID(id), "--refresh", "300ms")...))
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatal(err)
	}
	app.Logger = slog.New(slog.DiscardHandler)
	src, err := watchSource(ctx, app, opts)
	if err != nil {
		t.Fatal(err)
	}
	tm := teatest.NewTestModel(t, watchModel(app, opts, src), teatest.WithInitialTermSize(100, 30))
	waitFor := func(what string, ok func([]byte) bool) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), ok, teatest.WithDuration(90*time.Second), teatest.WithCheckInterval(50*time.Millisecond))
	}
	// It advances: a percentage above zero while running.
	advancing := regexp.MustCompile(`running[\s\S]*\s([1-9][0-9]?\.[0-9])%`)
	waitFor("progress", func(b []byte) bool { return advancing.Match(b) })

	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("p")})
	waitFor("pause", func(b []byte) bool { return bytes.Contains(b, []byte(fmt.Sprintf("campaign %d: paused", id))) })
	if st := e.status(id); st != campaign.StatusPaused {
		t.Fatalf("after p the campaign is %s", st)
	}
	// Every shard parks at its checkpoint: none running, some paused.
	mkttest.WaitFor(t, 30*time.Second, "the shards to park after the pause (none running, some paused)", func() bool {
		p, err := campaign.ShardProgress(ctx, e.db, campaign.KindPromotion, id)
		if err != nil {
			t.Fatal(err)
		}
		return p.Running == 0 && p.Paused > 0
	})

	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("r")})
	waitFor("resume", func(b []byte) bool { return bytes.Contains(b, []byte(fmt.Sprintf("campaign %d: running", id))) })
	waitFor("completion", func(b []byte) bool { return bytes.Contains(b, []byte("· completed")) })
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
	final := tm.FinalModel(t, teatest.WithFinalTimeout(10*time.Second)).(watch.Model)
	view := final.View()

	var shown campaignReport
	e.runJSON(&shown, "campaign", "show", formatID(id))
	if shown.Campaign.Status != campaign.StatusCompleted || shown.Progress.Sent == 0 {
		t.Fatalf("campaign show: %+v %+v", shown.Campaign.Status, shown.Progress)
	}
	for _, want := range []string{
		"· completed",
		fmt.Sprintf("sent %s · failed %s", thousands(shown.Progress.Sent), thousands(shown.Progress.FailedN)),
		fmt.Sprintf("%s / %s members", thousands(shown.Processed), thousands(shown.Progress.Expected)),
		"100.0%",
	} {
		if !strings.Contains(view, want) {
			t.Errorf("final screen lacks %q:\n%s", want, view)
		}
	}
	// Paused and resumed, every member got the SMS exactly once.
	st := sim.Stats()
	if st.Duplicates != 0 || int64(st.Delivered) != shown.Progress.Sent {
		t.Errorf("simulator delivered %d (%d duplicates), campaign sent %d", st.Delivered, st.Duplicates, shown.Progress.Sent)
	}
}

// thousands prints n with thousands separators, as the view does.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// startPushd starts a provider simulator and n pushd processes in e's
// database and namespace, sending SMS and app pushes to the simulator, and
// waits until they are ready; everything stops when the test ends.
func (e *e2e) startPushd(t *testing.T, n int, simCfg providersim.Config, args ...string) *bench.Simulator {
	t.Helper()
	bin, err := pushtest.BuildPushd()
	if err != nil {
		t.Fatal(err)
	}
	sim, err := bench.StartSimulator("127.0.0.1:0", simCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Shutdown(context.Background()) })
	dsn, err := os.ReadFile(e.dsnFile)
	if err != nil {
		t.Fatal(err)
	}
	var procs []*childproc.Proc
	for i := range n {
		pd, err := childproc.Start(childproc.Config{Bin: bin, Instance: fmt.Sprintf("e2e-%s-%d", e.sfx, i),
			MySQLDSN: string(dsn), Namespace: e.ns, Log: io.Discard,
			Env: []string{"MKT_PROVIDER_SMS_URL=" + sim.ChannelURL(provider.ChannelSMS),
				"MKT_PROVIDER_APP_URL=" + sim.ChannelURL(provider.ChannelApp)},
			Args: args})
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, pd)
	}
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = childproc.StopAll(stop, procs)
	})
	ready, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := childproc.WaitAllReady(ready, procs); err != nil {
		t.Fatal(err)
	}
	return sim
}
