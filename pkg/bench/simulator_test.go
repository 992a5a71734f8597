package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"mkt/pkg/provider"
	"mkt/pkg/providersim"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Count() != 0 {
		t.Fatal("empty histogram")
	}
	// 1..1000 ms: p50 ≈ 500ms, p99 ≈ 990ms, within the 0.2% bucket error.
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{0.5: 500 * time.Millisecond, 0.99: 990 * time.Millisecond, 1: time.Second} {
		got := h.Quantile(q)
		if d := got - want; d < 0 || d > want/500 {
			t.Errorf("q%v = %v, want %v (+0.2%%)", q, got, want)
		}
	}
	if h.Max() != time.Second || h.Count() != 1000 {
		t.Errorf("max %v count %d", h.Max(), h.Count())
	}
	h.Record(-time.Second) // counts as zero
	h.Record(1000 * time.Hour)
	if h.Count() != 1002 || h.Max() != 1000*time.Hour {
		t.Errorf("extremes: count %d max %v", h.Count(), h.Max())
	}
	// Bucket bounds are contiguous and increasing.
	for i := 1; i < histBuckets; i++ {
		if histUpper(i) <= histUpper(i-1) || histIndex(histUpper(i)) != i || histIndex(histUpper(i-1)+1) != i {
			t.Fatalf("bucket %d: upper %d, previous %d", i, histUpper(i), histUpper(i-1))
		}
	}
}

func TestSimulatorTimesSendCalls(t *testing.T) {
	sim, err := StartSimulator("127.0.0.1:0", providersim.Config{
		Latency: providersim.Latency{Min: 20 * time.Millisecond}, FailMembers: []uint64{2}, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sim.Shutdown(context.Background()) }()
	send := func(member uint64) int {
		b, _ := json.Marshal(provider.WireMessage{IdempotencyKey: "k", Channel: provider.ChannelSMS, To: "1",
			MemberID: member, Body: "hi", CampaignID: 7})
		resp, err := http.Post(sim.ChannelURL(provider.ChannelSMS), "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	begin := time.Now()
	if code := send(1); code != http.StatusOK {
		t.Fatalf("send: %d", code)
	}
	if code := send(2); code != http.StatusUnprocessableEntity {
		t.Fatalf("refused member: %d", code)
	}
	resp, err := http.Get(sim.URL() + "/stats")
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stats: status %d", resp.StatusCode)
	}
	c := sim.Calls()
	if c.Calls != 2 || c.OK != 1 || c.Failed != 1 || c.P50 < 20*time.Millisecond || c.Max < c.P99 {
		t.Errorf("calls %+v", c)
	}
	if c.FirstOK.Before(begin) || c.Window() < 20*time.Millisecond || c.LastOK.After(time.Now()) {
		t.Errorf("window %v..%v", c.FirstOK, c.LastOK)
	}
	if sim.Count(7, provider.ChannelSMS, 1) != 1 {
		t.Error("delivery not counted")
	}
}
