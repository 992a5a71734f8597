package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/hotgoods"
	"mkt/pkg/membership"
	"mkt/pkg/mq"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/push"
	"mkt/pkg/pushtest"
	"mkt/pkg/store"
)

const benchPushLong = `push runs one promotion campaign to every member through the real stack —
MySQL, Redis, RocketMQ and N pushd processes in one consumer group — against
an in-process provider simulator, and reports how fast it was planned and
delivered, how much memory pushd used, and whether every member got exactly
one message.

It seeds synthetic members into the database until there are --users (the
configured database by default, or --database NAME, created and migrated if
needed). A database holding more members than --users is refused: an
everyone campaign would reach them all. It then starts the simulator, the
pushd processes (found next to mktctl, on $PATH, or --pushd-bin) in a
RocketMQ namespace of their own, creates the campaign, waits for it to
complete, stops everything it started (also on Ctrl-C, which cancels the
campaign), and audits the simulator's delivery counts against the database.

What is measured:
  plan_enqueue_seconds  campaign row stored (created_at) → its shards stored and
                        every shard task published (planned_at), database clock:
                        the created event's trip through RocketMQ included
  plan_seconds,         the planner's own timing of the two steps (its log)
  enqueue_seconds
  users_per_second      members delivered / send window, the window being the
                        first successful provider call's arrival at the simulator
                        to the last one's answer
  campaign_seconds      created_at → finished_at
  p50/p99/max_send_ms   provider calls as the simulator's HTTP server saw them:
                        request read → answer written (the simulated latency
                        plus the server's work; not the client's queueing)
  pushd_rss_peak_bytes  the largest VmHWM of the pushd processes, read from
                        /proc just before they are stopped
  delivered, duplicates, missing, unexpected
                        the simulator's per-member counts against the active
                        members with an address on the channel
  prior_records         push_message rows in the database before the run
                        (InnoDB's estimate): earlier runs' records slow the
                        fan-out once they outgrow MariaDB's buffer pool`

// benchPushOptions are `bench push`'s flags.
type benchPushOptions struct {
	Users            int64
	Latency          providersim.Latency
	BatchSize        int
	Pushd            int
	PushdBin         string
	ShardSize        int
	MaxInFlight      int
	ShardConcurrency int
	PageSize         int
	Channel          string
	Database         string
	SimAddr          string
	Settle           time.Duration
	Timeout          time.Duration
	LogDir           string
	Watchers         int
	// HotgoodsSegments > 0 runs a generated hot-goods day of that many
	// segment rows instead of a promotion.
	HotgoodsSegments int
}

