package push

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/coupon"
	"mkt/pkg/daemon"
	"mkt/pkg/provider"
	"mkt/pkg/store"
)

// member is one audience member as a page carries it.
type member struct {
	ID        uint64 `db:"id"`
	Mobile    string `db:"mobile"`
	Email     string `db:"email"`
	PushToken string `db:"push_token"`
	// Level, ActiveDays and Tags are read for hot-goods runs only (each
	// member's row is resolved from them).
	Level      int    `db:"member_level"`
	ActiveDays int    `db:"active_days"`
	Tags       uint64 `db:"portrait_tags"`
}

// address returns the member's address on ch ("" = none; the inbox needs
// none).
func (m *member) address(ch provider.Channel) string {
	switch ch {
	case provider.ChannelSMS:
		return m.Mobile
	case provider.ChannelEmail:
		return m.Email
	case provider.ChannelApp:
		return m.PushToken
	}
	return ""
}

// channelJob is one channel of the campaign being sent.
type channelJob struct {
	ch    provider.Channel
	p     Sender
	cs    CampaignSender // nil: use p.Send
	msg   provider.Message
	batch int
	// render, when set, renders the body per recipient (batch 1).
	render func(memberID uint64) string
}

// sendSet is members to send on one channel job.
type sendSet struct {
	cj      *channelJob
	members []member
}

// counts are changes to a shard's counters (deliveries: member × channel).
type counts struct {
	sent, failed, noAddress int64
	// attempts and provFailed feed auto-pause: sends that reached a
	// provider, and those of them that failed.
	attempts, provFailed int64
	// issued counts the coupon items a page issued, notIssued the page's
	// members left without the coupon (quota exhausted, window ended): they
	// are not messaged.
	issued, notIssued int64
	// members counts the audience members of the page.
	members int64
	// channels splits sent and failed by channel (live counters only).
	channels map[provider.Channel]*[2]int64
	// rows counts, for a hot-goods run, the page's members each of its
	// rows won (live counters only).
	rows map[uint64]int64
}

// channel returns the sent/failed pair of ch, creating it.
func (d *counts) channel(ch provider.Channel) *[2]int64 {
	if d.channels == nil {
		d.channels = make(map[provider.Channel]*[2]int64, 4)
	}
	c := d.channels[ch]
	if c == nil {
		c = new([2]int64)
		d.channels[ch] = c
	}
	return c
}

// job is one run of one claimed shard.
type job struct {
	w    *Worker
	c    *target
	s    *campaign.Shard
	mode campaign.TaskMode
	log  *slog.Logger
	// outer is the handler's context: it ends when the process stops, not
	// when the shard's run is cancelled, so outcomes are still recorded.
	outer context.Context
	chans []channelJob
	// rowChans are a hot-goods run's channel jobs by row id.
	rowChans map[uint64][]channelJob
	// perMember: the template uses {member_id}, so each recipient gets its
	// own rendering and its own provider call.
	perMember bool
	pageQuery string
	pageArgs  []any
	// pageSize is the members read, sent and checkpointed at once.
	pageSize int

	pages int
	total counts
	// warnedShort: this run already logged members left without the coupon.
	warnedShort bool
}

