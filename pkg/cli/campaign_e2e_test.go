package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
	"mkt/pkg/planner"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// e2e runs mktctl in-process against its own database and topics.
type e2e struct {
	t       *testing.T
	dsnFile string
	queues  []string // --mq-namespace flag for `campaign`
	db      *store.DB
	mq      mq.Config
	sfx     string
	ns      string // RocketMQ namespace of this test
}

func newE2E(t *testing.T, members int64) *e2e {
	t.Helper()
	e := &e2e{t: t, mq: mqtest.Config(t)}
	dsn := storetest.NewDatabase(t)
	e.dsnFile = filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(e.dsnFile, []byte(dsn), 0o600); err != nil {
		t.Fatal(err)
	}
	e.db = storetest.Open(t, store.Config{DSN: dsn})
	storetest.SeedMembers(t, e.db, members)
	e.sfx = mkttest.Namespace(t, "")
	e.ns = "clitest_" + e.sfx
	mqtest.Topics(t, e.mq, 4, e.ns+"_"+campaign.TopicEvents, e.ns+"_"+campaign.TopicShards)
	e.queues = []string{"--mq-namespace", e.ns}
	return e
}

// run runs mktctl with args and returns the exit code, stdout and stderr.
func (e *e2e) run(args ...string) (int, string, string) {
	e.t.Helper()
	// The commands that publish use this test's namespace.
	if len(args) > 1 && (args[0] == "campaign" || args[0] == "hotgoods") {
		args = append(append([]string{args[0]}, e.queues...), args[1:]...)
	}
	return runMain(time.Minute, e.dsnFile, args...)
}