func newBenchPushCmd(app *App, runF func(*benchPushOptions) error) *cobra.Command {
	o := &benchPushOptions{Latency: providersim.Latency{Kind: providersim.LatencyFixed, Min: 200 * time.Millisecond}}
	cmd := &cobra.Command{
		Use:   "push [--users N] [--latency 200ms] [--batch-size K] [--pushd N]",
		Short: "Push one campaign to every member through pushd and a provider simulator; report speed, memory, exactness",
		Long:  benchPushLong,
		Example: `  mktctl bench push --users 1000000 --latency 200ms --batch-size 1 --pushd 2
  mktctl bench push --users 1000000 --batch-size 100 --json
  mktctl bench push --users 10000000 --database mkt_bench_10m --shard-size 1000`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(o)
			}
			return runBenchPush(cmd.Context(), app, o)
		},
	}
	f := cmd.Flags()
	f.Int64Var(&o.Users, "users", 1_000_000, "members in the database (seeded up to this many when fewer exist)")
	f.Var(&o.Latency, "latency", `simulated provider answer time per call: "200ms", "100ms-300ms" or "normal:200ms,50ms"`)
	f.IntVar(&o.BatchSize, "batch-size", 1, "recipients per provider call (the batch endpoint); 1 = one call per recipient")
	f.IntVar(&o.Pushd, "pushd", 2, "pushd processes sharing the work")
	f.StringVar(&o.PushdBin, "pushd-bin", "", "pushd executable (default: next to mktctl, then $PATH)")
	f.IntVar(&o.ShardSize, "shard-size", 1000, "members per shard")
	f.IntVar(&o.MaxInFlight, "max-in-flight", push.DefaultMaxInFlight, "provider calls in flight per pushd (pushd --max-in-flight)")
	f.IntVar(&o.ShardConcurrency, "shard-concurrency", 32, "shards worked on at once per pushd (pushd --shard-concurrency)")
	f.IntVar(&o.PageSize, "page-size", 0, "members read, sent and checkpointed at once (pushd --page-size; 0 = pushd's default)")
	f.StringVar(&o.Channel, "channel", string(provider.ChannelSMS), "channel pushed: sms, email or app")
	f.StringVar(&o.Database, "database", "", "database to run in, created and migrated if needed (default: the configured one)")
	f.StringVar(&o.SimAddr, "sim-addr", "127.0.0.1:0", "listen address of the provider simulator")
	f.DurationVar(&o.Settle, "settle", 5*time.Second, "wait after the pushd processes are ready, for the consumer group to rebalance")
	f.DurationVar(&o.Timeout, "timeout", time.Hour, "give up when the campaign has not completed after this long")
	f.IntVar(&o.HotgoodsSegments, "hotgoods-segments", 0, "push a generated hot-goods day of this many segments (on --channel) instead of a promotion, 1..2000")
	f.IntVar(&o.Watchers, "watchers", 0, "live views (mktctl watch) refreshing the campaign every second while it runs, 0..8")
	f.StringVar(&o.LogDir, "log-dir", "", "keep the pushd logs in this directory (default: a temporary one, kept only on failure)")
	return cmd
}

