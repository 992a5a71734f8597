package cli

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"mkt/pkg/couponsd"
	"mkt/pkg/deadletter"
	"mkt/pkg/login"
	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
)

func TestEventsDLQFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"events", "dlq", "list", "--limit", "0"}, "--limit 0: want 1..1000"},
		{[]string{"events", "dlq", "list", "--limit", "1001"}, "want 1..1000"},
		{[]string{"events", "dlq", "list", "--limit", "x"}, "invalid argument"},
		{[]string{"events", "dlq", "list", "extra"}, "unknown command"},
		{[]string{"events", "dlq", "list", "--group", "a b"}, "consumer group"},
		{[]string{"events", "dlq", "replay"}, "give --id MSGID (one or more) or --all"},
		{[]string{"events", "dlq", "replay", "--all", "--id", "0A0B0C0D0E0F00112233445566778899"}, "or --all"},
		{[]string{"events", "dlq", "replay", "--id", "123"}, "not a message id"},
		{[]string{"events", "dlq", "replay", "--id", "0A0B0C0D0E0F0011223344556677889Z"}, "not a message id"},
		{[]string{"events", "dlq", "replay", "--id", "0A0B0C0D0E0F00112233445566778899\x1b"}, `\x1b`},
		{[]string{"events", "dlq", "replay", "--all", "--group", "%DLQ%x y"}, "consumer group"},
		{[]string{"events", "dlq", "bogus"}, "unknown command"},
	} {
		expectUsage(t, tc.args, tc.want)
	}
}

