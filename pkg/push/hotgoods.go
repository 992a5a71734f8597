package push

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"mkt/pkg/campaign"
	"mkt/pkg/hotgoods"
	"mkt/pkg/mq"
	"mkt/pkg/provider"
)

// hotTarget is what a hot-goods run's shards need beyond a promotion's: the
// day's rows compiled to resolve each member's row, and which of them the
// run launched (a member whose row another run launched is that run's).
type hotTarget struct {
	day  *hotgoods.Day
	mine map[uint64]*hotgoods.Row
}

// HotGoodsMinPage is the smallest page a hot-goods run reads: its members
// split over up to 2,000 rows' messages, each sent in its own provider
// batches, so a page of 500 made batches of a few recipients (at 200
// segments, 2,000-member pages raised the 10M fan-out from 44k to 51k
// deliveries/s; docs/BENCHMARKS.md).
const HotGoodsMinPage = 2000

// hotDays caches the compiled days of the runs a worker sends: a day's rows
// cannot change once a run launched any of them (hotgoods.Import refuses),
// so each is read once.
type hotDays struct {
	mu   sync.Mutex
	days map[uint64]*hotTarget // by run id
}

// maxHotDays bounds the cache; it is emptied when full.
const maxHotDays = 32

// loadHotTarget reads hot-goods run id and its day.
func (w *Worker) loadHotTarget(ctx context.Context, t campaign.ShardTask) (*target, error) {
	run, err := hotgoods.GetRun(ctx, w.cfg.DB, t.CampaignID)
	if errors.Is(err, hotgoods.ErrNotFound) {
		return nil, mq.Permanent(fmt.Errorf("push: task %s: %w: %w", t.Key(), campaign.ErrNotFound, err))
	}
	if err != nil {
		return nil, fmt.Errorf("push: task %s: %w", t.Key(), err)
	}
	w.hot.mu.Lock()
	ht := w.hot.days[run.ID]
	w.hot.mu.Unlock()
	if ht == nil {
		rows, err := hotgoods.List(ctx, w.cfg.DB, run.RunDate)
		if err != nil {
			return nil, fmt.Errorf("push: task %s: %w", t.Key(), err)
		}
		ht = &hotTarget{day: hotgoods.NewDay(rows), mine: map[uint64]*hotgoods.Row{}}
		for _, r := range ht.day.Rows() {
			if r.RunID != nil && *r.RunID == run.ID {
				ht.mine[r.ID] = r
			}
		}
		w.hot.mu.Lock()
		if w.hot.days == nil || len(w.hot.days) >= maxHotDays {
			w.hot.days = map[uint64]*hotTarget{}
		}
		w.hot.days[run.ID] = ht
		w.hot.mu.Unlock()
	}
	var chans []provider.Channel
	seen := map[provider.Channel]bool{}
	for _, r := range ht.mine {
		for _, c := range r.Channels {
			seen[c] = true
		}
	}
	for _, c := range provider.Channels() {
		if seen[c] {
			chans = append(chans, c)
		}
	}
	return &target{kind: t.Kind, id: run.ID, name: run.Name, status: campaign.Status(run.Status), channels: chans, hot: ht}, nil
}

// rowChannels builds, for each row the run launched, a channel job per
// channel of the row with the row's rendering.
func (j *job) rowChannels() map[uint64][]channelJob {
	out := make(map[uint64][]channelJob, len(j.c.hot.mine))
	for id, r := range j.c.hot.mine {
		for _, ch := range r.Channels {
			p := j.w.cfg.Providers[ch]
			cj := channelJob{ch: ch, p: p, batch: max(p.MaxBatch(), 1)}
			if cs, ok := p.(CampaignSender); ok {
				cj.cs = cs
			}
			cj.msg = provider.Message{CampaignID: j.c.id, Channel: ch, Body: r.Render(ch, 0),
				IdempotencyKey: fmt.Sprintf("%s:%d:%s", j.s.Kind, j.c.id, ch)}
			if ch != provider.ChannelSMS {
				cj.msg.Title = r.Title()
			}
			if r.HasMemberPlaceholder() {
				cj.batch = 1
				cj.render = func(memberID uint64) string { return r.Render(ch, memberID) }
			}
			out[id] = append(out[id], cj)
		}
	}
	return out
}

// sendSets is what a page sends: for a hot-goods run, each member the run's
// rows win on the channels of their row (and how many members each row
// won); for other kinds every member on every channel of the campaign.
func (j *job) sendSets(members []member) ([]sendSet, map[uint64]int64) {
	if j.c.hot == nil {
		sets := make([]sendSet, len(j.chans))
		for i := range j.chans {
			sets[i] = sendSet{cj: &j.chans[i], members: members}
		}
		return sets, nil
	}
	byRow := map[uint64][]member{}
	for _, m := range members {
		if r := j.c.hot.day.Winner(m.Level, m.ActiveDays, m.Tags); r != nil && j.c.hot.mine[r.ID] != nil {
			byRow[r.ID] = append(byRow[r.ID], m)
		}
	}
	var sets []sendSet
	won := make(map[uint64]int64, len(byRow))
	for id, ms := range byRow {
		won[id] = int64(len(ms))
		for i := range j.rowChans[id] {
			sets = append(sets, sendSet{cj: &j.rowChans[id][i], members: ms})
		}
	}
	return sets, won
}
