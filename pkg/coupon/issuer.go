package coupon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"mkt/pkg/daemon"
	"mkt/pkg/login"
	"mkt/pkg/store"
)

// ErrStopped is returned by HandleLogin once the Issuer is stopping.
var ErrStopped = errors.New("coupon: issuer stopped")

// Issuer defaults.
const (
	DefaultActiveTTL    = time.Second
	DefaultSyncInterval = 15 * time.Second
	DefaultBatchSize    = 256
	DefaultBatchWait    = 2 * time.Millisecond
	DefaultWorkers      = 4
	DefaultLease        = 30 * time.Second
	DefaultAttrTTL      = 5 * time.Minute
	DefaultAttrCache    = 200_000
	// maxFutureSkew is how far ahead of our clock a login may claim to be;
	// later login times are taken as now.
	maxFutureSkew = 5 * time.Minute
)

// IssuerConfig configures an Issuer.
type IssuerConfig struct {
	// DB is the source of truth; required.
	DB *store.DB
	// State is the Redis fast path; required.
	State *State
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ActiveTTL is how long the in-process copy of the active-coupon set is
	// used before it is read from Redis again. Default DefaultActiveTTL.
	ActiveTTL time.Duration
	// SyncInterval is how often Start's maintenance loop rewrites the Redis
	// active set from MySQL, makes sure every active coupon's counters are
	// loaded and settles expired reservations. Default DefaultSyncInterval.
	SyncInterval time.Duration
	// BatchSize is the most logins handled in one batch. Default DefaultBatchSize.
	BatchSize int
	// BatchWait is how long a batch waits to fill once it has a login.
	// Default DefaultBatchWait.
	BatchWait time.Duration
	// Workers is how many batches run at once. Default DefaultWorkers.
	Workers int
	// Lease is how long a Redis reservation may stay unconfirmed before it
	// is settled from MySQL as abandoned. Default DefaultLease.
	Lease time.Duration
	// AttrTTL and AttrCacheSize bound the cache of member attributes used
	// for segment coupons. Defaults DefaultAttrTTL, DefaultAttrCache entries.
	AttrTTL       time.Duration
	AttrCacheSize int
	// Registerer receives the issuer's metrics; nil registers none.
	Registerer prometheus.Registerer
}

func (c IssuerConfig) withDefaults() (IssuerConfig, error) {
	if c.DB == nil || c.State == nil {
		return c, errors.New("coupon: issuer needs DB and State")
	}
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if c.Now == nil {
		c.Now = time.Now
	}
	c.ActiveTTL = cmp.Or(c.ActiveTTL, DefaultActiveTTL)
	c.SyncInterval = cmp.Or(c.SyncInterval, DefaultSyncInterval)
	c.BatchSize = cmp.Or(c.BatchSize, DefaultBatchSize)
	c.BatchWait = cmp.Or(c.BatchWait, DefaultBatchWait)
	c.Workers = cmp.Or(c.Workers, DefaultWorkers)
	c.Lease = cmp.Or(c.Lease, DefaultLease)
	c.AttrTTL = cmp.Or(c.AttrTTL, DefaultAttrTTL)
	c.AttrCacheSize = cmp.Or(c.AttrCacheSize, DefaultAttrCache)
	switch {
	case c.ActiveTTL < 0 || c.SyncInterval < 0 || c.BatchWait < 0 || c.Lease < 0 || c.AttrTTL < 0:
		return c, errors.New("coupon: issuer durations must not be negative")
	case c.BatchSize < 1 || c.BatchSize > maxGrantMembers:
		return c, fmt.Errorf("coupon: batch size %d is outside 1..%d", c.BatchSize, maxGrantMembers)
	case c.Workers < 1 || c.Workers > 256:
		return c, fmt.Errorf("coupon: %d workers is outside 1..256", c.Workers)
	case c.AttrCacheSize < 0:
		return c, errors.New("coupon: attribute cache size must not be negative")
	}
	return c, nil
}

// Result is what one login got.
type Result struct {
	// Issued is the number of items issued to the member for this login
	// (0 when it held them already, none applied, or the quota is gone).
	Issued int
	// Err is set when the login could not be settled; the event should be
	// delivered again (it wraps ErrRetry when that is all it needs).
	Err error
}

