package hotgoods

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"mkt/pkg/membership"
	"mkt/pkg/provider"
	"mkt/pkg/textlimit"
)

const goodLine = `{"segment":"digital-fans","filter":{"tags_all":["digital"],"levels":[3,4]},"goods_kind":"best_selling","priority":10,` +
	`"channels":["sms","app"],"template":"Today's {goods_kind} for {segment}: {goods}",` +
	`"goods":[{"id":"SKU-1","name":"Wireless earbuds","price":"59.90","url":"https://shop.example/p/1"},{"id":"SKU-2","name":"Phone","price":1999}]}`

const goodCSV = "segment,goods_kind,priority,channels,template,levels,min_active_days,max_active_days,tags_all,tags_any,goods\n" +
	`digital-fans,best_selling,10,sms;app,"Today's {goods_kind} for {segment}: {goods}",3;4,,,digital,,SKU-1|Wireless earbuds|59.90|https://shop.example/p/1;SKU-2|Phone|1999` + "\n"

func TestParseJSONLAndCSVAgree(t *testing.T) {
	j, err := Parse(strings.NewReader(goodLine+"\n\n"), FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(strings.NewReader(goodCSV), FormatAuto)
	if err != nil {
		t.Fatal(err)
	}
	if len(j) != 1 || len(c) != 1 || j[0].hash() != c[0].hash() {
		t.Fatalf("JSON Lines %+v and CSV %+v differ", j, c)
	}
	r := j[0]
	if r.Goods[1].PriceCents != 199900 || r.Goods[0].PriceCents != 5990 || r.Priority != 10 ||
		fmt.Sprint(r.Filter.Levels) != "[3 4]" || fmt.Sprint(r.Channels) != "[sms app]" {
		t.Errorf("row = %+v", r)
	}
}

// TestParseNamesEveryBadLine: one line per class of mistake; every one is
// reported with its line and field, and nothing is returned.
func TestParseNamesEveryBadLine(t *testing.T) {
	edit := func(from, to string) string {
		if !strings.Contains(goodLine, from) {
			t.Fatalf("%q not in the good line", from)
		}
		return strings.Replace(goodLine, from, to, 1)
	}
	beforeGoods, _, _ := strings.Cut(goodLine, `"goods":[`)
	manyGoods := `"goods":[` + strings.Repeat(`{"id":"x","name":"n","price":"1"},`, 20) + `{"id":"y","name":"n","price":"1"}]`
	cases := []struct{ line, field, reason string }{
		{`{"segment": "broken"`, "", "not a JSON object"},
		{edit(`"priority":10`, `"priority":10,"colour":"red"`), "", `unknown field "colour"`},
		{edit(`"priority":10`, `"priority":10,"priority":11`), "", `key "priority" is given twice`},
		{edit(`"goods_kind"`, `"Goods_Kind"`), "", `keys are case-sensitive`},
		{edit(`"segment":"digital-fans",`, ``), "segment", "is required"},
		{edit(`"digital-fans"`, `"`+strings.Repeat("x", 65)+`"`), "segment", "longer than 64"},
		{edit(`"digital-fans"`, `" padded "`), "segment", "spaces"},
		{edit(`"levels":[3,4]`, `"levels":[7]`), "filter", "level 7 is outside 1..5"},
		{edit(`["digital"]`, `["gadgets"]`), "filter", `portrait tag "gadgets"`},
		{edit(`"tags_all"`, `"tags_every"`), "filter", "unknown field"},
		{edit(`"best_selling"`, `"cheapest"`), "goods_kind", `"cheapest"`},
		{beforeGoods + `"goods":[]}`, "goods", "at least one"},
		{beforeGoods + manyGoods + `}`, "goods", "at most 20"},
		{edit(`"id":"SKU-2"`, `"id":"SKU-1"`), "goods[1].id", "listed twice"},
		{edit(`"id":"SKU-1"`, `"id":""`), "goods[0].id", "is required"},
		{edit(`"name":"Phone"`, `"name":"  "`), "goods[1].name", "is required"},
		{edit(`"price":"59.90"`, `"price":"59.999"`), "goods[0].price", "decimal"},
		{edit(`"price":"59.90"`, `"price":"-5"`), "goods[0].price", "decimal"},
		{edit(`"price":"59.90"`, `"price":"0"`), "goods[0].price", "must be positive"},
		{edit(`https://shop.example/p/1`, `javascript:alert(1)`), "goods[0].url", "http(s) URL"},
		{edit(`"template":"Today's {goods_kind} for {segment}: {goods}"`, `"template":"  "`), "template", "is required"},
		{edit(`{segment}`, `{coupon}`), "template", "{coupon} is unknown"},
		{edit(`["sms","app"]`, `[]`), "channels", "at least one"},
		{edit(`["sms","app"]`, `["sms","fax"]`), "channels", `"fax"`},
		{edit(`["sms","app"]`, `["sms","sms"]`), "channels", "listed twice"},
		{edit(`"priority":10`, `"priority":1001`), "priority", "0..1000"},
		{edit(`"priority":10`, `"priority":1.5`), "priority", "integer"},
	}
	var file strings.Builder
	for _, c := range cases {
		file.WriteString(c.line + "\n")
	}
	file.WriteString(goodLine + "\n")                                                      // valid: line len(cases)+1
	file.WriteString(strings.Replace(goodLine, `"priority":10`, `"priority":3`, 1) + "\n") // same segment and kind
	rows, err := Parse(strings.NewReader(file.String()), FormatJSONL)
	var fe *FileError
	if rows != nil || !errors.As(err, &fe) {
		t.Fatalf("rows %v, error %v", rows, err)
	}
	found := map[int][]LineError{}
	for _, p := range fe.Problems {
		found[p.Line] = append(found[p.Line], p)
	}
	for i, c := range cases {
		line := i + 1
		got := found[line]
		ok := false
		for _, p := range got {
			ok = ok || (p.Field == c.field && strings.Contains(p.Reason, c.reason))
		}
		if !ok {
			t.Errorf("line %d (%s): got %v, want %s: …%s…", line, c.line, got, c.field, c.reason)
		}
	}
	if p := found[len(cases)+1]; len(p) != 0 {
		t.Errorf("the good line was reported: %v", p)
	}
	if p := found[len(cases)+2]; len(p) != 1 || !strings.Contains(p[0].Reason, fmt.Sprintf("already on line %d", len(cases)+1)) {
		t.Errorf("duplicate segment and kind: %v", p)
	}
	if !strings.Contains(err.Error(), "nothing imported") {
		t.Errorf("error text: %v", err)
	}
}

func TestParseCSVProblems(t *testing.T) {
	header := strings.SplitN(goodCSV, "\n", 2)[0] + "\n"
	row := strings.SplitN(goodCSV, "\n", 2)[1]
	for _, c := range []struct{ file, want string }{
		{"segment,kind\n" + row, "line 1: the header must be exactly"},
		{header + "a,b,c\n", "line 2: 3 fields, want 11"},
		{header + strings.Replace(row, "SKU-2|Phone|1999", "SKU-2|Phone", 1), "line 2: goods[1]"},
		{header + strings.Replace(row, "3;4", "3;x", 1), "line 2: levels"},
		{header + strings.Replace(row, ",,,digital", ",40,,digital", 1), "line 2: filter: min active days 40"},
		{header + row + `"unterminated,` + "\n", "line 3: not CSV"},
		{"", "no CSV header"},
		{header, "the file holds no rows"},
	} {
		_, err := Parse(strings.NewReader(c.file), FormatCSV)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.file, err, c.want)
		}
	}
}

