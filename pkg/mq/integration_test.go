package mq

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"

	"mkt/pkg/daemon"
	"mkt/pkg/mkttest"
)

// Integration tests run against the broker of mkttest.RocketMQ
// (MKT_ROCKETMQ_NAMESRV / MKT_ROCKETMQ_BROKER, default the local stack's).

func TestMain(m *testing.M) {
	// The client's logger is global: route it once, as main does.
	RouteClientLogs(mkttest.Logger(), slog.LevelDebug) // MKT_TEST_LOG picks the level
	os.Exit(m.Run())
}

// testConfig returns a Config for the test broker (mkttest.RocketMQ).
func testConfig(t *testing.T) Config {
	t.Helper()
	ns, broker := mkttest.RocketMQ(t)
	return Config{NameServer: ns, BrokerAddr: broker, Logger: mkttest.Logger()}
}

func newTestProducer(t *testing.T, cfg ProducerConfig) *Producer {
	t.Helper()
	p, err := NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Shutdown(); err != nil {
			t.Error(err)
		}
	})
	return p
}

// startConsumer creates and starts a consumer, shut down at test end.
func startConsumer(t *testing.T, cfg ConsumerConfig) *Consumer {
	t.Helper()
	c, err := NewConsumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(mkttest.Deadline(t, 15*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Shutdown(mkttest.Deadline(t, 15*time.Second)); err != nil {
			t.Error(err)
		}
	})
	return c
}

// waitRoute waits until the name server routes topic (created by the broker
// itself, e.g. a dead-letter topic), without creating it.
func waitRoute(t *testing.T, ctx context.Context, cfg Config, topic string) {
	t.Helper()
	resolver, err := cfg.withDefaults().resolver()
	if err != nil {
		t.Fatal(err)
	}
	adm, err := admin.NewAdmin(admin.WithResolver(resolver))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	// Each miss logs an error in the client; poll gently.
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if mqs, err := adm.FetchPublishMessageQueues(ctx, topic); err == nil && len(mqs) > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for a route for %s: %v", topic, ctx.Err())
		case <-tick.C:
		}
	}
}

// dropTopicsAtEnd deletes topics from the broker and the name server when
// the test ends (after its consumers, registered later, shut down), so test
// runs do not pile up topics. Topics that were never created are skipped.
func dropTopicsAtEnd(t *testing.T, cfg Config, topics ...string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := DeleteTopics(ctx, cfg, topics...); err != nil {
			t.Errorf("delete test topics: %v", err)
		}
	})
}

// testTopic creates topic for the test and drops it, with the retry and
// dead-letter topics of groups, at the end.
func testTopic(t *testing.T, ctx context.Context, cfg Config, queues int, topic string, groups ...string) {
	t.Helper()
	drop := []string{topic}
	for _, g := range groups {
		drop = append(drop, RetryTopic(g), DeadLetterTopic(g))
	}
	dropTopicsAtEnd(t, cfg, drop...)
	if err := EnsureTopics(ctx, cfg, queues, topic); err != nil {
		t.Fatal(err)
	}
}

// deliveries is a concurrency-safe record of handled messages by key.
type deliveries struct {
	mu  sync.Mutex
	byK map[string][]*Delivery
	who map[string][]string
}

func newDeliveries() *deliveries {
	return &deliveries{byK: map[string][]*Delivery{}, who: map[string][]string{}}
}

func (r *deliveries) add(consumer string, d *Delivery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := ""
	if len(d.Keys) > 0 {
		k = d.Keys[0]
	}
	r.byK[k] = append(r.byK[k], d)
	r.who[k] = append(r.who[k], consumer)
}

func (r *deliveries) count(k string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byK[k])
}

func (r *deliveries) get(k string) []*Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Delivery(nil), r.byK[k]...)
}

func body(i int) []byte {
	if i%2 == 0 {
		return fmt.Appendf(nil, "small-%d", i)
	}
	return bytes.Repeat(fmt.Appendf(nil, "large-%d;", i), 1500/len(fmt.Sprintf("large-%d;", i)))
}

