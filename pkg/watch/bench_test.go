package watch

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"mkt/pkg/audience"
	"mkt/pkg/cache"
	"mkt/pkg/campaign"
	"mkt/pkg/mkttest"
	"mkt/pkg/provider"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// BenchmarkRefresh measures one refresh of the view of a 10,000-shard,
// 10,000,000-member campaign in the middle of its run (4,000 shards done,
// 128 running under two workers, 20,000 failed deliveries): what the
// database and Redis are asked per refresh, from MySQL's and Redis's
// answers to the snapshot. It runs in a fresh test database, or in
// MKT_WATCH_BENCH_DSN's (migrated; e.g. the 10M-member database of
// `mktctl bench push`), where it adds the campaign and removes it after.
//
//	go test -run '^$' -bench Refresh -benchtime 200x ./pkg/watch
func BenchmarkRefresh(b *testing.B) {
	ctx := context.Background()
	var db *store.DB
	if dsn := os.Getenv("MKT_WATCH_BENCH_DSN"); dsn != "" {
		var err error
		if db, err = store.Open(ctx, store.Config{DSN: dsn}); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = db.Close() })
	} else {
		db = storetest.NewDB(b)
	}
	live, err := cache.Open(ctx, cache.Config{Addr: mkttest.RedisAddr(b), Password: mkttest.RedisPassword(b),
		KeyPrefix: cache.DefaultKeyPrefix + db.Name()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = live.Close() })
	id := benchCampaign(b, db, live)

	target := Target{Kind: campaign.KindPromotion, ID: id}
	for _, bc := range []struct {
		name   string
		target Target
		w, h   int
	}{
		{"one-campaign-160x48", target, 160, 48},
		{"all-campaigns-80x24", Target{}, 80, 24},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := New(Config{Target: bc.target})
			next, _ := m.Update(tea.WindowSizeMsg{Width: bc.w, Height: bc.h})
			m = next.(Model)
			m.snap = Snapshot{Runs: []Run{{Summary: campaign.Summary{Kind: campaign.KindPromotion, ID: id}}}}
			req := m.request()
			src := &Source{DB: db, Target: bc.target,
				Live: func(context.Context) (campaign.LiveCounters, error) { return live, nil }}
			var s Snapshot
			b.ResetTimer()
			for b.Loop() {
				s = src.Fetch(ctx, req)
			}
			b.StopTimer()
			if s.MySQLError != "" || s.RedisError != "" {
				b.Fatalf("refresh failed: %s %s", s.MySQLError, s.RedisError)
			}
			var run *Run
			for i := range s.Runs {
				if s.Runs[i].ID == id {
					run = &s.Runs[i]
				}
			}
			if run == nil || run.Progress.Shards != 10_000 || run.Heatmap == nil || len(run.Heatmap.Cells) > req.Cells ||
				(s.Detail == nil) == req.Failures || len(s.Workers) < 2 {
				b.Fatalf("snapshot: %+v", s)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/refresh")
			b.ReportMetric(float64(req.Cells), "cells")
		})
	}
}

// benchCampaign stores the 10,000-shard campaign mid-run and its live
// counters, and returns its id.
func benchCampaign(b *testing.B, db *store.DB, live *cache.Client) uint64 {
	b.Helper()
	ctx := context.Background()
	const shards, size, done, running, failures = 10_000, 1000, 4000, 128, 20_000
	res, err := db.ExecContext(ctx, `INSERT INTO sales_promotion (name, kind, discount_cents, message_template, channels, audience,
		status, planned_members, planned_shards, planned_at, created_by)
		VALUES ('watch refresh benchmark', 'flat_discount', 500, '{discount} off', 'sms,app,inbox', '{}', 'running', ?, ?,
		CURRENT_TIMESTAMP(3) - INTERVAL 2 MINUTE, 'bench')`, shards*size, shards)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := res.LastInsertId()
	id := uint64(n)
	b.Cleanup(func() {
		for _, q := range []string{`DELETE FROM campaign_shard WHERE campaign_kind = 'promotion' AND campaign_id = ?`,
			`DELETE FROM push_failure WHERE campaign_kind = 'promotion' AND campaign_id = ?`,
			`DELETE FROM sales_promotion WHERE id = ?`} {
			_, _ = db.ExecContext(context.Background(), q, id)
		}
		_, _ = live.Del(context.Background(), campaign.ProgressKey(campaign.KindPromotion, id))
	})
	ranges := make([]audience.Range, shards)
	for i := range ranges {
		ranges[i] = audience.Range{No: i, Start: uint64(i*size + 1), End: uint64((i+1)*size + 1), Expected: size}
	}
	if _, err := campaign.InsertShards(ctx, db, campaign.KindPromotion, id, ranges); err != nil {
		b.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`UPDATE campaign_shard SET status = 'done', cursor_id = end_id - 1, sent = 2990, failed = 5
			WHERE campaign_kind = 'promotion' AND campaign_id = ? AND shard_no < ?`, []any{id, done}},
		{`UPDATE campaign_shard SET status = 'running', cursor_id = start_id + 499, sent = 1500,
			owner = IF(shard_no % 2 = 0, 'bench-a:1:aa', 'bench-b:2:bb'), lease_until = CURRENT_TIMESTAMP(3) + INTERVAL 1 HOUR
			WHERE campaign_kind = 'promotion' AND campaign_id = ? AND shard_no >= ? AND shard_no < ?`, []any{id, done, done + running}},
	} {
		if _, err := db.ExecContext(ctx, q.sql, q.args...); err != nil {
			b.Fatal(err)
		}
	}
	for lo := 0; lo < failures; lo += 1000 {
		var sb strings.Builder
		args := make([]any, 0, 4000)
		sb.WriteString(`INSERT INTO push_failure (campaign_kind, campaign_id, member_id, channel, shard_no, reason) VALUES `)
		for i := lo; i < lo+1000; i++ {
			if i > lo {
				sb.WriteByte(',')
			}
			sb.WriteString(`('promotion', ?, ?, 'sms', ?, ?)`)
			member := uint64(i*200 + 7) // spread over the first 4,000 shards
			args = append(args, id, member, int(member-1)/size, fmt.Sprintf("provider sms: HTTP %d", []int{500, 429, 503}[i%3]))
		}
		if _, err := db.ExecContext(ctx, sb.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	processed := int64(done*size + running*500)
	fields := map[string]int64{campaign.FieldSent: 3 * processed, campaign.FieldFailed: failures,
		campaign.FieldMembersPrefix + "bench-a:1:aa": processed / 2, campaign.FieldMembersPrefix + "bench-b:2:bb": processed / 2}
	for _, ch := range []provider.Channel{provider.ChannelSMS, provider.ChannelApp, provider.ChannelInbox} {
		fields[campaign.ChannelField(campaign.FieldSent, ch)] = processed
	}
	if err := live.HIncrByMany(ctx, campaign.ProgressKey(campaign.KindPromotion, id), fields); err != nil {
		b.Fatal(err)
	}
	return id
}
