// Package membership owns mkt's member data: the portrait tag dictionary
// segment filters use, the attribute domains of membership_point and
// membership_filter, and the synthetic member seeder behind
// `mktctl users seed`.
package membership

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"golang.org/x/sync/errgroup"

	"mkt/pkg/store"
)

// SeedMethod selects how Seed writes rows.
type SeedMethod string

// Seed methods.
const (
	// SeedAuto uses SeedLoadData when the server allows LOAD DATA LOCAL
	// INFILE and falls back to SeedInsert otherwise.
	SeedAuto SeedMethod = ""
	// SeedLoadData streams generated rows with LOAD DATA LOCAL INFILE
	// through the driver's reader handler (no temporary file).
	SeedLoadData SeedMethod = "load-data"
	// SeedInsert writes multi-row INSERT statements with placeholders.
	SeedInsert SeedMethod = "insert"
)

// Seed defaults.
const (
	DefaultSeedWorkers     = 3
	DefaultLoadBatchSize   = 50_000 // rows per LOAD DATA statement
	DefaultInsertBatchSize = 5_000  // rows per INSERT statement
	maxPlaceholders        = 65_535 // server limit per prepared statement
	maxSeedTarget          = 1_000_000_000
	loadReaderPrefix       = "mkt-seed-"
	loadReaderBufferSize   = 64 << 10
	probeReaderNameSuffix  = "probe"
)

// SeedOptions configures Seed.
type SeedOptions struct {
	// Target is the total number of members wanted; ids 1..Target. Members
	// already present are kept, only the missing ones are written.
	Target int64
	// BatchSize is rows per statement; default DefaultLoadBatchSize for
	// LOAD DATA, DefaultInsertBatchSize for INSERT (capped by the
	// placeholder limit).
	BatchSize int
	// Workers bounds the statements running at once; default
	// DefaultSeedWorkers. Each of the three tables is written by one stream
	// in id order, so more than 3 workers gains nothing; fewer lighten the
	// load on a server that is also serving traffic.
	Workers int
	// Method picks LOAD DATA or INSERT; default SeedAuto.
	Method SeedMethod
	// Now anchors last-login times (which must agree with active days);
	// default time.Now().
	Now time.Time
	// Progress, if set, is called with members fully written out of those to
	// write, at the start and after each statement. Calls never overlap.
	Progress func(done, total int64)
}

// SeedResult reports what Seed did.
type SeedResult struct {
	// Target is SeedOptions.Target.
	Target int64 `json:"target"`
	// Existing is the number of members present in all three tables before
	// seeding (ids are dense from 1).
	Existing int64 `json:"existing"`
	// Added is the number of members written (Target - Existing, or 0).
	Added int64 `json:"added"`
	// Method is the method used; empty if nothing had to be written.
	Method SeedMethod `json:"method,omitempty"`
	// Tables has the per-table detail.
	Tables []TableSeed `json:"tables"`
	// Elapsed is the wall time Seed took.
	Elapsed time.Duration `json:"elapsed"`
}

// TableSeed is one table's part in a SeedResult.
type TableSeed struct {
	Table    string `json:"table"`
	Existing int64  `json:"existing"` // highest member id before seeding
	Added    int64  `json:"added"`    // rows the server reports written
}

// Count returns the number of member accounts (an exact COUNT(*), which
// scans an index: about a second per few million members).
func Count(ctx context.Context, db store.Handler) (int64, error) {
	var n int64
	if err := db.GetContext(ctx, &n, `SELECT COUNT(*) FROM membership_account`); err != nil {
		return 0, fmt.Errorf("membership: count accounts: %w", store.MapError(err))
	}
	return n, nil
}

