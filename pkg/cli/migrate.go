package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/store"
)

// migrateUpOptions are `migrate up`'s (and bare `migrate`'s): it has no
// flags of its own.
type migrateUpOptions struct{}

// newMigrateCmd is the migrate group; run alone it is `migrate up`.
func newMigrateCmd(app *App) *cobra.Command {
	o := &migrateUpOptions{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the schema migrations (idempotent); `migrate status` lists them",
		Long: `migrate creates the database named in the DSN if it is missing, then applies
every pending migration under an advisory lock. Running it again is a no-op.`,
		Args: cobra.NoArgs,
		RunE: runE(app, o, nil, nil, runMigrateUp),
	}
	cmd.AddCommand(newMigrateUpCmd(app, nil), newMigrateStatusCmd(app, nil))
	return cmd
}

func newMigrateUpCmd(app *App, runF func(*migrateUpOptions) error) *cobra.Command {
	o := &migrateUpOptions{}
	return &cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration (the default)",
		Args:  cobra.NoArgs,
		RunE:  runE(app, o, nil, runF, runMigrateUp),
	}
}

type migrateStatusOptions struct{}

func newMigrateStatusCmd(app *App, runF func(*migrateStatusOptions) error) *cobra.Command {
	o := &migrateStatusOptions{}
	return &cobra.Command{
		Use:   "status",
		Short: "List the migrations and whether each is applied",
		Args:  cobra.NoArgs,
		RunE:  runE(app, o, nil, runF, runMigrateStatus),
	}
}

func runMigrateUp(ctx context.Context, app *App, _ *migrateUpOptions) error {
	if err := store.EnsureDatabase(ctx, string(app.Common.MySQLDSN)); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	applied, err := store.Migrate(ctx, db)
	if err != nil {
		return err
	}
	if app.JSON {
		return writeJSON(app.Out, map[string]any{"database": db.Name(), "applied": nonNil(applied)})
	}
	if len(applied) == 0 {
		fmt.Fprintf(app.Out, "database %s: schema is up to date\n", db.Name())
		return nil
	}
	for _, m := range applied {
		fmt.Fprintf(app.Out, "applied %s (%s)\n", m.Name, m.Duration.Round(time.Millisecond))
	}
	fmt.Fprintf(app.Out, "database %s: %d migration(s) applied\n", db.Name(), len(applied))
	return nil
}

func runMigrateStatus(ctx context.Context, app *App, _ *migrateStatusOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	ms, err := store.MigrationStatus(ctx, db)
	if err != nil {
		return err
	}
	return render(app, ms, writeMigrationStatus)
}

// writeMigrationStatus prints `migrate status`'s table.
func writeMigrationStatus(w io.Writer, ms []store.Migration) error {
	rows := [][]string{{"VERSION", "NAME", "STATE", "APPLIED AT"}}
	for _, m := range ms {
		state, at := "pending", "-"
		if m.Applied {
			state, at = "applied", utcTime(m.AppliedAt)
		}
		rows = append(rows, []string{strconv.FormatInt(m.Version, 10), m.Name, state, at})
	}
	return table(w, rows)
}