// TestIntegrationBatchPublishTwoConsumers publishes 1,000 messages in batches
// split by count and by bytes, and consumes each exactly once across two
// consumers of one group.
//
// Delivery is at least once: a rebalance racing the consumption legitimately
// redelivers messages whose offsets were not committed yet. The test first
// waits until the group is stable (both consumers own queues, every probe
// handled exactly once), so from then on a duplicate is a real defect and
// fails the test; a missing message always does.
func TestIntegrationBatchPublishTwoConsumers(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	sfx := mkttest.Namespace(t, "")
	topic, group := "mqtest_batch_"+sfx, "mqtest_batch_g_"+sfx
	ctx := mkttest.Deadline(t, 90*time.Second)
	testTopic(t, ctx, cfg, 8, topic, group)

	const n = 1000
	const maxBytes = 64 << 10
	msgs := make([]Message, n)
	for i := range msgs {
		msgs[i] = Message{Topic: topic, Tag: "work", Keys: []string{fmt.Sprintf("m%04d", i)}, Body: body(i),
			Properties: map[string]string{"seq": fmt.Sprint(i)}}
	}
	// Even messages are tiny and odd ones ~1.5 KiB; sort so both limits bite:
	// the tiny half is cut by count, the large half by bytes.
	ordered := make([]Message, 0, n)
	for i := 0; i < n; i += 2 {
		ordered = append(ordered, msgs[i])
	}
	for i := 1; i < n; i += 2 {
		ordered = append(ordered, msgs[i])
	}
	plan, err := splitBatches(ordered, DefaultMaxBatchCount, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	byCount, byBytes := 0, 0
	for _, b := range plan[:len(plan)-1] {
		if len(b.msgs) == DefaultMaxBatchCount {
			byCount++
		} else {
			byBytes++
		}
	}
	if byCount == 0 || byBytes == 0 {
		t.Fatalf("batch plan %v does not exercise both limits", batchSizes(plan))
	}
	t.Logf("batch plan: %d batches %v", len(plan), batchSizes(plan))

	work, probes := newDeliveries(), newDeliveries()
	handler := func(name string) Handler {
		return func(_ context.Context, d *Delivery) error {
			if d.Tag == "probe" {
				probes.add(name, d)
			} else {
				work.add(name, d)
			}
			return nil
		}
	}
	var group2 []*Consumer
	for _, name := range []string{"a", "b"} {
		c, err := NewConsumer(ConsumerConfig{Config: cfg, Group: group, Topic: topic,
			Instance: "mqtest_" + name + "_" + sfx, Handler: handler(name)})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(mkttest.Deadline(t, 15*time.Second)); err != nil {
			t.Fatal(err)
		}
		group2 = append(group2, c)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ShutdownAll(ctx, group2...); err != nil {
			t.Error(err)
		}
	})
	p := newTestProducer(t, ProducerConfig{Config: cfg, MaxBatchBytes: maxBytes})

	// Wait for a stable group: rounds of one probe per queue (the producer
	// picks queues round-robin) until a round is handled exactly once per
	// probe and by both consumers.
	for round := 0; ; round++ {
		keys := make([]string, 8)
		for i := range keys {
			keys[i] = fmt.Sprintf("probe-%d-%d", round, i)
			if err := p.Send(ctx, Message{Topic: topic, Tag: "probe", Keys: []string{keys[i]}, Body: []byte("probe")}); err != nil {
				t.Fatal(err)
			}
		}
		mkttest.WaitFor(t, time.Minute, fmt.Sprintf("probe round %d", round), func() bool {
			for _, k := range keys {
				if probes.count(k) == 0 {
					return false
				}
			}
			return true
		})
		time.Sleep(300 * time.Millisecond) // let a racing duplicate show up
		stable, seen := true, map[string]bool{}
		probes.mu.Lock()
		for _, k := range keys {
			stable = stable && len(probes.who[k]) == 1
			seen[probes.who[k][0]] = true
		}
		probes.mu.Unlock()
		if stable && len(seen) == 2 {
			t.Logf("group stable after %d probe rounds", round+1)
			break
		}
	}

	if err := p.SendBatch(ctx, ordered); err != nil {
		t.Fatal(err)
	}
	mkttest.WaitFor(t, time.Minute, "all 1000 messages consumed", func() bool {
		work.mu.Lock()
		defer work.mu.Unlock()
		return len(work.byK) == n
	})
	time.Sleep(time.Second) // let late duplicates arrive before judging

	work.mu.Lock()
	defer work.mu.Unlock()
	perConsumer := map[string]int{}
	var dups []string
	for i, m := range msgs {
		k := m.Keys[0]
		ds := work.byK[k]
		if len(ds) == 0 {
			t.Errorf("message %s never consumed", k)
			continue
		}
		if len(ds) > 1 {
			dups = append(dups, fmt.Sprintf("%s by %v", k, work.who[k]))
		}
		perConsumer[work.who[k][0]]++
		d := ds[0]
		if !bytes.Equal(d.Body, m.Body) || d.Topic != topic || d.Tag != "work" || d.Properties["seq"] != fmt.Sprint(i) ||
			d.MsgID == "" || d.ReconsumeTimes != 0 || d.BornTime.IsZero() {
			t.Errorf("message %s delivered as %+v", k, d)
		}
	}
	if len(dups) > 0 {
		t.Errorf("%d messages delivered more than once in a stable group: %v", len(dups), dups)
	}
	if perConsumer["a"] == 0 || perConsumer["b"] == 0 {
		t.Errorf("work not shared by the group: %v", perConsumer)
	}
	t.Logf("messages per consumer: %v", perConsumer)
}

