package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"mkt/pkg/campaign"
)

// ErrRunsFailed is returned by Stream when a watched run ended failed or
// cancelled.
var ErrRunsFailed = errors.New("watch: a watched campaign failed or was cancelled")

// ErrUnreachable is returned by Stream in Once mode when MySQL could not be
// read.
var ErrUnreachable = errors.New("watch: MySQL unreachable")

// StreamOptions tunes Stream.
type StreamOptions struct {
	// Target is the watched run (zero: every run).
	Target Target
	// Refresh is the period between snapshots (default DefaultRefresh).
	Refresh time.Duration
	// Once prints one snapshot and returns.
	Once bool
	// Cells is the heatmap size of a one-run watch (default 100).
	Cells int
}

// Stream prints one JSON snapshot per line per refresh (NDJSON) to w, with
// the rates and ETAs the view shows, until no watched run is unfinished (an
// all-runs watch with nothing running ends at once) or ctx ends. It returns
// nil when every watched run completed, ErrRunsFailed when one failed or was
// cancelled. A refresh that cannot read MySQL prints its error and goes on.
func Stream(ctx context.Context, fetch func(context.Context, Request) Snapshot, w io.Writer, o StreamOptions) error {
	refresh := o.Refresh
	if refresh <= 0 {
		refresh = DefaultRefresh
	}
	req := Request{}
	if !o.Target.All() {
		req.Focus, req.Failures = o.Target, true
		req.Cells = o.Cells
		if req.Cells <= 0 {
			req.Cells = 100
		}
	}
	enc := json.NewEncoder(w)
	var rates Rates
	tick := time.NewTicker(refresh)
	defer tick.Stop()
	for {
		s := fetch(ctx, req)
		rates.Apply(&s)
		if s.Runs == nil {
			s.Runs = []Run{}
		}
		if s.Workers == nil {
			s.Workers = []Worker{}
		}
		if err := enc.Encode(s); err != nil {
			return fmt.Errorf("watch: write snapshot: %w", err)
		}
		if o.Once {
			if s.MySQLError != "" {
				return fmt.Errorf("%w: %s", ErrUnreachable, s.MySQLError)
			}
			return nil
		}
		if s.MySQLError == "" && s.Unfinished() == 0 {
			for _, r := range s.Runs {
				if r.Status != campaign.StatusCompleted {
					return fmt.Errorf("%w: %s is %s", ErrRunsFailed, r.Ref(), r.Status)
				}
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// Unfinished counts the watched runs not finished yet.
func (s Snapshot) Unfinished() int {
	n := 0
	for _, r := range s.Runs {
		if !r.Status.Finished() {
			n++
		}
	}
	return n
}
