package faults

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// series builds one sample per 100 ms from t0 with the given rates: each
// step is (duration, members per second).
func series(t0 time.Time, steps ...struct {
	d    time.Duration
	rate float64
}) []Sample {
	var out []Sample
	at, done := t0, 0.0
	out = append(out, Sample{At: at, Done: 0})
	for _, st := range steps {
		for end := at.Add(st.d); at.Before(end); {
			at = at.Add(100 * time.Millisecond)
			done += st.rate / 10
			out = append(out, Sample{At: at, Done: uint64(done)})
		}
	}
	return out
}

type step = struct {
	d    time.Duration
	rate float64
}

func TestComputeRecovery(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// 10 s at 1,000/s, the fault: 20 s of nothing, then 400/s (below half)
	// for 3 s, then 800/s until the end at 43 s.
	s := series(t0, step{10 * time.Second, 1000}, step{20 * time.Second, 0}, step{3 * time.Second, 400}, step{10 * time.Second, 800})
	fault, restore, end := t0.Add(10*time.Second), t0.Add(30*time.Second), t0.Add(43*time.Second)
	r := ComputeRecovery(s, fault, restore, end)
	if r.Rate < 990 || r.Rate > 1010 {
		t.Errorf("rate %v, want about 1000", r.Rate)
	}
	if !r.Reached || r.TimeToRecover < 3*time.Second || r.TimeToRecover > 4500*time.Millisecond {
		t.Errorf("time to recover %v (reached %v), want 3–4.5 s", r.TimeToRecover, r.Reached)
	}
	if r.Stall < 19900*time.Millisecond || r.Stall > 20200*time.Millisecond {
		t.Errorf("stall %v, want about 20 s", r.Stall)
	}

	// Progress never stopped: recovered as soon as a window can be judged.
	s = series(t0, step{20 * time.Second, 1000})
	r = ComputeRecovery(s, t0.Add(10*time.Second), t0.Add(12*time.Second), t0.Add(20*time.Second))
	if !r.Reached || r.TimeToRecover > time.Second || r.Stall > 200*time.Millisecond {
		t.Errorf("steady run: %+v", r)
	}

	// Never back to half before the end: time to the end, not reached.
	s = series(t0, step{10 * time.Second, 1000}, step{10 * time.Second, 100})
	r = ComputeRecovery(s, t0.Add(10*time.Second), t0.Add(12*time.Second), t0.Add(20*time.Second))
	if r.Reached || r.TimeToRecover != 8*time.Second {
		t.Errorf("slow tail: %+v", r)
	}

	// No samples before the fault: no rate, nothing to judge.
	r = ComputeRecovery(nil, fault, restore, end)
	if r.Rate != 0 || r.Reached || r.Stall != end.Sub(fault) {
		t.Errorf("no samples: %+v", r)
	}
}

func TestWriteTables(t *testing.T) {
	push := []PushResult{{Scenario: "push-kill9-pushd", Expected: 285000, Delivered: 285000, DuplicatedMembers: 5440,
		Duplicates: 5440, InFlightAtFault: 1200, Outage: 2 * time.Second, Total: 31 * time.Second,
		Recovery:   Recovery{Rate: 9000, TimeToRecover: 1500 * time.Millisecond, Reached: true, Stall: time.Second},
		Violations: []string{"5,440 members sent sms twice"}, Notes: []string{"victim held 32 shards"}}}
	coupons := []CouponResult{{Scenario: "coupon-redis-flushall", Logins: 300000, Quota: 270000, Expected: 270000,
		Issued: 270000, Holders: 270000}}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, push, coupons); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| push-kill9-pushd | 285,000 | 285,000 | 5,440 (5,440) | 0 | 0 / 0 | 0 / 0 | 1200 | 2.0s | 1.5s | 1.0s | 31s | FAIL: 5,440 members sent sms twice |",
		"| coupon-redis-flushall | 300,000 | 270,000 | 270,000 | 270,000 | 0 | 0 | 0 | 0 | – | 0 | 0 | ok |",
		"- push-kill9-pushd: victim held 32 shards",
	} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	var txt bytes.Buffer
	if err := WriteText(&txt, push, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "push-kill9-pushd") || strings.Contains(txt.String(), "LOGINS") {
		t.Errorf("text table:\n%s", txt.String())
	}
}
