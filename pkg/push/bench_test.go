package push_test

import (
	"context"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/push"
)

// BenchmarkShard measures the page path — read a page of members, check
// push_message, fan out to the provider, record the outcomes and checkpoint
// — on one 5,000-member shard per iteration, against MariaDB and the
// simulator answering at once (so the worker's own cost shows). It reports
// deliveries per second.
//
//	go test -run '^$' -bench Shard -benchtime 20x ./pkg/push
func BenchmarkShard(b *testing.B) {
	const members = 5000
	e := newEnv(b, members, providersim.Config{})
	active := len(e.ids(activeIDs))
	for _, bc := range []struct {
		name  string
		chans []provider.Channel
		batch int
	}{
		{"sms-per-recipient", []provider.Channel{provider.ChannelSMS}, 1},
		{"sms-batch-100", []provider.Channel{provider.ChannelSMS}, 100},
		{"inbox", []provider.Channel{provider.ChannelInbox}, 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := e.worker(push.Config{PageSize: 500, Providers: e.providers(bc.batch, 1)})
			var elapsed time.Duration
			for b.Loop() {
				b.StopTimer()
				_, tasks := e.launch(audience.Segment{}, members, "Bench {discount} off", bc.chans...)
				b.StartTimer()
				start := time.Now()
				if err := w.HandleTask(context.Background(), tasks[0]); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
			}
			b.ReportMetric(float64(b.N*active*len(bc.chans))/elapsed.Seconds(), "deliveries/s")
		})
	}
}
