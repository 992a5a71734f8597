package store

import "testing"

func TestParseID(t *testing.T) {
	for in, want := range map[string]uint64{"1": 1, "5012": 5012, "9223372036854775807": 9223372036854775807} {
		if got, err := ParseID(in); err != nil || got != want {
			t.Errorf("ParseID(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "+5012", "005012", "-1", " 5", "5 ", "5x", "1e3", "9223372036854775808", "18446744073709551616", "٣"} {
		if _, err := ParseID(in); err == nil {
			t.Errorf("ParseID(%q) accepted", in)
		}
	}
}
