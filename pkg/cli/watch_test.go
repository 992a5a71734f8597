package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/watch"
)

func TestWatchFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		want    watchOptions
	}{
		{name: "everything", args: nil, want: watchOptions{Refresh: time.Second}},
		{name: "one promotion", args: []string{"7", "--refresh", "500ms"},
			want: watchOptions{Target: watch.Target{Kind: campaign.KindPromotion, ID: 7}, Refresh: 500 * time.Millisecond}},
		{name: "a coupon push", args: []string{"coupon:3", "--once"},
			want: watchOptions{Target: watch.Target{Kind: campaign.KindCoupon, ID: 3}, Refresh: time.Second, Once: true}},
		{name: "until done", args: []string{"--until-done"}, want: watchOptions{Refresh: time.Second, UntilDone: true}},
		{name: "refresh too fast", args: []string{"--refresh", "100ms"}, wantErr: "at least 200ms"},
		{name: "refresh too slow", args: []string{"--refresh", "2h"}, wantErr: "at most 1h"},
		{name: "refresh not a duration", args: []string{"--refresh", "fast"}, wantErr: "invalid argument"},
		{name: "bad id", args: []string{"x"}, wantErr: "positive integer"},
		{name: "zero id", args: []string{"0"}, wantErr: "positive integer"},
		{name: "unknown kind", args: []string{"flyer:1"}, wantErr: "want one of promotion, coupon, hot_goods"},
		{name: "two campaigns", args: []string{"1", "2"}, wantErr: "accepts at most 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got *watchOptions
			cmd := newWatchCmd(&App{}, func(o *watchOptions) error { got = o; return nil })
			err := runCmd(cmd, tc.args...)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want a usage error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.Queues = nil
			if *got != tc.want {
				t.Errorf("options = %+v, want %+v", *got, tc.want)
			}
		})
	}
}

// TestWatchJSONEndToEnd: without a terminal watch prints NDJSON, whose
// numbers are campaign show --json's, and exits 0 once the campaign
// completed, 1 once it was cancelled; --once prints one snapshot.
func TestWatchJSONEndToEnd(t *testing.T) {
	e := newE2E(t, 1200)
	ctx := context.Background()

	// A promotion of 2 shards, the first done, the second half way.
	var created createReport
	e.runJSON(&created, "campaign", "create", "--name", "Watched", "--kind", "flat_discount", "--discount", "5",
		"--template", "{discount} off", "--channels", "sms", "--start-at", "+1h")
	id := created.ID
	ranges := []audience.Range{{No: 0, Start: 1, End: 601, Expected: 600}, {No: 1, Start: 601, End: 1201, Expected: 600}}
	if _, err := campaign.InsertShards(ctx, e.db, campaign.KindPromotion, id, ranges); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := e.db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`UPDATE sales_promotion SET status = 'running', planned_members = 1200, planned_shards = 2, planned_at = CURRENT_TIMESTAMP(3) WHERE id = ?`, id)
	exec(`UPDATE campaign_shard SET status = 'done', cursor_id = 600, sent = 590, failed = 10 WHERE campaign_id = ? AND shard_no = 0`, id)
	exec(`UPDATE campaign_shard SET status = 'running', cursor_id = 900, sent = 300, owner = 'w1', lease_until = CURRENT_TIMESTAMP(3) + INTERVAL 1 MINUTE
		WHERE campaign_id = ? AND shard_no = 1`, id)

	ref := "promotion:" + formatID(id)
	code, out, errOut := e.run("watch", ref, "--once")
	if code != 0 {
		t.Fatalf("watch --once: exit %d: %s", code, errOut)
	}
	var snap watch.Snapshot
	if err := json.Unmarshal([]byte(out), &snap); err != nil || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("watch --once printed %q (%v)", out, err)
	}
	var shown campaignReport
	e.runJSON(&shown, "campaign", "show", formatID(id))
	if len(snap.Runs) != 1 {
		t.Fatalf("runs = %+v", snap.Runs)
	}
	r := snap.Runs[0]
	if r.Progress != shown.Progress || r.Processed != shown.Processed || r.Percent != shown.Percent || r.Processed != 900 {
		t.Errorf("watch shows %+v %d %.2f%%, campaign show %+v %d %.2f%%", r.Progress, r.Processed, r.Percent,
			shown.Progress, shown.Processed, shown.Percent)
	}
	if r.Heatmap == nil || len(r.Heatmap.Cells) != 2 || r.Heatmap.Cells[1] != campaign.ShardRunning ||
		len(snap.Workers) != 1 || snap.Workers[0].Owner != "w1" || snap.Workers[0].Shards != 1 {
		t.Errorf("heatmap %+v, workers %+v", r.Heatmap, snap.Workers)
	}
	if code, _, errOut := e.run("watch", "promotion:999999", "--once"); code != ExitFailure || !strings.Contains(errOut, "no such campaign") {
		t.Errorf("watch of a missing campaign: exit %d, %s", code, errOut)
	}
	// The all-campaigns watch lists it too.
	code, out, _ = e.run("watch", "--once")
	if code != 0 || !strings.Contains(out, `"name":"Watched"`) {
		t.Errorf("watch --once (all): exit %d, %s", code, out)
	}

	// Streaming: one line per refresh until the campaign completes: exit 0.
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(700 * time.Millisecond) // a few 200 ms refreshes print the running campaign first
		exec(`UPDATE campaign_shard SET status = 'done', cursor_id = 1200, owner = '', lease_until = NULL WHERE campaign_id = ? AND shard_no = 1`, id)
		exec(`UPDATE sales_promotion SET status = 'completed', finished_at = CURRENT_TIMESTAMP(3) WHERE id = ?`, id)
	}()
	code, out, errOut = e.run("watch", ref, "--json", "--refresh", "200ms")
	<-done
	lines := nonEmptyLines(out)
	if code != 0 || len(lines) < 2 {
		t.Fatalf("watch --json: exit %d, %d lines: %s %s", code, len(lines), out, errOut)
	}
	var last watch.Snapshot
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Runs[0].Status != campaign.StatusCompleted ||
		last.Runs[0].Percent != 100 {
		t.Errorf("last line: %+v (%v)", last.Runs, err)
	}

	// A cancelled campaign ends the watch with exit 1.
	exec(`UPDATE sales_promotion SET status = 'cancelled' WHERE id = ?`, id)
	if code, _, errOut := e.run("watch", ref, "--json"); code != ExitFailure || !strings.Contains(errOut, "cancelled") {
		t.Errorf("watch of a cancelled campaign: exit %d, %s", code, errOut)
	}
}

func nonEmptyLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
