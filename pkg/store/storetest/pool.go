package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"mkt/migrations"
	"mkt/pkg/mkttest"
	"mkt/pkg/store"
)

// The pool: databases mkt_test_pool_0 .. mkt_test_pool_<poolSize-1> on the
// test server, kept between tests and between runs. A test takes one by
// holding the MariaDB advisory lock of the same name (GET_LOCK, server-wide,
// so test binaries of several packages running at once share the pool) on
// a connection of its own, and gives it back at cleanup by releasing the
// lock. A database is migrated when it lags the embedded migrations (once,
// in practice) and emptied when taken: every table but goose's is
// truncated, which also restarts AUTO_INCREMENT at 1, in one round of
// statements with foreign-key checks off. When every pooled database is
// taken, a test gets a database of its own instead.
const (
	poolPrefix = "mkt_test_pool_"
	poolSize   = 24
)

// latestMigration is the highest version among the embedded migrations.
var latestMigration = sync.OnceValues(func() (int64, error) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return 0, err
	}
	var latest int64
	for _, n := range names {
		v, err := strconv.ParseInt(n[:strings.IndexByte(n, '_')], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migration %s: version: %w", n, err)
		}
		latest = max(latest, v)
	}
	return latest, nil
})

// adminPool is a process-wide pool of connections to the test server with
// no database selected and several statements allowed per round trip. It
// keeps no idle connection, so a connection given back is a session ended.
var (
	adminMu   sync.Mutex
	adminPool *sql.DB
)

func openAdmin(base string) (*sql.DB, error) {
	adminMu.Lock()
	defer adminMu.Unlock()
	if adminPool != nil {
		return adminPool, nil
	}
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		return nil, fmt.Errorf("parse DSN: %w", err)
	}
	cfg.DBName = ""
	cfg.MultiStatements = true
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxIdleConns(0)
	adminPool = db
	return db, nil
}

// takePooled takes a free pooled database, migrated and empty, and returns
// its DSN; the database is given back when the test ends. It returns "" when
// every pooled database is taken.
func takePooled(t testing.TB, base string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	admin, err := openAdmin(base)
	if err != nil {
		t.Fatalf("storetest: MKT_MYSQL_DSN: %v", err)
	}
	conn, err := admin.Conn(ctx)
	if err != nil {
		t.Fatalf("storetest: connect (is MariaDB up on MKT_MYSQL_DSN? set MKT_SKIP_INTEGRATION=1 to skip): %v", err)
	}
	name := ""
	for n := range poolSize {
		var got sql.NullInt64
		candidate := poolPrefix + strconv.Itoa(n)
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", candidate).Scan(&got); err != nil {
			_ = conn.Close()
			t.Fatalf("storetest: lock pooled database %s: %v", candidate, err)
		}
		if got.Valid && got.Int64 == 1 {
			name = candidate
			break
		}
	}
	if name == "" {
		_ = conn.Close()
		return ""
	}
	t.Cleanup(func() {
		// The lock is the session's: release it before the connection
		// goes back (and, with no idle connections kept, closes).
		_, _ = conn.ExecContext(context.Background(), "DO RELEASE_LOCK(?)", name)
		_ = conn.Close()
	})
	dsn, err := store.WithDatabase(base, name)
	if err != nil {
		t.Fatalf("storetest: MKT_MYSQL_DSN: %v", err)
	}
	if err := preparePooled(ctx, conn, dsn, name); err != nil {
		t.Fatalf("storetest: pooled database %s: %v", name, err)
	}
	if err := forgetRedisKeys(ctx, mkttest.RedisAddr(t), mkttest.RedisPassword(t), name); err != nil {
		t.Fatalf("storetest: pooled database %s: %v", name, err)
	}
	return dsn
}