func (w *Worker) newJob(outer context.Context, c *target, s *campaign.Shard, mode campaign.TaskMode, log *slog.Logger) *job {
	j := &job{w: w, c: c, s: s, mode: mode, log: log, outer: outer, perMember: c.perMember, pageSize: w.cfg.PageSize}
	if c.hot == nil { // a hot-goods run has its channel jobs per row (rowChannels)
		body := ""
		if !j.perMember {
			body = c.render(0) // once per shard: the same text for everyone
		}
		for _, ch := range c.channels {
			p := w.cfg.Providers[ch]
			cj := channelJob{ch: ch, p: p, batch: max(p.MaxBatch(), 1)}
			if cs, ok := p.(CampaignSender); ok {
				cj.cs = cs
			}
			if j.perMember {
				cj.batch = 1
			}
			cj.msg = provider.Message{
				CampaignID: c.id,
				Channel:    ch,
				Body:       body,
				// The kind keeps promotion 42 and coupon 42 apart at the
				// provider: "promotion:42:sms:<member>".
				IdempotencyKey: fmt.Sprintf("%s:%d:%s", s.Kind, c.id, ch),
			}
			if ch != provider.ChannelSMS {
				cj.msg.Title = c.name
			}
			j.chans = append(j.chans, cj)
		}
	}
	const cols = `SELECT a.id, a.mobile, a.email, a.push_token FROM membership_account a`
	const rng = ` WHERE a.id >= ? AND a.id > ? AND a.id < ? AND a.status = 'active'`
	switch {
	case c.hot != nil:
		j.rowChans = j.rowChannels()
		// A page's members split over the day's rows, one provider batch
		// per row and channel: bigger pages make fuller batches.
		j.pageSize = max(j.pageSize, HotGoodsMinPage)
		j.pageQuery = hotMemberColumns + rng + ` ORDER BY a.id LIMIT ?`
	case c.audience.Everyone():
		j.pageQuery = cols + rng + ` ORDER BY a.id LIMIT ?`
	default:
		where, args := c.audience.Where("f")
		j.pageQuery = cols + ` JOIN membership_filter f ON f.member_id = a.id` + rng + ` AND ` + where + ` ORDER BY a.id LIMIT ?`
		j.pageArgs = args
	}
	return j
}

// run works the shard: the send phase from the checkpoint to the end of
// the range, then, in retry mode, the retry phase over failed members.
func (j *job) run(ctx context.Context) (end, error) {
	if e, err := j.sendPhase(ctx); e != endNone || err != nil {
		return e, err
	}
	if j.mode == campaign.ModeRetryFailed {
		if e, err := j.retryPhase(ctx); e != endNone || err != nil {
			return e, err
		}
	}
	return endDone, nil
}

func (j *job) sendPhase(ctx context.Context) (end, error) {
	cursor := j.s.CursorID
	for {
		if e, err := j.control(ctx); e != endNone || err != nil {
			return e, err
		}
		members, err := j.fetchPage(ctx, cursor)
		if err != nil {
			return endNone, err
		}
		if len(members) == 0 {
			return endNone, nil
		}
		last := members[len(members)-1].ID
		if e, err := j.page(ctx, members, false, last); e != endNone || err != nil {
			return e, err
		}
		if len(members) < j.pageSize {
			return endNone, nil
		}
		cursor = last
	}
}

func (j *job) retryPhase(ctx context.Context) (end, error) {
	var after uint64
	for {
		if e, err := j.control(ctx); e != endNone || err != nil {
			return e, err
		}
		ids, err := campaign.FailedMembers(ctx, j.w.cfg.DB, j.s.Kind, j.s.CampaignID, j.s.StartID, after, j.s.EndID, j.pageSize)
		if err != nil {
			return endNone, err
		}
		if len(ids) == 0 {
			return endNone, nil
		}
		members, err := j.membersByID(ctx, ids)
		if err != nil {
			return endNone, err
		}
		if len(members) > 0 {
			if e, err := j.page(ctx, members, true, 0); e != endNone || err != nil {
				return e, err
			}
		}
		if len(ids) < j.pageSize {
			return endNone, nil
		}
		after = ids[len(ids)-1]
	}
}

