package cli

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/store"
)

func newMigrateCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the schema migrations (idempotent); `migrate status` lists them",
		Long: `migrate creates the database named in the DSN if it is missing, then applies
every pending migration under an advisory lock. Running it again is a no-op.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return migrateUp(cmd, app)
		},
	}
	cmd.AddCommand(
		&cobra.Command{
			Use:   "up",
			Short: "Apply every pending migration (the default)",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return migrateUp(cmd, app)
			},
		},
		&cobra.Command{
			Use:   "status",
			Short: "List the migrations and whether each is applied",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				return migrateStatus(cmd, app)
			},
		},
	)
	return cmd
}

func migrateUp(cmd *cobra.Command, app *App) error {
	ctx := cmd.Context()
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
		if applied == nil {
			applied = []store.Migration{}
		}
		return writeJSON(app.Out, map[string]any{"database": db.Name(), "applied": applied})
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

func migrateStatus(cmd *cobra.Command, app *App) error {
	ctx := cmd.Context()
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	ms, err := store.MigrationStatus(ctx, db)
	if err != nil {
		return err
	}
	if app.JSON {
		return writeJSON(app.Out, ms)
	}
	rows := [][]string{{"VERSION", "NAME", "STATE", "APPLIED AT"}}
	for _, m := range ms {
		state, at := "pending", "-"
		if m.Applied {
			state, at = "applied", m.AppliedAt.UTC().Format(time.RFC3339)
		}
		rows = append(rows, []string{strconv.FormatInt(m.Version, 10), m.Name, state, at})
	}
	return table(app.Out, rows)
}
