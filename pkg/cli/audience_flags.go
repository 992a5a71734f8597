package cli

import (
	"strings"

	"github.com/spf13/pflag"

	"mkt/pkg/audience"
)

// audienceOptions are the flags that choose an audience, the same on every
// command that takes one (campaign create, plan, coupon create): the
// segment flags, or the whole segment as JSON in --audience-json. Neither
// is everyone.
type audienceOptions struct {
	Levels        []int
	MinActiveDays int
	MaxActiveDays int
	TagsAll       []string
	TagsAny       []string
	JSON          string

	// oldJSON is coupon create's former name for --audience-json, kept
	// hidden so that scripts written for it still run.
	oldJSON string
}

// bindAudience registers the audience flags on fs.
func (o *audienceOptions) bindAudience(fs *pflag.FlagSet) {
	fs.IntSliceVar(&o.Levels, "levels", nil, "audience: member levels, e.g. 3,4")
	fs.IntVar(&o.MinActiveDays, "min-active-days", 0, "audience: active on at least this many of the last 30 days")
	fs.IntVar(&o.MaxActiveDays, "max-active-days", 0, "audience: active on at most this many of the last 30 days")
	fs.StringSliceVar(&o.TagsAll, "tags-all", nil, "audience: portrait tags a member must all have, e.g. digital,books")
	fs.StringSliceVar(&o.TagsAny, "tags-any", nil, "audience: portrait tags a member must have one of")
	fs.StringVar(&o.JSON, "audience-json", "", `audience as JSON instead of the audience flags, e.g. '{"levels":[3,4],"min_active_days":5}'; no audience = everyone`)
}

// bindAudienceOldName also accepts --audience, hidden, for --audience-json.
func (o *audienceOptions) bindAudienceOldName(fs *pflag.FlagSet) {
	fs.StringVar(&o.oldJSON, "audience", "", "the former name of --audience-json")
	_ = fs.MarkHidden("audience")
}

// segment builds the audience from either the audience flags or
// --audience-json.
func (o *audienceOptions) segment() (audience.Segment, error) {
	js := o.JSON
	if strings.TrimSpace(o.oldJSON) != "" {
		if strings.TrimSpace(js) != "" {
			return audience.Segment{}, usageErrorf("give --audience-json only (--audience is its former name)")
		}
		js = o.oldJSON
	}
	flags := len(o.Levels) > 0 || o.MinActiveDays != 0 || o.MaxActiveDays != 0 || len(o.TagsAll) > 0 || len(o.TagsAny) > 0
	if strings.TrimSpace(js) != "" {
		if flags {
			return audience.Segment{}, usageErrorf("--audience-json cannot be combined with --levels, --min-active-days, --max-active-days, --tags-all or --tags-any")
		}
		seg, err := audience.Parse([]byte(js))
		if err != nil {
			return audience.Segment{}, usageErrorf("--audience-json: %v", err)
		}
		return seg, nil
	}
	seg := audience.Segment{
		Levels: o.Levels, MinActiveDays: o.MinActiveDays, MaxActiveDays: o.MaxActiveDays,
		TagsAll: trimAll(o.TagsAll), TagsAny: trimAll(o.TagsAny),
	}
	if err := seg.Validate(); err != nil {
		return audience.Segment{}, usageErrorf("audience: %v", err)
	}
	return seg.Normalize(), nil
}

// trimAll drops blank entries from a list flag and trims the rest.
func trimAll(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
