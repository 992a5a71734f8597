package provider_test

import (
	"context"
	"sync/atomic"
	"testing"

	"mkt/pkg/provider"
	"mkt/pkg/providersim"
)

// benchSend measures Send against the simulator at zero latency, from
// 64 goroutines per CPU, batch recipients per call.
func benchSend(b *testing.B, batch int) {
	srv := startSim(b, providersim.Config{Seed: 1})
	p, err := provider.NewHTTP(provider.HTTPConfig{Channel: provider.ChannelSMS, URL: srv.URL() + "/sms", BatchSize: batch, Token: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	msg := provider.Message{CampaignID: 1, Channel: provider.ChannelSMS, Title: "Sale", Body: "Full reduction: 50 off every 300 spent, today only."}
	var next atomic.Uint64
	var failed atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		to := make([]provider.Recipient, batch)
		for pb.Next() {
			first := next.Add(uint64(batch)) - uint64(batch) + 1
			for i := range to {
				to[i] = provider.Recipient{MemberID: first + uint64(i), Address: "+8613800000000"}
			}
			for _, r := range p.Send(context.Background(), msg, to) {
				if !r.OK {
					failed.Add(1)
				}
			}
		}
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d sends failed", n)
	}
	st := srv.Simulator().Stats()
	if st.Duplicates != 0 || st.Distinct != next.Load() {
		b.Fatalf("simulator: %+v, sent %d", st, next.Load())
	}
	b.ReportMetric(float64(next.Load())/b.Elapsed().Seconds(), "recipients/s")
}

func BenchmarkSendPerRecipient(b *testing.B) { benchSend(b, 1) }

func BenchmarkSendBatch100(b *testing.B) { benchSend(b, 100) }