func (o *benchPushOptions) validate() error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if o.Users < 1 || o.Users > 100_000_000 {
		bad("--users %d: want 1..100000000", o.Users)
	}
	if o.BatchSize < 1 || o.BatchSize > 10_000 {
		bad("--batch-size %d: want 1..10000", o.BatchSize)
	}
	if o.Pushd < 1 || o.Pushd > 64 {
		bad("--pushd %d: want 1..64", o.Pushd)
	}
	if err := audience.CheckShardSize(o.ShardSize); err != nil {
		bad("--shard-size: %v", err)
	}
	if o.MaxInFlight < 1 {
		bad("--max-in-flight %d: want at least 1", o.MaxInFlight)
	}
	if o.ShardConcurrency < 1 {
		bad("--shard-concurrency %d: want at least 1", o.ShardConcurrency)
	}
	if o.PageSize < 0 || o.PageSize > 10_000 {
		bad("--page-size %d: want 0 (pushd's default) or 1..10000", o.PageSize)
	}
	switch ch := provider.Channel(o.Channel); ch {
	case provider.ChannelSMS, provider.ChannelEmail, provider.ChannelApp:
	default:
		bad("--channel %q: want sms, email or app (the inbox has no provider to measure)", o.Channel)
	}
	if o.Database != "" && !strings.HasPrefix(o.Database, "mkt") {
		bad("--database %q: mkt databases start with \"mkt\"", o.Database)
	}
	if o.Settle < 0 {
		bad("--settle %v: want 0 or more", o.Settle)
	}
	if o.HotgoodsSegments < 0 || o.HotgoodsSegments > hotgoods.MaxRowsPerDay {
		bad("--hotgoods-segments %d: want 0..%d", o.HotgoodsSegments, hotgoods.MaxRowsPerDay)
	}
	if o.Watchers < 0 || o.Watchers > 8 {
		bad("--watchers %d: want 0..8", o.Watchers)
	}
	if o.Timeout <= 0 {
		bad("--timeout %v: want more than 0", o.Timeout)
	}
	if len(problems) > 0 {
		return usageErrorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// benchPushReport is the result of `bench push` (--json).
type benchPushReport struct {
	Users              int64   `json:"users"`
	Shards             int     `json:"shards"`
	PlanEnqueueSeconds float64 `json:"plan_enqueue_seconds"`
	PlanSeconds        float64 `json:"plan_seconds"`
	EnqueueSeconds     float64 `json:"enqueue_seconds"`
	TaskSends          int64   `json:"task_sends"`
	UsersPerSecond     float64 `json:"users_per_second"`
	SendSeconds        float64 `json:"send_seconds"`
	CampaignSeconds    float64 `json:"campaign_seconds"`
	P50SendMS          float64 `json:"p50_send_ms"`
	P99SendMS          float64 `json:"p99_send_ms"`
	MaxSendMS          float64 `json:"max_send_ms"`
	ProviderCalls      uint64  `json:"provider_calls"`
	PushdRSSPeakBytes  uint64  `json:"pushd_rss_peak_bytes"`
	// PushdRSSPeakEach is every process's VmHWM.
	PushdRSSPeakEach []uint64 `json:"pushd_rss_peak_bytes_each"`
	Expected         uint64   `json:"expected"`
	Delivered        uint64   `json:"delivered"`
	Duplicates       uint64   `json:"duplicates"`
	Missing          uint64   `json:"missing"`
	Unexpected       uint64   `json:"unexpected"`
	// FailedDeliveries is the campaign's failed delivery records (provider
	// refusals, exhausted retries).
	FailedDeliveries int64 `json:"failed_deliveries"`
	// PriorRecords estimates the push_message rows the database held before
	// the run (InnoDB's estimate): the fan-out slows once the table
	// outgrows MariaDB's buffer pool, so runs are comparable at like sizes.
	PriorRecords int64 `json:"prior_records"`

	CampaignID uint64 `json:"campaign_id"`
	// Kind is the campaign's kind; for hot_goods, HotgoodsSegments is the
	// day's rows and LaunchSeconds the time `hotgoods run` took to launch
	// them (plan_enqueue_seconds follows it).
	Kind             string  `json:"kind"`
	HotgoodsSegments int     `json:"hotgoods_segments,omitempty"`
	LaunchSeconds    float64 `json:"launch_seconds,omitempty"`
	Database         string  `json:"database"`
	Channel          string  `json:"channel"`
	Latency          string  `json:"latency"`
	BatchSize        int     `json:"batch_size"`
	Pushd            int     `json:"pushd"`
	ShardSize        int     `json:"shard_size"`
	MaxInFlight      int     `json:"max_in_flight"`
	ShardConcurrency int     `json:"shard_concurrency"`
	PageSize         int     `json:"page_size,omitempty"`
	LogDir           string  `json:"log_dir,omitempty"`

	// Watchers is --watchers; WatchRefreshes their refreshes during the
	// run, WatchRefreshP50MS and WatchRefreshMaxMS how long one took,
	// WatchErrors those that could not read a dependency.
	Watchers          int     `json:"watchers"`
	WatchRefreshes    int     `json:"watch_refreshes,omitempty"`
	WatchRefreshP50MS float64 `json:"watch_refresh_p50_ms,omitempty"`
	WatchRefreshMaxMS float64 `json:"watch_refresh_max_ms,omitempty"`
	WatchErrors       int     `json:"watch_errors,omitempty"`
}

// benchPushRun is the state of one `bench push` run: what it started, so
// that everything is stopped however the run ends.
type benchPushRun struct {
	app      *App
	o        *benchPushOptions
	progress func(format string, args ...any)

	dsn          string
	dbName       string
	priorRecords int64
	db           *store.DB
	sim          *pushtest.Simulator
	ns           string
	logDir       string
	keep         bool
	procs        []*pushtest.Pushd
	logs         []*os.File
	tx           *mq.TxProducer
	id           uint64        // the campaign, once created
	kind         campaign.Kind // of the campaign: promotion, or hot_goods
	launchSecs   float64       // hotgoods.Launch's own time
	watchers     *benchWatchers
	done         bool // the campaign completed
}

func runBenchPush(ctx context.Context, app *App, o *benchPushOptions) (err error) {
	r := &benchPushRun{app: app, o: o, progress: func(format string, args ...any) {
		fmt.Fprintf(app.Err, "bench: "+format+"\n", args...)
	}}
	defer func() { err = errors.Join(err, r.cleanup(err != nil)) }()
	bin, err := findPushd(o.PushdBin)
	if err != nil {
		return err
	}
	if err := r.openDatabase(ctx); err != nil {
		return err
	}
	if err := r.seed(ctx); err != nil {
		return err
	}
	if err := r.checkRecords(ctx); err != nil {
		return err
	}
	if err := r.start(ctx, bin); err != nil {
		return err
	}
	c, err := r.runCampaign(ctx)
	if err != nil {
		return err
	}
	rep, err := r.report(ctx, c)
	if err != nil {
		return err
	}
	if app.JSON {
		return writeJSON(app.Out, rep)
	}
	return writeBenchPushTable(app.Out, rep)
}

// findPushd locates the pushd executable: the flag, then next to this
// executable, then $PATH.
func findPushd(flag string) (string, error) {
	if flag != "" {
		if _, err := os.Stat(flag); err != nil {
			return "", usageErrorf("--pushd-bin: %v", err)
		}
		return flag, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "pushd")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("pushd"); err == nil {
		return p, nil
	}
	return "", usageErrorf("pushd not found next to mktctl nor on $PATH: build both (go build -o bin/ ./cmd/...) or pass --pushd-bin")
}

// openDatabase opens the configured database, or --database (created and
// migrated when needed).
func (r *benchPushRun) openDatabase(ctx context.Context) error {
	r.dsn = string(r.app.Common.MySQLDSN)
	if r.o.Database != "" {
		dsn, err := store.WithDatabase(r.dsn, r.o.Database)
		if err != nil {
			return usageErrorf("--database: %v", err)
		}
		r.dsn = dsn
		if err := store.EnsureDatabase(ctx, dsn); err != nil {
			return fmt.Errorf("%w: create database %s: %w", ErrUnavailable, r.o.Database, err)
		}
	}
	db, err := store.Open(ctx, store.Config{DSN: r.dsn})
	if err != nil {
		return fmt.Errorf("%w: MySQL: %w", ErrUnavailable, err)
	}
	r.db = db
	r.dbName = db.Name()
	if r.o.Database != "" {
		applied, err := store.Migrate(ctx, db)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", r.dbName, err)
		}
		if len(applied) > 0 {
			r.progress("database %s: %d migrations applied", r.dbName, len(applied))
		}
	}
	return nil
}

