package storetest

import (
	"context"
	"strings"
	"testing"

	"mkt/pkg/store"
)

// TestPreparePooled: a database lent again is migrated when behind, and
// emptied with AUTO_INCREMENT back at 1 and goose's version table kept.
func TestPreparePooled(t *testing.T) {
	t.Parallel()
	dsn := NewEmptyDatabase(t) // behind: no migration applied
	db := Open(t, store.Config{DSN: dsn})
	name := db.Name()
	admin, err := openAdmin(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := admin.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	prepare := func() {
		t.Helper()
		if err := preparePooled(t.Context(), conn, dsn, name); err != nil {
			t.Fatalf("preparePooled: %v", err)
		}
	}
	prepare()
	SeedMembers(t, db, 5)
	if _, err := db.ExecContext(t.Context(), "DELETE FROM membership_account WHERE id > 3"); err != nil {
		t.Fatal(err)
	}
	prepare()

	var members, versions int
	if err := db.GetContext(t.Context(), &members, "SELECT COUNT(*) FROM membership_account"); err != nil {
		t.Fatal(err)
	}
	if err := db.GetContext(t.Context(), &versions, "SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0"); err != nil {
		t.Fatal(err)
	}
	latest, _ := latestMigration()
	if members != 0 || versions != int(latest) {
		t.Fatalf("after preparing again: %d members, %d migrations recorded; want 0 and %d", members, versions, latest)
	}
	SeedMembers(t, db, 2)
	var ids []int64
	if err := db.SelectContext(t.Context(), &ids, "SELECT id FROM membership_account ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != 1 || ids[1] != 2 {
		t.Fatalf("ids after emptying = %v, want [1 2]: AUTO_INCREMENT must restart", ids)
	}
}

// TestNewDBLendsDistinctDatabases: tests holding pooled databases at once
// never share one, and a lent database is migrated and empty.
func TestNewDBLendsDistinctDatabases(t *testing.T) {
	t.Parallel()
	a, b := NewDB(t), NewDB(t)
	if a.Name() == b.Name() {
		t.Fatalf("two databases lent at once are both %s", a.Name())
	}
	for _, db := range []*store.DB{a, b} {
		if !strings.HasPrefix(db.Name(), poolPrefix) {
			t.Errorf("NewDB lent %s, want a pooled database (is the pool of %d full?)", db.Name(), poolSize)
		}
		var n int
		if err := db.GetContext(context.Background(), &n, "SELECT COUNT(*) FROM membership_account"); err != nil || n != 0 {
			t.Errorf("%s: %d members (%v), want an empty, migrated database", db.Name(), n, err)
		}
	}
}