// readDeadLetters consumes group's dead-letter topic (created by the broker)
// with a group of its own until want deliveries arrived.
func readDeadLetters(t *testing.T, ctx context.Context, cfg Config, group string, want int) *deliveries {
	t.Helper()
	dlq := DeadLetterTopic(group)
	waitRoute(t, ctx, cfg, dlq)
	got := newDeliveries()
	startConsumer(t, ConsumerConfig{Config: cfg, Group: group + "_dlqreader", Topic: dlq,
		Handler: func(_ context.Context, d *Delivery) error { got.add("dlq", d); return nil }})
	mkttest.WaitFor(t, time.Minute, fmt.Sprintf("%d dead letters in %s", want, dlq), func() bool {
		got.mu.Lock()
		defer got.mu.Unlock()
		return len(got.byK) >= want
	})
	return got
}

// TestIntegrationFailingHandlerDeadLetters: a handler that always fails gets
// MaxReconsumeTimes+1 attempts, then the message is in the dead-letter topic.
func TestIntegrationFailingHandlerDeadLetters(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	sfx := mkttest.Namespace(t, "")
	topic, group := "mqtest_fail_"+sfx, "mqtest_fail_g_"+sfx
	ctx := mkttest.Deadline(t, 60*time.Second)
	testTopic(t, ctx, cfg, 4, topic, group, group+"_dlqreader")
	const maxReconsume = 2
	attempts := newDeliveries()
	startConsumer(t, ConsumerConfig{Config: cfg, Group: group, Topic: topic,
		MaxReconsumeTimes: maxReconsume, RetryDelayLevels: []int{1},
		Handler: func(_ context.Context, d *Delivery) error {
			attempts.add("c", d)
			return errors.New("downstream unavailable")
		}})
	p := newTestProducer(t, ProducerConfig{Config: cfg})
	in := Message{Topic: topic, Keys: []string{"doomed"}, Body: []byte(`{"campaign":1}`)}
	if err := p.Send(ctx, in); err != nil {
		t.Fatal(err)
	}

	mkttest.WaitFor(t, time.Minute, "the last attempt", func() bool { return attempts.count("doomed") >= maxReconsume+1 })
	dead := readDeadLetters(t, ctx, cfg, group, 1)
	ds := attempts.get("doomed")
	if len(ds) != maxReconsume+1 {
		t.Fatalf("handler attempts = %d, want MaxReconsumeTimes+1 = %d", len(ds), maxReconsume+1)
	}
	for i, d := range ds {
		if d.ReconsumeTimes != i || d.MsgID != ds[0].MsgID || d.Topic != topic || !bytes.Equal(d.Body, in.Body) {
			t.Errorf("attempt %d delivered as %+v", i, d)
		}
	}
	dl := dead.get("doomed")
	if len(dl) != 1 || dl[0].MsgID != ds[0].MsgID || !bytes.Equal(dl[0].Body, in.Body) || dl[0].Topic != DeadLetterTopic(group) {
		t.Fatalf("dead letters = %+v", dl)
	}
	// The dead letter names the topic it was published to, and when the
	// broker stored it.
	if dl[0].OriginTopic != topic || dl[0].StoreTime.Before(dl[0].BornTime) {
		t.Errorf("dead letter origin %q, stored %v, born %v", dl[0].OriginTopic, dl[0].StoreTime, dl[0].BornTime)
	}
}