// forgetRedisKeys deletes the Redis keys an earlier borrower of the pooled
// database name left: mkt names its keys after the database (the cache
// prefix "mkt:<database>:", coupon state "…coupon:<database>:…"), so a
// database lent again would otherwise meet the last test's counters,
// progress and dedup marks. The pattern has the name between colons, so
// mkt_test_pool_1 does not match mkt_test_pool_11.
func forgetRedisKeys(ctx context.Context, addr, password, name string) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, Password: password})
	defer rdb.Close()
	iter := rdb.Scan(ctx, 0, "*:"+name+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scan its Redis keys: %w", err)
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := rdb.Unlink(ctx, keys[:n]...).Err(); err != nil {
			return fmt.Errorf("delete its Redis keys: %w", err)
		}
		keys = keys[n:]
	}
	return nil
}

// preparePooled creates, migrates (when behind) and empties the pooled
// database name, whose lock conn holds.
func preparePooled(ctx context.Context, conn *sql.Conn, dsn, name string) error {
	latest, err := latestMigration()
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS "+quote(name)+" CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	var version sql.NullInt64
	err = conn.QueryRowContext(ctx, "SELECT MAX(version_id) FROM "+quote(name)+".goose_db_version WHERE is_applied").Scan(&version)
	var merr *mysql.MySQLError
	if err != nil && !(errors.As(err, &merr) && merr.Number == 1146) { // 1146: no such table, not migrated yet
		return fmt.Errorf("read schema version: %w", err)
	}
	if version.Int64 != latest {
		if err := migrate(ctx, dsn); err != nil {
			return err
		}
	}
	dirty, err := usedTables(ctx, conn, name)
	if err != nil {
		return err
	}
	if len(dirty) == 0 {
		return nil
	}
	var stmts strings.Builder
	stmts.WriteString("SET FOREIGN_KEY_CHECKS = 0;")
	for _, table := range dirty {
		fmt.Fprintf(&stmts, "TRUNCATE TABLE %s.%s;", quote(name), quote(table))
	}
	stmts.WriteString("SET FOREIGN_KEY_CHECKS = 1")
	if _, err := conn.ExecContext(ctx, stmts.String()); err != nil {
		return fmt.Errorf("empty: %w", err)
	}
	return nil
}

// usedTables returns the tables of database name, goose's aside, that hold
// a row or whose AUTO_INCREMENT moved past 1 (MariaDB reports it live, so a
// row inserted and deleted, or rolled back, counts): the ones to truncate.
// Truncating only those keeps lending a database quick, as a test touches a
// few tables of the schema.
func usedTables(ctx context.Context, conn *sql.Conn, name string) ([]string, error) {
	used, others, err := listTables(ctx, conn, name)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	if len(others) == 0 {
		return used, nil
	}
	// The others hold rows when one of them answers this probe.
	probes := make([]string, len(others))
	for i, table := range others {
		probes[i] = fmt.Sprintf("SELECT %d FROM (SELECT 1 FROM %s.%s LIMIT 1) AS p%d", i, quote(name), quote(table), i)
	}
	rows, err := conn.QueryContext(ctx, strings.Join(probes, " UNION ALL "))
	if err != nil {
		return nil, fmt.Errorf("find used tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			return nil, fmt.Errorf("find used tables: %w", err)
		}
		used = append(used, others[i])
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find used tables: %w", err)
	}
	return used, nil
}

// listTables returns the tables of database name, goose's aside, split by
// whether their AUTO_INCREMENT moved past 1.
func listTables(ctx context.Context, conn *sql.Conn, name string) (moved, others []string, err error) {
	rows, err := conn.QueryContext(ctx, `SELECT table_name, COALESCE(auto_increment, 1) > 1
		FROM information_schema.tables
		WHERE table_schema = ? AND table_type = 'BASE TABLE' AND table_name <> 'goose_db_version'`, name)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var m bool
		if err := rows.Scan(&table, &m); err != nil {
			return nil, nil, err
		}
		if m {
			moved = append(moved, table)
		} else {
			others = append(others, table)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return moved, others, nil
}

// quote quotes an identifier for MariaDB.
func quote(id string) string { return "`" + strings.ReplaceAll(id, "`", "``") + "`" }

// migrate applies the embedded migrations to dsn's database.
func migrate(ctx context.Context, dsn string) error {
	db, err := store.Open(ctx, store.Config{DSN: dsn, MaxOpenConns: 2})
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
