// Package cli is mktctl, the operator command line: one root command whose
// subcommands each live in their own file, sharing the settings, streams and
// lazily opened connections held by App. Main maps errors to exit codes in
// one place.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"mkt/pkg/audience"
	"mkt/pkg/cache"
	"mkt/pkg/config"
	"mkt/pkg/mq"
	"mkt/pkg/store"
)

// Exit codes of mktctl, documented in `mktctl --help`.
const (
	ExitOK          = 0
	ExitFailure     = 1 // the operation failed
	ExitUsage       = 2 // bad flags, arguments or input: nothing was done
	ExitUnavailable = 3 // a dependency (MySQL, Redis, RocketMQ) cannot be reached
)

// ErrUsage marks errors in what the operator asked for (flags, arguments,
// input values). Main exits with ExitUsage for them.
var ErrUsage = errors.New("usage")

// ErrUnavailable marks errors reaching a dependency. Main exits with
// ExitUnavailable for them.
var ErrUnavailable = errors.New("unavailable")

// usageErrorf returns an error wrapping ErrUsage.
func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Streams are where a command reads and writes; tests inject buffers.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// StdStreams returns the process's standard streams.
func StdStreams() Streams { return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// App is what every subcommand shares: streams, settings, the logger and the
// connections it opened (closed by Close).
type App struct {
	Streams
	Common config.Common
	JSON   bool
	Logger *slog.Logger

	// mu guards db and live: the live view opens them from its commands'
	// goroutines.
	mu   sync.Mutex
	db   *store.DB
	live *cache.Client
	// afterResolve run once the settings are resolved, before any command.
	afterResolve []func(*App)
}

// DB opens (once) and returns the MySQL pool; after a failure the next
// call tries again.
func (a *App) DB(ctx context.Context) (*store.DB, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.openDB(ctx)
}

func (a *App) openDB(ctx context.Context) (*store.DB, error) {
	if a.db != nil {
		return a.db, nil
	}
	db, err := store.Open(ctx, store.Config{DSN: string(a.Common.MySQLDSN)})
	if err != nil {
		return nil, fmt.Errorf("%w: MySQL at %s: %w", ErrUnavailable, a.Common.MySQLDSN, err)
	}
	a.db = db
	return db, nil
}

// LiveCounters opens (once) the Redis client of the live progress counters,
// under the database's name as pushd writes them.
func (a *App) LiveCounters(ctx context.Context) (*cache.Client, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.live != nil {
		return a.live, nil
	}
	db, err := a.openDB(ctx)
	if err != nil {
		return nil, err
	}
	c, err := cache.Open(ctx, cache.Config{Addr: a.Common.RedisAddr, Password: string(a.Common.RedisPassword),
		DB: a.Common.RedisDB, KeyPrefix: cache.DefaultKeyPrefix + db.Name()})
	if err != nil {
		return nil, fmt.Errorf("%w: Redis at %s: %w", ErrUnavailable, a.Common.RedisAddr, err)
	}
	a.live = c
	return c, nil
}

// Close releases whatever the commands opened.
func (a *App) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.live != nil {
		_ = a.live.Close()
		a.live = nil
	}
	if a.db != nil {
		_ = a.db.Close()
		a.db = nil
	}
}

const rootLong = `mktctl is the operator command line of mkt, the marketing campaign toolkit:
schema migrations, demo members, campaigns and coupons, hot goods, recurring
schedules fired by pushd, shard plans, a live view of campaign progress
(watch), and benchmarks against the real stack (MySQL, Redis, RocketMQ).

Every setting is a flag whose default comes from an MKT_* environment variable.
Secrets (the MySQL DSN, the Redis password) are read from the environment or a
file (--mysql-dsn-file, MKT_MYSQL_DSN_FILE), never from the command line.

Tables and reports give times in UTC (2026-03-14 09:20:00), a schedule's
firings in its own zone as well, named; --json gives JSON with RFC 3339 times
for scripts.

Exit codes: 0 ok, 1 the operation failed, 2 bad flags, arguments or input
(nothing was done), 3 a dependency could not be reached.`

// NewRootCmd builds mktctl's command tree writing to s.
func NewRootCmd(s Streams) (*cobra.Command, *App) {
	app := &App{Streams: s}
	root := &cobra.Command{
		Use:           "mktctl",
		Short:         "Operate mkt marketing campaigns",
		Long:          rootLong,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := app.Common.Resolve(); err != nil {
				return asUsage(err)
			}
			logger, err := app.Common.Logger(app.Err)
			if err != nil {
				return asUsage(err)
			}
			app.Logger = logger
			// The RocketMQ client logs through one process-wide logger.
			mq.RouteClientLogs(logger, slog.LevelError)
			for _, f := range app.afterResolve {
				f(app)
			}
			return nil
		},
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	pf := root.PersistentFlags()
	app.Common.Bind(pf)
	pf.BoolVar(&app.JSON, "json", false, "print machine-readable JSON instead of tables")

	root.AddCommand(
		newMigrateCmd(app),
		newUsersCmd(app),
		newStatusCmd(app, nil),
		newDevCmd(app),
		newCampaignCmd(app), newPlanCmd(app, nil),
		newCouponCmd(app), newEventsCmd(app), newBenchCmd(app),
		newWatchCmd(app, nil), newHotgoodsCmd(app),
		newScheduleCmd(app),
	)
	usageInOnePlace(root)
	return root, app
}

