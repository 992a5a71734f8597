package watch

import (
	"cmp"
	"time"

	"mkt/pkg/campaign"
)

// DefaultRateWindow is how far back Rates looks to smooth a rate.
const DefaultRateWindow = 10 * time.Second

// sample is a counter's value at a moment.
type sample struct {
	at time.Time
	v  int64
}

// series keeps a counter's samples within a window.
type series []sample

// add appends v at t, drops the samples older than the window (keeping the
// newest of them as the window's start) and returns the rate per second
// over what is kept, and whether there were two samples to tell it.
func (s *series) add(t time.Time, v int64, window time.Duration) (float64, bool) {
	if n := len(*s); n > 0 && v < (*s)[n-1].v {
		*s = (*s)[:0] // the counter went back (a reset): start again
	}
	*s = append(*s, sample{t, v})
	cut := 0
	for cut+1 < len(*s) && t.Sub((*s)[cut+1].at) >= window {
		cut++
	}
	*s = (*s)[cut:]
	first, last := (*s)[0], (*s)[len(*s)-1]
	dt := last.at.Sub(first.at).Seconds()
	if dt <= 0 {
		return 0, false
	}
	return float64(last.v-first.v) / dt, true
}

// Rates turns successive snapshots into rates: members/s per run over the
// last Window (the lifetime average until two snapshots are in), and
// members/s per worker from the live counters. It is not safe for
// concurrent use.
type Rates struct {
	// Window is how far back a rate looks (default DefaultRateWindow).
	Window time.Duration

	runs    map[Target]*series
	workers map[string]*series
}

// Apply fills the rates, ETAs of s from it and the snapshots before.
func (r *Rates) Apply(s *Snapshot) {
	window := cmp.Or(r.Window, DefaultRateWindow)
	if r.runs == nil {
		r.runs, r.workers = map[Target]*series{}, map[string]*series{}
	}
	seen := map[Target]bool{}
	members := map[string]int64{}
	for i := range s.Runs {
		run := &s.Runs[i]
		k := run.Key()
		seen[k] = true
		ser := r.runs[k]
		if ser == nil {
			ser = &series{}
			r.runs[k] = ser
		}
		rate, ok := ser.add(s.At, run.Processed, window)
		if !ok && run.ElapsedSeconds > 0 {
			rate = float64(run.Processed) / run.ElapsedSeconds
		}
		run.Rate, run.ETASeconds = 0, nil
		if run.Status == campaign.StatusRunning {
			run.Rate = max(rate, 0)
			if eta := campaign.ETA(run.Processed, run.Progress.Expected, run.Rate); eta != nil {
				secs := eta.Seconds()
				run.ETASeconds = &secs
			}
		}
		if run.Live != nil {
			for owner, n := range run.Live.Members {
				members[owner] += n
			}
		}
	}
	for k := range r.runs {
		if !seen[k] && s.MySQLError == "" {
			delete(r.runs, k)
		}
	}
	held := map[string]bool{}
	for i := range s.Workers {
		w := &s.Workers[i]
		held[w.Owner] = true
		ser := r.workers[w.Owner]
		if ser == nil {
			ser = &series{}
			r.workers[w.Owner] = ser
		}
		rate, _ := ser.add(s.At, members[w.Owner], window)
		w.Rate = max(rate, 0)
	}
	if s.MySQLError == "" {
		for owner := range r.workers {
			if !held[owner] {
				delete(r.workers, owner)
			}
		}
	}
}