// Seed writes the synthetic members (see Synthetic) with ids up to
// opts.Target into membership_account, membership_point and
// membership_filter. Member ids are dense from 1 and each table is filled in
// id order, one statement per batch, so every table always holds a dense
// prefix: a re-run (after an interruption, or with a larger Target) resumes
// each table after its highest id and writes only the missing members.
func Seed(ctx context.Context, db *store.DB, opts SeedOptions) (SeedResult, error) {
	started := time.Now()
	opts.Workers = cmp.Or(opts.Workers, DefaultSeedWorkers)
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	switch {
	case opts.Target < 0 || opts.Target > maxSeedTarget:
		return SeedResult{}, fmt.Errorf("membership: seed target %d out of range 0..%d", opts.Target, maxSeedTarget)
	case opts.BatchSize < 0:
		return SeedResult{}, fmt.Errorf("membership: seed batch size %d must not be negative", opts.BatchSize)
	case opts.Workers < 0:
		return SeedResult{}, fmt.Errorf("membership: seed workers %d must not be negative", opts.Workers)
	case opts.Method != SeedAuto && opts.Method != SeedLoadData && opts.Method != SeedInsert:
		return SeedResult{}, fmt.Errorf("membership: unknown seed method %q", opts.Method)
	}

	res := SeedResult{Target: opts.Target, Existing: opts.Target}
	tables := seedTables()
	for _, t := range tables {
		var highest int64
		q := "SELECT COALESCE(MAX(" + t.idColumn + "), 0) FROM " + t.name
		if err := db.GetContext(ctx, &highest, q); err != nil {
			return res, fmt.Errorf("membership: read highest id of %s: %w", t.name, store.MapError(err))
		}
		res.Tables = append(res.Tables, TableSeed{Table: t.name, Existing: highest})
		res.Existing = min(res.Existing, highest)
	}
	total := opts.Target - res.Existing
	progress := newProgressTracker(opts.Progress, res.Existing, total, len(tables))
	for i, ts := range res.Tables {
		progress.set(i, ts.Existing)
	}
	progress.report()
	if total == 0 {
		res.Elapsed = time.Since(started)
		return res, nil
	}

	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return res, fmt.Errorf("membership: name seed readers: %w", err)
	}
	s := seeder{
		db:       db,
		opts:     opts,
		nowMs:    opts.Now.UnixMilli(),
		readerID: loadReaderPrefix + hex.EncodeToString(suffix[:]),
	}
	method, err := s.chooseMethod(ctx)
	if err != nil {
		return res, err
	}
	res.Method = method
	s.batch = opts.BatchSize
	if method == SeedLoadData {
		s.batch = cmp.Or(s.batch, DefaultLoadBatchSize)
	} else {
		s.batch = cmp.Or(s.batch, DefaultInsertBatchSize)
	}

	sem := make(chan struct{}, opts.Workers)
	g, gctx := errgroup.WithContext(ctx)
	for i, t := range tables {
		g.Go(func() error {
			for from := res.Tables[i].Existing + 1; from <= opts.Target; {
				n := int64(s.batch)
				if method == SeedInsert {
					n = min(n, int64(maxPlaceholders/len(t.columns)))
				}
				to := min(from+n-1, opts.Target)
				select {
				case sem <- struct{}{}:
				case <-gctx.Done():
					return gctx.Err()
				}
				var added int64
				var err error
				if method == SeedLoadData {
					added, err = s.load(gctx, t, from, to)
				} else {
					added, err = s.insert(gctx, t, from, to)
				}
				<-sem
				res.Tables[i].Added += added // only this goroutine writes entry i
				if err != nil {
					return fmt.Errorf("membership: seed %s ids %d..%d: %w", t.name, from, to, err)
				}
				progress.set(i, to)
				progress.report()
				from = to + 1
			}
			return nil
		})
	}
	err = g.Wait()
	res.Elapsed = time.Since(started)
	if err != nil {
		return res, err
	}
	res.Added = total
	return res, nil
}

type seeder struct {
	db       *store.DB
	opts     SeedOptions
	nowMs    int64
	readerID string
	batch    int
}

// chooseMethod resolves SeedAuto by loading an empty stream, which fails when
// LOAD DATA LOCAL INFILE is disabled.
func (s *seeder) chooseMethod(ctx context.Context) (SeedMethod, error) {
	if s.opts.Method == SeedInsert {
		return SeedInsert, nil
	}
	name := s.readerID + "-" + probeReaderNameSuffix
	mysql.RegisterReaderHandler(name, func() io.Reader { return strings.NewReader("") })
	defer mysql.DeregisterReaderHandler(name)
	t := seedTables()[0]
	_, err := s.db.ExecContext(ctx, loadStatement(name, t))
	switch err = store.MapError(err); {
	case err == nil:
		return SeedLoadData, nil
	case errors.Is(err, store.ErrLocalInfileDisabled) && s.opts.Method == SeedAuto:
		return SeedInsert, nil
	default:
		return "", fmt.Errorf("membership: probe LOAD DATA LOCAL INFILE: %w", err)
	}
}

