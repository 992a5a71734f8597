package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"mkt/pkg/campaign"
)

// writeJSON prints v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// render prints a command's result v: as JSON with --json, else as text
// writes it for a person.
func render[T any](app *App, v T, text func(io.Writer, T) error) error {
	if app.JSON {
		return writeJSON(app.Out, v)
	}
	return text(app.Out, v)
}

// nonNil is s, or an empty slice where s is nil, so that an empty list
// prints as [] in JSON, not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// table prints aligned rows; the first row is the header. Cells are printed
// with control characters escaped (campaign.Printable): names come from
// operators and files.
func table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		for i, c := range r {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, campaign.Printable(c))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// operatorName is the default operator recorded with what mktctl creates:
// $USER, else the account running mktctl.
func operatorName() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// Text output gives every time in UTC, in one of two layouts: an instant to
// the second (2026-03-14 09:20:00), or, where people set the time to the
// minute (a coupon's window in a list, a schedule's firing), to the minute
// (2026-03-14 09:20). A firing is also given in its schedule's zone, named.
// --json gives RFC 3339.
const minuteLayout = "2006-01-02 15:04"

// utcTime is the instant t as text output gives it.
func utcTime(t time.Time) string { return t.UTC().Format(time.DateTime) }

// utcTimeOr is utcTime(*t), or none where t is nil.
func utcTimeOr(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return utcTime(*t)
}

// utcMinute is t, set to the minute, as text output gives it.
func utcMinute(t time.Time) string { return t.UTC().Format(minuteLayout) }