// TestIntegrationPermanentErrorDeadLettersAtOnce: Permanent skips retries.
func TestIntegrationPermanentErrorDeadLettersAtOnce(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	sfx := mkttest.Namespace(t, "")
	topic, group := "mqtest_poison_"+sfx, "mqtest_poison_g_"+sfx
	ctx := mkttest.Deadline(t, 60*time.Second)
	testTopic(t, ctx, cfg, 4, topic, group, group+"_dlqreader")
	attempts := newDeliveries()
	startConsumer(t, ConsumerConfig{Config: cfg, Group: group, Topic: topic,
		Handler: func(_ context.Context, d *Delivery) error {
			attempts.add("c", d)
			if d.Keys[0] == "poison" {
				return Permanent(errors.New("unparseable body"))
			}
			return nil
		}})
	p := newTestProducer(t, ProducerConfig{Config: cfg})
	if err := p.SendBatch(ctx, []Message{
		{Topic: topic, Keys: []string{"poison"}, Body: []byte("{not json")},
		{Topic: topic, Keys: []string{"fine"}, Body: []byte("{}")},
	}); err != nil {
		t.Fatal(err)
	}
	mkttest.WaitFor(t, time.Minute, "the poison message", func() bool { return attempts.count("poison") >= 1 })
	dead := readDeadLetters(t, ctx, cfg, group, 1)
	mkttest.WaitFor(t, time.Minute, "the good message", func() bool { return attempts.count("fine") == 1 })
	if n := attempts.count("poison"); n != 1 {
		t.Fatalf("poison message attempts = %d, want 1", n)
	}
	if dl := dead.get("poison"); len(dl) != 1 || string(dl[0].Body) != "{not json" || dl[0].OriginTopic != topic {
		t.Fatalf("dead letters = %+v", dl)
	}
	if dead.count("fine") != 0 {
		t.Fatal("a good message was dead-lettered")
	}
}