func TestRenderCutsSMSAtACharacter(t *testing.T) {
	r := Row{Segment: "数码爱好者", GoodsKind: BestSelling, Date: "2026-12-02",
		Template: "今日{goods_kind}（{segment}）：{goods}",
		Goods: []Item{
			{ID: "1", Name: "无线耳机超长续航降噪版本", PriceCents: 5990, URL: "https://shop.example/p/1"},
			{ID: "2", Name: "智能手机旗舰版大屏幕高清摄像", PriceCents: 199900},
			{ID: "3", Name: "机械键盘青轴背光游戏办公两用", PriceCents: 29900},
			{ID: "4", Name: "第四件商品只在邮件里出现", PriceCents: 100},
		}}
	r.Template += strings.Repeat("。", 200)
	sms := r.Render(provider.ChannelSMS, 0)
	if n := utf8.RuneCountInString(sms); n != SMSMaxRunes || !utf8.ValidString(sms) || !strings.HasSuffix(sms, "…") {
		t.Errorf("sms has %d characters (valid %v): %q", n, utf8.ValidString(sms), sms)
	}
	if strings.Contains(sms, "第四件") || !strings.Contains(sms, "1. 无线耳机超长续航降噪版本 59.90") || strings.Contains(sms, "https://") {
		t.Errorf("sms lists the wrong goods: %q", sms)
	}
	app := r.Render(provider.ChannelApp, 0)
	if !strings.Contains(app, "4. 第四件商品只在邮件里出现 1.00") || !strings.Contains(app, "https://shop.example/p/1") ||
		!strings.Contains(app, "best sellers") || utf8.RuneCountInString(app) < 200 {
		t.Errorf("app push = %q", app)
	}
	short := Row{Template: "{top1} for {segment} on {date}, member {member_id}", Segment: "s", Date: "2026-12-02",
		Goods: []Item{{Name: "Mug", PriceCents: 1250}}}
	if got := short.Render(provider.ChannelSMS, 42); got != "Mug 12.50 for s on 2026-12-02, member 42" {
		t.Errorf("short = %q", got)
	}
	if textlimit.RunesMarked("abc", 3) != "abc" || textlimit.RunesMarked("abcd", 3) != "ab…" || textlimit.RunesMarked("数码数码", 2) != "数…" {
		t.Error("RunesMarked")
	}
}

