package provider

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
)

func TestParseChannel(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Channel
		ok   bool
	}{
		{"sms", ChannelSMS, true},
		{" SMS ", ChannelSMS, true},
		{"email", ChannelEmail, true},
		{"e-mail", ChannelEmail, true},
		{"Mail", ChannelEmail, true},
		{"app", ChannelApp, true},
		{"push", ChannelApp, true},
		{"inbox", ChannelInbox, true},
		{"", "", false},
		{"fax", "", false},
	}
	for _, tt := range tests {
		got, err := ParseChannel(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseChannel(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrUnknownChannel) {
			t.Errorf("ParseChannel(%q) error %v does not wrap ErrUnknownChannel", tt.in, err)
		}
	}
	for _, c := range Channels() {
		if !c.Valid() {
			t.Errorf("%q not valid", c)
		}
	}
	if Channel("SMS").Valid() {
		t.Error("non-canonical channel reported valid")
	}
}

func TestParseChannels(t *testing.T) {
	t.Parallel()
	got, err := ParseChannels("sms, push,sms,,email")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Channel{ChannelSMS, ChannelApp, ChannelEmail}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", " , ", "sms,fax"} {
		if _, err := ParseChannels(bad); err == nil {
			t.Errorf("ParseChannels(%q) succeeded", bad)
		}
	}
}

func TestChannelJSON(t *testing.T) {
	t.Parallel()
	var v struct{ C Channel }
	if err := json.Unmarshal([]byte(`{"C":"push"}`), &v); err != nil || v.C != ChannelApp {
		t.Fatalf("unmarshal: %v %q", err, v.C)
	}
	if err := json.Unmarshal([]byte(`{"C":"fax"}`), &v); err == nil {
		t.Fatal("unmarshal of unknown channel succeeded")
	}
	b, err := json.Marshal(struct{ C Channel }{ChannelInbox})
	if err != nil || string(b) != `{"C":"inbox"}` {
		t.Fatalf("marshal: %s %v", b, err)
	}
	if _, err := json.Marshal(struct{ C Channel }{"fax"}); err == nil {
		t.Fatal("marshal of unknown channel succeeded")
	}
}

func TestRecipientKey(t *testing.T) {
	t.Parallel()
	msg := Message{CampaignID: 42, Channel: ChannelSMS}
	if got := RecipientKey(msg, 1001); got != "42:sms:1001" {
		t.Errorf("default key %q", got)
	}
	msg.IdempotencyKey = "retry-7"
	if got := RecipientKey(msg, 1001); got != "retry-7:1001" {
		t.Errorf("custom key %q", got)
	}
}

func TestListProblems(t *testing.T) {
	if p := ListProblems([]Channel{ChannelSMS, ChannelApp}); p != nil {
		t.Errorf("valid list: %v", p)
	}
	p := ListProblems([]Channel{ChannelSMS, "fax", ChannelSMS})
	if len(p) != 2 || p[0] != `channel "fax" is unknown` || p[1] != `channel "sms" is listed twice` {
		t.Errorf("problems = %q", p)
	}
}