// control applies the campaign's status (cached for StatusRefresh) between
// pages: paused or cancelled parks the shard, a draining worker stops.
func (j *job) control(ctx context.Context) (end, error) {
	if j.w.tasks.Closed() {
		return endDraining, nil
	}
	st, err := j.w.status.get(ctx, j.c.kind, j.c.id)
	if errors.Is(err, campaign.ErrNotFound) {
		st = campaign.StatusCancelled // deleted under us
	} else if err != nil {
		return endNone, err
	}
	var to campaign.ShardStatus
	switch st {
	case campaign.StatusPaused:
		to = campaign.ShardPaused
	case campaign.StatusCancelled, campaign.StatusFailed:
		to = campaign.ShardCancelled
	default:
		return endNone, nil
	}
	j.w.window.reset(j.key())
	ok, err := campaign.ParkShard(ctx, j.w.cfg.DB, j.s.Kind, j.s.CampaignID, j.s.No, j.w.cfg.Owner, to, "campaign "+string(st))
	if err != nil {
		return endNone, err
	}
	if !ok {
		return endNone, fmt.Errorf("%w: parking shard %d as %s", campaign.ErrLeaseLost, j.s.No, to)
	}
	return endParked, nil
}

// hotMemberColumns reads members with the attributes a hot-goods run
// resolves their row from (defaults for a member without them).
const hotMemberColumns = `SELECT a.id, a.mobile, a.email, a.push_token, COALESCE(f.member_level, 1) AS member_level,
	COALESCE(f.active_days, 0) AS active_days, COALESCE(f.portrait_tags, 0) AS portrait_tags
	FROM membership_account a LEFT JOIN membership_filter f ON f.member_id = a.id`

// fetchPage reads the next page of audience members after cursor.
func (j *job) fetchPage(ctx context.Context, cursor uint64) ([]member, error) {
	args := make([]any, 0, 4+len(j.pageArgs))
	args = append(args, j.s.StartID, cursor, j.s.EndID)
	args = append(args, j.pageArgs...)
	args = append(args, j.pageSize)
	members := make([]member, 0, j.pageSize)
	if err := j.w.cfg.DB.SelectContext(ctx, &members, j.pageQuery, args...); err != nil {
		return nil, fmt.Errorf("push: read members of campaign %d shard %d after %d: %w", j.s.CampaignID, j.s.No, cursor, store.MapError(err))
	}
	return members, nil
}

