// Package hotgoods owns the daily hot-goods pushes: the recommender's rows
// for a day (one per portrait segment and goods kind, with its ranked goods,
// message template, channels and priority), their import from JSON Lines or
// CSV, the launch of a day's rows (all, or a shard of them) as a campaign of
// kind hot_goods, and what the push workers need to fan it out: each
// member's winning row for the day and its rendered message.
//
// A member in several segments gets one hot-goods push a day: the message
// of the highest-priority row whose segment they fall in (ties: the lower
// row id). The launch plans the run's shards over the member id range once
// (no per-segment count or scan); the workers resolve each member's row in
// memory as they page through the members, so a day of 200 segments costs
// one pass over the members.
package hotgoods

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"mkt/pkg/audience"
	"mkt/pkg/campaign"
	"mkt/pkg/money"
	"mkt/pkg/provider"
	"mkt/pkg/textlimit"
)

// ErrInvalid is wrapped by every validation error of imported rows and
// launch options.
var ErrInvalid = errors.New("hotgoods: invalid")

// GoodsKind is what the recommender ranked the goods by.
type GoodsKind string

// Goods kinds.
const (
	BestSelling GoodsKind = "best_selling"
	MostViewed  GoodsKind = "most_viewed"
	BestRated   GoodsKind = "best_rated"
)

// GoodsKinds lists the goods kinds.
func GoodsKinds() []GoodsKind { return []GoodsKind{BestSelling, MostViewed, BestRated} }

// Label is the goods kind as a message names it.
func (k GoodsKind) Label() string {
	switch k {
	case BestSelling:
		return "best sellers"
	case MostViewed:
		return "most viewed"
	case BestRated:
		return "best rated"
	}
	return string(k)
}

// Limits on imported rows.
const (
	MaxSegmentName = 64
	MaxGoods       = 20
	MaxGoodsName   = 100
	MaxGoodsID     = 64
	MaxURL         = 500
	MaxTemplate    = 2000
	MaxPriority    = 1000
	// MaxRowsPerDay bounds a day's rows (each member is matched against
	// them all).
	MaxRowsPerDay = 2000
	// SMSMaxRunes is the longest SMS a hot-goods push sends: two
	// concatenated 70-character segments. A longer rendering is cut at a
	// character boundary and ends in "…".
	SMSMaxRunes = 140
	// SMSGoods is how many of the ranked goods an SMS lists; e-mail, app
	// push and the inbox list them all.
	SMSGoods = 3
)

// Item is one ranked good.
type Item struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	URL        string `json:"url,omitempty"`
}

// Price is the item's price as a decimal, e.g. "1999.00".
func (it Item) Price() string { return money.Format(it.PriceCents) }

// Input is one row as the recommender gives it, validated.
type Input struct {
	Segment   string             `json:"segment"`
	Filter    audience.Segment   `json:"filter"`
	GoodsKind GoodsKind          `json:"goods_kind"`
	Goods     []Item             `json:"goods"`
	Template  string             `json:"template"`
	Channels  []provider.Channel `json:"channels"`
	Priority  int                `json:"priority"`
}

// placeholder matches {name} in templates.
var placeholder = regexp.MustCompile(`\{([a-z_0-9]*)\}`)

// Placeholders are the names a hot-goods template may use.
var Placeholders = []string{"goods", "goods_kind", "segment", "date", "top1", "member_id"}

// problems lists what is wrong with the row, as "field: reason".
func (in Input) problems() []string {
	var out []string
	bad := func(field, format string, args ...any) {
		out = append(out, field+": "+fmt.Sprintf(format, args...))
	}
	switch name := strings.TrimSpace(in.Segment); {
	case name == "":
		bad("segment", "is required")
	case utf8.RuneCountInString(name) > MaxSegmentName:
		bad("segment", "is longer than %d characters", MaxSegmentName)
	case name != in.Segment:
		bad("segment", "has leading or trailing spaces")
	default:
		for _, p := range campaign.TextProblems(name, false) {
			bad("segment", "%s", p)
		}
	}
	if err := in.Filter.Validate(); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			bad("filter", "%s", strings.TrimPrefix(e, audience.ErrInvalid.Error()+": "))
		}
	}
	if !slices.Contains(GoodsKinds(), in.GoodsKind) {
		bad("goods_kind", "%q: want one of best_selling, most_viewed, best_rated", in.GoodsKind)
	}
	switch {
	case len(in.Goods) == 0:
		bad("goods", "at least one good is required")
	case len(in.Goods) > MaxGoods:
		bad("goods", "%d goods: at most %d", len(in.Goods), MaxGoods)
	}
	seen := map[string]bool{}
	for i, it := range in.Goods {
		f := fmt.Sprintf("goods[%d]", i)
		switch {
		case strings.TrimSpace(it.ID) == "":
			bad(f+".id", "is required")
		case len(it.ID) > MaxGoodsID:
			bad(f+".id", "is longer than %d bytes", MaxGoodsID)
		case seen[it.ID]:
			bad(f+".id", "%q is listed twice", it.ID)
		}
		seen[it.ID] = true
		switch n := strings.TrimSpace(it.Name); {
		case n == "":
			bad(f+".name", "is required")
		case utf8.RuneCountInString(n) > MaxGoodsName:
			bad(f+".name", "is longer than %d characters", MaxGoodsName)
		default:
			for _, p := range campaign.TextProblems(n, false) {
				bad(f+".name", "%s", p)
			}
		}
		if it.PriceCents <= 0 {
			bad(f+".price", "must be positive")
		}
		if it.URL != "" && (len(it.URL) > MaxURL || !(strings.HasPrefix(it.URL, "https://") || strings.HasPrefix(it.URL, "http://")) ||
			strings.ContainsAny(it.URL, " \t\n\"<>")) {
			bad(f+".url", "want an http(s) URL of at most %d bytes", MaxURL)
		}
	}
	switch tmpl := strings.TrimSpace(in.Template); {
	case tmpl == "":
		bad("template", "is required")
	case utf8.RuneCountInString(tmpl) > MaxTemplate:
		bad("template", "is longer than %d characters", MaxTemplate)
	default:
		for _, p := range campaign.TemplateProblems(tmpl, Placeholders) {
			bad("template", "%s", p)
		}
	}
	if len(in.Channels) == 0 {
		bad("channels", "at least one channel is required")
	}
	for _, p := range provider.ListProblems(in.Channels) {
		bad("channels", "%s", p)
	}
	if in.Priority < 0 || in.Priority > MaxPriority {
		bad("priority", "%d: want 0..%d", in.Priority, MaxPriority)
	}
	return out
}

