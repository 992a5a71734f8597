package push

import (
	"cmp"
	"context"
	"database/sql"
	"log/slog"
	"slices"
	"sync"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/store"
)

// journal is the worker's group commit of sends: every JournalInterval it
// writes the deliveries that went out since the last flush, across all the
// worker's pages in flight, to push_message with their shards' counters, in
// one transaction (campaign.RecordSent). A worker killed mid-page therefore
// leaves at most one interval of known sends unrecorded, besides the calls
// on the wire: the worker resuming the shard redoes the page and skips every
// member the journal recorded sent. The page's commit then writes only what
// the journal has not (failures, and sends of the last interval) with the
// checkpoint.
//
// Without a running flusher (the worker not started, or JournalInterval < 0)
// pages commit everything at their end, as one transaction.
type journal struct {
	db       *store.DB
	interval time.Duration
	log      *slog.Logger
	now      func() time.Time
	flushed  func(time.Duration) // nil: not measured

	mu    sync.Mutex
	pages map[*pageLog]struct{}
}

// pageLog is one page's sends as the journal sees them. Its mutex guards
// pending, inFlush and the journaled marks of dels.
type pageLog struct {
	j    *job
	dels []delivery

	mu      sync.Mutex
	cond    sync.Cond
	pending []int // indexes in dels of sends not yet handed to a flush
	inFlush int   // flushes under way holding some of this page's sends
	closed  bool
}

func newJournal(db *store.DB, interval time.Duration, log *slog.Logger, now func() time.Time, flushed func(time.Duration)) *journal {
	return &journal{db: db, interval: interval, log: log, now: now, flushed: flushed, pages: make(map[*pageLog]struct{})}
}

// open registers a page's deliveries with the journal.
func (jr *journal) open(j *job, dels []delivery) *pageLog {
	pl := &pageLog{j: j, dels: dels}
	pl.cond.L = &pl.mu
	if jr == nil {
		return pl
	}
	jr.mu.Lock()
	jr.pages[pl] = struct{}{}
	jr.mu.Unlock()
	return pl
}

// sent notes that the deliveries at the given indexes went out; their
// outcome fields are written (happens-before via the mutex).
func (pl *pageLog) sent(at []int) {
	pl.mu.Lock()
	pl.pending = append(pl.pending, at...)
	pl.mu.Unlock()
}

// close unregisters the page once no flush holds any of its sends, and
// leaves every delivery either journaled (recorded, counted) or not (for
// the page's own commit).
func (jr *journal) close(pl *pageLog) {
	if jr != nil {
		jr.mu.Lock()
		delete(jr.pages, pl)
		jr.mu.Unlock()
	}
	pl.mu.Lock()
	for pl.inFlush > 0 {
		pl.cond.Wait()
	}
	pl.closed = true
	pl.pending = nil
	pl.mu.Unlock()
}

// flushEvery flushes every interval until stop is done; pages still open
// then commit their own sends. The worker's lifetime runs it.
func (jr *journal) flushEvery(stop context.Context) {
	if jr.interval <= 0 {
		return
	}
	t := time.NewTicker(jr.interval)
	defer t.Stop()
	fails := 0
	for {
		select {
		case <-stop.Done():
			return
		case <-t.C:
		}
		// Fixed rate: a flush that takes longer than the interval is
		// followed by the next at once (a tick is pending), so a send
		// waits at most an interval plus a flush to be recorded.
		if err := jr.flush(); err != nil {
			// The database is away: the pages keep their sends and
			// commit them themselves; try again less often meanwhile.
			jr.log.Warn("push: journal flush failed; pages keep their sends", slog.String("error", err.Error()))
			fails++
			t.Reset(max(jr.interval, dbRetry.Delay(fails)))
		} else if fails > 0 {
			fails = 0
			t.Reset(jr.interval)
		}
	}
}

// flushGroup is one shard's sends in a flush.
type flushGroup struct {
	pl          *pageLog
	at          []int
	recs        []campaign.Delivery
	priorFailed int
}

// flush writes every open page's pending sends in one transaction.
func (jr *journal) flush() error {
	jr.mu.Lock()
	pls := make([]*pageLog, 0, len(jr.pages))
	for pl := range jr.pages {
		pls = append(pls, pl)
	}
	jr.mu.Unlock()
	var groups []flushGroup
	for _, pl := range pls {
		pl.mu.Lock()
		if pl.closed || len(pl.pending) == 0 {
			pl.mu.Unlock()
			continue
		}
		at := pl.pending
		pl.pending = nil
		pl.inFlush++
		pl.mu.Unlock()
		g := flushGroup{pl: pl, at: at, recs: make([]campaign.Delivery, len(at))}
		for i, k := range at {
			d := &pl.dels[k]
			g.recs[i] = campaign.Delivery{MemberID: d.member, Channel: d.ch, OK: true, ProviderID: d.providerID}
			if d.priorFailed {
				g.priorFailed++
			}
		}
		groups = append(groups, g)
	}
	if len(groups) == 0 {
		return nil
	}
	// One order for the shard rows a flush updates (against deadlocks).
	slices.SortFunc(groups, func(a, b flushGroup) int { return compareShard(a.pl.j.s, b.pl.j.s) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := jr.now().UTC()
	sends := make([]campaign.ShardSends, len(groups))
	for i, g := range groups {
		s := g.pl.j.s
		sends[i] = campaign.ShardSends{Kind: s.Kind, CampaignID: s.CampaignID, ShardNo: s.No, Deliveries: g.recs, PriorFailed: g.priorFailed,
			Owner: g.pl.j.w.cfg.Owner}
	}
	start := time.Now()
	err := jr.db.InTxOptions(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx store.Handler) error {
		return campaign.RecordSent(ctx, tx, sends, now)
	})
	if jr.flushed != nil {
		jr.flushed(time.Since(start))
	}
	for _, g := range groups {
		pl := g.pl
		pl.mu.Lock()
		if err == nil {
			for _, k := range g.at {
				pl.dels[k].journaled = true
			}
		} else {
			pl.pending = append(pl.pending, g.at...)
		}
		pl.inFlush--
		pl.cond.Broadcast()
		pl.mu.Unlock()
	}
	return err
}

// compareShard orders shards by kind, campaign and number.
func compareShard(a, b *campaign.Shard) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.CampaignID, b.CampaignID), cmp.Compare(a.No, b.No))
}