func TestShardOfCoversEveryRowOnce(t *testing.T) {
	for n := 1; n <= 7; n++ {
		count := make([]int, 5000)
		for i := range n {
			for id := range count {
				if ShardOf(uint64(id+1), n) == i {
					count[id]++
				}
			}
		}
		for id, c := range count {
			if c != 1 {
				t.Fatalf("n=%d: row %d taken %d times", n, id+1, c)
			}
		}
	}
	// Documented: CRC-32 IEEE of the decimal id (MySQL's CRC32(id)).
	// Documented: CRC-32 IEEE of the decimal id, MySQL's CRC32(id):
	// SELECT CRC32(12345) = 3421846044.
	if got := ShardOf(12345, 1000); got != 3421846044%1000 {
		t.Errorf("ShardOf(12345, 1000) = %d, want %d", got, 3421846044%1000)
	}
}

// TestWinnerAgreesWithSegmentMatches: the compiled day picks, for random
// members, the first row in precedence whose audience.Segment matches.
func TestWinnerAgreesWithSegmentMatches(t *testing.T) {
	gen := Generate(200, 7)
	rows := make([]Row, len(gen))
	for i, in := range gen {
		rows[i] = Row{ID: uint64(i + 1), Segment: in.Segment, Filter: in.Filter, Priority: in.Priority % 5}
	}
	day := NewDay(rows)
	order := day.Rows()
	for i := 1; i < len(order); i++ {
		a, b := order[i-1], order[i]
		if a.Priority < b.Priority || (a.Priority == b.Priority && a.ID > b.ID) {
			t.Fatalf("precedence broken at %d: %+v before %+v", i, a, b)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	matched := 0
	for range 20000 {
		level, active := 1+rng.IntN(5), rng.IntN(31)
		var tags uint64
		for range rng.IntN(5) {
			tags |= membership.Tag(rng.IntN(membership.NumTags)).Mask()
		}
		var want *Row
		for _, r := range order {
			if r.Filter.Matches(level, active, tags) {
				want = r
				break
			}
		}
		if got := day.Winner(level, active, tags); got != want {
			t.Fatalf("member (%d, %d, %b): winner %v, want %v", level, active, tags, got, want)
		}
		if want != nil {
			matched++
		}
	}
	if matched < 5000 {
		t.Errorf("only %d of 20000 members fall in a segment: the generated day is not realistic", matched)
	}
}