// membersByID reads the active members among ids, in id order.
func (j *job) membersByID(ctx context.Context, ids []uint64) ([]member, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	members := make([]member, 0, len(ids))
	q := `SELECT a.id, a.mobile, a.email, a.push_token FROM membership_account a`
	if j.c.hot != nil {
		q = hotMemberColumns
	}
	err := j.w.cfg.DB.SelectContext(ctx, &members, q+`
		WHERE a.id IN (?`+strings.Repeat(",?", len(ids)-1)+`) AND a.status = 'active' ORDER BY a.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("push: read %d members of campaign %d shard %d: %w", len(ids), j.s.CampaignID, j.s.No, store.MapError(err))
	}
	return members, nil
}

// delivery is one member on one channel within a page.
type delivery struct {
	member      uint64
	ch          provider.Channel
	priorFailed bool
	priorNoAddr bool
	ok          bool
	abandoned   bool // not settled: the run was stopped
	journaled   bool // recorded and counted by the journal (see journal)
	reason      string
	providerID  string
}

// page sends one page of members (in retry mode only their failed
// deliveries), records every outcome and checkpoints the shard at cursor,
// in one transaction, then updates live counters and auto-pause. A
// push-mode coupon's page is first issued the coupon, and only the members
// holding it are sent the message.
func (j *job) page(ctx context.Context, members []member, retryOnly bool, cursor uint64) (end, error) {
	var d counts
	pageMembers := int64(len(members))
	if j.c.coupon != nil && !retryOnly {
		var e end
		var err error
		if members, d, e, err = j.issue(ctx, members); e != endNone || err != nil {
			return e, err
		}
	}
	d.members = pageMembers
	var dels []delivery
	if len(members) > 0 {
		prior, err := loadPrior(ctx, j.w.cfg.DB, j.s.Kind, j.s.CampaignID, members[0].ID, members[len(members)-1].ID)
		if err != nil {
			return endNone, err
		}
		var won map[uint64]int64
		dels, won = j.send(ctx, members, prior, retryOnly)
		if !retryOnly {
			d.rows = won
		}
	}
	if ctx.Err() != nil {
		// Stopped mid-page (the lease was lost, or the process is going
		// down): the sends that went out are kept, without a checkpoint;
		// whoever resumes the shard redoes the page and skips them.
		var sent []campaign.Delivery
		for i := range dels {
			if x := &dels[i]; x.ok && !x.journaled {
				sent = append(sent, campaign.Delivery{MemberID: x.member, Channel: x.ch, OK: true, ProviderID: x.providerID})
			}
		}
		j.keepUnchecked(sent)
		return endNone, context.Cause(ctx)
	}
	recs := make([]campaign.Delivery, 0, len(dels))
	// dbSent and dbFailed are what the page's commit adds to the shard's
	// counters: the journal already counted the sends it recorded.
	var dbSent, dbFailed int64
	for i := range dels {
		x := &dels[i]
		chc := d.channel(x.ch)
		if x.ok {
			d.sent++
			chc[0]++
			d.attempts++
			if x.priorFailed {
				d.failed--
				chc[1]--
				if x.priorNoAddr {
					d.noAddress--
				}
			}
			if x.journaled {
				dbSent--
				if x.priorFailed {
					dbFailed++
				}
				continue
			}
			recs = append(recs, campaign.Delivery{MemberID: x.member, Channel: x.ch, OK: true, ProviderID: x.providerID})
			continue
		}
		recs = append(recs, campaign.Delivery{MemberID: x.member, Channel: x.ch, Reason: x.reason})
		noAddr := x.reason == ReasonNoAddress
		switch {
		case !x.priorFailed:
			d.failed++
			chc[1]++
			if noAddr {
				d.noAddress++
			}
		case x.priorNoAddr && !noAddr:
			d.noAddress--
		case !x.priorNoAddr && noAddr:
			d.noAddress++
		}
		if !noAddr {
			d.attempts++
			d.provFailed++
		}
	}
	dbSent += d.sent
	dbFailed += d.failed
	st, err := j.commit(recs, cursor, dbSent, dbFailed)
	if err != nil {
		return endNone, err
	}
	j.pages++
	j.total.sent += d.sent
	j.total.failed += d.failed
	j.total.issued += d.issued
	j.total.notIssued += d.notIssued
	j.progress(ctx, d)
	if st != campaign.ShardRunning {
		// An operator parked the shard under us; the page is recorded.
		j.w.window.reset(j.key())
		return endParked, nil
	}
	j.autoPause(ctx, d)
	return endNone, nil
}

// send fans a page out over the campaign's channels, MaxBatch recipients per
// provider call and at most MaxInFlight calls at once across the worker,
// and returns one delivery per member and channel that needed a send.
func (j *job) send(ctx context.Context, members []member, prior map[priorKey]prior, retryOnly bool) ([]delivery, map[uint64]int64) {
	sets, won := j.sendSets(members)
	size := 0
	for _, set := range sets {
		size += len(set.members)
	}
	dels := make([]delivery, size) // fixed: goroutines write in place
	pl := j.w.journal.open(j, dels)
	n := 0
	var wg sync.WaitGroup
	for _, set := range sets {
		cj := set.cj
		recips := make([]provider.Recipient, 0, len(set.members))
		at := make([]int, 0, len(set.members))
		for mi := range set.members {
			m := &set.members[mi]
			p, has := prior[priorKey{m.ID, cj.ch}]
			if has && p.status == campaign.DeliverySent {
				continue // already delivered: never twice
			}
			if retryOnly && !(has && p.status == campaign.DeliveryFailed) {
				continue
			}
			d := &dels[n]
			*d = delivery{member: m.ID, ch: cj.ch, priorFailed: has, priorNoAddr: has && p.reason == ReasonNoAddress}
			n++
			addr := m.address(cj.ch)
			if addr == "" && cj.ch != provider.ChannelInbox {
				d.reason = ReasonNoAddress
				continue
			}
			recips = append(recips, provider.Recipient{MemberID: m.ID, Address: addr})
			at = append(at, n-1)
		}
		for lo := 0; lo < len(recips); lo += cj.batch {
			hi := min(lo+cj.batch, len(recips))
			if err := j.w.sem.Acquire(ctx); err != nil {
				break // stopped: the page is discarded
			}
			wg.Add(1)
			go func(to []provider.Recipient, at []int) {
				defer wg.Done()
				defer j.w.sem.Release()
				j.call(ctx, cj, to, at, dels, pl)
			}(recips[lo:hi], at[lo:hi])
		}
	}
	wg.Wait()
	j.w.journal.close(pl)
	return dels[:n], won
}

// call makes one provider call, writes its outcomes into dels and hands
// the sends that went out to the journal.
func (j *job) call(ctx context.Context, cj *channelJob, to []provider.Recipient, at []int, dels []delivery, pl *pageLog) {
	msg := cj.msg
	switch {
	case cj.render != nil:
		msg.Body = cj.render(to[0].MemberID)
	case j.perMember:
		msg.Body = j.c.render(to[0].MemberID)
	}
	var res []provider.Result
	j.w.onWire.Add(int64(len(to)))
	if cj.cs != nil {
		res = cj.cs.SendCampaign(ctx, j.s.Kind, msg, to)
	} else {
		res = cj.p.Send(ctx, msg, to)
	}
	j.w.onWire.Add(-int64(len(to)))
	if len(res) != len(to) {
		reason := fmt.Sprintf("provider %s returned %d results for %d recipients", cj.p.Name(), len(res), len(to))
		for _, k := range at {
			dels[k].reason = reason
		}
		return
	}
	var sent []int
	for i, r := range res {
		d := &dels[at[i]]
		switch {
		case r.OK:
			d.ok, d.providerID = true, r.ProviderID
			sent = append(sent, at[i])
		case ctx.Err() != nil && (r.Retryable || r.Err == nil):
			d.abandoned = true
		case r.Err != nil:
			d.reason = r.Err.Error()
		default:
			d.reason = "provider " + cj.p.Name() + " refused without a reason"
		}
	}
	if len(sent) > 0 {
		pl.sent(sent)
	}
}

// commit records a page's outcomes and the shard's checkpoint in one
// transaction and returns the shard's status after it: running, or
// paused/cancelled when an operator parked it meanwhile. The outcomes are
// never thrown away because the database failed: the commit is retried,
// backing off, for OutcomeHold (through an outage, with the page's sends
// held in memory and no new page started) and as long as the process runs
// (the handler's context, not the shard run's). When the lease turns out to
// be lost, the outcomes are still recorded, without the checkpoint
// (keepUnchecked).
func (j *job) commit(recs []campaign.Delivery, cursor uint64, sent, failed int64) (campaign.ShardStatus, error) {
	cp := campaign.Checkpoint{
		Kind: j.s.Kind, CampaignID: j.s.CampaignID, No: j.s.No,
		Owner: j.w.cfg.Owner, Lease: j.w.cfg.Lease,
		Cursor: cursor, Sent: int(sent), Failed: int(failed),
	}
	ctx := j.outer
	now := j.w.cfg.Clock.Now().UTC()
	var st campaign.ShardStatus
	err := j.retryDB(ctx, "page commit", func() error {
		return j.w.cfg.DB.InTxOptions(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx store.Handler) error {
			if err := campaign.RecordDeliveries(ctx, tx, j.s.Kind, j.s.CampaignID, j.s.No, recs, now); err != nil {
				return err
			}
			var err error
			st, err = campaign.CheckpointShard(ctx, tx, cp)
			return err
		})
	})
	if errors.Is(err, campaign.ErrLeaseLost) {
		j.keepUnchecked(recs)
	}
	return st, err
}

// keepUnchecked records outcomes whose checkpoint cannot be written (lease
// lost, run stopped mid-page), retrying like commit. Errors are logged: if
// they are lost after all, the members are sent again by whoever redoes
// the page.
func (j *job) keepUnchecked(recs []campaign.Delivery) {
	if len(recs) == 0 {
		return
	}
	ctx := j.outer
	now := j.w.cfg.Clock.Now().UTC()
	err := j.retryDB(ctx, "recording outcomes without a checkpoint", func() error {
		return j.w.cfg.DB.InTxOptions(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx store.Handler) error {
			return campaign.RecordUnchecked(ctx, tx, j.s.Kind, j.s.CampaignID, j.s.No, recs, now)
		})
	})
	if err != nil {
		j.log.Error("push: outcomes of sends that went out could not be recorded; they will be sent again",
			slog.Int("deliveries", len(recs)), slog.String("error", err.Error()))
		return
	}
	j.log.Info("push: outcomes recorded without a checkpoint", slog.Int("deliveries", len(recs)))
}

// retryDB runs op until it succeeds, fails with the lease lost, ctx ends
// or OutcomeHold has passed, backing off (dbRetry) and logging the first
// failure and then every tenth.
func (j *job) retryDB(ctx context.Context, what string, op func() error) error {
	give := j.w.cfg.Clock.Now().Add(j.w.cfg.OutcomeHold)
	for attempt := 1; ; attempt++ {
		err := op()
		switch {
		case err == nil:
			if attempt > 1 {
				j.log.Info("push: "+what+" succeeded after retries", slog.Int("attempts", attempt))
			}
			return nil
		case errors.Is(err, campaign.ErrLeaseLost), ctx.Err() != nil, j.w.cfg.Clock.Now().After(give):
			return err
		}
		if attempt == 1 || attempt%10 == 0 {
			j.log.Warn("push: "+what+" failed; outcomes kept, retrying", slog.Int("attempt", attempt),
				slog.String("error", err.Error()))
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(dbRetry.Delay(attempt)):
		}
	}
}

// dbRetry is the backoff of writes retried through a database outage (page
// commits, the journal's flushes): from 100 ms to 5 s.
var dbRetry = daemon.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second}

// progress adds a page's counts to the campaign's live counters, in one
// round trip.
func (j *job) progress(ctx context.Context, d counts) {
	if j.w.cfg.Progress == nil {
		return
	}
	fields := map[string]int64{
		campaign.FieldSent: d.sent, campaign.FieldFailed: d.failed, campaign.FieldNoAddress: d.noAddress,
		campaign.FieldIssued: d.issued, campaign.FieldNotIssued: d.notIssued,
		campaign.FieldMembersPrefix + j.w.cfg.Owner: d.members,
	}
	for ch, c := range d.channels {
		fields[campaign.ChannelField(campaign.FieldSent, ch)] = c[0]
		fields[campaign.ChannelField(campaign.FieldFailed, ch)] = c[1]
	}
	for id, n := range d.rows {
		fields[campaign.RowField(id)] = n
	}
	if err := j.w.cfg.Progress.HIncrByMany(ctx, campaign.ProgressKey(j.s.Kind, j.s.CampaignID), fields); err != nil {
		j.log.Warn("push: live progress counters not updated", slog.String("error", err.Error()))
	}
}

// autoPause counts a page's provider sends in the campaign's failure window
// and pauses the running campaign when a closed window's failure rate is
// above FailureThreshold.
func (j *job) autoPause(ctx context.Context, d counts) {
	if j.w.cfg.FailureThreshold >= 1 {
		return
	}
	_, tripped, attempts, failed := j.w.window.add(j.key(), d.attempts, d.provFailed)
	if !tripped {
		return
	}
	reason := fmt.Sprintf("auto-paused: %d of the last %d sends failed (%.0f%%, threshold %.0f%%)",
		failed, attempts, 100*float64(failed)/float64(attempts), 100*j.w.cfg.FailureThreshold)
	err := j.c.kind.Transition(ctx, j.w.cfg.DB, j.c.id, []campaign.Status{campaign.StatusRunning}, campaign.StatusPaused, reason)
	switch {
	case errors.Is(err, campaign.ErrConflict):
		return // not running (already paused, cancelled, or a retry of a completed one)
	case err != nil:
		j.log.Error("push: auto-pause failed", slog.String("error", err.Error()))
		return
	}
	j.w.status.forget(j.c.kind, j.c.id)
	j.log.Warn("push: campaign auto-paused", slog.String("reason", reason))
}

// key names the job's campaign in the worker's per-campaign maps.
func (j *job) key() runKey { return runKey{j.c.kind, j.c.id} }

// unfinished are the run statuses a disabled coupon's push is cancelled from.
func unfinished() []campaign.Status {
	return []campaign.Status{campaign.StatusCreated, campaign.StatusPlanning, campaign.StatusRunning, campaign.StatusPaused}
}

// issue gives the job's push-mode coupon to a page of its segment with
// coupon.IssueToMembers (idempotent: a member already topped up to the
// per-member limit gets nothing more, so a redelivered page issues nothing
// twice) and returns the page's members who hold the coupon, in page order:
// only they are sent the message. Members left without it — the quota ran
// out, or the window ended — are counted in notIssued and logged once per
// run. A coupon disabled meanwhile cancels its push and parks the shard; a
// window not yet started (this host's clock) is ErrCouponNotYetValid.
func (j *job) issue(ctx context.Context, members []member) ([]member, counts, end, error) {
	var d counts
	id := j.c.coupon.ID
	ids := make([]int64, len(members))
	for i := range members {
		ids[i] = int64(members[i].ID)
	}
	now := j.w.cfg.Clock.Now()
	res, err := coupon.IssueToMembers(ctx, j.w.cfg.DB, id, ids, now)
	if err != nil {
		return nil, d, endNone, fmt.Errorf("push: coupon %d shard %d: %w", id, j.s.No, err)
	}
	d.issued = res.Issued
	reason := "quota exhausted"
	if res.NotIssuable {
		cur, err := coupon.Get(ctx, j.w.cfg.DB, id)
		if err != nil {
			return nil, d, endNone, fmt.Errorf("push: coupon %d shard %d: %w", id, j.s.No, err)
		}
		switch {
		case cur.Status == coupon.StatusDisabled:
			// Disabling cancels the push (coupon.SetStatus); make sure of it
			// and park the shard as cancelled.
			if err := campaign.KindCoupon.Transition(ctx, j.w.cfg.DB, j.c.id, unfinished(), campaign.StatusCancelled,
				"coupon disabled"); err != nil && !errors.Is(err, campaign.ErrConflict) {
				return nil, d, endNone, err
			}
			j.w.status.forget(j.c.kind, j.c.id)
			e, err := j.control(ctx)
			if e == endNone && err == nil {
				err = fmt.Errorf("push: coupon %d is disabled but its push is %s", id, cur.PushStatus)
			}
			return nil, d, e, err
		case now.Before(cur.ValidFrom):
			return nil, d, endNone, fmt.Errorf("%w: coupon %d is issued from %s", ErrCouponNotYetValid, id,
				cur.ValidFrom.UTC().Format(time.RFC3339))
		default:
			reason = "window ended"
		}
	}
	holders, err := coupon.HoldersBetween(ctx, j.w.cfg.DB, id, ids[0], ids[len(ids)-1])
	if err != nil {
		return nil, d, endNone, err
	}
	kept := members[:0:0]
	h := 0
	for _, m := range members {
		for h < len(holders) && uint64(holders[h]) < m.ID {
			h++
		}
		if h < len(holders) && uint64(holders[h]) == m.ID {
			kept = append(kept, m)
		}
	}
	d.notIssued = int64(len(members) - len(kept))
	if d.notIssued > 0 && !j.warnedShort {
		j.warnedShort = true
		j.log.Warn("push: members left without the coupon are not messaged", slog.String("reason", reason),
			slog.Int64("not_issued", d.notIssued), slog.Int("page_members", len(members)), slog.Int64("issued", d.issued))
	}
	return kept, d, endNone, nil
}
