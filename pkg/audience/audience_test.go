package audience

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mkt/pkg/membership"
	"mkt/pkg/store"
	"mkt/pkg/store/storetest"
)

func TestParseAndValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		wantErr string
	}{
		{in: ``},
		{in: `{}`},
		{in: `{"levels":[3,1,3],"min_active_days":5,"tags_all":["digital"],"tags_any":["books","pets"]}`},
		{in: `{"levels":[0]}`, wantErr: "level 0"},
		{in: `{"min_active_days":31}`, wantErr: "min active days 31"},
		{in: `{"min_active_days":10,"max_active_days":5}`, wantErr: "above max"},
		{in: `{"tags_all":["astronaut"]}`, wantErr: `"astronaut"`},
		{in: `{"where":"1=1; DROP TABLE x"}`, wantErr: "unknown field"},
		{in: `{"levels":"3"}`, wantErr: "decode"},
	} {
		s, err := Parse([]byte(tc.in))
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("Parse(%s): %v", tc.in, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("Parse(%s) = %+v, %v; want ErrInvalid containing %q", tc.in, s, err, tc.wantErr)
		}
	}
	s, _ := Parse([]byte(`{"levels":[3,1,3]}`))
	if got := string(s.JSON()); got != `{"levels":[1,3]}` {
		t.Errorf("normalised JSON = %s", got)
	}
	if got := string(Segment{}.JSON()); got != `{}` {
		t.Errorf("everyone JSON = %s", got)
	}
}

func TestWhereUsesPlaceholdersOnly(t *testing.T) {
	t.Parallel()
	s := Segment{Levels: []int{2, 3}, MinActiveDays: 4, MaxActiveDays: 20, TagsAll: []string{"digital"}, TagsAny: []string{"books", "pets"}}
	where, args := s.Where("f")
	if strings.ContainsAny(strings.ReplaceAll(where, "<> 0", ""), "0123456789'\"") {
		t.Errorf("WHERE fragment holds literals: %s", where)
	}
	if strings.Count(where, "?") != len(args) {
		t.Errorf("%d placeholders for %d args in %s", strings.Count(where, "?"), len(args), where)
	}
}

// TestShardSegmentAgainstMariaDB plans real segments over seeded members and
// checks every shard against the database and against Matches.
func TestShardSegmentAgainstMariaDB(t *testing.T) {
	t.Parallel()
	db := storetest.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const members = 6000
	if _, err := membership.Seed(ctx, db, membership.SeedOptions{Target: members}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	segments := []Segment{
		{},
		{Levels: []int{1}},
		{Levels: []int{4, 5}, MinActiveDays: 1},
		{TagsAny: []string{"digital", "books"}, MaxActiveDays: 10},
		{TagsAll: []string{"digital", "books"}},
	}
	for _, s := range segments {
		count, err := Count(ctx, db, s)
		if err != nil {
			t.Fatal(err)
		}
		want := matching(t, ctx, db, s)
		if !s.Everyone() && count != int64(len(want)) {
			t.Errorf("%s: Count = %d, Matches finds %d", s, count, len(want))
		}
		plan, err := Shard(ctx, db, s, 250)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if s.Everyone() {
			if plan.Members != members || len(plan.Shards) != members/250 {
				t.Errorf("everyone: %d members in %d shards, want %d in %d", plan.Members, len(plan.Shards), members, members/250)
			}
		} else if plan.Members != count {
			t.Errorf("%s: plan has %d members, Count %d", s, plan.Members, count)
		}
		// Shards tile the id space in order and hold what they claim.
		var prevEnd uint64
		covered := 0
		for i, r := range plan.Shards {
			if r.No != i || r.End <= r.Start || (i > 0 && r.Start != prevEnd) {
				t.Fatalf("%s: shard %d %+v does not follow %d", s, i, r, prevEnd)
			}
			prevEnd = r.End
			n := 0
			for _, id := range want {
				if id >= r.Start && id < r.End {
					n++
				}
			}
			if !s.Everyone() && n != r.Expected {
				t.Errorf("%s: shard %d holds %d matching members, expected %d", s, i, n, r.Expected)
			}
			if !s.Everyone() && i < len(plan.Shards)-1 && r.Expected != 250 {
				t.Errorf("%s: inner shard %d expects %d, want 250", s, i, r.Expected)
			}
			covered += n
		}
		if covered != len(want) {
			t.Errorf("%s: shards cover %d of %d matching members", s, covered, len(want))
		}
	}
}

// matching lists the member ids in s by reading every filter row and
// applying Matches in Go.
func matching(t *testing.T, ctx context.Context, db store.Handler, s Segment) []uint64 {
	t.Helper()
	var rows []struct {
		ID     uint64 `db:"member_id"`
		Level  int    `db:"member_level"`
		Active int    `db:"active_days"`
		Tags   uint64 `db:"portrait_tags"`
	}
	q := `SELECT f.member_id, f.member_level, f.active_days, f.portrait_tags FROM membership_filter f`
	if s.Everyone() {
		q += ` JOIN membership_account a ON a.id = f.member_id WHERE a.status = 'active'`
	}
	if err := db.SelectContext(ctx, &rows, q+` ORDER BY f.member_id`); err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, r := range rows {
		if s.Matches(r.Level, r.Active, r.Tags) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// TestParseRefusesTrailingText: an audience is one JSON object and nothing
// after it.
func TestParseRefusesTrailingText(t *testing.T) {
	for _, in := range []string{`{"levels":[1]} garbage`, `{"levels":[1]}{"levels":[2]}`, `{} x`} {
		if _, err := Parse([]byte(in)); err == nil || !strings.Contains(err.Error(), "text after the JSON value") {
			t.Errorf("Parse(%q) = %v", in, err)
		}
	}
	if s, err := Parse([]byte(" {\"levels\":[1]} \n")); err != nil || len(s.Levels) != 1 {
		t.Errorf("surrounding spaces: %v %v", s, err)
	}
}
