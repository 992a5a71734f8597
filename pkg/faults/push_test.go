//go:build faults

package faults_test

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"mkt/pkg/bench"
	"mkt/pkg/campaign"
	"mkt/pkg/childproc"
	"mkt/pkg/faults"
	"mkt/pkg/mkttest"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
)

// pushRun is one push scenario in progress: two pushd sending sms to an
// in-process simulator (its per-member tallies are the oracle) and writing
// the inbox, one everyone campaign.
type pushRun struct {
	t     *testing.T
	s     *suite
	ns    string
	sim   *bench.Simulator
	d     *daemons
	procs []*childproc.Proc
	id    uint64
	notes []string
	// victimOnWire is the killed pushd's mkt_push_recipients_in_flight read
	// just before the kill (-1: not read).
	victimOnWire int64
	// victimFlush bounds the killed pushd's longest journal flush, read
	// from its mkt_push_journal_flush_seconds just before the kill (0: not
	// read).
	victimFlush time.Duration
}

// pushFault injects a fault into a running campaign and returns once it is
// lifted (the service ready again, the process replaced, the provider
// healthy).
type pushFault func(ctx context.Context, r *pushRun) error

// pushScenarios are the push pipeline's faults, in the order they run.
func pushScenarios(cfg suiteConfig) []struct {
	name  string
	fault pushFault
} {
	provider := func(f providersim.Faults, what string) pushFault {
		return func(ctx context.Context, r *pushRun) error {
			if err := r.sim.SetFaults(f); err != nil {
				return err
			}
			time.Sleep(cfg.spell)
			r.notes = append(r.notes, fmt.Sprintf("provider %s for %s", what, cfg.spell))
			return r.sim.SetFaults(providersim.Faults{})
		}
	}
	return []struct {
		name  string
		fault pushFault
	}{
		{"push-baseline", func(context.Context, *pushRun) error { return nil }},
		{"push-kill9-pushd", func(ctx context.Context, r *pushRun) error { return r.replace(ctx, true) }},
		{"push-sigterm-pushd", func(ctx context.Context, r *pushRun) error { return r.replace(ctx, false) }},
		{"push-mariadb-down-15s", func(ctx context.Context, _ *pushRun) error { return outage(ctx, "mariadb", 15*time.Second) }},
		{"push-mariadb-down-60s", func(ctx context.Context, _ *pushRun) error { return outage(ctx, "mariadb", 60*time.Second) }},
		{"push-broker-down-30s", func(ctx context.Context, _ *pushRun) error { return outage(ctx, "broker", 30*time.Second) }},
		{"push-redis-down-15s", func(ctx context.Context, _ *pushRun) error { return outage(ctx, "redis", 15*time.Second) }},
		{"push-provider-500", provider(providersim.Faults{ErrorRate: 1}, "answering 500 to every call")},
		{"push-provider-timeout", provider(providersim.Faults{TimeoutRate: 1}, "never answering (every call times out)")},
		{"push-provider-429", provider(providersim.Faults{RateLimit429Rate: 1}, "answering 429 (Retry-After 1) to every call")},
	}
}

// replace takes down the pushd holding a running shard of the campaign —
// kill -9, or SIGTERM and its drain — and starts a replacement under a new
// instance name, as a service manager would; it returns once the
// replacement is ready.
func (r *pushRun) replace(ctx context.Context, kill bool) error {
	victim := r.procs[0]
	var owner string
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := r.s.db.GetContext(qctx, &owner, `SELECT owner FROM campaign_shard WHERE campaign_kind = 'promotion'
		AND campaign_id = ? AND status = 'running' AND owner <> '' ORDER BY shard_no LIMIT 1`, r.id)
	cancel()
	if err == nil {
		for _, p := range r.procs {
			if p.Instance() == owner && !p.Exited() {
				victim = p
			}
		}
	}
	var held int
	qctx, cancel = context.WithTimeout(ctx, 2*time.Second)
	_ = r.s.db.GetContext(qctx, &held, `SELECT COUNT(*) FROM campaign_shard WHERE campaign_kind = 'promotion'
		AND campaign_id = ? AND status = 'running' AND owner = ?`, r.id, victim.Instance())
	cancel()
	if kill {
		r.victimOnWire, r.victimFlush = journalState(ctx, victim.OpsAddr())
		if err := victim.Kill(); err != nil {
			return err
		}
		r.notes = append(r.notes, fmt.Sprintf("kill -9 of %s holding %d running shards; replacement started at once", victim.Instance(), held))
	} else {
		t0 := time.Now()
		sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		code, err := victim.Stop(sctx)
		cancel()
		if err != nil {
			return err
		}
		r.notes = append(r.notes, fmt.Sprintf("SIGTERM to %s holding %d running shards: exit %d after %s; replacement started then",
			victim.Instance(), held, code, time.Since(t0).Round(100*time.Millisecond)))
	}
	p := r.d.start(victim.Instance() + "r")
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return p.WaitReady(rctx)
}

