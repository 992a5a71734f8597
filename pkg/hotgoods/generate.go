package hotgoods

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"mkt/pkg/audience"
	"mkt/pkg/provider"
)

// goodsByTag are plausible goods for each portrait tag, for generated days.
var goodsByTag = map[string][]string{
	"new_customer":   {"Welcome gift box", "Starter kitchen set", "Reusable tote bag", "Travel mug"},
	"bargain_hunter": {"Value pack of socks", "2-for-1 snack box", "Clearance headphones", "Budget phone case"},
	"high_spender":   {"Designer watch", "Cashmere scarf", "Espresso machine", "Noise-cancelling headphones"},
	"mother_baby":    {"Organic baby formula", "Diapers (pack of 80)", "Baby stroller", "Wooden toy blocks"},
	"digital":        {"Wireless earbuds", "Smartphone X12", "USB-C charger 65W", "Mechanical keyboard"},
	"fashion":        {"Linen shirt", "Leather sneakers", "Canvas backpack", "Wool coat"},
	"beauty":         {"Vitamin C serum", "Sunscreen SPF 50", "Matte lipstick", "Hydrating face mask"},
	"sports":         {"Running shoes", "Yoga mat", "Insulated bottle", "Trail backpack"},
	"books":          {"Bestselling novel", "Cookbook", "Kids' picture book", "E-reader"},
	"food":           {"Roasted almonds 1 kg", "Green tea 100 bags", "Olive oil 1 L", "Dark chocolate bar"},
	"home":           {"Memory foam pillow", "Cotton bed sheets", "LED desk lamp", "Storage boxes (set of 3)"},
	"pets":           {"Grain-free dog food", "Cat scratching post", "Pet grooming brush", "Chew toys"},
	"travel":         {"Carry-on suitcase", "Neck pillow", "Packing cubes", "Universal adapter"},
	"student":        {"Notebook set", "Laptop sleeve", "Desk organizer", "Scientific calculator"},
	"senior":         {"Large-button phone", "Blood pressure monitor", "Reading glasses", "Walking cane"},
	"night_owl":      {"Blue-light glasses", "Instant noodles (12)", "Gaming mouse", "Cold brew coffee"},
}

// Generate makes a realistic day of segments rows for demos and benchmarks:
// each segment a combination of portrait tags, levels and activity (over
// the seeded members: from about 50,000 to 2,000,000 of 10,000,000, and
// overlapping), one goods kind, ten ranked goods, a template and channels,
// and a priority. The same seed gives the same day.
func Generate(segments int, seed uint64) []Input {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	tags := audience.TagNames()
	kinds := GoodsKinds()
	out := make([]Input, 0, segments)
	seen := map[string]bool{}
	for i := 0; len(out) < segments; i++ {
		t1 := tags[rng.IntN(len(tags))]
		var f audience.Segment
		var name string
		switch rng.IntN(4) {
		case 0: // one tag: ~10% of members
			f.TagsAll, name = []string{t1}, t1
		case 1: // one tag, high levels
			f.TagsAll, f.Levels = []string{t1}, []int{3, 4, 5}
			name = t1 + "-l345"
		case 2: // two tags: rarer
			t2 := tags[rng.IntN(len(tags))]
			if t2 == t1 {
				continue
			}
			pair := []string{t1, t2}
			slices.Sort(pair)
			f.TagsAll, name = pair, pair[0]+"+"+pair[1]
		default: // any of three tags, active shoppers: the largest
			anyOf := []string{t1, tags[rng.IntN(len(tags))], tags[rng.IntN(len(tags))]}
			slices.Sort(anyOf)
			f.TagsAny, f.MinActiveDays = slices.Compact(anyOf), 10
			name = "active-any-" + fmt.Sprint(len(out))
		}
		kind := kinds[rng.IntN(len(kinds))]
		if seen[name+string(kind)] {
			continue
		}
		seen[name+string(kind)] = true
		pool := goodsByTag[t1]
		var goods []Item
		for g := range 10 {
			base := pool[g%len(pool)]
			goods = append(goods, Item{
				ID:         fmt.Sprintf("SKU-%s-%d-%d", t1, g, rng.IntN(1_000_000)),
				Name:       fmt.Sprintf("%s #%d", base, g/len(pool)+1),
				PriceCents: int64(199 + rng.IntN(99_800)),
				URL:        fmt.Sprintf("https://shop.example/p/%d", rng.IntN(10_000_000)),
			})
		}
		chans := []provider.Channel{provider.ChannelApp, provider.ChannelInbox}
		if rng.IntN(3) == 0 {
			chans = append([]provider.Channel{provider.ChannelSMS}, chans...)
		}
		out = append(out, Input{
			Segment:   name,
			Filter:    f.Normalize(),
			GoodsKind: kind,
			Goods:     goods,
			Template:  "Today's {goods_kind} picked for you ({segment}): {goods}",
			Channels:  chans,
			Priority:  rng.IntN(MaxPriority + 1),
		})
	}
	return out
}

// JSONLine is the row as an import's JSON Lines line.
func (in Input) JSONLine() map[string]any {
	goods := make([]map[string]any, len(in.Goods))
	for i, it := range in.Goods {
		g := map[string]any{"id": it.ID, "name": it.Name, "price": it.Price()}
		if it.URL != "" {
			g["url"] = it.URL
		}
		goods[i] = g
	}
	return map[string]any{"segment": in.Segment, "filter": in.Filter, "goods_kind": in.GoodsKind, "priority": in.Priority,
		"channels": in.Channels, "template": in.Template, "goods": goods}
}
