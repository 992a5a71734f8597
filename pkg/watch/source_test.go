package watch

import (
	"context"
	"errors"
	"strings"
	"testing"

	"mkt/pkg/cache"
	"mkt/pkg/campaign"
	"mkt/pkg/mkttest"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// TestSourceConnectsLate: a source whose MySQL and Redis are unreachable at
// first says so in its snapshots, and reads normally once they answer.
func TestSourceConnectsLate(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `INSERT INTO sales_promotion (name, kind, discount_cents, message_template, channels,
		audience, status) VALUES ('late', 'flat_discount', 100, 'hi', 'sms', '{}', 'running')`); err != nil {
		t.Fatal(err)
	}
	mysqlUp, redisUp := false, false
	src := &Source{
		OpenDB: func(context.Context) (store.Handler, error) {
			if !mysqlUp {
				return nil, errors.New("dial tcp 127.0.0.1:3306: connect: connection refused")
			}
			return db, nil
		},
		Live: func(context.Context) (campaign.LiveCounters, error) {
			if !redisUp {
				return nil, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")
			}
			c, err := cache.Open(context.Background(), cache.Config{Addr: mkttest.RedisAddr(t), Password: mkttest.RedisPassword(t),
				KeyPrefix: cache.DefaultKeyPrefix + db.Name()})
			if err == nil {
				t.Cleanup(func() { _ = c.Close() })
			}
			return c, err
		},
	}
	s := src.Fetch(ctx, Request{})
	if !strings.Contains(s.MySQLError, "3306") || s.Runs != nil {
		t.Fatalf("MySQL down: %+v", s)
	}
	mysqlUp = true
	s = src.Fetch(ctx, Request{})
	if s.MySQLError != "" || !strings.Contains(s.RedisError, "6379") || len(s.Runs) != 1 || s.Runs[0].Name != "late" || s.Runs[0].Live != nil {
		t.Fatalf("Redis down: %+v", s)
	}
	redisUp = true
	s = src.Fetch(ctx, Request{})
	if s.MySQLError != "" || s.RedisError != "" || len(s.Runs) != 1 || s.Runs[0].Live == nil {
		t.Fatalf("both up: %+v", s)
	}
}

// TestSourceReadsFinishedRunsOnce: a finished run's report is read once and
// kept while the run stays finished; finishing again (a retry-failed run)
// reads it anew.
func TestSourceReadsFinishedRunsOnce(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO sales_promotion (id, name, kind, discount_cents, message_template, channels, audience, status, finished_at)
		VALUES (5, 'done', 'flat_discount', 100, 'hi', 'sms', '{}', 'completed', CURRENT_TIMESTAMP(3) - INTERVAL 5 MINUTE)`)
	exec(`INSERT INTO campaign_shard (campaign_kind, campaign_id, shard_no, start_id, end_id, expected_members, status, sent)
		VALUES ('promotion', 5, 0, 1, 101, 100, 'done', 100)`)
	src := &Source{DB: db}
	sent := func() int64 {
		t.Helper()
		s := src.Fetch(ctx, Request{})
		if s.MySQLError != "" || len(s.Runs) != 1 {
			t.Fatalf("snapshot: %+v", s)
		}
		return s.Runs[0].Progress.Sent
	}
	if got := sent(); got != 100 {
		t.Fatalf("sent = %d", got)
	}
	exec(`UPDATE campaign_shard SET sent = 150 WHERE campaign_id = 5`)
	if got := sent(); got != 100 {
		t.Errorf("a finished run was read again: sent = %d", got)
	}
	exec(`UPDATE sales_promotion SET finished_at = CURRENT_TIMESTAMP(3) WHERE id = 5`)
	if got := sent(); got != 150 {
		t.Errorf("a run finished anew was not read again: sent = %d", got)
	}
}
