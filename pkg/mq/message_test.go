package mq

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestMessageValidate(t *testing.T) {
	ok := Message{Topic: "campaign_events", Tag: "created", Body: []byte("{}"), Keys: []string{"c-1"}, Properties: map[string]string{"campaign_id": "1"}}
	if err := ok.validate(); err != nil {
		t.Fatalf("valid message: %v", err)
	}
	for name, mutate := range map[string]func(*Message){
		"empty topic":       func(m *Message) { m.Topic = "" },
		"empty body":        func(m *Message) { m.Body = nil },
		"topic with space":  func(m *Message) { m.Topic = "a b" },
		"long topic":        func(m *Message) { m.Topic = strings.Repeat("t", 128) },
		"tag with bar":      func(m *Message) { m.Tag = "a||b" },
		"key with space":    func(m *Message) { m.Keys = []string{"a b"} },
		"empty key":         func(m *Message) { m.Keys = []string{""} },
		"system property":   func(m *Message) { m.Properties = map[string]string{"TAGS": "x"} },
		"separator in prop": func(m *Message) { m.Properties = map[string]string{"a": "x\x01y"} },
	} {
		t.Run(name, func(t *testing.T) {
			m := ok
			mutate(&m)
			if err := m.validate(); !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("err = %v, want ErrInvalidMessage", err)
			}
		})
	}
}

func TestMessageRoundTrip(t *testing.T) {
	in := Message{Topic: "t", Tag: "tag", Keys: []string{"k1", "k2"}, Body: []byte("body"),
		Properties: map[string]string{"campaign_id": "42", "shard.no": "7"}}
	out := fromPrimitive(in.toPrimitive())
	if fmt.Sprint(out) != fmt.Sprint(in) {
		t.Fatalf("round trip = %+v, want %+v", out, in)
	}
}

func TestUserPropertiesDropsSystemOnes(t *testing.T) {
	got := userProperties(map[string]string{"UNIQ_KEY": "x", "TAGS": "t", "__transactionId__": "y", "mine": "1"})
	if fmt.Sprint(got) != "map[mine:1]" {
		t.Fatalf("userProperties = %v", got)
	}
}
