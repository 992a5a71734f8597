package deadletter

import (
	"errors"
	"strings"
	"testing"
)

func TestParseMsgID(t *testing.T) {
	t.Parallel()
	if id, err := ParseMsgID("7f0000010b2a18b4aac27c6f2f6d0000"); err != nil || id != "7F0000010B2A18B4AAC27C6F2F6D0000" {
		t.Errorf("ParseMsgID: %q %v", id, err)
	}
	for _, bad := range []string{"", "7F00", "7F0000010B2A18B4AAC27C6F2F6D00000", "7F0000010B2A18B4AAC27C6F2F6D000G",
		" 7F0000010B2A18B4AAC27C6F2F6D000", "+F0000010B2A18B4AAC27C6F2F6D0000", "7F0000010B2A18B4AAC27C6F2F6D000\x1b"} {
		_, err := ParseMsgID(bad)
		if !errors.Is(err, ErrBadMsgID) || strings.ContainsRune(err.Error(), '\x1b') {
			t.Errorf("ParseMsgID(%q) = %v", bad, err)
		}
	}
}

func TestBodyPreviewAndReason(t *testing.T) {
	t.Parallel()
	body := []byte("{\"a\":\"\x1b[31mred\x00\xff\u2028\"}" + strings.Repeat("y", 300))
	p := BodyPreview(body, 40)
	if strings.ContainsAny(p, "\x1b\x00\u2028") || !strings.Contains(p, `\x1b[31mred\x00\xff\u2028`) || len([]rune(p)) != 40 || !strings.HasSuffix(p, "…") {
		t.Errorf("BodyPreview = %q", p)
	}
	if r := cleanReason(strings.Repeat("é", 2000) + "\x1b"); len([]rune(r)) != maxReasonRunes {
		t.Errorf("cleanReason kept %d runes", len([]rune(r)))
	}
	if got := (&Letter{Keys: " 10042  x "}).KeyList(); len(got) != 2 || got[0] != "10042" {
		t.Errorf("KeyList = %q", got)
	}
}
