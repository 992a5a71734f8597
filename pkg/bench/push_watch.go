package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"mkt/pkg/cache"
	"mkt/pkg/campaign"
	"mkt/pkg/store"
	"mkt/pkg/watch"
)

// watchers are PushConfig.Watchers (`bench push --watchers N`): N live views of the campaign
// refreshing once a second while it runs, each with its own MySQL pool and
// Redis client as separate `mktctl watch` processes would have, asking for
// the most a view reads (the drill-down of a 160×48 terminal: heatmap of
// 1,600 cells, workers, failure sample). They measure what the view costs
// the fan-out, and their own refresh times.
type watchers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	took   []time.Duration
	errs   int
}

// watchCells is the heatmap of a 160×48 drill-down.
const watchCells = 1600

func (r *pushRun) startWatchers(ctx context.Context, n int) (*watchers, error) {
	ctx, cancel := context.WithCancel(ctx)
	bw := &watchers{cancel: cancel}
	target := watch.Target{Kind: campaign.KindPromotion, ID: r.id}
	for range n {
		db, err := store.Open(ctx, store.Config{DSN: r.dsn, MaxOpenConns: 2})
		if err != nil {
			bw.stop()
			return nil, fmt.Errorf("%w: watcher MySQL: %w", ErrUnavailable, err)
		}
		live, err := cache.Open(ctx, cache.Config{Addr: r.o.Stack.RedisAddr, Password: string(r.o.Stack.RedisPassword),
			DB: r.o.Stack.RedisDB, KeyPrefix: cache.DefaultKeyPrefix + r.dbName})
		if err != nil {
			_ = db.Close()
			bw.stop()
			return nil, fmt.Errorf("%w: watcher Redis: %w", ErrUnavailable, err)
		}
		src := &watch.Source{DB: db, Target: target,
			Live: func(context.Context) (campaign.LiveCounters, error) { return live, nil }}
		bw.wg.Add(1)
		go func() {
			defer bw.wg.Done()
			defer db.Close()
			defer live.Close()
			tick := time.NewTicker(watch.DefaultRefresh)
			defer tick.Stop()
			var rates watch.Rates
			for {
				start := time.Now()
				s := src.Fetch(ctx, watch.Request{Focus: target, Cells: watchCells, Failures: true})
				took := time.Since(start)
				rates.Apply(&s)
				if ctx.Err() != nil {
					return
				}
				bw.mu.Lock()
				bw.took = append(bw.took, took)
				if s.MySQLError != "" || s.RedisError != "" {
					bw.errs++
				}
				bw.mu.Unlock()
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	return bw, nil
}

// stop ends the watchers and waits for them.
func (bw *watchers) stop() {
	bw.cancel()
	bw.wg.Wait()
}

// fill adds the watchers' refresh times to rep.
func (bw *watchers) fill(rep *PushReport) {
	bw.mu.Lock()
	defer bw.mu.Unlock()
	rep.WatchRefreshes, rep.WatchErrors = len(bw.took), bw.errs
	if len(bw.took) == 0 {
		return
	}
	s := slices.Clone(bw.took)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	rep.WatchRefreshP50MS, rep.WatchRefreshMaxMS = ms(s[len(s)/2]), ms(s[len(s)-1])
}
