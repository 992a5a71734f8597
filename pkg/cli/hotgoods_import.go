package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"mkt/pkg/hotgoods"
)

// --- import

type hotgoodsImportOptions struct {
	Date   time.Time
	Path   string // "-" = standard input
	Format hotgoods.Format
}

func newHotgoodsImportCmd(app *App, runF func(*hotgoodsImportOptions) error) *cobra.Command {
	o := &hotgoodsImportOptions{}
	var date, format string
	cmd := &cobra.Command{
		Use:   "import --date YYYY-MM-DD FILE|-",
		Short: "Load the recommender's rows for a date (JSON Lines or CSV); a bad file stores nothing",
		Long: `import loads the recommender's rows for a date from FILE (or standard input
with -): one row per segment and goods kind, as JSON Lines or CSV (both in
docs/HOTGOODS.md; the format is told from the first byte unless --format).

Every line is checked; a file with any bad line stores nothing and every bad
line is named (line, field, reason), exit 2. Re-importing the same file is a
no-op; a pending row with other content is updated. Once a run launched any
row of the date, its rows can no longer change (the runs resolve each member
against every row of the day): new or changed rows are refused.`,
		Args: cobra.ExactArgs(1),
		RunE: runArgE(app, o, &o.Path, pathArg, func() (err error) {
			if o.Date, err = parseHotgoodsDate(date); err != nil {
				return err
			}
			switch f := hotgoods.Format(format); f {
			case hotgoods.FormatAuto, hotgoods.FormatJSONL, hotgoods.FormatCSV:
				o.Format = f
			default:
				return usageErrorf("--format %q: want auto, jsonl or csv", format)
			}
			return nil
		}, runF, runHotgoodsImport),
	}
	cmd.Flags().StringVar(&date, "date", "", "the day the rows are for, YYYY-MM-DD")
	cmd.Flags().StringVar(&format, "format", "auto", "jsonl, csv, or auto (JSON Lines when the file starts with {)")
	return cmd
}

func runHotgoodsImport(ctx context.Context, app *App, o *hotgoodsImportOptions) error {
	in := app.In
	if o.Path != "-" {
		f, err := os.Open(o.Path)
		if err != nil {
			return usageErrorf("%v", err)
		}
		defer func() { _ = f.Close() }() // read only: closing loses nothing
		in = f
	}
	rows, err := hotgoods.Parse(in, o.Format)
	if err != nil {
		return hotgoodsError(err)
	}
	return importHotgoods(ctx, app, o.Date, rows, "rows")
}

// importHotgoods stores the day's rows and prints the outcome, what naming
// the rows in the summary: `hotgoods import` and `dev hotgoods`.
func importHotgoods(ctx context.Context, app *App, date time.Time, rows []hotgoods.ParsedRow, what string) error {
	db, err := app.DB(ctx)
	if err != nil {
		return err
	}
	res, err := hotgoods.Import(ctx, db, date, rows)
	if err != nil {
		return hotgoodsError(err)
	}
	if app.JSON {
		return writeJSON(app.Out, res)
	}
	fmt.Fprintf(app.Out, "%s: %d %s added, %d updated, %d unchanged\n", res.Date, res.Added, what, res.Updated, res.Unchanged)
	return nil
}
