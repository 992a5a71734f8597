package campaign

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"mkt/pkg/audience"
	"mkt/pkg/provider"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

// deliveryRow is a push_message row as the tests read it.
type deliveryRow struct {
	Member   uint64 `db:"member_id"`
	Channel  string `db:"channel"`
	Status   string `db:"status"`
	Reason   string `db:"reason"`
	Attempts int    `db:"attempts"`
	Provider string `db:"provider_message_id"`
}

func readDeliveries(t *testing.T, db *store.DB, id uint64) map[string]deliveryRow {
	t.Helper()
	var rows []deliveryRow
	if err := db.SelectContext(t.Context(), &rows, `SELECT member_id, channel, status, reason, attempts, provider_message_id
		FROM push_message WHERE campaign_kind = 'promotion' AND campaign_id = ?`, id); err != nil {
		t.Fatal(err)
	}
	out := map[string]deliveryRow{}
	for _, r := range rows {
		out[fmt.Sprintf("%d/%s", r.Member, r.Channel)] = r
	}
	return out
}

// checkFailuresInStep fails unless push_failure holds exactly the failed
// push_message rows of campaign id, with their reason and attempts.
func checkFailuresInStep(t *testing.T, db *store.DB, id uint64) {
	t.Helper()
	var want, got []string
	if err := db.SelectContext(t.Context(), &want, `SELECT CONCAT_WS('/', member_id, channel, shard_no, reason, attempts)
		FROM push_message WHERE campaign_kind = 'promotion' AND campaign_id = ? AND status = 'failed' ORDER BY 1`, id); err != nil {
		t.Fatal(err)
	}
	if err := db.SelectContext(t.Context(), &got, `SELECT CONCAT_WS('/', member_id, channel, shard_no, reason, attempts)
		FROM push_failure WHERE campaign_kind = 'promotion' AND campaign_id = ? ORDER BY 1`, id); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("push_failure %q, want the failed push_message rows %q", got, want)
	}
}

// sentSMS are sms deliveries to ids that went out, each with the provider
// id "p<id>".
func sentSMS(ids ...uint64) []Delivery {
	var ds []Delivery
	for _, id := range ids {
		ds = append(ds, Delivery{MemberID: id, Channel: provider.ChannelSMS, OK: true, ProviderID: fmt.Sprint("p", id)})
	}
	return ds
}

func TestRecordDeliveriesKeepsFailuresInStep(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	now := time.Now().UTC()
	record := func(shard int, ds ...Delivery) {
		t.Helper()
		if err := db.InTx(ctx, func(tx store.Handler) error {
			return RecordDeliveries(ctx, tx, KindPromotion, 1, shard, ds, now)
		}); err != nil {
			t.Fatal(err)
		}
	}
	sms, app := provider.ChannelSMS, provider.ChannelApp
	record(0,
		Delivery{MemberID: 10, Channel: sms, OK: true, ProviderID: "p10"},
		Delivery{MemberID: 10, Channel: app, Reason: "no address"},
		Delivery{MemberID: 11, Channel: sms, Reason: "HTTP 503"},
		Delivery{MemberID: 12, Channel: sms, OK: true, ProviderID: "p12"},
	)
	checkFailuresInStep(t, db, 1)
	if n := len(readDeliveries(t, db, 1)); n != 4 {
		t.Fatalf("%d push_message rows, want 4", n)
	}

	// A retry: 11 is sent now, 10/app fails again with another reason, and
	// a late failure for 12 (a duplicate run) never downgrades its sent row.
	record(0,
		Delivery{MemberID: 10, Channel: app, Reason: "still no address"},
		Delivery{MemberID: 11, Channel: sms, OK: true, ProviderID: "p11"},
		Delivery{MemberID: 12, Channel: sms, Reason: "HTTP 500"},
	)
	rows := readDeliveries(t, db, 1)
	for key, want := range map[string]deliveryRow{
		"10/sms": {Status: "sent", Attempts: 1, Provider: "p10"},
		"10/app": {Status: "failed", Reason: "still no address", Attempts: 2},
		"11/sms": {Status: "sent", Attempts: 2, Provider: "p11"},
		"12/sms": {Status: "sent", Attempts: 2, Provider: "p12"},
	} {
		got := rows[key]
		if got.Status != want.Status || got.Reason != want.Reason || got.Attempts != want.Attempts || got.Provider != want.Provider {
			t.Errorf("%s = %+v, want %+v", key, got, want)
		}
	}
	checkFailuresInStep(t, db, 1)
	failures, err := ListFailures(ctx, db, KindPromotion, 1, 0, 100)
	if err != nil || len(failures) != 1 || failures[0].MemberID != 10 || failures[0].Attempts != 2 {
		t.Fatalf("failures = %+v, %v; want 10/app only", failures, err)
	}
	ids, err := FailedMembers(ctx, db, KindPromotion, 1, 0, 0, 100, 10)
	if err != nil || !slices.Equal(ids, []uint64{10}) {
		t.Errorf("FailedMembers = %v, %v; want [10]", ids, err)
	}
	shards, err := FailedShardNos(ctx, db, KindPromotion, 1)
	if err != nil || !slices.Equal(shards, []int{0}) {
		t.Errorf("FailedShardNos = %v, %v; want [0]", shards, err)
	}
}