// usageInOnePlace maps, for the whole tree under c, every mistake in how a
// command was called to a usage error (exit 2), so that no command maps
// them itself:
//   - an unknown flag or a bad flag value (the flag error function);
//   - a wrong number of arguments: commands declare their count with cobra's
//     plain validators (cobra.ExactArgs, cobra.NoArgs, ...), and a runnable
//     command that declares none takes no arguments;
//   - a command group given an unknown subcommand (cobra would print the
//     group's help and exit 0);
//   - a float flag given NaN or ±Inf (strconv takes them; range checks miss NaN);
//   - a required flag missing, or flags marked as a group given wrongly
//     (cobra's MarkFlagRequired, MarkFlagsMutuallyExclusive, ...), checked
//     before the command runs.
//
// Errors a command returns for its input (usageErrorf) are its own.
func usageInOnePlace(c *cobra.Command) {
	if !c.HasParent() {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return asUsage(err) })
	}
	for _, sub := range c.Commands() {
		usageInOnePlace(sub)
	}
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
			}
			return nil
		}
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
		return
	}
	if !c.Runnable() {
		return
	}
	check := c.Args
	if check == nil {
		check = cobra.NoArgs
	}
	c.Args = func(cmd *cobra.Command, args []string) error { return asUsage(check(cmd, args)) }
	pre := c.PreRunE
	c.PreRunE = func(cmd *cobra.Command, args []string) error {
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return asUsage(err)
		}
		if err := finiteFloats(cmd); err != nil {
			return err
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return asUsage(err)
		}
		if pre != nil {
			return pre(cmd, args)
		}
		return nil
	}
}

// finiteFloats refuses NaN and ±Inf in every float flag of cmd
// (config.CheckFinite, the daemons' rule too) as a usage error.
func finiteFloats(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err == nil {
			if ferr := config.CheckFinite(f); ferr != nil {
				err = usageErrorf("%v", ferr)
			}
		}
	})
	return err
}

// runE is the RunE of a command in the shape every command has: check
// (when not nil) checks the options the flags filled, then the test's runF
// gets them, or run runs the command. A check that needs the flag set (to
// tell a flag given from its default) closes over the command, set as
// cmd.RunE after the command is built. runArgE adds an argument.
func runE[O any](app *App, o *O, check func() error, runF func(*O) error,
	run func(context.Context, *App, *O) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		if check != nil {
			if err := check(); err != nil {
				return err
			}
		}
		if runF != nil {
			return runF(o)
		}
		return run(cmd.Context(), app, o)
	}
}

// runArgE is runE for a command that takes one argument (an id, a file):
// parse reads it into *arg, then runE's steps follow. Where the argument is
// optional and not given, *arg keeps its zero value.
func runArgE[O, A any](app *App, o *O, arg *A, parse func(string) (A, error), check func() error, runF func(*O) error,
	run func(context.Context, *App, *O) error) func(*cobra.Command, []string) error {
	rest := runE(app, o, check, runF, run)
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			v, err := parse(args[0])
			if err != nil {
				return err
			}
			*arg = v
		}
		return rest(cmd, args)
	}
}

// forAction binds the action a command was built for to a test's runF,
// which gets it with the options (nil stays nil: the command runs).
func forAction[O any](action string, runF func(string, *O) error) func(*O) error {
	if runF == nil {
		return nil
	}
	return func(o *O) error { return runF(action, o) }
}

// idArg is the parser of an id argument named what (campaign id, schedule
// id …): a positive integer, else a usage error that quotes it.
func idArg(what string) func(string) (uint64, error) {
	return func(arg string) (uint64, error) {
		id, err := store.ParseID(arg)
		if err != nil {
			return 0, usageErrorf("%s %q: want a positive integer", what, arg)
		}
		return id, nil
	}
}

// pathArg reads a file argument as given; opening it is the command's.
func pathArg(arg string) (string, error) { return arg, nil }

// shardSizeUsage is the help text of a --shard-size: what, and its bounds.
func shardSizeUsage(what string) string {
	return fmt.Sprintf("%s, %d..%d", what, audience.MinShardSize, audience.MaxShardSize)
}

// limitUsage is the help text of every list's --limit.
var limitUsage = fmt.Sprintf("at most this many rows (1..%d)", store.MaxListLimit)

// inRange is the check of an integer flag bounded to lo..hi.
func inRange(flag string, v, lo, hi int) error {
	if v < lo || v > hi {
		return usageErrorf("%s %d: want %d..%d", flag, v, lo, hi)
	}
	return nil
}

// asUsage marks err, if any, as a usage error.
func asUsage(err error) error {
	if err == nil || errors.Is(err, ErrUsage) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUsage, err)
}

// Main runs mktctl with args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, s Streams) int {
	root, app := NewRootCmd(s)
	defer app.Close()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(s.Err, "mktctl: %v\n", err)
	return exitCode(err)
}

func exitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.Is(err, ErrUnavailable):
		return ExitUnavailable
	default:
		return ExitFailure
	}
}
