package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"

	"mkt/migrations"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// wantTables are the tables the design requires; later migrations may add more.
var wantTables = []string{
	"campaign_shard", "hot_goods_crontab", "membership_account", "membership_filter",
	"membership_point", "push_message", "push_message_crontab", "sales_promotion",
	"sales_promotion_coupon", "sales_promotion_coupon_item",
}

func migrationFiles(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("embedded migrations: %v, %d files", err, len(names))
	}
	return names
}

func openEmpty(t *testing.T) *store.DB {
	t.Helper()
	dsn := storetest.NewEmptyDatabase(t)
	db, err := store.Open(t.Context(), store.Config{DSN: dsn})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openEmpty(t)
	files := migrationFiles(t)

	before, err := store.MigrationStatus(ctx, db)
	if err != nil {
		t.Fatalf("MigrationStatus before: %v", err)
	}
	if len(before) != len(files) {
		t.Fatalf("status lists %d migrations, want %d", len(before), len(files))
	}
	for _, m := range before {
		if m.Applied || !m.AppliedAt.IsZero() {
			t.Errorf("before Migrate: %+v is applied", m)
		}
	}

	applied, err := store.Migrate(ctx, db)
	if err != nil {
		t.Fatalf("first Migrate: %v", err)
	}
	if len(applied) != len(files) {
		t.Fatalf("first Migrate applied %d, want %d: %+v", len(applied), len(files), applied)
	}
	for i, m := range applied {
		if m.Name != files[i] || !m.Applied {
			t.Errorf("applied[%d] = %+v, want %s", i, m, files[i])
		}
	}

	again, err := store.Migrate(ctx, db)
	if err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if len(again) != 0 {
		t.Fatalf("second Migrate applied %+v, want nothing", again)
	}

	status, err := store.MigrationStatus(ctx, db)
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if len(status) != len(files) {
		t.Fatalf("status lists %d migrations, want %d", len(status), len(files))
	}
	for i, m := range status {
		if m.Name != files[i] || !m.Applied || m.AppliedAt.IsZero() || !strings.HasPrefix(m.Name, fmt.Sprintf("%05d_", m.Version)) {
			t.Errorf("status[%d] = %+v, want %s applied with a time", i, m, files[i])
		}
		if d := time.Since(m.AppliedAt); d < -time.Minute || d > time.Hour {
			t.Errorf("status[%d].AppliedAt = %s, not recent UTC", i, m.AppliedAt)
		}
	}

	var tables []string
	if err := db.SelectContext(ctx, &tables,
		`SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> 'goose_db_version' ORDER BY table_name`); err != nil {
		t.Fatalf("list tables: %v", err)
	}
	for _, want := range wantTables {
		if !slices.Contains(tables, want) {
			t.Errorf("table %s missing; have %v", want, tables)
		}
	}
	var badCollation int
	if err := db.GetContext(ctx, &badCollation,
		`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> 'goose_db_version' AND (engine <> 'InnoDB' OR table_collation <> 'utf8mb4_unicode_ci' OR table_comment = '')`); err != nil {
		t.Fatalf("check engines: %v", err)
	}
	if badCollation != 0 {
		t.Errorf("%d tables are not InnoDB/utf8mb4_unicode_ci with a comment", badCollation)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openEmpty(t)
	files := migrationFiles(t)

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		errs  []error
	)
	for range 3 {
		wg.Go(func() {
			applied, err := store.Migrate(ctx, db)
			mu.Lock()
			defer mu.Unlock()
			total += len(applied)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Migrate: %v", err)
	}
	if total != len(files) {
		t.Fatalf("concurrent Migrate applied %d in total, want %d", total, len(files))
	}
}

func TestMigrationsGoDown(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openEmpty(t)
	if _, err := store.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	// Every Down section must undo its Up: roll all the way back with goose.
	p, err := goose.NewProvider(goose.DialectMySQL, db.DB.DB, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatalf("goose provider: %v", err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("goose down to 0: %v", err)
	}
	var left int
	if err := db.GetContext(ctx, &left,
		`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> 'goose_db_version'`); err != nil {
		t.Fatalf("count tables: %v", err)
	}
	if left != 0 {
		t.Errorf("%d tables left after every Down", left)
	}
}

func TestMapError(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := storetest.NewDB(t)

	insert := `INSERT INTO membership_account (id, username) VALUES (?, ?)`
	if _, err := db.ExecContext(ctx, insert, 1, "alice"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	_, err := db.ExecContext(ctx, insert, 2, "alice")
	mapped := store.MapError(err)
	if !errors.Is(mapped, store.ErrDuplicate) {
		t.Fatalf("duplicate username: MapError(%v) = %v, want ErrDuplicate", err, mapped)
	}
	var me *mysql.MySQLError
	if !errors.As(mapped, &me) || me.Number != 1062 {
		t.Errorf("mapped duplicate lost the driver error: %v", mapped)
	}
	if store.MapError(mapped) != mapped { //nolint:errorlint // identity: the very same error comes back
		t.Errorf("MapError is not idempotent")
	}

	var name string
	err = store.MapError(db.GetContext(ctx, &name, `SELECT username FROM membership_account WHERE id = ?`, 42))
	if !errors.Is(err, store.ErrNotFound) || !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("missing row: got %v, want ErrNotFound wrapping sql.ErrNoRows", err)
	}

	_, err = db.ExecContext(ctx, `INSERT INTO membership_account (id, username, status) VALUES (?, ?, ?)`, 3, "bob", "bogus")
	if !errors.Is(store.MapError(err), store.ErrInvalidData) {
		t.Errorf("bad enum: MapError(%v) is not ErrInvalidData", err)
	}
	_, err = db.ExecContext(ctx, `INSERT INTO membership_point (member_id, level) VALUES (?, ?)`, 1, 9)
	if !errors.Is(store.MapError(err), store.ErrInvalidData) {
		t.Errorf("check constraint: MapError(%v) is not ErrInvalidData", err)
	}
}

func TestMapErrorCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   error
		want error
	}{
		{&mysql.MySQLError{Number: 1213, Message: "Deadlock found"}, store.ErrDeadlock},
		{&mysql.MySQLError{Number: 1205, Message: "Lock wait timeout exceeded"}, store.ErrDeadlock},
		{fmt.Errorf("update shard: %w", &mysql.MySQLError{Number: 1062}), store.ErrDuplicate},
		{&mysql.MySQLError{Number: 3948}, store.ErrLocalInfileDisabled},
		{&mysql.MySQLError{Number: 1148}, store.ErrLocalInfileDisabled},
		{sql.ErrNoRows, store.ErrNotFound},
	} {
		got := store.MapError(tc.in)
		if !errors.Is(got, tc.want) || !errors.Is(got, tc.in) {
			t.Errorf("MapError(%v) = %v, want %v wrapping the original", tc.in, got, tc.want)
		}
	}
	if store.MapError(nil) != nil {
		t.Error("MapError(nil) != nil")
	}
	other := errors.New("boom")
	if store.MapError(other) != other { //nolint:errorlint // identity: the very same error comes back
		t.Error("MapError changed an unrelated error")
	}
	if !store.Retryable(&mysql.MySQLError{Number: 1213}) || store.Retryable(other) {
		t.Error("Retryable misclassifies")
	}
}

// countAccounts is store code written once against Handler.
func countAccounts(ctx context.Context, h store.Handler) (int, error) {
	var n int
	err := h.GetContext(ctx, &n, `SELECT COUNT(*) FROM membership_account`)
	return n, store.MapError(err)
}

func addAccount(ctx context.Context, h store.Handler, id int, name string) error {
	_, err := h.NamedExecContext(ctx,
		`INSERT INTO membership_account (id, username) VALUES (:id, :username)`,
		map[string]any{"id": id, "username": name})
	return store.MapError(err)
}

func TestInTx(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := storetest.NewDB(t)

	// Outside a transaction.
	if err := addAccount(ctx, db, 1, "outside"); err != nil {
		t.Fatalf("add outside tx: %v", err)
	}

	// Committed transaction, seen by the same Handler code inside it.
	err := db.InTx(ctx, func(tx store.Handler) error {
		if err := addAccount(ctx, tx, 2, "committed"); err != nil {
			return err
		}
		n, err := countAccounts(ctx, tx)
		if err != nil {
			return err
		}
		if n != 2 {
			return fmt.Errorf("inside tx count = %d, want 2", n)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InTx commit: %v", err)
	}

	// Error rolls back and is returned as is.
	errBoom := errors.New("boom")
	err = db.InTx(ctx, func(tx store.Handler) error {
		if err := addAccount(ctx, tx, 3, "rolled-back"); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx error = %v, want boom", err)
	}

	// A mapped error inside the transaction keeps its sentinel.
	err = db.InTx(ctx, func(tx store.Handler) error { return addAccount(ctx, tx, 4, "outside") })
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("InTx duplicate = %v, want ErrDuplicate", err)
	}

	// Panic rolls back and is re-raised.
	func() {
		defer func() {
			if r := recover(); r != "kaboom" {
				t.Errorf("recovered %v, want kaboom", r)
			}
		}()
		_ = db.InTx(ctx, func(tx store.Handler) error {
			if err := addAccount(ctx, tx, 5, "panicked"); err != nil {
				return err
			}
			panic("kaboom")
		})
	}()

	n, err := countAccounts(ctx, db)
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	if n != 2 {
		t.Errorf("after commit, rollback and panic: %d accounts, want 2", n)
	}
	// Rolled-back transactions must not leak connections.
	if inUse := db.Stats().InUse; inUse != 0 {
		t.Errorf("%d connections still in use", inUse)
	}
}

func TestOpenPinsUTC(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := storetest.NewEmptyDatabase(t)
	// Even a DSN asking for local time gets UTC.
	db, err := store.Open(ctx, store.Config{DSN: strings.Replace(dsn, "loc=UTC", "loc=Local", 1)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	var tz string
	var now time.Time
	if err := db.QueryRowContext(ctx, `SELECT @@session.time_zone, NOW(3)`).Scan(&tz, &now); err != nil {
		t.Fatalf("query: %v", err)
	}
	if tz != "+00:00" || now.Location() != time.UTC {
		t.Errorf("time_zone %q, location %s; want +00:00 and UTC", tz, now.Location())
	}
	if d := time.Since(now); d < -time.Minute || d > time.Minute {
		t.Errorf("server NOW() = %s is %s away from now: session not in UTC", now, d)
	}
	if !strings.HasPrefix(db.Name(), "mkt_test_") {
		t.Errorf("Name() = %q", db.Name())
	}
}

func TestEnsureDatabaseIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := storetest.NewEmptyDatabase(t) // already created
	if err := store.EnsureDatabase(ctx, dsn); err != nil {
		t.Fatalf("EnsureDatabase on an existing database: %v", err)
	}
	var collation string
	db, err := store.Open(ctx, store.Config{DSN: dsn})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if err := db.GetContext(ctx, &collation, `SELECT @@collation_database`); err != nil {
		t.Fatalf("collation: %v", err)
	}
	if collation != "utf8mb4_unicode_ci" {
		t.Errorf("database collation %q", collation)
	}
}

func TestDatabaseNameGuards(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	if err := store.EnsureDatabase(ctx, "u:p@tcp(127.0.0.1:1)/bad-name"); err == nil {
		t.Error("EnsureDatabase accepted a name needing quoting")
	}
	if err := store.EnsureDatabase(ctx, "u:p@tcp(127.0.0.1:1)/"); err == nil {
		t.Error("EnsureDatabase accepted a DSN without database")
	}
	if err := store.DropDatabase(ctx, "u:p@tcp(127.0.0.1:1)/mkt"); err == nil {
		t.Error("DropDatabase agreed to drop mkt")
	}
}

func TestOpenValidates(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	if _, err := store.Open(ctx, store.Config{MaxOpenConns: -1}); err == nil {
		t.Error("negative MaxOpenConns accepted")
	}
	_, err := store.Open(ctx, store.Config{DSN: "user:secret@not a dsn"})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("malformed DSN: %v (must fail without echoing the password)", err)
	}
}

// Placeholders are interpolated by the driver (one text query, no
// server-side prepare); the values must reach the server exactly, whatever
// they contain.
func TestPlaceholdersInterpolatedExactly(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openEmpty(t)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, s VARCHAR(255), b VARBINARY(64), at DATETIME(3))`); err != nil {
		t.Fatal(err)
	}
	var before int64
	var name string
	if err := conn.QueryRowContext(ctx, `SHOW SESSION STATUS LIKE 'Com_stmt_prepare'`).Scan(&name, &before); err != nil {
		t.Fatal(err)
	}
	const id = uint64(1<<64 - 1)
	s := "it's a \"test\" \\ with ; DROP TABLE t; -- and 中文 😀 \x00 end"
	b := []byte{0, '\'', '\\', 0xff, '\n'}
	at := time.Date(2026, 11, 26, 12, 34, 56, 789_000_000, time.UTC)
	if _, err := conn.ExecContext(ctx, `INSERT INTO t (id, s, b, at) VALUES (?, ?, ?, ?)`, id, s, b, at); err != nil {
		t.Fatal(err)
	}
	var (
		gotID uint64
		gotS  string
		gotB  []byte
		gotAt time.Time
	)
	if err := conn.QueryRowContext(ctx, `SELECT id, s, b, at FROM t WHERE id = ? AND s = ?`, id, s).Scan(&gotID, &gotS, &gotB, &gotAt); err != nil {
		t.Fatal(err)
	}
	if gotID != id || gotS != s || string(gotB) != string(b) || !gotAt.Equal(at) {
		t.Errorf("round trip: %d %q %q %s; want %d %q %q %s", gotID, gotS, gotB, gotAt, id, s, b, at)
	}
	var after int64
	if err := conn.QueryRowContext(ctx, `SHOW SESSION STATUS LIKE 'Com_stmt_prepare'`).Scan(&name, &after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("%d server-side prepares for statements with placeholders; want them interpolated", after-before)
	}
}
