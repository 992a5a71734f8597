package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/hotgoods"
	"mkt/pkg/mkttest"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/pushtest"
)

// writeDay writes the generated rows as a JSON Lines file and returns its path.
func writeDay(t *testing.T, rows []hotgoods.Input) string {
	t.Helper()
	var b strings.Builder
	for _, in := range rows {
		line, err := json.Marshal(in.JSONLine())
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "day.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestHotgoodsImportAndLaunch: import is all or nothing and idempotent,
// launches shard the day's rows exactly once for every shard total, two
// concurrent launches take each row once, and a launched day refuses
// changes.
func TestHotgoodsImportAndLaunch(t *testing.T) {
	e := newE2E(t, 100)
	day := hotgoods.Generate(21, 3)
	file := writeDay(t, day)

	// A bad file stores nothing and names its bad lines.
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	lines := strings.SplitAfter(strings.TrimSpace(string(must(os.ReadFile(file)))), "\n")
	lines[2] = strings.Replace(lines[2], `"priority":`, `"priority":-`, 1)
	lines[5] = `{"segment":"x"}` + "\n"
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := e.run("hotgoods", "import", "--date", "2026-12-01", bad)
	if code != ExitUsage || !strings.Contains(errOut, "line 3: priority") || !strings.Contains(errOut, "line 6: goods_kind") {
		t.Errorf("bad file: exit %d: %s", code, errOut)
	}
	var listed hotgoodsDay
	e.runJSON(&listed, "hotgoods", "list", "--date", "2026-12-01")
	if len(listed.Rows) != 0 {
		t.Fatalf("a bad file stored %d rows", len(listed.Rows))
	}

	// For n = 1..7, day n is launched in n shards: every row exactly once.
	for n := 1; n <= 7; n++ {
		date := fmt.Sprintf("2026-12-%02d", n)
		var res hotgoods.ImportResult
		e.runJSON(&res, "hotgoods", "import", "--date", date, file)
		if res.Added != len(day) {
			t.Fatalf("import %s: %+v", date, res)
		}
		e.runJSON(&res, "hotgoods", "import", "--date", date, file)
		if res.Unchanged != len(day) || res.Added+res.Updated != 0 {
			t.Fatalf("re-import %s is not a no-op: %+v", date, res)
		}
		taken := map[uint64]int{}
		for i := range n {
			var lr hotgoods.LaunchResult
			e.runJSON(&lr, "hotgoods", "run", "--date", date, "--shard-index", fmt.Sprint(i), "--shard-total", fmt.Sprint(n))
			for _, r := range lr.Taken {
				taken[r.ID]++
				if hotgoods.ShardOf(r.ID, n) != i {
					t.Errorf("n=%d i=%d took row %d of shard %d", n, i, r.ID, hotgoods.ShardOf(r.ID, n))
				}
			}
		}
		e.runJSON(&listed, "hotgoods", "list", "--date", date)
		if len(taken) != len(day) || len(listed.Rows) != len(day) {
			t.Fatalf("n=%d: %d rows taken of %d", n, len(taken), len(day))
		}
		for _, r := range listed.Rows {
			if taken[r.ID] != 1 || r.RunID == nil {
				t.Errorf("n=%d: row %d taken %d times (run %v)", n, r.ID, taken[r.ID], r.RunID)
			}
		}
		// Every shard again (a cron retry): nothing more.
		for i := range n {
			var lr hotgoods.LaunchResult
			e.runJSON(&lr, "hotgoods", "run", "--date", date, "--shard-index", fmt.Sprint(i), "--shard-total", fmt.Sprint(n))
			if lr.Run != nil || len(lr.Taken) != 0 {
				t.Errorf("n=%d i=%d launched again: %+v", n, i, lr.Run)
			}
		}
	}

	// Two nodes launch the same day at once (two mktctl processes): each
	// row once.
	const date = "2026-12-20"
	var res hotgoods.ImportResult
	e.runJSON(&res, "hotgoods", "import", "--date", date, file)
	mktctl, err := pushtest.Build("mktctl")
	if err != nil {
		t.Fatal(err)
	}
	dsn := strings.TrimSpace(string(must(os.ReadFile(e.dsnFile))))
	var wg sync.WaitGroup
	results := make([]hotgoods.LaunchResult, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(mktctl, "hotgoods", "--mq-namespace", e.ns, "--log-level", "error", "run", "--date", date, "--json")
			cmd.Env = append(os.Environ(), "MKT_MYSQL_DSN="+dsn)
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("concurrent run: %v: %s", err, out)
				return
			}
			if err := json.Unmarshal(out, &results[i]); err != nil {
				t.Errorf("%v: %s", err, out)
			}
		}()
	}
	wg.Wait()
	if got := len(results[0].Taken) + len(results[1].Taken); got != len(day) ||
		(results[0].Run == nil) == (results[1].Run == nil) {
		t.Errorf("concurrent launches took %d + %d rows of %d", len(results[0].Taken), len(results[1].Taken), len(day))
	}

	// A launched day refuses any change, and stores none.
	changed := strings.Replace(string(must(os.ReadFile(file))), `picked for you`, `chosen for you`, 1)
	path := filepath.Join(t.TempDir(), "changed.jsonl")
	if err := os.WriteFile(path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := e.run("hotgoods", "import", "--date", date, path); code != ExitUsage || !strings.Contains(errOut, "already launched") {
		t.Errorf("change of a launched day: exit %d: %s", code, errOut)
	}
	// Bad flags: exit 2, nothing launched.
	for _, args := range [][]string{
		{"hotgoods", "run"},
		{"hotgoods", "run", "--date", "2026-13-01"},
		{"hotgoods", "run", "--date", date, "--shard-index", "1"},
		{"hotgoods", "run", "--date", date, "--shard-index", "3", "--shard-total", "3"},
		{"hotgoods", "run", "--date", date, "--shard-index", "-1", "--shard-total", "3"},
		{"hotgoods", "run", "--date", date, "--shard-index", "0", "--shard-total", "0"},
		{"hotgoods", "run", "--date", date, "--shard-size", "5"},
	} {
		if code, _, errOut := e.run(args...); code != ExitUsage {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestHotgoodsFanOut: a day launched in two shards is fanned out by two
// pushd; each active member is sent the message of its one winning row, on
// that row's channels, exactly once — checked member by member at the
// simulator — and members in several segments get one push.
func TestHotgoodsFanOut(t *testing.T) {
	const members = 4000
	e := newE2E(t, members)
	ctx := context.Background()
	sim := e.startPushd(t, 2, providersim.Config{Latency: providersim.Latency{Min: time.Millisecond}})

	const date = "2026-12-02"
	day := []hotgoods.Input{
		{Segment: "everyone", GoodsKind: hotgoods.MostViewed, Priority: 1, Channels: []provider.Channel{provider.ChannelSMS}},
		{Segment: "shoppers", GoodsKind: hotgoods.BestSelling, Priority: 5,
			Channels: []provider.Channel{provider.ChannelSMS, provider.ChannelInbox}},
		{Segment: "top levels", GoodsKind: hotgoods.BestRated, Priority: 9,
			Channels: []provider.Channel{provider.ChannelApp, provider.ChannelInbox}},
		{Segment: "top levels", GoodsKind: hotgoods.BestSelling, Priority: 9, Channels: []provider.Channel{provider.ChannelSMS}},
	}
	day[1].Filter.TagsAny = []string{"digital", "fashion", "food", "home"}
	day[2].Filter.Levels = []int{4, 5}
	day[3].Filter.Levels = []int{4, 5}
	for i := range day {
		day[i].Template = "{goods_kind} for {segment}: {goods}"
		day[i].Goods = []hotgoods.Item{{ID: fmt.Sprint("G", i), Name: "Item " + fmt.Sprint(i), PriceCents: int64(100 * (i + 1))}}
	}
	var res hotgoods.ImportResult
	e.runJSON(&res, "hotgoods", "import", "--date", date, writeDay(t, day))
	runs := map[uint64]bool{}
	for i := range 2 {
		var lr hotgoods.LaunchResult
		e.runJSON(&lr, "hotgoods", "run", "--date", date, "--shard-index", fmt.Sprint(i), "--shard-total", "2", "--shard-size", "500")
		if lr.Run != nil {
			runs[lr.Run.ID] = true
		}
	}
	if len(runs) == 0 {
		t.Fatal("nothing launched")
	}
	for id := range runs {
		mkttest.WaitFor(t, 2*time.Minute, fmt.Sprintf("run %d to complete", id), func() bool {
			st, err := campaign.KindHotGoods.ReadStatus(ctx, e.db, id)
			if err != nil {
				t.Fatal(err)
			}
			if st != campaign.StatusCompleted && st.Finished() {
				t.Fatalf("run %d is %s", id, st)
			}
			return st == campaign.StatusCompleted
		})
	}

	// Who should get what: each active member's winning row of the day.
	rows, err := hotgoods.List(ctx, e.db, must(hotgoods.ParseDate(date)))
	if err != nil {
		t.Fatal(err)
	}
	resolved := hotgoods.NewDay(rows)
	var ms []struct {
		ID         uint64 `db:"id"`
		Mobile     string `db:"mobile"`
		PushToken  string `db:"push_token"`
		Level      int    `db:"member_level"`
		ActiveDays int    `db:"active_days"`
		Tags       uint64 `db:"portrait_tags"`
	}
	if err := e.db.SelectContext(ctx, &ms, `SELECT a.id, a.mobile, a.push_token, f.member_level, f.active_days, f.portrait_tags
		FROM membership_account a JOIN membership_filter f ON f.member_id = a.id WHERE a.status = 'active' ORDER BY a.id`); err != nil {
		t.Fatal(err)
	}
	inboxRows := map[uint64]int{}
	var inbox []struct {
		Member uint64 `db:"member_id"`
		N      int    `db:"n"`
	}
	if err := e.db.SelectContext(ctx, &inbox, `SELECT member_id, COUNT(*) AS n FROM member_inbox WHERE campaign_kind = 'hot_goods' GROUP BY member_id`); err != nil {
		t.Fatal(err)
	}
	for _, x := range inbox {
		inboxRows[x.Member] = x.N
	}
	perRow := map[uint64]int{}
	several := 0
	for _, m := range ms {
		w := resolved.Winner(m.Level, m.ActiveDays, m.Tags)
		matches := 0
		for _, r := range rows {
			if r.Filter.Matches(m.Level, m.ActiveDays, m.Tags) {
				matches++
			}
		}
		if matches > 1 {
			several++
		}
		perRow[w.ID]++
		for _, ch := range []provider.Channel{provider.ChannelSMS, provider.ChannelApp} {
			want := 0
			if slices.Contains(w.Channels, ch) && (ch != provider.ChannelSMS || m.Mobile != "") && (ch != provider.ChannelApp || m.PushToken != "") {
				want = 1
			}
			got := 0
			for id := range runs {
				got += sim.Count(id, ch, m.ID)
			}
			if got != want {
				t.Fatalf("member %d (row %d %q, %v): %d %s messages, want %d", m.ID, w.ID, w.Segment, w.Channels, got, ch, want)
			}
		}
		want := 0
		if slices.Contains(w.Channels, provider.ChannelInbox) {
			want = 1
		}
		if inboxRows[m.ID] != want {
			t.Fatalf("member %d (row %d): %d inbox messages, want %d", m.ID, w.ID, inboxRows[m.ID], want)
		}
	}
	if several < 100 || len(perRow) != 3 {
		t.Errorf("the day does not test much: %d members in several segments, winners %v", several, perRow)
	}
	// Each row's audience, counted as the runs went: the members it won.
	var listed hotgoodsDay
	e.runJSON(&listed, "hotgoods", "list", "--date", date)
	for id, n := range perRow {
		if listed.Audience[id] != int64(n) {
			t.Errorf("row %d won %d members, hotgoods list says %d", id, n, listed.Audience[id])
		}
	}
	if st := sim.Stats(); st.Duplicates != 0 {
		t.Errorf("simulator counted %d duplicates", st.Duplicates)
	}
	// The runs show in the live view's source as hot_goods campaigns.
	code, out, _ := e.run("watch", "--once")
	if code != 0 || !strings.Contains(out, `"kind":"hot_goods"`) {
		t.Errorf("watch --once: exit %d: %s", code, out)
	}
}