// seed makes sure the database holds exactly --users members.
func (r *benchPushRun) seed(ctx context.Context) error {
	var highest int64
	if err := r.db.GetContext(ctx, &highest, `SELECT COALESCE(MAX(id), 0) FROM membership_account`); err != nil {
		err = store.MapError(err)
		return fmt.Errorf("read the members of %s (migrated? run mktctl migrate, or use --database): %w", r.dbName, err)
	}
	if highest > r.o.Users {
		return usageErrorf("database %s holds members up to id %d, more than --users %d: an everyone campaign would reach them all; "+
			"use --users %d or another --database", r.dbName, highest, r.o.Users, highest)
	}
	if highest == r.o.Users {
		r.progress("%d members present in %s", highest, r.dbName)
		return nil
	}
	r.progress("seeding %s: %d members present, %d wanted", r.dbName, highest, r.o.Users)
	var last time.Time
	res, err := membership.Seed(ctx, r.db, membership.SeedOptions{Target: r.o.Users, Progress: func(done, total int64) {
		if time.Since(last) >= 5*time.Second || done == total {
			last = time.Now()
			r.progress("seeding: %d/%d", done, total)
		}
	}})
	if err != nil {
		return fmt.Errorf("seed members: %w", err)
	}
	r.progress("seeded %d members in %s", res.Added, res.Elapsed.Round(time.Millisecond))
	return nil
}