func runPush(t *testing.T, s *suite, name string, fault pushFault) {
	ensureStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.timeout)
	defer cancel()
	r := &pushRun{t: t, s: s, ns: mkttest.Namespace(t, "fp")} // no retry or leftover of another scenario reaches it
	res := faults.PushResult{Scenario: name}
	defer func() {
		res.Notes = append(res.Notes, r.notes...)
		s.mu.Lock()
		s.push = append(s.push, res)
		s.mu.Unlock()
		for _, v := range res.Violations {
			t.Errorf("%s: %s", name, v)
		}
	}()

	sim, err := bench.StartSimulator("127.0.0.1:0", providersim.Config{
		Latency: providersim.Latency{Min: s.cfg.latency}, Seed: 1, Logger: mkttest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	r.sim = sim
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = sim.Shutdown(sctx)
	}()
	r.d = &daemons{t: t, s: s, bin: s.bins["pushd"], ns: r.ns, dir: s.scenarioDir(t, name),
		env:  []string{"MKT_PROVIDER_SMS_URL=" + sim.ChannelURL(provider.ChannelSMS)},
		args: []string{"--lease", s.cfg.lease}}
	defer r.d.stopAll()
	r.procs = r.d.startReady("pushd-1", "pushd-2")
	time.Sleep(5 * time.Second) // the consumer group settles

	var expected, inboxExpected uint64
	q, _ := bench.EveryoneQuery(provider.ChannelSMS)
	if err := s.db.GetContext(ctx, &expected, `SELECT COUNT(*) FROM (`+q+`) x`); err != nil {
		t.Fatal(err)
	}
	if err := s.db.GetContext(ctx, &inboxExpected, `SELECT COUNT(*) FROM membership_account WHERE status = 'active'`); err != nil {
		t.Fatal(err)
	}

	created := time.Now()
	out, err := s.mktctl(ctx, r.ns, "campaign", "create", "--name", "faults "+name, "--kind", "full_reduction",
		"--threshold", "100", "--discount", "15", "--template", "Spend {threshold}, save {discount}!", "--channels", "sms,inbox")
	if err != nil {
		t.Fatal(err)
	}
	if r.id, err = strconv.ParseUint(strings.TrimSpace(out), 10, 64); err != nil {
		t.Fatalf("campaign create printed %q", out)
	}
	t.Logf("%s: campaign %d, %d members expected on sms, namespace %s", name, r.id, expected, r.ns)

	var prog faults.Progress
	stop := sampler(&prog, func(context.Context) (uint64, error) {
		rep, err := sim.Deliveries(providersim.DeliveryQuery{CampaignID: r.id, Channel: provider.ChannelSMS, Limit: 1})
		return rep.Channel(provider.ChannelSMS).Distinct, err
	})
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()
	w, ok := injectAtAThird(t, ctx, s, name, &prog, expected, "deliveries", func(ctx context.Context) error {
		res.InFlightAtFault = sim.Stats().InFlight
		return fault(ctx, r)
	}, &res.Violations, &r.notes)
	if !ok {
		return
	}
	faultAt, restoredAt := w.at, w.lifted
	res.Outage = restoredAt.Sub(faultAt)

	status, completedAt := r.waitDone(ctx, restoredAt)

	// In-flight stragglers land within a provider timeout of completion at
	// most.
	time.Sleep(2 * time.Second)
	actx, acancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer acancel()
	var failed struct {
		SMS   uint64 `db:"sms"`
		Inbox uint64 `db:"inbox"`
	}
	if err := s.db.GetContext(actx, &failed, `SELECT COALESCE(SUM(channel = 'sms'), 0) AS sms, COALESCE(SUM(channel = 'inbox'), 0) AS inbox
		FROM push_message WHERE campaign_kind = 'promotion' AND campaign_id = ? AND status = 'failed'`, r.id); err != nil {
		t.Fatal(err)
	}
	res.FailedRecorded, res.InboxFailedRecorded = failed.SMS, failed.Inbox
	if failed.SMS+failed.Inbox > 0 && status == string(campaign.StatusCompleted) {
		// What an operator does next: re-send what was recorded failed.
		// The run (total, recovery) lasts until that is done too.
		if _, err := s.mktctl(actx, r.ns, "campaign", "retry-failed", strconv.FormatUint(r.id, 10)); err != nil {
			r.notes = append(r.notes, "retry-failed refused: "+err.Error())
		} else {
			first := completedAt
			status, completedAt = r.waitDone(ctx, time.Now())
			r.notes = append(r.notes, fmt.Sprintf("%d sms and %d inbox deliveries recorded failed when the campaign completed (%s after creation); "+
				"the suite then ran campaign retry-failed, which ended %s",
				failed.SMS, failed.Inbox, first.Sub(created).Round(100*time.Millisecond), status))
			time.Sleep(2 * time.Second)
		}
	}
	stop()
	stopped = true
	res.Status = status
	res.Total = completedAt.Sub(created)
	res.Recovery = faults.ComputeRecovery(prog.Samples(), faultAt, restoredAt, completedAt)

	// What the members got.
	a, err := bench.AuditEveryone(actx, s.db, sim.Simulator, r.id, provider.ChannelSMS)
	if err != nil {
		t.Fatal(err)
	}
	res.Expected, res.Delivered, res.Missing, res.Unexpected = a.Expected, a.Delivered, a.Missing, a.Unexpected
	res.Duplicates, res.DuplicatedMembers = a.Duplicates, a.DuplicatedMembers
	var inbox struct {
		Rows     uint64 `db:"n_rows"`
		Distinct uint64 `db:"n_members"`
	}
	if err := s.db.GetContext(actx, &inbox, `SELECT COUNT(*) AS n_rows, COUNT(DISTINCT member_id) AS n_members FROM member_inbox
		WHERE campaign_kind = 'promotion' AND campaign_id = ?`, r.id); err != nil {
		t.Fatal(err)
	}
	res.InboxExpected = inboxExpected
	res.InboxDuplicates = inbox.Rows - inbox.Distinct
	if inbox.Distinct < inboxExpected {
		res.InboxMissing = inboxExpected - inbox.Distinct
	}
	st := sim.Stats()
	t.Logf("%s: %v; inbox %d rows of %d members; simulator: %d calls, %d errors, %d timeouts, %d 429, %d abandoned",
		name, a, inbox.Rows, inboxExpected, st.Requests, st.Errors, st.Timeouts, st.RateLimited, st.Abandoned)

	// The guarantees.
	v := &res.Violations
	if status != string(campaign.StatusCompleted) {
		*v = append(*v, "campaign ended "+status)
	}
	if a.Missing > 0 {
		*v = append(*v, fmt.Sprintf("%d members never sent the sms", a.Missing))
	}
	if a.Unexpected > 0 {
		*v = append(*v, fmt.Sprintf("%d members sent the sms who should not have been", a.Unexpected))
	}
	if res.InboxFailedRecorded > 0 {
		// The inbox is a MySQL write of pushd's own: a dependency blip must
		// delay it, not end it recorded failed for an operator to retry.
		*v = append(*v, fmt.Sprintf("%d inbox deliveries recorded failed at completion", res.InboxFailedRecorded))
	}
	if res.InboxMissing > 0 || res.InboxDuplicates > 0 {
		*v = append(*v, fmt.Sprintf("inbox: %d missing, %d duplicated", res.InboxMissing, res.InboxDuplicates))
	}
	switch {
	case name == "push-kill9-pushd":
		// The bound docs/PUSH.md promises: the calls on the wire at the
		// moment of death plus the answers of the time a send waits to be
		// recorded: for the next flush to start (the longer of the journal
		// interval and the flush under way) and to end. Flushes are
		// measured, not assumed: the victim's longest one so far, as its
		// histogram bounds it (the one under way at death may be longer;
		// unread, a flush counts as one interval). Rates are taken over
		// both processes (the simulator cannot tell them apart), so this
		// is an upper bound of the victim's share. On the wire: the
		// victim's own count of recipients in its calls (which includes
		// calls still queued in its connections, that the simulator has
		// not begun to handle), or the simulator's count if larger.
		flush := cmp.Or(r.victimFlush, s.cfg.journal)
		window := max(s.cfg.journal, flush) + flush
		onWire := max(res.InFlightAtFault, r.victimOnWire, 0)
		bound := uint64(onWire) + uint64(res.Rate*window.Seconds())
		longest := "unread"
		if r.victimFlush > 0 {
			longest = "≤ " + r.victimFlush.Round(time.Millisecond).String()
		}
		r.notes = append(r.notes, fmt.Sprintf("kill -9 bound: %d on the wire (the victim's recipients in flight %d, the simulator's calls in flight %d) + %.0f members/s × %s (the longer of the journal interval %s and the victim's longest flush %s, plus that flush) = %d",
			onWire, r.victimOnWire, res.InFlightAtFault, res.Rate, window.Round(time.Millisecond), s.cfg.journal, longest, bound))
		if a.Duplicates > bound {
			*v = append(*v, fmt.Sprintf("%d duplicate sms (%d members), more than the bound of %d", a.Duplicates, a.DuplicatedMembers, bound))
		}
	case a.Duplicates > 0:
		*v = append(*v, fmt.Sprintf("%d members sent the sms twice or more (%d extra sends)", a.DuplicatedMembers, a.Duplicates))
	}
}

