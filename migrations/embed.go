// Package migrations holds mkt's versioned database schema as goose SQL
// migrations (one numbered file per step) and embeds them into the binaries.
//
// The schema runs on MariaDB 10.11 and MySQL 8: InnoDB, utf8mb4 with
// utf8mb4_unicode_ci, money in integer cents, timestamps DATETIME(3) in UTC
// (store.Open pins the session time zone to +00:00). Apply it with
// store.Migrate (`mktctl migrate`); never edit a released file, add a new one.
package migrations

import "embed"

// FS is the set of migration files (*.sql at the root), in goose's format.
//
//go:embed *.sql
var FS embed.FS
