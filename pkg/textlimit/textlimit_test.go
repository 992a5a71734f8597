package textlimit

import (
	"testing"
	"unicode/utf8"
)

func TestCuts(t *testing.T) {
	const s = "ab€d" // € is 3 bytes: a b [e2 82 ac] d
	for _, tc := range []struct {
		name string
		f    func(string, int) string
		n    int
		want string
	}{
		{"bytes fits", Bytes, 6, s},
		{"bytes inside €", Bytes, 4, "ab"},
		{"bytes after €", Bytes, 5, "ab€"},
		{"bytes zero", Bytes, 0, ""},
		{"bytes marked inside €", BytesMarked, 5, "ab…"},
		{"bytes marked too small for the marker", BytesMarked, 2, "ab"},
		{"runes fits", Runes, 4, s},
		{"runes cut", Runes, 3, "ab€"},
		{"runes marked cut", RunesMarked, 3, "ab…"},
		{"runes marked one", RunesMarked, 1, "…"},
		{"runes marked zero", RunesMarked, 0, ""},
	} {
		got := tc.f(s, tc.n)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("%s: (%q, %d) = %q, want %q", tc.name, s, tc.n, got, tc.want)
		}
	}
	if got := BytesMarked("ab€d", 5); len(got) > 5 {
		t.Errorf("BytesMarked exceeds its limit: %q (%d bytes)", got, len(got))
	}
}

// TestBytesKeepsUTF8 (was campaign's truncateBytes test, and provider's
// truncate test).
func TestBytesKeepsUTF8(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"aé", 2, "a"}, {"€€", 4, "€"}} {
		if got := Bytes(c.in, c.n); got != c.want {
			t.Errorf("Bytes(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
	if got := BytesMarked("héllo", 4); got != "h…" {
		t.Errorf("BytesMarked split a character: %q", got)
	}
}