// hash is the row's content digest: re-importing the same content is a
// no-op, different content for a launched row is refused.
func (in Input) hash() string {
	in.Filter = in.Filter.Normalize()
	b, _ := json.Marshal(in)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Row is a stored hot_goods_crontab row.
type Row struct {
	ID        uint64             `db:"id" json:"id"`
	RunDate   time.Time          `db:"run_date" json:"-"`
	Date      string             `db:"-" json:"date"`
	Segment   string             `db:"segment_name" json:"segment"`
	FilterRaw []byte             `db:"segment" json:"-"`
	Filter    audience.Segment   `db:"-" json:"filter"`
	GoodsKind GoodsKind          `db:"goods_kind" json:"goods_kind"`
	Priority  int                `db:"priority" json:"priority"`
	GoodsRaw  []byte             `db:"goods" json:"-"`
	Goods     []Item             `db:"-" json:"goods"`
	Template  string             `db:"message_template" json:"template"`
	ChanRaw   string             `db:"channels" json:"-"`
	Channels  []provider.Channel `db:"-" json:"channels"`
	// Status is pending until a run launches the row, then running.
	Status    string    `db:"status" json:"status"`
	RunID     *uint64   `db:"run_id" json:"run_id,omitempty"`
	Hash      string    `db:"content_hash" json:"-"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
	UpdatedAt time.Time `db:"updated_at" json:"updated_at"`
}

// Launched reports whether a run took the row.
func (r *Row) Launched() bool { return r.RunID != nil }

func (r *Row) decode() error {
	r.Date = r.RunDate.Format(time.DateOnly)
	f, err := audience.Parse(r.FilterRaw)
	if err != nil {
		return fmt.Errorf("hot-goods row %d: stored filter: %w", r.ID, err)
	}
	r.Filter = f
	if err := json.Unmarshal(r.GoodsRaw, &r.Goods); err != nil {
		return fmt.Errorf("hot-goods row %d: stored goods: %w", r.ID, err)
	}
	chs, err := provider.ParseChannels(r.ChanRaw)
	if err != nil {
		return fmt.Errorf("hot-goods row %d: stored channels: %w", r.ID, err)
	}
	r.Channels = chs
	return nil
}

// Render fills the row's template for a channel: {goods} lists the top
// SMSGoods goods with their prices in an SMS and every good elsewhere (with
// its link where the channel shows one), {top1} the first, {goods_kind},
// {segment}, {date} and {member_id}. An SMS is cut to SMSMaxRunes.
func (r *Row) Render(ch provider.Channel, memberID uint64) string {
	goods := r.Goods
	sep := "; "
	if ch == provider.ChannelSMS {
		goods = goods[:min(len(goods), SMSGoods)]
	} else {
		sep = "\n"
	}
	list := make([]string, len(goods))
	for i, it := range goods {
		s := fmt.Sprintf("%d. %s %s", i+1, it.Name, it.Price())
		if ch != provider.ChannelSMS && it.URL != "" {
			s += " " + it.URL
		}
		list[i] = s
	}
	out := placeholder.ReplaceAllStringFunc(r.Template, func(m string) string {
		switch m[1 : len(m)-1] {
		case "goods":
			return strings.Join(list, sep)
		case "top1":
			if len(r.Goods) > 0 {
				return r.Goods[0].Name + " " + r.Goods[0].Price()
			}
			return ""
		case "goods_kind":
			return r.GoodsKind.Label()
		case "segment":
			return r.Segment
		case "date":
			return r.Date
		case "member_id":
			return strconv.FormatUint(memberID, 10)
		}
		return m
	})
	if ch == provider.ChannelSMS {
		return textlimit.RunesMarked(out, SMSMaxRunes)
	}
	return out
}

// HasMemberPlaceholder reports whether Render depends on the member.
func (r *Row) HasMemberPlaceholder() bool { return strings.Contains(r.Template, "{member_id}") }

// Title is the heading of non-SMS messages.
func (r *Row) Title() string { return fmt.Sprintf("Today's %s for %s", r.GoodsKind.Label(), r.Segment) }
