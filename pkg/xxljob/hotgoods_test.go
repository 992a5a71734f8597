package xxljob_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"mkt/pkg/campaign"
	"mkt/pkg/hotgoods"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
	"mkt/pkg/xxljob"
)

// importDay stores a generated day of hot goods through the import path
// (JSON Lines parsed and imported as `mktctl hotgoods import` does).
func importDay(t *testing.T, db *store.DB, date time.Time, segments int) []hotgoods.Row {
	t.Helper()
	var b strings.Builder
	for _, in := range hotgoods.Generate(segments, 11) {
		line, err := json.Marshal(in.JSONLine())
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	parsed, err := hotgoods.Parse(strings.NewReader(b.String()), hotgoods.FormatJSONL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := hotgoods.Import(ctx, db, date, parsed); err != nil {
		t.Fatal(err)
	}
	rows, err := hotgoods.List(ctx, db, date)
	if err != nil || len(rows) != segments {
		t.Fatalf("%d rows imported (%v), want %d", len(rows), err, segments)
	}
	return rows
}

// TestHotGoodsTriggers: a day imported on the real MariaDB; two triggers
// through /run with broadcastIndex 0 and 1 of 2 (the admin's sharding
// broadcast to two executors) launch every row exactly once, each run
// stored with its created event published through RocketMQ; triggering
// both again launches nothing. The date comes from the trigger time in the
// configured zone, or from executorParams; a bad date is refused at /run.
func TestHotGoodsTriggers(t *testing.T) {
	mqc := mqtest.Config(t)
	db := storetest.NewDB(t)
	sfx := mkttest.Namespace(t, "")
	eventsTopic := "xxljobtest_ev_" + sfx
	mqtest.Topics(t, mqc, 4, eventsTopic)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// Every created event reaching the broker is counted by request id.
	var mu sync.Mutex
	events := map[string]int{}
	mqtest.StartConsumer(t, mq.ConsumerConfig{Config: mqc, Group: "xxljobtest_c_" + sfx, Topic: eventsTopic,
		Tags: campaign.TagCreated, Handler: func(_ context.Context, d *mq.Delivery) error {
			ev, err := campaign.DecodeCreatedEvent(d.Body)
			if err != nil {
				return mq.Permanent(err)
			}
			mu.Lock()
			events[ev.RequestID]++
			mu.Unlock()
			return nil
		}})
	tx, err := mq.NewTxProducer(mq.TxProducerConfig{Config: mqc, Group: "xxljobtest_tx_" + sfx,
		Check: campaign.TxCheck(db, mkttest.Logger(), nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Shutdown() })

	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	h, err := xxljob.NewHotGoods(xxljob.HotGoodsConfig{DB: db, Creator: campaign.Creator{DB: db, Tx: tx, Topic: eventsTopic},
		Zone: shanghai, CreatedBy: "xxl-job:test"})
	if err != nil {
		t.Fatal(err)
	}
	te := startExecutor(t, v24, map[string]xxljob.Handler{xxljob.HotGoodsHandlerName: h})

	date := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	rows := importDay(t, db, date, 21)

	// 17:30 UTC on the 1st is 01:30 on the 2nd in Shanghai: node 0 takes
	// the trigger's date, node 1 is given it in executorParams.
	fired := time.Date(2026, 12, 1, 17, 30, 0, 0, time.UTC).UnixMilli()
	broadcast := func(logID int64, index int, params string) xxljob.TriggerParam {
		p := trigger(100, logID, xxljob.HotGoodsHandlerName)
		p.LogDateTime, p.BroadcastIndex, p.BroadcastTotal, p.ExecutorParams = fired, index, 2, params
		p.ExecutorTimeout = 60
		return p
	}
	te.mustRun(t, broadcast(1, 0, ""))
	te.mustRun(t, broadcast(2, 1, "2026-12-02"))
	for _, logID := range []int64{1, 2} {
		cb := te.admin.callback(logID)
		if cb.HandleCode != 200 || !strings.Contains(cb.HandleMsg, "launched") || !strings.Contains(cb.HandleMsg, "of 2026-12-02") {
			t.Fatalf("trigger %d: %+v\nlog:\n%s", logID, cb, te.readLog(t, logID, 1).LogContent)
		}
	}
	if lr := te.readLog(t, 1, 1); !strings.Contains(lr.LogContent, "date 2026-12-02: the trigger's date in Asia/Shanghai") {
		t.Errorf("log of trigger 1:\n%s", lr.LogContent)
	}

	after, err := hotgoods.List(ctx, db, date)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := hotgoods.ListRuns(ctx, db, date)
	if err != nil || len(runs) != 2 {
		t.Fatalf("%d runs (%v), want 2", len(runs), err)
	}
	shardOfRun := map[uint64]int{}
	for _, r := range runs {
		shardOfRun[r.ID] = r.ShardIndex
		if r.ShardTotal != 2 || r.CreatedBy != "xxl-job:test" || r.RequestID == nil {
			t.Errorf("run %+v", r)
		}
	}
	if len(after) != len(rows) {
		t.Fatalf("%d rows after, %d before", len(after), len(rows))
	}
	perShard := [2]int{}
	for _, r := range after {
		if r.RunID == nil {
			t.Errorf("row %d not launched", r.ID)
			continue
		}
		idx, ok := shardOfRun[*r.RunID]
		if !ok || idx != hotgoods.ShardOf(r.ID, 2) {
			t.Errorf("row %d (shard %d of 2) launched by run %d of shard %d", r.ID, hotgoods.ShardOf(r.ID, 2), *r.RunID, idx)
		}
		perShard[idx]++
	}
	if perShard[0] == 0 || perShard[1] == 0 {
		t.Errorf("rows per shard %v: a 21-row day should split over both", perShard)
	}
	mkttest.WaitFor(t, time.Minute, "both runs' created events on RocketMQ", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range runs {
			if events[*r.RequestID] == 0 {
				return false
			}
		}
		return true
	})

	// The same broadcast again (a retry, a second admin): nothing more.
	te.mustRun(t, broadcast(3, 0, ""))
	te.mustRun(t, broadcast(4, 1, "2026-12-02"))
	for _, logID := range []int64{3, 4} {
		if cb := te.admin.callback(logID); cb.HandleCode != 200 || !strings.Contains(cb.HandleMsg, "nothing to launch") ||
			!strings.Contains(cb.HandleMsg, "all already launched") {
			t.Errorf("repeated trigger %d: %+v", logID, cb)
		}
	}
	if again, err := hotgoods.ListRuns(ctx, db, date); err != nil || len(again) != 2 {
		t.Errorf("%d runs after the repeated triggers (%v), want 2", len(again), err)
	}

	// A day never imported: nothing to launch, said so.
	empty := broadcast(5, 0, "2026-12-03")
	te.mustRun(t, empty)
	if cb := te.admin.callback(5); cb.HandleCode != 200 || !strings.Contains(cb.HandleMsg, "was the day imported?") {
		t.Errorf("trigger of a day without rows: %+v", cb)
	}
	// A bad date is refused at once, with nothing run.
	for _, bad := range []string{"2026-12-32", "tomorrow", "2026/12/02", `{"date":"2026-12-02"}`} {
		if a := te.run(t, broadcast(6, 0, bad)); a.Code != 500 || !strings.Contains(a.Msg, "executorParams") {
			t.Errorf("params %q: %+v", bad, a)
		}
	}
	mu.Lock()
	n := len(events)
	mu.Unlock()
	if n != 2 {
		t.Errorf("%d created events, want 2: %v", n, events)
	}
}