// TestIntegrationTransactions: a committed local transaction's message is
// consumed, a rolled-back one never is, and an unknown outcome is settled by
// the broker's check-back.
func TestIntegrationTransactions(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	sfx := mkttest.Namespace(t, "")
	topic, group := "mqtest_tx_"+sfx, "mqtest_tx_g_"+sfx
	ctx := mkttest.Deadline(t, 90*time.Second)
	testTopic(t, ctx, cfg, 4, topic, group)
	got := newDeliveries()
	startConsumer(t, ConsumerConfig{Config: cfg, Group: group, Topic: topic,
		Handler: func(_ context.Context, d *Delivery) error { got.add("c", d); return nil }})

	// A stand-in for the database the local transactions write.
	var mu sync.Mutex
	stored := map[string]bool{}
	checks := 0
	p, err := NewTxProducer(TxProducerConfig{Config: cfg, Group: "mqtest_txp_" + sfx,
		Check: func(_ context.Context, m Message) TxState {
			mu.Lock()
			defer mu.Unlock()
			checks++
			if stored[m.Keys[0]] {
				return TxCommit
			}
			return TxRollback
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })

	store := func(k string) {
		mu.Lock()
		defer mu.Unlock()
		stored[k] = true
	}
	dbErr := errors.New("insert campaign: duplicate key")
	err = p.SendInTx(ctx, Message{Topic: topic, Keys: []string{"rolled-back"}, Body: []byte("r")}, func(context.Context) error { return dbErr })
	if !errors.Is(err, dbErr) {
		t.Fatalf("rolled-back SendInTx err = %v, want %v", err, dbErr)
	}
	if err := p.SendInTx(ctx, Message{Topic: topic, Keys: []string{"committed"}, Body: []byte("c1")},
		func(context.Context) error { store("committed"); return nil }); err != nil {
		t.Fatal(err)
	}
	err = p.SendInTx(ctx, Message{Topic: topic, Keys: []string{"checked"}, Body: []byte("c2")},
		func(context.Context) error { store("checked"); return fmt.Errorf("commit ack lost: %w", ErrTxUnknown) })
	if !errors.Is(err, ErrTxUnknown) {
		t.Fatalf("unknown-outcome SendInTx err = %v, want ErrTxUnknown", err)
	}

	mkttest.WaitFor(t, time.Minute, "the committed message", func() bool { return got.count("committed") == 1 })
	mkttest.WaitFor(t, time.Minute, "the message settled by check-back", func() bool { return got.count("checked") == 1 })
	time.Sleep(time.Second) // the rolled-back message, had it leaked, was sent before both
	if n := got.count("rolled-back"); n != 0 {
		t.Fatalf("rolled-back message consumed %d times", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if checks == 0 {
		t.Fatal("the check-back was never called")
	}
	t.Logf("check-back calls: %d", checks)
}

// startHandlingOne creates and starts a consumer of a new two-queue topic
// named after name, publishes one message keyed key and returns once handler
// has begun handling it, with the test's context (60 s) and the consumer,
// which the test shuts down itself. cancelOnShutdown is the consumer's
// CancelOnShutdown.
func startHandlingOne(t *testing.T, name, key string, cancelOnShutdown bool, handler Handler) (context.Context, *Consumer) {
	t.Helper()
	cfg := testConfig(t)
	sfx := mkttest.Namespace(t, "")
	topic, group := "mqtest_"+name+"_"+sfx, "mqtest_"+name+"_g_"+sfx
	ctx := mkttest.Deadline(t, 60*time.Second)
	testTopic(t, ctx, cfg, 2, topic, group)
	started := make(chan struct{})
	var once sync.Once
	c, err := NewConsumer(ConsumerConfig{Config: cfg, Group: group, Topic: topic, CancelOnShutdown: cancelOnShutdown,
		Handler: func(hctx context.Context, d *Delivery) error {
			once.Do(func() { close(started) })
			return handler(hctx, d)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	p := newTestProducer(t, ProducerConfig{Config: cfg})
	if err := p.Send(ctx, Message{Topic: topic, Keys: []string{key}, Body: []byte(key)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-ctx.Done():
		t.Fatal("timed out waiting for the handler to start")
	}
	return ctx, c
}

// TestIntegrationShutdownWaitsForHandlers: Shutdown returns only after a
// running handler finished.
func TestIntegrationShutdownWaitsForHandlers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var finished bool
	var mu sync.Mutex
	ctx, c := startHandlingOne(t, "stop", "slow", false, func(hctx context.Context, d *Delivery) error {
		<-release
		mu.Lock()
		finished = hctx.Err() == nil
		mu.Unlock()
		return nil
	})
	stopped := make(chan error, 1)
	go func() { stopped <- c.Shutdown(ctx) }()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) while a handler was running", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("timed out waiting for Shutdown")
	}
	mu.Lock()
	defer mu.Unlock()
	if !finished {
		t.Fatal("handler did not finish with a live context before Shutdown returned")
	}
	if err := c.Start(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Shutdown: err = %v, want ErrClosed", err)
	}
}

func TestIntegrationEnsureTopicsFailsClearly(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.BrokerAddr = "127.0.0.1:1" // nothing listens there
	err := EnsureTopics(mkttest.Deadline(t, 10*time.Second), cfg, 1, "mqtest_nowhere_"+mkttest.Namespace(t, ""))
	if err == nil {
		t.Fatal("EnsureTopics against a dead broker address succeeded")
	}
	if err := EnsureTopics(context.Background(), testConfig(t), 1, "bad topic"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad topic name: err = %v, want ErrInvalidName", err)
	}
}

// TestIntegrationShutdownDeadlineCancelsHandlers: when Shutdown's context
// ends first, handlers' context is cancelled and Shutdown reports it.
func TestIntegrationShutdownDeadlineCancelsHandlers(t *testing.T) {
	t.Parallel()
	cancelled := make(chan struct{})
	ctx, c := startHandlingOne(t, "hardstop", "stuck", false, func(hctx context.Context, d *Delivery) error {
		<-hctx.Done()
		close(cancelled)
		return hctx.Err()
	})
	stopCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := c.Shutdown(stopCtx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown err = %v, want DeadlineExceeded", err)
	}
	select {
	case <-cancelled:
	case <-ctx.Done():
		t.Fatal("the handler's context was not cancelled")
	}
}

// TestIntegrationShutdownCancelsOnShutdown: with CancelOnShutdown a
// handler's context ends as soon as Shutdown begins, two Shutdowns at once
// both wait for the one stop, and a consumer is stopped for good.
func TestIntegrationShutdownCancelsOnShutdown(t *testing.T) {
	t.Parallel()
	cause := make(chan error, 1)
	ctx, c := startHandlingOne(t, "cancelstop", "blocked", true, func(hctx context.Context, d *Delivery) error {
		<-hctx.Done()
		cause <- context.Cause(hctx)
		return hctx.Err()
	})
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- c.Shutdown(ctx) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("Shutdown = %v, want nil: the handler returns once cancelled", err)
		}
	}
	if err := <-cause; !errors.Is(err, daemon.ErrStopped) {
		t.Fatalf("handler's context ended with %v, want daemon.ErrStopped", err)
	}
	if err := c.Start(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Shutdown: err = %v, want ErrClosed", err)
	}

	// A consumer shut down before it started never runs.
	never, err := NewConsumer(ConsumerConfig{Config: testConfig(t), Group: "mqtest_never_g", Topic: "mqtest_never",
		Handler: func(context.Context, *Delivery) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := never.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown before Start = %v", err)
	}
	if err := never.Start(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after an early Shutdown: err = %v, want ErrClosed", err)
	}
}
