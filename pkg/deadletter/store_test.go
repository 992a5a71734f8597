package deadletter

import (
	"testing"
	"time"

	"mkt/pkg/store/storetest"
)

// TestRecordOnceKeepsTheReason: on the real MariaDB, a reason noted by the
// consumer before the drain stores the message is kept, a dead letter
// stored twice is stored once, and a reason noted late does not replace
// the one stored.
func TestRecordOnceKeepsTheReason(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Millisecond)
	const id = "0B000000000000000000000000000001"
	if err := NoteReason(ctx, db, "g", id, "coupon: lock coupon 7: bad connection", 8); err != nil {
		t.Fatal(err)
	}
	if ls, err := List(ctx, db, ListOptions{Group: "g", Limit: 10}); err != nil || len(ls) != 0 {
		t.Fatalf("a noted reason alone is listed: %v %+v", err, ls)
	}
	l := Letter{Group: "g", MsgID: id, Topic: "t", Tag: "login", Keys: "7", Body: []byte("{}"), Reason: "failed 9 deliveries", ReconsumeTimes: 9}
	for i, wantNew := range []bool{true, false} {
		fresh, err := Record(ctx, db, l, now)
		if err != nil || fresh != wantNew {
			t.Fatalf("Record %d: %v %v", i, fresh, err)
		}
	}
	if err := NoteReason(ctx, db, "g", id, "late", 1); err != nil {
		t.Fatal(err)
	}
	ls, err := Get(ctx, db, "g", []string{id})
	if err != nil || len(ls) != 1 {
		t.Fatalf("Get: %v %+v", err, ls)
	}
	if g := ls[0]; g.Reason != "coupon: lock coupon 7: bad connection" || g.ReconsumeTimes != 8 || g.Topic != "t" ||
		string(g.Body) != "{}" || !g.DrainedAt.Valid {
		t.Errorf("stored %+v", g)
	}
	if _, err := Get(ctx, db, "g", []string{id, "0B0000000000000000000000000000FF"}); err == nil {
		t.Error("Get of an unknown id")
	}
	if c, err := Count(ctx, db, "g"); err != nil || c.Pending != 1 || c.Replayed != 0 {
		t.Errorf("Count = %+v %v", c, err)
	}
	if err := CheckGroup(ctx, db, "g"); err == nil {
		t.Error("an unregistered group is known")
	}
}
