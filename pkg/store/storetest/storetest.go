// Package storetest gives integration tests a migrated MySQL / MariaDB
// database to themselves: NewDB and NewDatabase lend one of a pool of
// databases kept between tests (mkt_test_pool_<n>, emptied when lent, see
// pool.go); NewOwnDatabase and NewEmptyDatabase create one with a random
// mkt_test_<hex> name, dropped when the test ends, for a test that needs a
// database nobody else ever used (an empty schema, a migration test).
//
// The server comes from mkttest.MySQLDSN (MKT_MYSQL_DSN, default the local
// stack's); only its address, credentials and parameters are used. If the
// server is unreachable the test fails, unless MKT_SKIP_INTEGRATION=1, in
// which case it is skipped.
package storetest

import (
	"context"
	"testing"
	"time"

	"mkt/pkg/membership"
	"mkt/pkg/mkttest"
	"mkt/pkg/store"
)

// setupTimeout bounds creating, migrating and dropping a test database.
const setupTimeout = 2 * time.Minute

// NewEmptyDatabase creates an empty database with a fresh mkt_test_<random>
// name, registers its drop with t.Cleanup and returns its DSN.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	base := mkttest.MySQLDSN(t)
	dsn, err := store.WithDatabase(base, mkttest.Namespace(t, "mkt_test_"))
	if err != nil {
		t.Fatalf("storetest: MKT_MYSQL_DSN: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := store.EnsureDatabase(ctx, dsn); err != nil {
		t.Fatalf("storetest: create test database (is MariaDB up on MKT_MYSQL_DSN? set MKT_SKIP_INTEGRATION=1 to skip): %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		if err := store.DropDatabase(ctx, dsn); err != nil {
			t.Errorf("storetest: drop test database: %v", err)
		}
	})
	return dsn
}

// NewDatabase lends the test a migrated database with every table empty
// (AUTO_INCREMENT at 1) and returns its DSN; use it when a test needs the
// DSN itself, for example to start a daemon on it. The database is given
// back when the test ends (stop what uses it in a cleanup registered after
// this call). When every pooled database is lent, it is NewOwnDatabase.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if dsn := takePooled(t, mkttest.MySQLDSN(t)); dsn != "" {
		return dsn
	}
	return NewOwnDatabase(t)
}

// NewOwnDatabase is NewEmptyDatabase with every migration applied: a
// database no other test used, dropped when the test ends.
func NewOwnDatabase(t testing.TB) string {
	t.Helper()
	dsn := NewEmptyDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := migrate(ctx, dsn); err != nil {
		t.Fatalf("storetest: test database: %v", err)
	}
	return dsn
}

// NewDB returns an open pool on a migrated, empty test database
// (NewDatabase). The pool is closed and the database given back when the
// test ends.
func NewDB(t testing.TB) *store.DB {
	t.Helper()
	return Open(t, store.Config{DSN: NewDatabase(t)})
}

// Open opens a pool with cfg on a test database (cfg.DSN from NewDatabase,
// or a Proxy's), closed when the test ends: before the database is given
// back, when the database was lent earlier in the test (cleanups run last
// registered first).
func Open(t testing.TB, cfg store.Config) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("storetest: open test database: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// SeedMembers adds the synthetic members 1..n to db (membership.Seed): what
// is issued or sent goes to existing members only.
func SeedMembers(t testing.TB, db *store.DB, n int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if _, err := membership.Seed(ctx, db, membership.SeedOptions{Target: n}); err != nil {
		t.Fatalf("storetest: seed %d members: %v", n, err)
	}
}