// TestEventsDLQListAndReplay: dead letters stored as couponsd's drain
// stores them are listed (escaped, newest first, --limit, --json), and
// replayed to their original topic once: a second replay, by id or --all,
// publishes nothing. Unknown groups and ids are refused with exit 2 and
// nothing published.
func TestEventsDLQListAndReplay(t *testing.T) {
	t.Parallel()
	e := newE2E(t, 10)
	ctx := t.Context()
	group := e.ns + "_" + couponsd.DefaultGroup
	topic := e.ns + "_" + login.Topic
	mqtest.Topics(t, e.mq, 4, topic)
	ns := []string{"--mq-namespace", e.ns}
	dlq := func(args ...string) (int, string, string) {
		return e.run(append(append([]string{"events", "dlq"}, args...), ns...)...)
	}

	// No drain registered for the group yet: refused, naming the problem.
	if code, _, errOut := dlq("list"); code != ExitUsage || !strings.Contains(errOut, "no drain") {
		t.Fatalf("list of an undrained group: exit %d %s", code, errOut)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := deadletter.RegisterDrain(ctx, e.db, group, mq.DeadLetterTopic(group), group+"_dlq", now); err != nil {
		t.Fatal(err)
	}
	ids := []string{"0A000000000000000000000000000001", "0A000000000000000000000000000002", "0A000000000000000000000000000003"}
	bodies := [][]byte{
		login.Event{MemberID: 1, LoginAt: now}.Encode(),
		login.Event{MemberID: 2, LoginAt: now}.Encode(),
		[]byte("{not json\x1b[2J\x00" + strings.Repeat("x", 500)),
	}
	for i, id := range ids {
		l := deadletter.Letter{Group: group, MsgID: id, Topic: topic, Tag: login.Tag, Keys: login.Key(int64(i + 1)),
			Body: bodies[i], ReconsumeTimes: 8, Reason: "failed 9 deliveries"}
		l.PropertiesJSON.String, l.PropertiesJSON.Valid = `{"trace":"t`+id[31:]+`"}`, true
		l.BornAt.Time, l.BornAt.Valid = now.Add(-time.Minute), true
		l.StoredAt.Time, l.StoredAt.Valid = now, true
		if _, err := deadletter.Record(ctx, e.db, l, now); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errOut := dlq("list")
	if code != ExitOK || !strings.Contains(out, "3 dead letters pending, 0 replayed") || !strings.Contains(out, ids[2]) ||
		strings.ContainsAny(out, "\x1b\x00") || !strings.Contains(out, `\x1b[2J`) {
		t.Fatalf("list: exit %d\n%s%s", code, out, errOut)
	}
	var rep dlqListReport
	e.runJSON(&rep, append([]string{"events", "dlq", "list", "--limit", "2"}, ns...)...)
	if rep.Group != group || rep.Pending != 3 || len(rep.Letters) != 2 || rep.Letters[0].MsgID != ids[2] ||
		len([]rune(rep.Letters[0].BodyPreview)) > dlqBodyPreview || rep.Letters[0].BodyBytes != len(bodies[2]) ||
		rep.Letters[0].ReconsumeTimes != 8 || rep.Letters[0].Keys[0] != "3" || rep.Letters[0].BornAt == nil {
		t.Fatalf("list --json: %+v", rep)
	}

	// Consume what replays publish.
	var mu sync.Mutex
	var got []*mq.Delivery
	c, err := mq.NewConsumer(mq.ConsumerConfig{Config: e.mq, Group: e.ns + "_dlqtest_reader", Topic: topic,
		Handler: func(_ context.Context, d *mq.Delivery) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, d)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown(context.Background()) })

	// An unknown id among known ones: nothing is replayed.
	if code, _, errOut := dlq("replay", "--id", ids[0], "--id", "0A0000000000000000000000000000FF"); code != ExitUsage ||
		!strings.Contains(errOut, "0A0000000000000000000000000000FF") {
		t.Fatalf("replay of an unknown id: exit %d %s", code, errOut)
	}
	if code, out, errOut := dlq("replay", "--all", "--dry-run"); code != ExitOK || !strings.Contains(out, "would replay 3") {
		t.Fatalf("dry run: exit %d %s%s", code, out, errOut)
	}
	// By id (lower case accepted), then --all: each once.
	if code, out, errOut := dlq("replay", "--id", strings.ToLower(ids[0])); code != ExitOK || !strings.Contains(out, "replayed 1,") {
		t.Fatalf("replay --id: exit %d %s%s", code, out, errOut)
	}
	var rr dlqReplayReport
	e.runJSON(&rr, append([]string{"events", "dlq", "replay", "--all"}, ns...)...)
	if rr.Counts[deadletter.OutcomeReplayed] != 2 || len(rr.Results) != 2 {
		t.Fatalf("replay --all: %+v", rr)
	}
	e.runJSON(&rr, append([]string{"events", "dlq", "replay", "--all"}, ns...)...)
	if len(rr.Results) != 0 {
		t.Fatalf("second replay --all: %+v", rr)
	}
	e.runJSON(&rr, append([]string{"events", "dlq", "replay", "--id", ids[0] + "," + ids[1]}, ns...)...)
	if rr.Counts[deadletter.OutcomeAlreadyReplayed] != 2 {
		t.Fatalf("second replay by id: %+v", rr)
	}
	mkttest.WaitFor(t, 60*time.Second, "the 3 replayed messages", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 3
	})
	time.Sleep(time.Second) // anything published twice would arrive now
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("replayed messages received: %d, want 3", len(got))
	}
	seen := map[string]bool{}
	for _, d := range got {
		of := d.Properties[deadletter.PropReplayOf]
		i := strings.Index(strings.Join(ids, ","), of) / (len(ids[0]) + 1)
		if of == "" || seen[of] || d.Tag != login.Tag || len(d.Keys) != 1 || d.Keys[0] != login.Key(int64(i+1)) ||
			string(d.Body) != string(bodies[i]) || d.Properties["trace"] != "t"+of[31:] {
			t.Errorf("replayed message %+v", d)
		}
		seen[of] = true
	}
	code, out, _ = dlq("list", "--json")
	var after dlqListReport
	if err := json.Unmarshal([]byte(out), &after); code != ExitOK || err != nil || after.Pending != 0 || after.Replayed != 3 ||
		after.Letters[0].ReplayedAt == nil || after.Letters[0].ReplayedBy == "" {
		t.Fatalf("list after replay: %d %v %+v", code, err, after)
	}
}