// Concurrent writers of the same members (a stolen shard and its first
// owner) leave push_failure matching push_message whatever the interleaving.
func TestRecordDeliveriesConcurrentWritersStayInStep(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	const members, rounds = 200, 30
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range rounds {
				lo := uint64(rng.IntN(members / 2))
				var ds []Delivery
				for m := lo; m < lo+members/2; m++ {
					ds = append(ds, Delivery{MemberID: m + 1, Channel: provider.ChannelSMS, OK: rng.IntN(4) == 0,
						Reason: fmt.Sprintf("writer %d", w)})
				}
				var err error
				for attempt := 0; attempt < 10; attempt++ {
					err = db.InTxOptions(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx store.Handler) error {
						return RecordDeliveries(ctx, tx, KindPromotion, 7, w, ds, time.Now().UTC())
					})
					if err == nil || !store.Retryable(err) {
						break
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkFailuresInStep(t, db, 7)
	var failed int
	if err := db.GetContext(ctx, &failed, `SELECT COUNT(*) FROM push_failure WHERE campaign_id = 7`); err != nil || failed == 0 {
		t.Fatalf("%d failures (%v): the test wrote none", failed, err)
	}
}

// TestRecordSentJournalsSeveralShards: the journal's group commit records
// the sends of several shards of two campaigns in one call, adds each to
// its own shard's counters (failed - PriorFailed), clears push_failure
// for sends that were recorded failed before, and touches no checkpoint.
func TestRecordSentJournalsSeveralShards(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	now := time.Now().UTC()
	for _, id := range []uint64{1, 2} {
		if _, err := InsertShards(ctx, db, KindPromotion, id, []audience.Range{
			{No: 0, Start: 1, End: 101, Expected: 100}, {No: 1, Start: 101, End: 201, Expected: 100},
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Member 150 of campaign 1 failed once (counted failed on shard 1).
	if err := db.InTx(ctx, func(tx store.Handler) error {
		if err := RecordDeliveries(ctx, tx, KindPromotion, 1, 1, []Delivery{{MemberID: 150, Channel: provider.ChannelSMS, Reason: "HTTP 503"}}, now); err != nil {
			return err
		}
		return addShardCounts(ctx, tx, KindPromotion, 1, 1, 0, 1)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(tx store.Handler) error {
		return RecordSent(ctx, tx, []ShardSends{
			{Kind: KindPromotion, CampaignID: 1, ShardNo: 0, Deliveries: sentSMS(1, 2, 3)},
			{Kind: KindPromotion, CampaignID: 1, ShardNo: 1, Deliveries: sentSMS(150, 151), PriorFailed: 1},
			{Kind: KindPromotion, CampaignID: 2, ShardNo: 1, Deliveries: sentSMS(101)},
		}, now)
	}); err != nil {
		t.Fatal(err)
	}
	type shardRow struct {
		Campaign uint64 `db:"campaign_id"`
		No       int    `db:"shard_no"`
		Sent     int    `db:"sent"`
		Failed   int    `db:"failed"`
		Cursor   uint64 `db:"cursor_id"`
	}
	var got []shardRow
	if err := db.SelectContext(ctx, &got, `SELECT campaign_id, shard_no, sent, failed, cursor_id FROM campaign_shard
		ORDER BY campaign_id, shard_no`); err != nil {
		t.Fatal(err)
	}
	want := []shardRow{{1, 0, 3, 0, 0}, {1, 1, 2, 0, 0}, {2, 0, 0, 0, 0}, {2, 1, 1, 0, 0}}
	if !slices.Equal(got, want) {
		t.Errorf("shards = %+v, want %+v", got, want)
	}
	for _, id := range []uint64{1, 2} {
		checkFailuresInStep(t, db, id)
	}
	rows := readDeliveries(t, db, 1)
	if r := rows["150/sms"]; r.Status != "sent" || r.Attempts != 2 || r.Provider != "p150" {
		t.Errorf("150/sms = %+v, want sent after 2 attempts by p150", r)
	}
	if len(rows) != 5 {
		t.Errorf("campaign 1 has %d records, want 5", len(rows))
	}
}

// TestRecordSentCountsOnlyForTheHolder: a page's late sends flushed after
// its shard was taken over are recorded, but counted only where they change
// a record — the new holder already counted the members it sent too — while
// the sends of a shard its page still holds count in full.
func TestRecordSentCountsOnlyForTheHolder(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := context.Background()
	now := time.Now().UTC()
	if _, err := InsertShards(ctx, db, KindPromotion, 1, []audience.Range{
		{No: 0, Start: 1, End: 101, Expected: 100}, {No: 1, Start: 101, End: 201, Expected: 100},
	}); err != nil {
		t.Fatal(err)
	}
	claim := func(no int, owner string) {
		t.Helper()
		if _, won, err := ClaimShard(ctx, db, KindPromotion, 1, no, ClaimOptions{Owner: owner, Lease: time.Minute}); err != nil || !won {
			t.Fatalf("claim shard %d for %s: %v %v", no, owner, won, err)
		}
	}
	claim(0, "a") // a still holds shard 0
	claim(1, "b") // shard 1 was taken over by b, which sent 101..103 and counted them
	if err := db.InTx(ctx, func(tx store.Handler) error {
		return RecordSent(ctx, tx, []ShardSends{{Kind: KindPromotion, CampaignID: 1, ShardNo: 1, Deliveries: sentSMS(101, 102, 103), Owner: "b"}}, now)
	}); err != nil {
		t.Fatal(err)
	}
	// a's late answers: members 1..2 of its own shard, and 101..104 of the
	// shard b took over (104 is one b has not reached).
	if err := db.InTx(ctx, func(tx store.Handler) error {
		return RecordSent(ctx, tx, []ShardSends{
			{Kind: KindPromotion, CampaignID: 1, ShardNo: 0, Deliveries: sentSMS(1, 2), Owner: "a"},
			{Kind: KindPromotion, CampaignID: 1, ShardNo: 1, Deliveries: sentSMS(101, 102, 103, 104), Owner: "a"},
		}, now)
	}); err != nil {
		t.Fatal(err)
	}
	var got []int
	if err := db.SelectContext(ctx, &got, `SELECT sent FROM campaign_shard WHERE campaign_id = 1 ORDER BY shard_no`); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []int{2, 4}) {
		t.Errorf("shard sent counters = %v, want [2 4] (a's 2; b's 3 and the one new record of a's late 4)", got)
	}
	rows := readDeliveries(t, db, 1)
	if len(rows) != 6 {
		t.Errorf("campaign 1 has %d records, want 6", len(rows))
	}
	if r := rows["101/sms"]; r.Status != "sent" || r.Provider != "p101" {
		t.Errorf("101/sms = %+v, want b's record kept", r)
	}
}
