// Package faults is mkt's fault suite: it runs the push pipeline and lazy
// coupon issuance on a real stack of its own (MariaDB, Redis and RocketMQ
// started by scripts/services.sh in .mkt-faults/ on other ports, never the
// shared stack), injects one fault per scenario in the middle of a run —
// kill -9 or SIGTERM of a daemon, a dependency stopped for a while, Redis
// flushed, the provider failing for a spell — and counts what members got:
// delivered, duplicated, missing, and how long the run took to recover.
//
// The scenarios are tests behind the build tag "faults" (they take tens of
// minutes): scripts/faults.sh runs them, or
//
//	go test -tags faults -v -timeout 4h ./pkg/faults [-run 'TestFaults/push-kill9-pushd']
//
// This file holds what the suite computes and prints; docs/RELIABILITY.md
// says what each scenario does and what was measured.
package faults

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Sample is the progress of a run at one moment: members done so far
// (delivered on the probe channel, or coupon items issued).
type Sample struct {
	At   time.Time
	Done uint64
}

// Progress records samples; it is safe for concurrent use.
type Progress struct {
	mu      sync.Mutex
	samples []Sample
}

// Add records a sample.
func (p *Progress) Add(at time.Time, done uint64) {
	p.mu.Lock()
	p.samples = append(p.samples, Sample{At: at, Done: done})
	p.mu.Unlock()
}

// Samples returns a copy of the samples so far.
func (p *Progress) Samples() []Sample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Sample(nil), p.samples...)
}

// Last returns the latest sample's value (0 without samples).
func (p *Progress) Last() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.samples) == 0 {
		return 0
	}
	return p.samples[len(p.samples)-1].Done
}

// Recovery windows.
const (
	// RateWindow is how far before the fault the normal rate is measured.
	RateWindow = 5 * time.Second
	// RecoverWindow is the window after the restore over which the rate
	// must be back to RecoverShare of the normal rate.
	RecoverWindow = 2 * time.Second
	// RecoverShare is the share of the normal rate that counts as recovered.
	RecoverShare = 0.5
)

// Recovery summarises a run's samples around a fault.
type Recovery struct {
	// Rate is the progress rate (per second) over RateWindow before the
	// fault (since the first sample, when that is later).
	Rate float64
	// TimeToRecover is from the restore (the fault lifted: the service
	// ready again, the process restarted, the provider healthy) to the end
	// of the first window of at most RecoverWindow, starting at or after the
	// restore, in which progress ran at RecoverShare of Rate or more. When
	// that never happened before the run ended (little work was left), it
	// is from the restore to the end, and Reached is false.
	TimeToRecover time.Duration
	// Reached reports that the rate came back before the end.
	Reached bool
	// Stall is the longest time without any progress between the fault and
	// the end.
	Stall time.Duration
}

// ComputeRecovery reads samples (in time order) of a run whose fault was
// injected at fault and lifted at restore, and which ended at end.
func ComputeRecovery(samples []Sample, fault, restore, end time.Time) Recovery {
	var r Recovery
	at := func(t time.Time) (uint64, bool) { // the last sample at or before t
		var v uint64
		ok := false
		for _, s := range samples {
			if s.At.After(t) {
				break
			}
			v, ok = s.Done, true
		}
		return v, ok
	}
	if v1, ok1 := at(fault); ok1 {
		// Over RateWindow, or since the first sample when the fault came sooner.
		from := fault.Add(-RateWindow)
		if len(samples) > 0 && samples[0].At.After(from) {
			from = samples[0].At
		}
		if v0, ok0 := at(from); ok0 && v1 >= v0 && fault.Sub(from) > 0 {
			r.Rate = float64(v1-v0) / fault.Sub(from).Seconds()
		}
	}
	r.TimeToRecover = max(end.Sub(restore), 0)
	if r.Rate > 0 {
		for _, s := range samples {
			if s.At.Before(restore) || s.At.After(end) {
				continue
			}
			from := s.At.Add(-RecoverWindow)
			if from.Before(restore) {
				from = restore
			}
			if s.At.Sub(from) < RecoverWindow/4 {
				continue // too short a window to judge a rate
			}
			v0, ok := at(from)
			if !ok || s.Done < v0 {
				continue
			}
			if float64(s.Done-v0)/s.At.Sub(from).Seconds() >= RecoverShare*r.Rate {
				r.TimeToRecover, r.Reached = s.At.Sub(restore), true
				break
			}
		}
	}
	// The longest stretch without progress, fault to end.
	lastMove := fault
	var prev uint64
	if v, ok := at(fault); ok {
		prev = v
	}
	for _, s := range samples {
		if !s.At.After(fault) || s.At.After(end) {
			continue
		}
		if s.Done > prev {
			r.Stall = max(r.Stall, s.At.Sub(lastMove))
			lastMove, prev = s.At, s.Done
		}
	}
	r.Stall = max(r.Stall, end.Sub(lastMove))
	return r
}