// load streams ids from..to of table t with one LOAD DATA LOCAL INFILE.
// With LOCAL, rows whose key exists are skipped, not errors.
func (s *seeder) load(ctx context.Context, t seedTable, from, to int64) (int64, error) {
	name := fmt.Sprintf("%s-%s-%d", s.readerID, t.name, from)
	r := &rowReader{ctx: ctx, next: from, last: to, nowMs: s.nowMs, appendRow: t.appendRow}
	mysql.RegisterReaderHandler(name, func() io.Reader { return r })
	defer mysql.DeregisterReaderHandler(name)
	return s.execCount(ctx, "rows loaded", loadStatement(name, t))
}

// loadStatement is the LOAD DATA statement for reader name (generated by the
// seeder, never user input) into table t, tab-separated, \N for NULL.
func loadStatement(name string, t seedTable) string {
	return "LOAD DATA LOCAL INFILE 'Reader::" + name + "' INTO TABLE " + t.name +
		" CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (" +
		strings.Join(t.columns, ", ") + ")"
}

// insert writes ids from..to of table t with one multi-row INSERT. An
// existing key is left as it is (the row is the same synthetic member).
func (s *seeder) insert(ctx context.Context, t seedTable, from, to int64) (int64, error) {
	rows := int(to - from + 1)
	var q strings.Builder
	q.WriteString("INSERT INTO " + t.name + " (" + strings.Join(t.columns, ", ") + ") VALUES ")
	tuple := "(" + strings.Repeat("?, ", len(t.columns)-1) + "?)"
	args := make([]any, 0, rows*len(t.columns))
	for id := from; id <= to; id++ {
		if id > from {
			q.WriteString(", ")
		}
		q.WriteString(tuple)
		a := attributesOf(id, s.opts.Now)
		args = t.appendArgs(args, &a, s.nowMs)
	}
	q.WriteString(" ON DUPLICATE KEY UPDATE " + t.idColumn + " = " + t.idColumn)
	// With ON DUPLICATE KEY UPDATE, an unchanged existing row counts 0.
	return s.execCount(ctx, "rows inserted", q.String(), args...)
}

// execCount runs query and returns the number of rows it affected; what
// ("rows loaded") names that number in the error when it cannot be read.
func (s *seeder) execCount(ctx context.Context, what, query string, args ...any) (int64, error) {
	out, err := s.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, store.MapError(err)
	}
	n, err := out.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

// rowReader generates the tab-separated rows of ids next..last on demand, so
// a batch never sits in memory whole.
type rowReader struct {
	ctx       context.Context
	next      int64
	last      int64
	nowMs     int64
	appendRow func(b []byte, a *attributes, nowMs int64) []byte
	buf       []byte
	off       int
}