// runMain runs mktctl (Main) with args on the database in dsnFile, warnings
// only in the log, no stdin, within d; it returns the exit code, stdout and
// stderr.
func runMain(d time.Duration, dsnFile string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	code := Main(ctx, append([]string{"--mysql-dsn-file", dsnFile, "--log-level", "warn"}, args...),
		Streams{In: strings.NewReader(""), Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

func (e *e2e) runJSON(v any, args ...string) {
	e.t.Helper()
	code, out, errOut := e.run(append(args, "--json")...)
	if code != 0 {
		e.t.Fatalf("mktctl %v: exit %d: %s", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		e.t.Fatalf("mktctl %v: %v in %s", args, err, out)
	}
}

func (e *e2e) status(id uint64) campaign.Status {
	e.t.Helper()
	c, err := campaign.Get(context.Background(), e.db, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Status
}

// startPlanner runs, until the test ends, the planner pushd would run: it
// consumes the created events of e's namespace and publishes shard tasks.
func (e *e2e) startPlanner(ctx context.Context, t *testing.T) {
	t.Helper()
	prod, err := mq.NewProducer(mq.ProducerConfig{Config: e.mq})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prod.Shutdown() })
	pl, err := planner.New(planner.Config{DB: e.db, Publisher: prod, Logger: mkttest.Logger(), EventsTopic: e.ns + "_" + campaign.TopicEvents,
		Group: e.ns + "_" + campaign.GroupPlanner, ShardTopic: e.ns + "_" + campaign.TopicShards})
	if err != nil {
		t.Fatal(err)
	}
	mqtest.StartConsumer(t, pl.ConsumerConfig(e.mq))
}

// TestCampaignCommandsEndToEnd drives every campaign command against MariaDB
// and RocketMQ, with a planner consuming the created events in-process.
func TestCampaignCommandsEndToEnd(t *testing.T) {
	e := newE2E(t, 2500)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	e.startPlanner(ctx, t)

	create := []string{"campaign", "create", "--name", "Spring sale", "--kind", "full_reduction", "--threshold", "100",
		"--discount", "15", "--template", "Spend {threshold}, save {discount}", "--channels", "sms,email", "--request-id", "e2e-1"}
	var created createReport
	e.runJSON(&created, create...)
	if !created.Created || created.ID == 0 || created.Campaign.ThresholdCents != 10000 {
		t.Fatalf("create: %+v", created)
	}
	// The event reaches the planner, which plans 3 shards of 1,000.
	mkttest.WaitFor(t, 60*time.Second, "campaign "+formatID(created.ID)+" to be running (the created event planned)",
		func() bool { return e.status(created.ID) == campaign.StatusRunning })
	// Same request id: the same campaign, nothing new.
	code, out, errOut := e.run(create...)
	if code != 0 || strings.TrimSpace(out) != formatID(created.ID) || !strings.Contains(errOut, "already exists") {
		t.Errorf("create again: exit %d, %q, %q", code, out, errOut)
	}
	// The same request id with other parameters: refused, naming them.
	changed := append([]string(nil), create...)
	changed[slices.Index(changed, "15")] = "20"
	changed[slices.Index(changed, "sms,email")] = "sms"
	if code, _, errOut := e.run(changed...); code != ExitUsage || !strings.Contains(errOut, "discount, channels differ") {
		t.Errorf("create again with other parameters: exit %d, %q", code, errOut)
	}
	// Bad input stores nothing.
	if code, _, errOut := e.run("campaign", "create", "--name", "x", "--kind", "gift", "--template", "t", "--channels", "sms"); code != ExitUsage ||
		!strings.Contains(errOut, "gift needs") {
		t.Errorf("create without a gift: exit %d, %s", code, errOut)
	}
	var list []campaign.Campaign
	e.runJSON(&list, "campaign", "list")
	if len(list) != 1 || list[0].ID != created.ID || list[0].PlannedShards != 3 {
		t.Fatalf("list: %+v", list)
	}
	if code, out, _ := e.run("campaign", "list", "--status", "running"); code != 0 || !strings.Contains(out, "Spring sale") {
		t.Errorf("list table: exit %d\n%s", code, out)
	}

	var shown campaignReport
	e.runJSON(&shown, "campaign", "show", formatID(created.ID))
	if shown.Progress.Shards != 3 || shown.Progress.Pending != 3 || shown.Progress.Expected != 2500 || shown.Percent != 0 {
		t.Errorf("show: %+v", shown.Progress)
	}
	if code, out, _ := e.run("campaign", "show", formatID(created.ID)); code != 0 || !strings.Contains(out, "spend 100.00, save 15.00") {
		t.Errorf("show table: exit %d\n%s", code, out)
	}

	var preview planReport
	e.runJSON(&preview, "plan", "--campaign", formatID(created.ID), "--latency", "100ms", "--concurrency", "100")
	active, err := audience.Count(ctx, e.db, audience.Segment{})
	if err != nil {
		t.Fatal(err)
	}
	if preview.Members != active || preview.IDSpan != 2500 || preview.Shards != 3 || preview.Sends != 3 ||
		preview.Estimate.Calls != 2*active || preview.Estimate.Seconds != float64(2*active)/1000 || len(preview.Ranges) != 3 {
		t.Errorf("plan --campaign: %+v", preview)
	}
	e.runJSON(&preview, "plan", "--levels", "1,2", "--shard-size", "100")
	if preview.Members == 0 || preview.Shards != int((preview.Members+99)/100) {
		t.Errorf("plan --levels: %d members in %d shards", preview.Members, preview.Shards)
	}

	var res campaign.ControlResult
	e.runJSON(&res, "campaign", "pause", formatID(created.ID))
	if res.Campaign.Status != campaign.StatusPaused || res.Shards != 3 {
		t.Errorf("pause: %+v", res)
	}
	e.runJSON(&res, "campaign", "resume", formatID(created.ID))
	if res.Campaign.Status != campaign.StatusRunning || res.Published != 3 {
		t.Errorf("resume: %+v", res)
	}
	if code, out, _ := e.run("campaign", "retry-failed", formatID(created.ID)); code != 0 || !strings.Contains(out, "no failed deliveries") {
		t.Errorf("retry-failed without failures: exit %d, %s", code, out)
	}
	if code, out, _ := e.run("campaign", "cancel", formatID(created.ID), "--reason", "wrong price"); code != 0 || !strings.Contains(out, "cancelled") {
		t.Errorf("cancel: exit %d, %s", code, out)
	}
	if code, _, errOut := e.run("campaign", "resume", formatID(created.ID)); code != ExitFailure || !strings.Contains(errOut, "is cancelled") {
		t.Errorf("resume a cancelled campaign: exit %d, %s", code, errOut)
	}
	if code, _, errOut := e.run("campaign", "show", "999"); code != ExitFailure || !strings.Contains(errOut, "not found") {
		t.Errorf("show an unknown campaign: exit %d, %s", code, errOut)
	}
	var n int
	if err := e.db.GetContext(ctx, &n, `SELECT COUNT(*) FROM sales_promotion`); err != nil || n != 1 {
		t.Errorf("%d campaigns stored (%v), want 1", n, err)
	}
}

func formatID(id uint64) string { return strconv.FormatUint(id, 10) }