// waitDone waits until the campaign completed, failed or was cancelled (a
// database outage only delays the answer). A campaign that paused itself is
// resumed once the fault is lifted, as an operator would, and noted. It
// returns the final status and when it was seen.
func (r *pushRun) waitDone(ctx context.Context, restoredAt time.Time) (string, time.Time) {
	resumes := 0
	for {
		qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := campaign.Get(qctx, r.s.db, r.id)
		cancel()
		if err == nil {
			switch c.Status {
			case campaign.StatusCompleted, campaign.StatusFailed, campaign.StatusCancelled:
				return string(c.Status), time.Now()
			case campaign.StatusPaused:
				if resumes < 5 && time.Now().After(restoredAt) {
					resumes++
					at := time.Now()
					if _, err := r.s.mktctl(ctx, r.ns, "campaign", "resume", strconv.FormatUint(r.id, 10)); err != nil {
						r.notes = append(r.notes, "resume failed: "+err.Error())
					} else {
						r.notes = append(r.notes, fmt.Sprintf("campaign paused itself (%s); the suite resumed it %s after the fault was lifted",
							c.StatusReason, at.Sub(restoredAt).Round(time.Second)))
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return "timed out (" + statusOf(r) + ")", time.Now()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func statusOf(r *pushRun) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := campaign.Get(ctx, r.s.db, r.id)
	if err != nil {
		return err.Error()
	}
	return string(c.Status)
}

// journalState reads from a pushd's /metrics what the kill -9 bound needs:
// its recipients of calls in flight (mkt_push_recipients_in_flight; -1 when
// unread) and an upper bound of its longest journal flush, the smallest
// bucket of mkt_push_journal_flush_seconds holding every flush (0 when
// unread, no flush yet, or longer than the largest bucket).
func journalState(ctx context.Context, opsAddr string) (onWire int64, longestFlush time.Duration) {
	onWire = -1
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+opsAddr+"/metrics", nil)
	if err != nil {
		return onWire, 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return onWire, 0
	}
	defer resp.Body.Close()
	type bucket struct{ le, n float64 }
	var buckets []bucket
	count := -1.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "mkt_push_recipients_in_flight "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				onWire = int64(f)
			}
		} else if v, ok := strings.CutPrefix(line, "mkt_push_journal_flush_seconds_count "); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				count = f
			}
		} else if rest, ok := strings.CutPrefix(line, `mkt_push_journal_flush_seconds_bucket{le="`); ok {
			le, n, found := strings.Cut(rest, `"} `)
			lf, err1 := strconv.ParseFloat(le, 64)
			nf, err2 := strconv.ParseFloat(n, 64)
			if found && err1 == nil && err2 == nil && !math.IsInf(lf, 1) {
				buckets = append(buckets, bucket{lf, nf})
			}
		}
	}
	if count <= 0 {
		return onWire, 0
	}
	for _, b := range buckets { // in ascending order of le, as exposed
		if b.n >= count {
			return onWire, time.Duration(b.le * float64(time.Second))
		}
	}
	return onWire, 0
}