func (r *rowReader) Read(p []byte) (int, error) {
	if r.off == len(r.buf) {
		if r.next > r.last {
			return 0, io.EOF
		}
		if err := r.ctx.Err(); err != nil {
			return 0, err
		}
		now := time.UnixMilli(r.nowMs)
		r.buf, r.off = r.buf[:0], 0
		for ; r.next <= r.last && len(r.buf) < loadReaderBufferSize; r.next++ {
			a := attributesOf(r.next, now)
			r.buf = r.appendRow(r.buf, &a, r.nowMs)
		}
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// progressTracker turns per-table highest ids into "members done" and
// serialises calls to the caller's Progress function.
type progressTracker struct {
	mu       sync.Mutex
	fn       func(done, total int64)
	base     int64
	total    int64
	highest  []int64
	reported int64
}

func newProgressTracker(fn func(done, total int64), base, total int64, tables int) *progressTracker {
	return &progressTracker{fn: fn, base: base, total: total, highest: make([]int64, tables), reported: -1}
}

func (p *progressTracker) set(table int, highest int64) {
	p.mu.Lock()
	p.highest[table] = highest
	p.mu.Unlock()
}

func (p *progressTracker) report() {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	done := p.highest[0]
	for _, h := range p.highest[1:] {
		done = min(done, h)
	}
	done = min(max(done-p.base, 0), p.total)
	if done != p.reported {
		p.reported = done
		p.fn(done, p.total)
	}
}

// seedTable describes how one member table is written.
type seedTable struct {
	name       string
	idColumn   string
	columns    []string
	appendRow  func(b []byte, a *attributes, nowMs int64) []byte
	appendArgs func(args []any, a *attributes, nowMs int64) []any
}

func seedTables() []seedTable {
	return []seedTable{
		{
			name:     "membership_account",
			idColumn: "id",
			columns:  []string{"id", "username", "mobile", "email", "push_token", "status", "created_at", "updated_at"},
			appendRow: func(b []byte, a *attributes, _ int64) []byte {
				b = appendPadded(b, uint64(a.id), 0)
				b = append(b, '\t')
				b = appendUsername(b, a.id)
				b = append(b, '\t')
				b = appendMobile(b, a)
				b = append(b, '\t')
				b = appendEmail(b, a)
				b = append(b, '\t')
				b = appendPushToken(b, a)
				b = append(b, '\t')
				b = append(b, a.status...)
				b = append(b, '\t')
				b = appendDatetime(b, a.createdMs)
				b = append(b, '\t')
				b = appendDatetime(b, a.createdMs)
				return append(b, '\n')
			},
			appendArgs: func(args []any, a *attributes, _ int64) []any {
				created := time.UnixMilli(a.createdMs).UTC()
				return append(args, a.id, string(appendUsername(nil, a.id)), string(appendMobile(nil, a)),
					string(appendEmail(nil, a)), string(appendPushToken(nil, a)), a.status, created, created)
			},
		},
		{
			name:     "membership_point",
			idColumn: "member_id",
			columns:  []string{"member_id", "level", "points", "lifetime_points", "created_at", "updated_at"},
			appendRow: func(b []byte, a *attributes, _ int64) []byte {
				b = appendPadded(b, uint64(a.id), 0)
				b = append(b, '\t', byte('0'+a.level), '\t')
				b = appendPadded(b, uint64(a.points), 0)
				b = append(b, '\t')
				b = appendPadded(b, uint64(a.lifetime), 0)
				b = append(b, '\t')
				b = appendDatetime(b, a.createdMs)
				b = append(b, '\t')
				b = appendDatetime(b, a.createdMs)
				return append(b, '\n')
			},
			appendArgs: func(args []any, a *attributes, _ int64) []any {
				created := time.UnixMilli(a.createdMs).UTC()
				return append(args, a.id, a.level, a.points, a.lifetime, created, created)
			},
		},
		{
			name:     "membership_filter",
			idColumn: "member_id",
			columns:  []string{"member_id", "active_days", "member_level", "portrait_tags", "last_login_at", "created_at", "updated_at"},
			appendRow: func(b []byte, a *attributes, nowMs int64) []byte {
				b = appendPadded(b, uint64(a.id), 0)
				b = append(b, '\t')
				b = appendPadded(b, uint64(a.activeDays), 0)
				b = append(b, '\t', byte('0'+a.level), '\t')
				b = appendPadded(b, a.tags, 0)
				b = append(b, '\t')
				if a.lastLoginMs == 0 {
					b = append(b, `\N`...)
				} else {
					b = appendDatetime(b, a.lastLoginMs)
				}
				b = append(b, '\t')
				b = appendDatetime(b, a.createdMs)
				b = append(b, '\t')
				b = appendDatetime(b, nowMs)
				return append(b, '\n')
			},
			appendArgs: func(args []any, a *attributes, nowMs int64) []any {
				var lastLogin any
				if a.lastLoginMs != 0 {
					lastLogin = time.UnixMilli(a.lastLoginMs).UTC()
				}
				return append(args, a.id, a.activeDays, a.level, a.tags, lastLogin,
					time.UnixMilli(a.createdMs).UTC(), time.UnixMilli(nowMs).UTC())
			},
		},
	}
}