// checkRecords estimates the delivery records already in the database and
// warns when earlier runs' records are many times the audience.
func (r *benchPushRun) checkRecords(ctx context.Context) error {
	err := r.db.GetContext(ctx, &r.priorRecords, `SELECT COALESCE(MAX(table_rows), 0) FROM information_schema.tables
		WHERE table_schema = DATABASE() AND table_name = 'push_message'`)
	if err != nil {
		return fmt.Errorf("%w: estimate push_message rows: %w", ErrUnavailable, store.MapError(err))
	}
	if r.priorRecords > 3*r.o.Users {
		r.progress("note: push_message in %s already holds ~%d delivery records of earlier runs; the fan-out slows "+
			"once they outgrow MariaDB's buffer pool (in a database used only for benchmarks, TRUNCATE push_message "+
			"and push_failure for comparable runs)", r.dbName, r.priorRecords)
	}
	return nil
}

// start starts the simulator and the pushd processes and waits until they
// are ready and the consumer group has settled.
func (r *benchPushRun) start(ctx context.Context, bin string) error {
	o := r.o
	sim, err := pushtest.StartSimulator(o.SimAddr, providersim.Config{Latency: o.Latency, Seed: 1, Logger: r.app.Logger})
	if err != nil {
		return usageErrorf("%v", err)
	}
	r.sim = sim
	var b [5]byte
	_, _ = rand.Read(b[:])
	r.ns = "bench_" + hex.EncodeToString(b[:])
	r.logDir, r.keep = o.LogDir, o.LogDir != ""
	if r.logDir == "" {
		if r.logDir, err = os.MkdirTemp("", "mkt-bench-push-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(r.logDir, 0o755); err != nil {
		return err
	}
	ch := provider.Channel(o.Channel)
	env := strings.ToUpper(o.Channel)
	args := []string{"--max-in-flight", strconv.Itoa(o.MaxInFlight), "--shard-concurrency", strconv.Itoa(o.ShardConcurrency)}
	if o.PageSize > 0 {
		args = append(args, "--page-size", strconv.Itoa(o.PageSize))
	}
	r.progress("simulator on %s (latency %s); starting %d pushd (%s, namespace %s, logs in %s)",
		sim.URL(), o.Latency, o.Pushd, bin, r.ns, r.logDir)
	for i := range o.Pushd {
		instance := fmt.Sprintf("bench-%s-%d", r.ns[len("bench_"):], i+1)
		f, err := os.Create(filepath.Join(r.logDir, instance+".log"))
		if err != nil {
			return err
		}
		r.logs = append(r.logs, f)
		p, err := pushtest.StartPushd(pushtest.PushdConfig{
			Bin:       bin,
			Instance:  instance,
			MySQLDSN:  r.dsn,
			Namespace: r.ns,
			// The channel's provider is the simulator, with pushd's defaults
			// for everything the flags do not set: an operator's own
			// provider settings (token, rate limit…) are blanked out.
			Env: []string{
				"MKT_PROVIDER_" + env + "_URL=" + sim.ChannelURL(ch),
				"MKT_PROVIDER_" + env + "_BATCH=" + strconv.Itoa(o.BatchSize),
				"MKT_PROVIDER_" + env + "_BATCH_URL=", "MKT_PROVIDER_" + env + "_TOKEN=", "MKT_PROVIDER_" + env + "_TOKEN_FILE=",
				"MKT_PROVIDER_" + env + "_RATE=", "MKT_PROVIDER_" + env + "_BURST=", "MKT_PROVIDER_" + env + "_TIMEOUT=",
				"MKT_PROVIDER_" + env + "_MAX_ATTEMPTS=",
			},
			Args: args,
			Log:  f,
		})
		if err != nil {
			return err
		}
		r.procs = append(r.procs, p)
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := pushtest.WaitAllReady(rctx, r.procs); err != nil {
		return fmt.Errorf("pushd not ready (logs in %s): %w", r.logDir, err)
	}
	select {
	case <-time.After(o.Settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// runCampaign creates the campaign and waits for it to complete, reporting
// progress every few seconds.
func (r *benchPushRun) runCampaign(ctx context.Context) (*campaign.Summary, error) {
	o := r.o
	mqc := mq.Config{NameServer: r.app.Common.RocketMQNameServer, BrokerAddr: r.app.Common.RocketMQBroker, Logger: r.app.Logger}
	tx, err := mq.NewTxProducer(mq.TxProducerConfig{Config: mqc, Group: r.ns + "_" + campaign.GroupTx,
		Check: campaign.TxCheck(r.db, r.app.Logger, nil)})
	if err != nil {
		return nil, fmt.Errorf("%w: RocketMQ: %w", ErrUnavailable, err)
	}
	r.tx = tx
	spec := campaign.Spec{
		Name:           fmt.Sprintf("bench push %d users, %s, batch %d", o.Users, o.Latency, o.BatchSize),
		Offer:          campaign.OfferFullReduction,
		ThresholdCents: 10000, DiscountCents: 1500,
		Template:  "Spend {threshold}, save {discount}! (mktctl bench push)",
		Channels:  []provider.Channel{provider.Channel(o.Channel)},
		ShardSize: o.ShardSize,
		CreatedBy: "mktctl bench",
	}
	cr := campaign.Creator{DB: r.db, Tx: tx, Topic: r.ns + "_" + campaign.TopicEvents}
	if o.HotgoodsSegments > 0 {
		if err := r.launchHotgoods(ctx, cr); err != nil {
			return nil, err
		}
	} else {
		created, err := cr.Create(ctx, spec, campaign.NewRequestID("bench"))
		if err != nil {
			return nil, campaignError(err)
		}
		r.id, r.kind = created.Campaign.ID, campaign.KindPromotion
		r.progress("campaign %d created", r.id)
	}
	if o.Watchers > 0 {
		if r.watchers, err = r.startWatchers(ctx, o.Watchers); err != nil {
			return nil, err
		}
		r.progress("%d live views watching campaign %d", o.Watchers, r.id)
	}

	deadline := time.Now().Add(o.Timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var lastReport time.Time
	var lastDelivered uint64
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		for _, p := range r.procs {
			if p.Exited() {
				return nil, fmt.Errorf("pushd %s exited with code %d during the campaign (logs in %s)", p.Instance(), p.ExitCode(), r.logDir)
			}
		}
		c, err := r.kind.GetSummary(ctx, r.db, r.id)
		if err != nil {
			return nil, err
		}
		if time.Since(lastReport) >= 5*time.Second || c.Status != campaign.StatusRunning {
			st := r.sim.Stats()
			rate := float64(st.Delivered-lastDelivered) / max(time.Since(lastReport).Seconds(), 1e-3)
			if lastReport.IsZero() {
				rate = 0
			}
			r.progress("campaign %d %s: %d delivered (%.0f/s), %d in flight", r.id, c.Status, st.Delivered, rate, st.InFlight)
			lastReport, lastDelivered = time.Now(), st.Delivered
		}
		switch c.Status {
		case campaign.StatusCompleted:
			r.done = true
			if r.watchers != nil {
				r.watchers.stop()
			}
			return c, nil
		case campaign.StatusFailed, campaign.StatusCancelled, campaign.StatusPaused:
			return nil, fmt.Errorf("campaign %d is %s: %s (logs in %s)", r.id, c.Status, c.StatusReason, r.logDir)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("campaign %d not completed after %v (logs in %s)", r.id, o.Timeout, r.logDir)
		}
	}
}

// report measures the completed run: memory before the processes stop,
// then timings from the database and the planner's log, and the audit.
func (r *benchPushRun) report(ctx context.Context, c *campaign.Summary) (benchPushReport, error) {
	o := r.o
	rep := benchPushReport{
		Users: c.PlannedMembers, Shards: c.PlannedShards, CampaignID: c.ID, Database: r.dbName,
		Channel: o.Channel, Latency: o.Latency.String(), BatchSize: o.BatchSize, Pushd: o.Pushd,
		ShardSize: o.ShardSize, MaxInFlight: o.MaxInFlight, ShardConcurrency: o.ShardConcurrency, PageSize: o.PageSize,
		PriorRecords: r.priorRecords, Watchers: o.Watchers,
		Kind: string(r.kind), HotgoodsSegments: o.HotgoodsSegments, LaunchSeconds: r.launchSecs,
	}
	if r.watchers != nil {
		r.watchers.fill(&rep)
	}
	for _, p := range r.procs {
		m, err := p.Memory()
		if err != nil {
			return rep, err
		}
		rep.PushdRSSPeakEach = append(rep.PushdRSSPeakEach, m.PeakRSS)
		rep.PushdRSSPeakBytes = max(rep.PushdRSSPeakBytes, m.PeakRSS)
	}
	if err := r.stopPushd(); err != nil {
		return rep, err
	}
	if c.PlannedAt != nil {
		rep.PlanEnqueueSeconds = c.PlannedAt.Sub(c.CreatedAt).Seconds()
	}
	if c.FinishedAt != nil {
		rep.CampaignSeconds = c.FinishedAt.Sub(c.CreatedAt).Seconds()
	}
	for _, f := range r.logs {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return rep, err
		}
		err := pushtest.ScanLog(f, func(l pushtest.LogRecord) {
			if id, _ := l.Uint("campaign_id"); l.Msg() != pushtest.MsgCampaignPlanned || id != c.ID {
				return
			}
			plan, _ := l.Duration("plan")
			enq, _ := l.Duration("enqueue")
			sends, _ := l.Int("sends")
			rep.PlanSeconds, rep.EnqueueSeconds, rep.TaskSends = plan.Seconds(), enq.Seconds(), sends
		})
		if err != nil {
			return rep, err
		}
	}
	calls := r.sim.Calls()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	rep.ProviderCalls, rep.P50SendMS, rep.P99SendMS, rep.MaxSendMS = calls.Calls, ms(calls.P50), ms(calls.P99), ms(calls.Max)
	rep.SendSeconds = calls.Window().Seconds()

	r.progress("auditing deliveries against the members of %s", r.dbName)
	var a pushtest.Audit
	var err error
	if r.kind == campaign.KindHotGoods {
		a, err = r.auditHotgoods(ctx)
	} else {
		a, err = pushtest.AuditEveryone(ctx, r.db, r.sim.Simulator, c.ID, provider.Channel(o.Channel))
	}
	if err != nil {
		return rep, err
	}
	rep.Expected, rep.Delivered, rep.Duplicates, rep.Missing, rep.Unexpected = a.Expected, a.Delivered, a.Duplicates, a.Missing, a.Unexpected
	if rep.SendSeconds > 0 {
		rep.UsersPerSecond = float64(a.Delivered) / rep.SendSeconds
	}
	p, err := campaign.ShardProgress(ctx, r.db, r.kind, c.ID)
	if err != nil {
		return rep, err
	}
	rep.FailedDeliveries = p.FailedN
	if r.keep {
		rep.LogDir = r.logDir
	}
	return rep, nil
}

// stopPushd stops the processes (SIGTERM, then SIGKILL after 30s).
func (r *benchPushRun) stopPushd() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	codes, err := pushtest.StopAll(ctx, r.procs)
	for i, code := range codes {
		if code != 0 && err == nil {
			err = fmt.Errorf("pushd %s exited with code %d (logs in %s)", r.procs[i].Instance(), code, r.logDir)
		}
	}
	r.procs = nil
	return err
}

// cleanup stops whatever is still running: an unfinished campaign is
// cancelled, pushd stopped, the simulator and connections closed; the logs
// are removed unless kept (--log-dir, or the run failed).
func (r *benchPushRun) cleanup(failed bool) error {
	var errs []error
	if r.watchers != nil {
		r.watchers.stop()
	}
	if r.id != 0 && !r.done && r.db != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ctl := &campaign.Control{DB: r.db, Kind: r.kind, Logger: r.app.Logger}
		if _, err := ctl.Cancel(ctx, r.id, "mktctl bench push stopped"); err != nil && !errors.Is(err, campaign.ErrConflict) {
			errs = append(errs, fmt.Errorf("cancel campaign %d: %w", r.id, err))
		} else if err == nil {
			r.progress("campaign %d cancelled", r.id)
		}
		cancel()
	}
	if len(r.procs) > 0 {
		errs = append(errs, r.stopPushd())
	}
	if r.tx != nil {
		if err := r.tx.Shutdown(); err != nil {
			r.app.Logger.Warn("bench: shut down producer", slog.String("error", err.Error()))
		}
	}
	if r.sim != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, r.sim.Shutdown(ctx))
		cancel()
	}
	for _, f := range r.logs {
		_ = f.Close()
	}
	if r.logDir != "" {
		if r.keep || failed {
			r.progress("pushd logs kept in %s", r.logDir)
		} else {
			_ = os.RemoveAll(r.logDir)
		}
	}
	if r.db != nil {
		_ = r.db.Close()
	}
	return errors.Join(errs...)
}

