package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/childproc"
	"mkt/pkg/config"
	"mkt/pkg/membership"
	"mkt/pkg/mq"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/store"
)

// PushConfig configures Push; its fields are `mktctl bench push`'s flags
// (the command checks their ranges) and where the stack is.
type PushConfig struct {
	// Users is the members in the database: seeded up to it when fewer;
	// more is refused (an everyone campaign would reach them all).
	Users int64
	// Latency is the simulated provider's answer time per call.
	Latency providersim.Latency
	// BatchSize is the recipients per provider call (1 = one call each).
	BatchSize int
	// Pushd is the number of pushd processes sharing the work.
	Pushd int
	// PushdBin is the pushd executable (required; childproc.Find).
	PushdBin string
	// ShardSize is the members per shard.
	ShardSize int
	// MaxInFlight and ShardConcurrency are pushd's --max-in-flight and
	// --shard-concurrency; PageSize its --page-size (0 = pushd's default).
	MaxInFlight      int
	ShardConcurrency int
	PageSize         int
	// Channel is the channel pushed: sms, email or app.
	Channel string
	// Database is the database to run in, created and migrated if needed
	// ("" = the one of Stack.MySQLDSN).
	Database string
	// SimAddr is the provider simulator's listen address.
	SimAddr string
	// Settle is the wait after the pushd processes are ready, for the
	// consumer group to rebalance.
	Settle time.Duration
	// Timeout gives up on a campaign not completed after it.
	Timeout time.Duration
	// LogDir keeps the pushd logs ("" = a temporary directory, kept only
	// when the run fails).
	LogDir string
	// Watchers is the live views refreshing the campaign while it runs.
	Watchers int
	// HotgoodsSegments > 0 runs a generated hot-goods day of that many
	// segment rows instead of a promotion.
	HotgoodsSegments int

	// Stack is where MySQL, Redis and RocketMQ are (mktctl's settings).
	Stack config.Common
	// Logger logs what the harness's clients log.
	Logger *slog.Logger
	// Progress receives a line per step ("bench: ..."); nil discards them.
	Progress io.Writer
}

// PushReport is the result of Push (`bench push --json`).
type PushReport struct {
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

// pushRun is the state of one Push: what it started, so that everything is
// stopped however the run ends.
type pushRun struct {
	o        *PushConfig
	progress func(format string, args ...any)

	dsn          string
	dbName       string
	priorRecords int64
	db           *store.DB
	sim          *Simulator
	ns           string
	logDir       string
	keep         bool
	procs        []*childproc.Proc
	logs         []*os.File
	tx           *mq.TxProducer
	id           uint64        // the campaign, once created
	kind         campaign.Kind // of the campaign: promotion, or hot_goods
	launchSecs   float64       // hotgoods.Launch's own time
	watchers     *watchers
	done         bool // the campaign completed
}

// Push runs one campaign to every member through the real stack — MySQL,
// Redis, RocketMQ and cfg.Pushd pushd processes in one consumer group of a
// RocketMQ namespace of their own — against an in-process provider
// simulator, and reports how fast it was planned and delivered, how much
// memory pushd used, and whether every member got exactly one message.
// Whatever it started is stopped when it returns (an unfinished campaign is
// cancelled, as when ctx ends).
func Push(ctx context.Context, cfg PushConfig) (rep PushReport, err error) {
	if cfg.PushdBin == "" {
		return rep, fmt.Errorf("%w: no pushd executable", ErrRefused)
	}
	r := &pushRun{o: &cfg, progress: progressTo(cfg.Progress)}
	r.o.Logger = cmp.Or(r.o.Logger, slog.Default())
	defer func() { err = errors.Join(err, r.cleanup(err != nil)) }()
	if err := r.openDatabase(ctx); err != nil {
		return rep, err
	}
	if err := r.seed(ctx); err != nil {
		return rep, err
	}
	if err := r.checkRecords(ctx); err != nil {
		return rep, err
	}
	if err := r.start(ctx, cfg.PushdBin); err != nil {
		return rep, err
	}
	c, err := r.runCampaign(ctx)
	if err != nil {
		return rep, err
	}
	return r.report(ctx, c)
}

// openDatabase opens the configured database, or --database (created and
// migrated when needed).
func (r *pushRun) openDatabase(ctx context.Context) error {
	r.dsn = string(r.o.Stack.MySQLDSN)
	if r.o.Database != "" {
		dsn, err := store.WithDatabase(r.dsn, r.o.Database)
		if err != nil {
			return fmt.Errorf("%w: --database: %w", ErrRefused, err)
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
func (r *pushRun) seed(ctx context.Context) error {
	var highest int64
	if err := r.db.GetContext(ctx, &highest, `SELECT COALESCE(MAX(id), 0) FROM membership_account`); err != nil {
		err = store.MapError(err)
		return fmt.Errorf("read the members of %s (migrated? run mktctl migrate, or use --database): %w", r.dbName, err)
	}
	if highest > r.o.Users {
		return fmt.Errorf("%w: database %s holds members up to id %d, more than --users %d: an everyone campaign would reach them all; "+
			"use --users %d or another --database", ErrRefused, r.dbName, highest, r.o.Users, highest)
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
func (r *pushRun) checkRecords(ctx context.Context) error {
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
func (r *pushRun) start(ctx context.Context, bin string) error {
	o := r.o
	sim, err := StartSimulator(o.SimAddr, providersim.Config{Latency: o.Latency, Seed: 1, Logger: o.Logger})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, err)
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
		p, err := childproc.Start(childproc.Config{
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
	if err := childproc.WaitAllReady(rctx, r.procs); err != nil {
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
func (r *pushRun) runCampaign(ctx context.Context) (*campaign.Summary, error) {
	o := r.o
	mqc := mq.Config{NameServer: o.Stack.RocketMQNameServer, BrokerAddr: o.Stack.RocketMQBroker, Logger: o.Logger}
	tx, err := mq.NewTxProducer(mq.TxProducerConfig{Config: mqc, Group: r.ns + "_" + campaign.GroupTx,
		Check: campaign.TxCheck(r.db, o.Logger, nil)})
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
			return nil, err
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
func (r *pushRun) report(ctx context.Context, c *campaign.Summary) (PushReport, error) {
	o := r.o
	rep := PushReport{
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
		err := childproc.ScanLog(f, func(l childproc.LogRecord) {
			if id, _ := l.Uint("campaign_id"); l.Msg() != childproc.MsgCampaignPlanned || id != c.ID {
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
	var a Audit
	var err error
	if r.kind == campaign.KindHotGoods {
		a, err = r.auditHotgoods(ctx)
	} else {
		a, err = AuditEveryone(ctx, r.db, r.sim.Simulator, c.ID, provider.Channel(o.Channel))
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
func (r *pushRun) stopPushd() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	codes, err := childproc.StopAll(ctx, r.procs)
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
func (r *pushRun) cleanup(failed bool) error {
	var errs []error
	if r.watchers != nil {
		r.watchers.stop()
	}
	if r.id != 0 && !r.done && r.db != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		ctl := &campaign.Control{DB: r.db, Kind: r.kind, Logger: r.o.Logger}
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
			r.o.Logger.Warn("bench: shut down producer", slog.String("error", err.Error()))
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