// Issuer issues lazy coupons to members as they log in. Logins are
// gathered into small batches (BatchSize, BatchWait) so that each active
// coupon costs one Redis script, one MySQL transaction and one more script
// per batch rather than per login. A login with no coupon to consider
// returns at once without touching Redis or MySQL. It is safe for
// concurrent use.
type Issuer struct {
	daemon.StartStop

	cfg   IssuerConfig
	log   *slog.Logger
	attrs *attrCache
	m     *issuerMetrics

	snap      atomic.Pointer[activeSnapshot]
	refreshMu sync.Mutex
	rebuilds  singleflight.Group

	// logins admits HandleLogin's logins from the end of Start until
	// Stop, counting each until it is answered.
	logins daemon.Admission
	reqs   chan *loginRequest
	sem    chan struct{}
}

type activeSnapshot struct {
	coupons []*Coupon
	at      time.Time
}

type loginRequest struct {
	ev   login.Event
	done chan Result
}

// NewIssuer validates cfg and returns an Issuer. HandleLogin needs Start;
// Process works without it.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	is := &Issuer{
		cfg:   cfg,
		log:   cfg.Logger,
		attrs: newAttrCache(cfg.AttrTTL, cfg.AttrCacheSize),
		m:     newIssuerMetrics(cfg.Registerer),
		reqs:  make(chan *loginRequest, cfg.BatchSize*cfg.Workers*2),
		sem:   make(chan struct{}, cfg.Workers),
	}
	return is, nil
}

// Name implements the daemon's optional namer.
func (is *Issuer) Name() string { return "coupon-issuer" }

// Start syncs the active set from MySQL, loads every active coupon's Redis
// counters (rebuilding what is missing), then starts the batcher and the
// maintenance loop and admits logins. ctx is the issuer's lifetime; the
// lifecycle is daemon.StartStop's.
func (is *Issuer) Start(ctx context.Context) error {
	return is.StartWith(ctx, func(life *daemon.Lifetime) error {
		ctx := life.Context()
		if err := is.cfg.State.Load(ctx); err != nil {
			return err
		}
		// Rebuild what Redis lacks now rather than on the first logins; what
		// fails here is retried by the maintenance loop and by every batch.
		if err := is.maintain(ctx); err != nil {
			if ctx.Err() != nil {
				return err
			}
			is.log.Warn("coupon: start-up sync of redis state incomplete, continuing", "error", err.Error())
		}
		// The batcher runs until the stop has drained the admitted logins
		// (the lifetime's context), the maintenance loop until the stop.
		life.Go(func() { is.batchLoop(ctx) })
		life.Every(is.cfg.SyncInterval, false, func(context.Context) { is.maintainRound(life.Stopping()) })
		if life.Stopping().Err() == nil { // not when a Stop came first
			is.logins.Open()
		}
		return nil
	})
}

// Stop refuses new logins, waits for the ones already admitted to be
// answered (until ctx ends), then stops the loops. The batcher keeps running
// while it waits, so every admitted login is settled.
func (is *Issuer) Stop(ctx context.Context) error {
	return is.StopWith(ctx, func(ctx context.Context, _ *daemon.Lifetime) error {
		if err := is.logins.CloseAndWait(ctx, "logins in flight"); err != nil {
			return fmt.Errorf("coupon: issuer stop: %w", err)
		}
		return nil
	})
}

// maintainRound is one round of the maintenance loop, run every
// SyncInterval: maintain, logging a failure unless ctx ended.
func (is *Issuer) maintainRound(ctx context.Context) {
	if err := is.maintain(ctx); err != nil && ctx.Err() == nil {
		is.log.Warn("coupon: maintenance round failed", "error", err.Error())
	}
}

