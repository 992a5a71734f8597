package membership

import (
	"errors"
	"slices"
	"testing"
)

func TestTagDictionary(t *testing.T) {
	t.Parallel()
	tags := AllTags()
	if len(tags) != NumTags {
		t.Fatalf("AllTags has %d tags, want %d", len(tags), NumTags)
	}
	seen := map[string]bool{}
	for i, tag := range tags {
		if int(tag) != i || !tag.Valid() {
			t.Errorf("AllTags()[%d] = %d", i, tag)
		}
		name := tag.String()
		if seen[name] {
			t.Errorf("duplicate tag name %q", name)
		}
		seen[name] = true
		back, err := ParseTag(name)
		if err != nil || back != tag {
			t.Errorf("ParseTag(%q) = %v, %v; want %v", name, back, err, tag)
		}
	}
	if TagNightOwl != NumTags-1 || TagNightOwl.String() != "night_owl" {
		t.Errorf("last tag %d %q", TagNightOwl, TagNightOwl)
	}
	if _, err := ParseTag("astronaut"); !errors.Is(err, ErrUnknownTag) {
		t.Errorf("ParseTag(unknown) = %v, want ErrUnknownTag", err)
	}
	if Tag(NumTags).Valid() || Tag(NumTags).String() != "tag(16)" {
		t.Errorf("Tag(NumTags) is valid or misnamed")
	}
}

func TestTagMask(t *testing.T) {
	t.Parallel()
	m := TagMask(TagDigital, TagNewCustomer, TagNightOwl)
	if m != 1<<4|1|1<<15 {
		t.Errorf("TagMask = %b", m)
	}
	if got := TagsOf(m | 1<<40); !slices.Equal(got, []Tag{TagNewCustomer, TagDigital, TagNightOwl}) {
		t.Errorf("TagsOf = %v", got)
	}
	if TagMask() != 0 || len(TagsOf(0)) != 0 {
		t.Error("empty mask")
	}
}