// PushResult is one push scenario's outcome: an everyone campaign over sms
// and inbox, audited with the provider simulator's per-member tallies and
// member_inbox.
type PushResult struct {
	Scenario string
	// Expected members on sms (active with a mobile number); Delivered
	// distinct members the simulator delivered to; DuplicatedMembers those
	// delivered more than once, Duplicates the extra deliveries; Missing
	// expected members never delivered; Unexpected members delivered who
	// were not expected.
	Expected, Delivered, DuplicatedMembers, Duplicates, Missing, Unexpected uint64
	// FailedRecorded and InboxFailedRecorded count the sms and inbox
	// deliveries recorded failed (push_message) when the campaign first
	// completed; the suite then runs retry-failed, as an operator would.
	FailedRecorded, InboxFailedRecorded uint64
	// InboxExpected, InboxMissing and InboxDuplicates: member_inbox against
	// the active members.
	InboxExpected, InboxMissing, InboxDuplicates uint64
	// InFlightAtFault is the simulator's send calls in flight when the fault
	// was injected (every pushd together).
	InFlightAtFault int64
	// Outage is from the fault's injection to its restore.
	Outage time.Duration
	Recovery
	// Total is from the campaign's creation to its completion.
	Total time.Duration
	// Status is the campaign's final status.
	Status string
	// Notes say what the suite did besides the fault (e.g. resumed an
	// auto-paused campaign) and what went wrong.
	Notes []string
	// Violations are the guarantees this run broke.
	Violations []string
}

// CouponResult is one coupon scenario's outcome: a quota-limited lazy
// coupon for everyone, every member logging in once, counted in MySQL.
type CouponResult struct {
	Scenario string
	// Logins published; Quota of the coupon; Expected members who should
	// hold an item (min(quota, members logged in)); Issued items; Holders
	// distinct members holding one; Duplicates items beyond one per member;
	// OverQuota items beyond the quota; Missing expected holders short.
	Logins, Quota, Expected, Issued, Holders, Duplicates, OverQuota, Missing uint64
	// Outage is from the fault's injection to its restore.
	Outage time.Duration
	Recovery
	// Total is from the first login published to the last item issued.
	Total      time.Duration
	Notes      []string
	Violations []string
}

