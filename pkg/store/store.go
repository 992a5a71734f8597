// Package store owns mkt's connection to MySQL/MariaDB: opening a tuned
// connection pool, running store code inside or outside a transaction through
// one Handler interface, mapping driver errors to sentinels callers can branch
// on, creating the database and applying the embedded schema migrations.
//
// Every connection is pinned to UTC: the DSN is parsed and parseTime, loc=UTC
// and the session time_zone '+00:00' are enforced, so DATETIME(3) columns and
// CURRENT_TIMESTAMP both mean UTC whatever the server's default zone.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"mkt/pkg/config"

	"github.com/go-sql-driver/mysql"
	"github.com/jmoiron/sqlx"
)

// Pool defaults applied by Open to zero Config fields.
const (
	DefaultMaxOpenConns    = 16
	DefaultMaxIdleConns    = 16
	DefaultConnMaxLifetime = 5 * time.Minute
)

// Config configures Open. Zero fields take the defaults above.
type Config struct {
	// DSN is a go-sql-driver/mysql data source name; default config.DefaultMySQLDSN.
	DSN string
	// MaxOpenConns bounds open connections; default DefaultMaxOpenConns.
	MaxOpenConns int
	// MaxIdleConns bounds idle pooled connections; default DefaultMaxIdleConns,
	// never above MaxOpenConns.
	MaxIdleConns int
	// ConnMaxLifetime recycles connections (load-balancer and failover
	// friendly); default DefaultConnMaxLifetime.
	ConnMaxLifetime time.Duration
}

func (c Config) withDefaults() Config {
	c.DSN = cmp.Or(c.DSN, config.DefaultMySQLDSN)
	c.MaxOpenConns = cmp.Or(c.MaxOpenConns, DefaultMaxOpenConns)
	c.MaxIdleConns = min(cmp.Or(c.MaxIdleConns, DefaultMaxIdleConns), c.MaxOpenConns)
	c.ConnMaxLifetime = cmp.Or(c.ConnMaxLifetime, DefaultConnMaxLifetime)
	return c
}

func (c Config) validate() error {
	switch {
	case c.MaxOpenConns < 0:
		return fmt.Errorf("store: MaxOpenConns %d must not be negative", c.MaxOpenConns)
	case c.MaxIdleConns < 0:
		return fmt.Errorf("store: MaxIdleConns %d must not be negative", c.MaxIdleConns)
	case c.ConnMaxLifetime < 0:
		return fmt.Errorf("store: ConnMaxLifetime %s must not be negative", c.ConnMaxLifetime)
	}
	return nil
}

// DB is a pool of connections to the mkt database. It embeds *sqlx.DB, so it
// satisfies Handler and every sqlx method is available.
type DB struct {
	*sqlx.DB
	dbName string
}

// Open parses cfg.DSN, enforces UTC and parseTime, opens the pool and pings
// the server. The caller closes the DB.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	mcfg, err := parseDSN(cfg.DSN)
	if err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(mcfg)
	if err != nil {
		return nil, fmt.Errorf("store: configure connector for %s: %w", safeAddr(mcfg), err)
	}
	sqlDB := sql.OpenDB(connector)
	sqlDB.SetMaxOpenConns(cfg.MaxOpenConns)
	sqlDB.SetMaxIdleConns(cfg.MaxIdleConns)
	sqlDB.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("store: ping %s: %w", safeAddr(mcfg), err)
	}
	return &DB{DB: sqlx.NewDb(sqlDB, "mysql"), dbName: mcfg.DBName}, nil
}

// Name returns the name of the database the pool is connected to.
func (d *DB) Name() string { return d.dbName }

// parseDSN parses dsn and applies mkt's non-negotiable session settings.
func parseDSN(dsn string) (*mysql.Config, error) {
	mcfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The driver's message may quote the DSN, password included.
		return nil, errors.New("store: malformed MySQL DSN")
	}
	mcfg.ParseTime = true
	mcfg.Loc = time.UTC
	if !strings.Contains(dsn, "interpolateParams=") {
		// Placeholders are filled in by the driver (escaped for the
		// connection's utf8mb4) and sent as one text query: no server-side
		// prepare, execute and close per statement. For a multi-row INSERT
		// of thousands of placeholders the server-side prepare alone was a
		// fifth of MariaDB's CPU in the push fan-out.
		mcfg.InterpolateParams = true
	}
	if mcfg.Params == nil {
		mcfg.Params = map[string]string{}
	}
	if _, ok := mcfg.Params["time_zone"]; !ok {
		mcfg.Params["time_zone"] = "'+00:00'"
	}
	return mcfg, nil
}

// safeAddr describes a connection target without its credentials.
func safeAddr(c *mysql.Config) string {
	return fmt.Sprintf("%s@%s(%s)/%s", c.User, c.Net, c.Addr, c.DBName)
}
