package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/pressly/goose/v3"

	"mkt/migrations"
)

// Migration describes one schema migration, for `mktctl migrate` and its
// status view.
type Migration struct {
	// Version is the number the file name starts with.
	Version int64 `json:"version"`
	// Name is the file name, e.g. "00001_membership.sql".
	Name string `json:"name"`
	// Applied reports whether the database has the migration.
	Applied bool `json:"applied"`
	// AppliedAt is when it was applied (zero if pending). goose records it
	// with one-second precision.
	AppliedAt time.Time `json:"applied_at,omitzero"`
	// Duration is how long applying took; set only in Migrate's result.
	Duration time.Duration `json:"duration,omitzero"`
}

// migrateLockTimeout bounds how long Migrate waits for another migrating
// process (a second `mktctl migrate` or a test) on the same database.
const migrateLockTimeout = 60 * time.Second

// Migrate applies every pending embedded migration, in version order, under
// a database-wide advisory lock, and returns the ones it applied (none when
// the schema is current, so running it twice is a no-op). The pool must allow
// at least two connections: one holds the lock while goose migrates.
func Migrate(ctx context.Context, db *DB) (applied []Migration, err error) {
	err = withMigrationLock(ctx, db, func(p *goose.Provider) error {
		results, err := p.Up(ctx)
		for _, r := range results {
			if r.Error != nil {
				continue
			}
			applied = append(applied, Migration{
				Version:   r.Source.Version,
				Name:      path.Base(r.Source.Path),
				Applied:   true,
				AppliedAt: time.Now().UTC(),
				Duration:  r.Duration,
			})
		}
		return err
	})
	if err != nil {
		return applied, fmt.Errorf("store: apply migrations to %s: %w", db.dbName, err)
	}
	return applied, nil
}

// MigrationStatus lists every embedded migration in version order with
// whether and when it was applied to db. Like goose, it creates the empty
// version table if the database has none yet.
func MigrationStatus(ctx context.Context, db *DB) ([]Migration, error) {
	var out []Migration
	err := withMigrationLock(ctx, db, func(p *goose.Provider) error {
		statuses, err := p.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range statuses {
			m := Migration{
				Version: s.Source.Version,
				Name:    path.Base(s.Source.Path),
				Applied: s.State == goose.StateApplied,
			}
			if m.Applied {
				m.AppliedAt = s.AppliedAt.UTC()
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: read migration status of %s: %w", db.dbName, err)
	}
	return out, nil
}

// withMigrationLock runs fn with a goose provider over db while holding a
// MySQL advisory lock (GET_LOCK) named after the database, on a connection of
// its own; the server releases the lock if that connection dies. goose's own
// session locker is not used: goose checks for pending migrations, creating
// its version table, before taking it, which races between processes.
func withMigrationLock(ctx context.Context, db *DB, fn func(p *goose.Provider) error) (err error) {
	if db.Stats().MaxOpenConnections == 1 {
		return errors.New("migrations need a pool of at least 2 connections (one holds the lock)")
	}
	p, err := goose.NewProvider(goose.DialectMySQL, db.DB.DB, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("load embedded migrations: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("take a connection for the migration lock: %w", MapError(err))
	}
	defer conn.Close()
	// Lock names are server-wide and at most 64 characters.
	const lockName = "LEFT(CONCAT('mkt.migrate.', DATABASE()), 64)"
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK("+lockName+", ?)", int(migrateLockTimeout.Seconds())).Scan(&got); err != nil {
		return fmt.Errorf("take migration lock: %w", MapError(err))
	}
	if !got.Valid || got.Int64 != 1 {
		return fmt.Errorf("take migration lock: another migration held it for %s", migrateLockTimeout)
	}
	defer func() {
		var released sql.NullInt64
		// Unlock even if ctx is cancelled; closing the connection would too.
		if uerr := conn.QueryRowContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK("+lockName+")").Scan(&released); uerr != nil {
			err = errors.Join(err, fmt.Errorf("release migration lock: %w", uerr))
		}
	}()
	return MapError(fn(p))
}

// validDBName limits database names EnsureDatabase will create to plain
// identifiers, so quoting them is trivially safe.
var validDBName = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}$`)

// EnsureDatabase creates the database named in dsn, with utf8mb4 and
// utf8mb4_unicode_ci, if it does not exist yet. It connects without a
// database name, so the account needs CREATE on that name.
func EnsureDatabase(ctx context.Context, dsn string) error {
	name, admin, err := adminDSN(dsn)
	if err != nil {
		return err
	}
	db, err := Open(ctx, Config{DSN: admin, MaxOpenConns: 1})
	if err != nil {
		return fmt.Errorf("store: connect to create database %s: %w", name, err)
	}
	defer db.Close()
	// Identifiers cannot be placeholders; name is checked by adminDSN.
	q := "CREATE DATABASE IF NOT EXISTS `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("store: create database %s: %w", name, MapError(err))
	}
	return nil
}

// DropDatabase drops the database named in dsn if it exists. It exists for
// test fixtures and `reset`-style tooling; it refuses names that do not start
// with "mkt_test" or "mkt_bench" (the databases `mktctl bench` empties anyway)
// to keep a misconfigured DSN from erasing real data.
func DropDatabase(ctx context.Context, dsn string) error {
	name, admin, err := adminDSN(dsn)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(name, "mkt_test") && !strings.HasPrefix(name, "mkt_bench") {
		return fmt.Errorf("store: refusing to drop database %q: only mkt_test* and mkt_bench* databases may be dropped", name)
	}
	db, err := Open(ctx, Config{DSN: admin, MaxOpenConns: 1})
	if err != nil {
		return fmt.Errorf("store: connect to drop database %s: %w", name, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
		return fmt.Errorf("store: drop database %s: %w", name, MapError(err))
	}
	return nil
}

// WithDatabase returns dsn with its database name replaced by name.
func WithDatabase(dsn, name string) (string, error) {
	mcfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", errors.New("store: malformed MySQL DSN")
	}
	mcfg.DBName = name
	return mcfg.FormatDSN(), nil
}

// adminDSN returns the database name of dsn and the same DSN without it.
func adminDSN(dsn string) (name, admin string, err error) {
	mcfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return "", "", errors.New("store: malformed MySQL DSN")
	}
	name = mcfg.DBName
	if !validDBName.MatchString(name) {
		return "", "", fmt.Errorf("store: database name %q in DSN must be 1-64 letters, digits, _ or $", name)
	}
	mcfg.DBName = ""
	return name, mcfg.FormatDSN(), nil
}
