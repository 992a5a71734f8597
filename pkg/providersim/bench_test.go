package providersim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"mkt/pkg/provider"
	"mkt/pkg/providersim"
)

// BenchmarkSimulator200ms measures how many single calls per second the
// simulator sustains at 200ms latency with many concurrent clients. Client
// and simulator share the machine, so this is a lower bound for the
// simulator alone.
func BenchmarkSimulator200ms(b *testing.B) {
	for _, conc := range []int{2000, 5000} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			srv, _ := start(b, providersim.Config{Seed: 1, Latency: providersim.Latency{Min: 200 * time.Millisecond}})
			tr := provider.NewTransport(provider.TransportConfig{})
			defer tr.CloseIdleConnections()
			hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			url := srv.URL() + "/sms"
			var next atomic.Uint64
			var failed atomic.Int64
			b.SetParallelism(max(1, conc/max(1, testingProcs())))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m := next.Add(1)
					body, _ := json.Marshal(provider.WireMessage{IdempotencyKey: fmt.Sprint("1:sms:", m), Channel: provider.ChannelSMS,
						To: "+86138", MemberID: m, Body: "hello", CampaignID: 1})
					resp, err := hc.Post(url, "application/json", bytes.NewReader(body))
					if err != nil {
						failed.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						failed.Add(1)
					}
				}
			})
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d calls failed", n)
			}
			if st := srv.Simulator().Stats(); st.Delivered != next.Load() || st.Duplicates != 0 {
				b.Fatalf("stats %+v, sent %d", st, next.Load())
			}
			b.ReportMetric(float64(next.Load())/b.Elapsed().Seconds(), "requests/s")
		})
	}
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }
