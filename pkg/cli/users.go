package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/membership"
)

func newUsersCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Demo member base: seed synthetic members, count them",
	}
	cmd.AddCommand(newUsersSeedCmd(app, nil), newUsersCountCmd(app, nil))
	return cmd
}

type usersSeedOptions struct {
	Count   int64
	Workers int
	Method  string
	Quiet   bool
}

func (o *usersSeedOptions) check() error {
	if o.Count < 1 {
		return usageErrorf("--count must be at least 1 (got %d)", o.Count)
	}
	if o.Count > 100_000_000 {
		return usageErrorf("--count %d is above the supported 100,000,000", o.Count)
	}
	if o.Workers < 1 || o.Workers > 16 {
		return usageErrorf("--workers must be within 1..16 (got %d)", o.Workers)
	}
	switch membership.SeedMethod(o.Method) {
	case membership.SeedAuto, membership.SeedLoadData, membership.SeedInsert:
		return nil
	default:
		return usageErrorf("--method %q: want %s, %s or empty for automatic", o.Method, membership.SeedLoadData, membership.SeedInsert)
	}
}

func newUsersSeedCmd(app *App, runF func(*usersSeedOptions) error) *cobra.Command {
	o := &usersSeedOptions{}
	cmd := &cobra.Command{
		Use:   "seed --count N",
		Short: "Load synthetic members until there are N (re-running with a larger N adds the missing ones)",
		Long: `seed writes synthetic members with ids 1..N into membership_account,
membership_point and membership_filter: username, mobile, e-mail and app push
token; level and points; active days, level and portrait tags with a realistic
spread. A member's attributes depend only on its id, so re-running with a larger
N adds only the missing members and an interrupted run resumes.`,
		Args: cobra.NoArgs,
		RunE: runE(app, o, o.check, runF, runUsersSeed),
	}
	f := cmd.Flags()
	f.Int64Var(&o.Count, "count", 0, "total number of members wanted (required)")
	f.IntVar(&o.Workers, "workers", membership.DefaultSeedWorkers, "statements running at once")
	f.StringVar(&o.Method, "method", "", "load-data or insert (default: load-data when the server allows it)")
	f.BoolVar(&o.Quiet, "quiet", false, "no progress on stderr")
	_ = cmd.MarkFlagRequired("count")
	return cmd
}

func runUsersSeed(ctx context.Context, app *App, o *usersSeedOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	var last time.Time
	progress := func(done, total int64) {
		if o.Quiet || app.JSON || total == 0 {
			return
		}
		if time.Since(last) < time.Second && done != total {
			return
		}
		last = time.Now()
		fmt.Fprintf(app.Err, "seeding: %d/%d members (%.0f%%)\n", done, total, 100*float64(done)/float64(total))
	}
	res, err := membership.Seed(ctx, db, membership.SeedOptions{
		Target:   o.Count,
		Workers:  o.Workers,
		Method:   membership.SeedMethod(o.Method),
		Progress: progress,
	})
	if err != nil {
		return err
	}
	if app.JSON {
		return writeJSON(app.Out, res)
	}
	if res.Added == 0 {
		fmt.Fprintf(app.Out, "%d members already present; nothing to add\n", res.Existing)
		return nil
	}
	rate := float64(res.Added) / res.Elapsed.Seconds()
	fmt.Fprintf(app.Out, "added %d members (%d existed) in %s — %.0f members/s via %s\n",
		res.Added, res.Existing, res.Elapsed.Round(time.Millisecond), rate, res.Method)
	return nil
}

type usersCountOptions struct{}

func newUsersCountCmd(app *App, runF func(*usersCountOptions) error) *cobra.Command {
	o := &usersCountOptions{}
	return &cobra.Command{
		Use:   "count",
		Short: "Print the number of members",
		Args:  cobra.NoArgs,
		RunE:  runE(app, o, nil, runF, runUsersCount),
	}
}

func runUsersCount(ctx context.Context, app *App, _ *usersCountOptions) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	n, err := membership.Count(ctx, db)
	if err != nil {
		return err
	}
	if app.JSON {
		return writeJSON(app.Out, map[string]int64{"members": n})
	}
	fmt.Fprintln(app.Out, n)
	return nil
}