func writeBenchPushTable(w io.Writer, rep benchPushReport) error {
	mib := func(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	each := make([]string, len(rep.PushdRSSPeakEach))
	for i, b := range rep.PushdRSSPeakEach {
		each[i] = mib(b)
	}
	rows := [][]string{
		{"METRIC", "VALUE"},
		{"run", fmt.Sprintf("campaign %d in %s: %s, latency %s, batch %d, %d pushd (in flight %d, shards %d at once)",
			rep.CampaignID, rep.Database, rep.Channel, rep.Latency, rep.BatchSize, rep.Pushd, rep.MaxInFlight, rep.ShardConcurrency)},
		{"users", strconv.FormatInt(rep.Users, 10)},
		{"shards", fmt.Sprintf("%d (of %d members; %d task sends)", rep.Shards, rep.ShardSize, rep.TaskSends)},
		{"plan_enqueue_seconds", fmt.Sprintf("%.3f (planner: plan %.3f + enqueue %.3f)", rep.PlanEnqueueSeconds, rep.PlanSeconds, rep.EnqueueSeconds)},
		{"users_per_second", fmt.Sprintf("%.0f (over %.1f s of sends)", rep.UsersPerSecond, rep.SendSeconds)},
		{"campaign_seconds", fmt.Sprintf("%.1f", rep.CampaignSeconds)},
		{"p99_send_ms", fmt.Sprintf("%.1f (p50 %.1f, max %.1f; %d calls)", rep.P99SendMS, rep.P50SendMS, rep.MaxSendMS, rep.ProviderCalls)},
		{"pushd_rss_peak_bytes", fmt.Sprintf("%d (%s; each %s)", rep.PushdRSSPeakBytes, mib(rep.PushdRSSPeakBytes), strings.Join(each, ", "))},
		{"delivered", fmt.Sprintf("%d of %d expected", rep.Delivered, rep.Expected)},
		{"duplicates", strconv.FormatUint(rep.Duplicates, 10)},
		{"missing", strconv.FormatUint(rep.Missing, 10)},
		{"unexpected", strconv.FormatUint(rep.Unexpected, 10)},
		{"failed_deliveries", strconv.FormatInt(rep.FailedDeliveries, 10)},
		{"prior_records", fmt.Sprintf("~%d (push_message rows before the run)", rep.PriorRecords)},
	}
	if rep.Watchers > 0 {
		rows = append(rows, []string{"watchers", fmt.Sprintf("%d live views: %d refreshes, p50 %.1f ms, max %.1f ms, %d with errors",
			rep.Watchers, rep.WatchRefreshes, rep.WatchRefreshP50MS, rep.WatchRefreshMaxMS, rep.WatchErrors)})
	}
	if rep.LogDir != "" {
		rows = append(rows, []string{"logs", rep.LogDir})
	}
	return table(w, rows)
}
