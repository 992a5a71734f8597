// Package storetest gives integration tests their own throw-away MySQL /
// MariaDB database: created with a random mkt_test_<hex> name, migrated, and
// dropped when the test ends.
//
// The server comes from MKT_MYSQL_DSN (default store.DefaultDSN); only its
// address, credentials and parameters are used. If the server is unreachable
// the test fails, unless MKT_SKIP_INTEGRATION=1, in which case it is skipped.
package storetest

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"mkt/pkg/membership"
	"mkt/pkg/store"
)

// setupTimeout bounds creating, migrating and dropping a test database.
const setupTimeout = 2 * time.Minute

// BaseDSN returns the DSN integration tests connect with: MKT_MYSQL_DSN or
// store.DefaultDSN. It skips the test when MKT_SKIP_INTEGRATION=1.
func BaseDSN(t testing.TB) string {
	t.Helper()
	if os.Getenv("MKT_SKIP_INTEGRATION") == "1" {
		t.Skip("MKT_SKIP_INTEGRATION=1: skipping test that needs MySQL/MariaDB")
	}
	return cmp.Or(os.Getenv("MKT_MYSQL_DSN"), store.DefaultDSN)
}

// NewEmptyDatabase creates an empty database with a fresh mkt_test_<random>
// name, registers its drop with t.Cleanup and returns its DSN.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	base := BaseDSN(t)
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("storetest: random database name: %v", err)
	}
	dsn, err := store.WithDatabase(base, "mkt_test_"+hex.EncodeToString(b[:]))
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

// NewDatabase is NewEmptyDatabase with every migration applied; use it when
// a test needs the DSN itself (for example to start a daemon).
func NewDatabase(t testing.TB) string {
	t.Helper()
	dsn := NewEmptyDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := store.Open(ctx, store.Config{DSN: dsn, MaxOpenConns: 2})
	if err != nil {
		t.Fatalf("storetest: open test database: %v", err)
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db); err != nil {
		t.Fatalf("storetest: migrate test database: %v", err)
	}
	return dsn
}

// NewDB returns an open pool on a fresh, migrated test database. The pool is
// closed and the database dropped when the test ends.
func NewDB(t testing.TB) *store.DB {
	t.Helper()
	dsn := NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	db, err := store.Open(ctx, store.Config{DSN: dsn})
	if err != nil {
		t.Fatalf("storetest: open test database: %v", err)
	}
	// Registered after the drop, so it runs first (cleanups run LIFO).
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