func dur(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	if d < 10*time.Second {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%.0fs", d.Seconds())
}

// numbers writes integers with thousands separators, as mktctl watch does.
var numbers = message.NewPrinter(language.English)

func num(n uint64) string { return numbers.Sprint(n) }

func recovered(r Recovery) string {
	if r.Rate == 0 {
		return "–"
	}
	if !r.Reached {
		return dur(r.TimeToRecover) + " (end)"
	}
	return dur(r.TimeToRecover)
}

func verdict(v []string) string {
	if len(v) == 0 {
		return "ok"
	}
	return "FAIL: " + strings.Join(v, "; ")
}

// WriteMarkdown writes the results as two Markdown tables (push, then
// coupons; a table without rows is left out) followed by the notes.
func WriteMarkdown(w io.Writer, push []PushResult, coupons []CouponResult) error {
	var b strings.Builder
	if len(push) > 0 {
		b.WriteString("| scenario | expected (sms) | delivered | members sent sms twice+ (extra sends) | missing | recorded failed sms / inbox | inbox missing / dup | in flight at fault | outage | time to recover | longest stall | total | result |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
		for _, r := range push {
			fmt.Fprintf(&b, "| %s | %s | %s | %s (%s) | %s | %s / %s | %s / %s | %d | %s | %s | %s | %s | %s |\n",
				r.Scenario, num(r.Expected), num(r.Delivered), num(r.DuplicatedMembers), num(r.Duplicates),
				num(r.Missing), num(r.FailedRecorded), num(r.InboxFailedRecorded), num(r.InboxMissing), num(r.InboxDuplicates), r.InFlightAtFault,
				dur(r.Outage), recovered(r.Recovery), dur(r.Stall), dur(r.Total), verdict(r.Violations))
		}
		b.WriteString("\n")
	}
	if len(coupons) > 0 {
		b.WriteString("| scenario | logins | quota | expected holders | items issued | duplicate items | over quota | missing | outage | time to recover | longest stall | total | result |\n")
		b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
		for _, r := range coupons {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				r.Scenario, num(r.Logins), num(r.Quota), num(r.Expected), num(r.Issued), num(r.Duplicates),
				num(r.OverQuota), num(r.Missing), dur(r.Outage), recovered(r.Recovery), dur(r.Stall), dur(r.Total),
				verdict(r.Violations))
		}
		b.WriteString("\n")
	}
	var notes []string
	for _, r := range push {
		for _, n := range r.Notes {
			notes = append(notes, fmt.Sprintf("- %s: %s", r.Scenario, n))
		}
	}
	for _, r := range coupons {
		for _, n := range r.Notes {
			notes = append(notes, fmt.Sprintf("- %s: %s", r.Scenario, n))
		}
	}
	if len(notes) > 0 {
		b.WriteString("Notes:\n\n" + strings.Join(notes, "\n") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteText writes the results as aligned plain-text tables for a terminal.
func WriteText(w io.Writer, push []PushResult, coupons []CouponResult) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(push) > 0 {
		fmt.Fprintln(tw, "SCENARIO\tEXPECTED\tDELIVERED\tDUP MEMBERS\tMISSING\tFAILED SMS/INBOX\tINBOX MISS/DUP\tIN FLIGHT\tOUTAGE\tRECOVER\tSTALL\tTOTAL\tRESULT")
		for _, r := range push {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s/%s\t%s/%s\t%d\t%s\t%s\t%s\t%s\t%s\n",
				r.Scenario, num(r.Expected), num(r.Delivered), num(r.DuplicatedMembers), num(r.Missing),
				num(r.FailedRecorded), num(r.InboxFailedRecorded), num(r.InboxMissing), num(r.InboxDuplicates), r.InFlightAtFault,
				dur(r.Outage), recovered(r.Recovery), dur(r.Stall), dur(r.Total), verdict(r.Violations))
		}
		fmt.Fprintln(tw)
	}
	if len(coupons) > 0 {
		fmt.Fprintln(tw, "SCENARIO\tLOGINS\tQUOTA\tEXPECTED\tISSUED\tDUP ITEMS\tOVER QUOTA\tMISSING\tOUTAGE\tRECOVER\tSTALL\tTOTAL\tRESULT")
		for _, r := range coupons {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
				r.Scenario, num(r.Logins), num(r.Quota), num(r.Expected), num(r.Issued), num(r.Duplicates),
				num(r.OverQuota), num(r.Missing), dur(r.Outage), recovered(r.Recovery), dur(r.Stall), dur(r.Total),
				verdict(r.Violations))
		}
	}
	return tw.Flush()
}