// maintain rewrites the Redis active set from MySQL, loads every active
// coupon's counters and settles expired reservations.
func (is *Issuer) maintain(ctx context.Context) error {
	now := is.cfg.Now()
	list, err := is.cfg.State.SyncActive(ctx, is.cfg.DB, now)
	if err != nil {
		return err
	}
	is.snap.Store(&activeSnapshot{coupons: list, at: now})
	var errs []error
	for _, c := range list {
		if err := is.ensureLoaded(ctx, c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		n, err := is.cfg.State.RepairStale(ctx, is.cfg.DB, c.ID, now)
		if err != nil {
			errs = append(errs, err)
		}
		if n > 0 {
			is.log.Warn("coupon: settled abandoned reservations from mysql", "coupon_id", c.ID, "members", n)
			is.m.repaired.Add(float64(n))
		}
	}
	return errors.Join(errs...)
}

// ensureLoaded is State.EnsureLoaded, once at a time per coupon in this process.
func (is *Issuer) ensureLoaded(ctx context.Context, id int64) error {
	_, err, _ := is.rebuilds.Do(fmt.Sprint(id), func() (any, error) {
		ok, err := is.cfg.State.Loaded(ctx, id)
		if err != nil || ok {
			return nil, err
		}
		is.m.rebuilds.Inc()
		return nil, is.cfg.State.EnsureLoaded(ctx, is.cfg.DB, id)
	})
	return err
}

// Refresh reloads the in-process copy of the active-coupon set now: from
// Redis, or from MySQL (rewriting Redis) when Redis lost it.
func (is *Issuer) Refresh(ctx context.Context) error {
	_, err := is.refresh(ctx, true)
	return err
}

// active returns the active-coupon set, at most ActiveTTL old.
func (is *Issuer) active(ctx context.Context) ([]*Coupon, error) {
	now := is.cfg.Now()
	if s := is.snap.Load(); s != nil && now.Sub(s.at) < is.cfg.ActiveTTL {
		return s.coupons, nil
	}
	return is.refresh(ctx, false)
}

func (is *Issuer) refresh(ctx context.Context, force bool) ([]*Coupon, error) {
	is.refreshMu.Lock()
	defer is.refreshMu.Unlock()
	now := is.cfg.Now()
	if s := is.snap.Load(); !force && s != nil && now.Sub(s.at) < is.cfg.ActiveTTL {
		return s.coupons, nil
	}
	list, synced, err := is.cfg.State.LoadActive(ctx)
	if err == nil && !synced {
		is.log.Info("coupon: redis active set missing, rebuilding it from mysql")
		list, err = is.cfg.State.SyncActive(ctx, is.cfg.DB, now)
	}
	if err != nil {
		// Redis unreachable: MySQL still knows.
		l, dberr := ListIssuable(ctx, is.cfg.DB, ModeLazy, now)
		if dberr != nil {
			return nil, errors.Join(err, dberr)
		}
		is.log.Warn("coupon: redis active set unreadable, using mysql", "error", err.Error())
		list = make([]*Coupon, len(l))
		for i := range l {
			list[i] = &l[i]
		}
	}
	slices.SortFunc(list, func(a, b *Coupon) int { return cmp.Compare(a.ID, b.ID) })
	is.snap.Store(&activeSnapshot{coupons: list, at: now})
	return list, nil
}

// HandleLogin issues whatever the login earns and returns once it is
// settled: nil when done (including nothing to issue), an error when the
// event should be delivered again. It needs Start.
func (is *Issuer) HandleLogin(ctx context.Context, ev login.Event) error {
	is.m.logins.Inc()
	coupons, err := is.active(ctx)
	if err != nil {
		return fmt.Errorf("coupon: load active coupons: %w", err)
	}
	at := is.loginTime(ev)
	found := false
	for _, c := range coupons {
		if c.IssuableAt(at) {
			found = true
			break
		}
	}
	if !found {
		is.m.idle.Inc()
		return nil
	}
	if !is.logins.Enter() { // the request counts as in flight until answered
		return ErrStopped
	}
	req := &loginRequest{ev: ev, done: make(chan Result, 1)}
	select {
	case is.reqs <- req:
	case <-ctx.Done():
		is.logins.Leave()
		return ctx.Err()
	}
	select {
	case r := <-req.done:
		return r.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// batchLoop gathers requests into batches and runs them on the workers.
func (is *Issuer) batchLoop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first *loginRequest
		select {
		case <-ctx.Done():
			is.drain()
			return
		case first = <-is.reqs:
		}
		batch := []*loginRequest{first}
		timer.Reset(is.cfg.BatchWait)
	fill:
		for len(batch) < is.cfg.BatchSize {
			select {
			case r := <-is.reqs:
				batch = append(batch, r)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		is.sem <- struct{}{}
		go func() {
			defer func() { <-is.sem }()
			evs := make([]login.Event, len(batch))
			for i, r := range batch {
				evs[i] = r.ev
			}
			// Batches finish even while stopping: their logins are
			// half-way between Redis and MySQL.
			res := is.Process(context.WithoutCancel(ctx), evs)
			for i, r := range batch {
				r.done <- res[i]
				is.logins.Leave()
			}
		}()
	}
}

// drain answers the requests still queued at stop: they will be delivered again.
func (is *Issuer) drain() {
	for {
		select {
		case r := <-is.reqs:
			r.done <- Result{Err: ErrStopped}
			is.logins.Leave()
		default:
			return
		}
	}
}

func (is *Issuer) loginTime(ev login.Event) time.Time {
	now := is.cfg.Now()
	if ev.LoginAt.After(now.Add(maxFutureSkew)) {
		return now
	}
	return ev.LoginAt
}

// job is the part of a batch concerning one coupon.
type job struct {
	c       *Coupon
	members []int64         // distinct, in arrival order
	events  map[int64][]int // member → indexes into the batch
}

// Process handles a batch of logins synchronously and returns one Result
// per event. For each active coupon whose window contains a login's time
// and whose audience includes the member, the member is topped up to the
// per-member limit while the quota lasts: reserved in Redis by one Lua
// script, inserted into MySQL by one transaction (the last word), then
// settled in Redis. Without Redis it still issues correctly from MySQL.
func (is *Issuer) Process(ctx context.Context, evs []login.Event) []Result {
	start := time.Now()
	res := make([]Result, len(evs))
	coupons, err := is.active(ctx)
	if err != nil {
		for i := range res {
			res[i].Err = fmt.Errorf("coupon: load active coupons: %w", err)
		}
		return res
	}
	jobs := make(map[int64]*job)
	var order []*job
	var segmentMembers []int64
	type segCand struct {
		c   *Coupon
		idx int
	}
	var segCands []segCand
	add := func(c *Coupon, i int) {
		j := jobs[c.ID]
		if j == nil {
			j = &job{c: c, events: make(map[int64][]int)}
			jobs[c.ID] = j
			order = append(order, j)
		}
		m := evs[i].MemberID
		if _, ok := j.events[m]; !ok {
			j.members = append(j.members, m)
		}
		j.events[m] = append(j.events[m], i)
	}
	// Only an existing member is issued anything (an unknown id took quota
	// and grew Redis before): an everyone coupon's candidates are looked up
	// by primary key (nothing cached), a segment's with their attributes.
	var everyCands []segCand
	var everyMembers []int64
	for i, ev := range evs {
		at := is.loginTime(ev)
		for _, c := range coupons {
			if !c.IssuableAt(at) {
				continue
			}
			if c.Audience.Everyone() {
				everyCands = append(everyCands, segCand{c, i})
				everyMembers = append(everyMembers, ev.MemberID)
				continue
			}
			segCands = append(segCands, segCand{c, i})
			segmentMembers = append(segmentMembers, ev.MemberID)
		}
	}
	if len(everyCands) > 0 {
		exists, err := existingMembers(ctx, is.cfg.DB, dedupe(everyMembers))
		for _, ec := range everyCands {
			switch {
			case err != nil:
				res[ec.idx].Err = errors.Join(res[ec.idx].Err, err)
			case exists[evs[ec.idx].MemberID]:
				add(ec.c, ec.idx)
			}
		}
	}
	if len(segCands) > 0 {
		attrs, err := is.attrs.lookup(ctx, is.cfg.DB, dedupe(segmentMembers), is.cfg.Now())
		if err != nil {
			for _, sc := range segCands {
				res[sc.idx].Err = errors.Join(res[sc.idx].Err, err)
			}
		} else {
			for _, sc := range segCands {
				a := attrs[evs[sc.idx].MemberID]
				if a.found && sc.c.Audience.Matches(a.level, a.activeDays, a.tags) {
					add(sc.c, sc.idx)
				}
			}
		}
	}
	for _, j := range order {
		issued, errs := is.runJob(ctx, j)
		for m, idxs := range j.events {
			// Only the first of a member's logins in the batch is credited.
			res[idxs[0]].Issued += issued[m]
			if e := errs[m]; e != nil {
				for _, i := range idxs {
					res[i].Err = errors.Join(res[i].Err, e)
				}
			}
		}
	}
	is.m.batchSeconds.Observe(time.Since(start).Seconds())
	return res
}

// runJob issues one coupon to the job's members and returns, per member,
// the items issued and the error that leaves the member unsettled.
func (is *Issuer) runJob(ctx context.Context, j *job) (map[int64]int, map[int64]error) {
	issued := make(map[int64]int, len(j.members))
	errs := make(map[int64]error)
	c := j.c
	fail := func(members []int64, err error) {
		for _, m := range members {
			errs[m] = err
		}
	}
	now := is.cfg.Now().UTC().Truncate(time.Millisecond)
	deadline := now.Add(is.cfg.Lease)

	res, err := is.cfg.State.reserveMembers(ctx, c, j.members, now, deadline)
	if errors.Is(err, ErrNoState) {
		if err = is.ensureLoaded(ctx, c.ID); err == nil {
			res, err = is.cfg.State.reserveMembers(ctx, c, j.members, now, deadline)
		}
		if errors.Is(err, ErrNoState) {
			err = fmt.Errorf("%w: %w", ErrRetry, err)
		}
	}
	if err != nil {
		if errors.Is(err, ErrRetry) || ctx.Err() != nil {
			fail(j.members, err)
			return issued, errs
		}
		// Redis is unusable: MySQL alone is correct, only slower.
		is.m.redisFallback.Inc()
		is.log.Warn("coupon: redis reservation failed, issuing from mysql alone", "coupon_id", c.ID, "error", err.Error())
		is.grantDirect(ctx, c, j.members, now, issued, errs)
		return issued, errs
	}

	var reserved []reservation
	var stale []settlement
	for _, r := range res {
		switch {
		case r.code > 0:
			reserved = append(reserved, r)
		case r.code == codeHas:
			is.m.reserve.WithLabelValues("held").Inc()
		case r.code == codeSoldOut:
			is.m.reserve.WithLabelValues("sold_out").Inc()
		case r.code == codeBusy:
			is.m.reserve.WithLabelValues("busy").Inc()
			errs[r.member] = fmt.Errorf("%w: coupon %d: member %d has a reservation in flight", ErrRetry, c.ID, r.member)
		case r.code == codeSoldOutTmp:
			is.m.reserve.WithLabelValues("busy").Inc()
			errs[r.member] = fmt.Errorf("%w: coupon %d: quota used up by reservations still in flight", ErrRetry, c.ID)
		case r.code == codeStale:
			stale = append(stale, settlement{member: r.member, deadline: r.score})
		}
	}
	if len(stale) > 0 {
		// A reservation was abandoned (its holder died between Redis and
		// MySQL): settle it from MySQL's truth, then try once more.
		is.m.repaired.Add(float64(len(stale)))
		staleMembers := make([]int64, len(stale))
		for i, s := range stale {
			staleMembers[i] = s.member
		}
		if err := is.cfg.State.repair(ctx, is.cfg.DB, c.ID, stale); err != nil {
			fail(staleMembers, fmt.Errorf("%w: coupon %d: settle abandoned reservations: %w", ErrRetry, c.ID, err))
		} else if again, err := is.cfg.State.reserveMembers(ctx, c, staleMembers, now, deadline); err != nil {
			fail(staleMembers, fmt.Errorf("%w: %w", ErrRetry, err))
		} else {
			for _, r := range again {
				switch {
				case r.code > 0:
					reserved = append(reserved, r)
				case r.code == codeHas, r.code == codeSoldOut:
				default:
					errs[r.member] = fmt.Errorf("%w: coupon %d: member %d reservation still unsettled", ErrRetry, c.ID, r.member)
				}
			}
		}
	}
	if len(reserved) == 0 {
		return issued, errs
	}
	is.m.reserve.WithLabelValues("reserved").Add(float64(len(reserved)))
	members := make([]int64, len(reserved))
	for i, r := range reserved {
		members[i] = r.member
	}
	g, err := grant(ctx, is.cfg.DB, c.ID, members, now, time.Time{})
	if err != nil {
		fail(members, fmt.Errorf("%w: %w", ErrRetry, err))
		if errors.Is(err, errCommitUnknown) {
			// Maybe committed: leave the reservations to the lease repair,
			// which reads the truth.
			return issued, errs
		}
		lines := make([]settlement, len(reserved))
		for i, r := range reserved {
			lines[i] = settlement{member: r.member, deadline: deadline.UnixMilli(), reserved: int(r.code)}
		}
		if _, uerr := is.cfg.State.settleMembers(ctx, c.ID, "undo", lines); uerr != nil {
			is.log.Warn("coupon: could not give back redis reservations; the lease repair will", "coupon_id", c.ID, "error", uerr.Error())
		}
		return issued, errs
	}
	lines := make([]settlement, len(reserved))
	for i, r := range reserved {
		o := g.outcomes[i]
		lines[i] = settlement{member: r.member, deadline: deadline.UnixMilli(), reserved: int(r.code),
			inserted: o.inserted, truth: o.had + o.inserted}
		issued[r.member] = o.inserted
	}
	is.m.issued.Add(float64(g.inserted))
	if !g.issuable {
		// Disabled meanwhile: nothing inserted, give the reservations back.
		if _, err := is.cfg.State.settleMembers(ctx, c.ID, "undo", lines); err != nil {
			is.log.Warn("coupon: could not give back redis reservations; the lease repair will", "coupon_id", c.ID, "error", err.Error())
		}
		return issued, errs
	}
	if _, err := is.cfg.State.settleMembers(ctx, c.ID, "confirm", lines); err != nil {
		// MySQL has the items: the login is served. The reservations stay
		// pending until the lease repair settles them from MySQL.
		is.log.Warn("coupon: could not confirm redis reservations; the lease repair will", "coupon_id", c.ID, "error", err.Error())
	}
	return issued, errs
}

// grantDirect issues from MySQL alone (Redis unusable).
func (is *Issuer) grantDirect(ctx context.Context, c *Coupon, members []int64, now time.Time, issued map[int64]int, errs map[int64]error) {
	for chunk := range slices.Chunk(members, maxGrantMembers) {
		g, err := grant(ctx, is.cfg.DB, c.ID, chunk, now, time.Time{})
		if err != nil {
			for _, m := range chunk {
				errs[m] = fmt.Errorf("%w: %w", ErrRetry, err)
			}
			continue
		}
		for _, o := range g.outcomes {
			issued[o.member] = o.inserted
		}
		is.m.issued.Add(float64(g.inserted))
	}
}

// issuerMetrics are the Issuer's Prometheus metrics.
type issuerMetrics struct {
	logins        prometheus.Counter
	idle          prometheus.Counter
	issued        prometheus.Counter
	reserve       *prometheus.CounterVec
	repaired      prometheus.Counter
	rebuilds      prometheus.Counter
	redisFallback prometheus.Counter
	batchSeconds  prometheus.Histogram
}

func newIssuerMetrics(reg prometheus.Registerer) *issuerMetrics {
	m := &issuerMetrics{
		logins: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_coupon_logins_total",
			Help: "Login events handled by the coupon issuer."}),
		idle: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_coupon_logins_idle_total",
			Help: "Login events with no active coupon to consider (answered without Redis or MySQL)."}),
		issued: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_coupon_items_issued_total",
			Help: "Coupon items inserted by login issuance."}),
		reserve: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mkt_coupon_reservations_total",
			Help: "Redis reservation outcomes per member and coupon: reserved, held, sold_out, busy."}, []string{"outcome"}),
		repaired: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_coupon_reservations_repaired_total",
			Help: "Abandoned Redis reservations settled from MySQL."}),
		rebuilds: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_coupon_state_rebuilds_total",
			Help: "Times a coupon's Redis counters were found missing and rebuilt (or waited for)."}),
		redisFallback: prometheus.NewCounter(prometheus.CounterOpts{Name: "mkt_coupon_redis_fallback_total",
			Help: "Batches issued from MySQL alone because Redis failed."}),
		batchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mkt_coupon_batch_seconds",
			Help: "Time to process one batch of logins.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	if reg != nil {
		reg.MustRegister(m.logins, m.idle, m.issued, m.reserve, m.repaired, m.rebuilds, m.redisFallback, m.batchSeconds)
	}
	return m
}
