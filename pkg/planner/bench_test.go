package planner_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/mkttest"
	"mkt/pkg/planner"
)

// BenchmarkPlanEveryone10M plans and enqueues an everyone campaign over
// member ids 1..10,000,000 in shards of 1,000: 10,000 shard rows in 10
// multi-row INSERTs, 10,000 tasks in 100 batch sends to the real broker.
//
// Planning "everyone" reads only MIN(id) and MAX(id) of membership_account
// (two primary-key look-ups, the same cost at 2 rows or 10 million), so the
// table holds just the first and the last member instead of seeding 10M.
//
//	go test -run '^$' -bench PlanEveryone10M -benchtime 5x ./pkg/planner/
func BenchmarkPlanEveryone10M(b *testing.B) {
	s := newQuietStack(b, 0)
	ctx := context.Background()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO membership_account (id, username) VALUES (1, 'first'), (10000000, 'last')`); err != nil {
		b.Fatal(err)
	}
	for _, conc := range []int{1, 4, campaign.DefaultSendConcurrency} {
		p, err := planner.New(planner.Config{DB: s.db, Publisher: s.producer, Logger: mkttest.Logger(),
			ShardTopic: s.shardTopic, SendConcurrency: conc})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("sends-in-flight=%d", conc), func(b *testing.B) { benchPlan(b, s, p) })
	}
}

func benchPlan(b *testing.B, s *stack, p *planner.Planner) {
	ctx := context.Background()
	var plan, enqueue, total time.Duration
	for b.Loop() {
		b.StopTimer()
		c := s.insert(b, audience.Segment{}, 1000, nil)
		b.StartTimer()
		res, err := p.Plan(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		if res.Shards != 10000 || res.Published != 10000 || res.Sends != 100 || res.Status != campaign.StatusRunning {
			b.Fatalf("result %+v", res)
		}
		plan += res.PlanDuration
		enqueue += res.EnqueueDuration
		total += res.Elapsed
	}
	n := float64(b.N)
	b.ReportMetric(plan.Seconds()/n, "plan-s/op")
	b.ReportMetric(enqueue.Seconds()/n, "enqueue-s/op")
	b.ReportMetric(total.Seconds()/n, "plan+enqueue-s/op")
}
