package login

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mkt/pkg/mq"
)

func TestEncodeDecode(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 8, 15, 30, 123e6, time.UTC)
	e := Event{MemberID: 10042, LoginAt: at, EventID: "ev-1", Channel: ChannelApp, Platform: "ios",
		DeviceID: "dev-9", AppVersion: "8.3.1", IP: "203.0.113.7"}
	got, err := Decode(e.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got != e {
		t.Errorf("round trip: %+v, want %+v", got, e)
	}
	// The contract's example body, with a field the contract does not name.
	body := `{"member_id":7,"login_at":"2026-11-26T08:15:30.123Z","channel":"web","ip":"2001:db8::1","risk_score":3}`
	got, err = Decode([]byte(body))
	if err != nil || got.MemberID != 7 || !got.LoginAt.Equal(at) || got.Channel != ChannelWeb {
		t.Errorf("Decode(contract example) = %+v, %v", got, err)
	}
	m := e.Message("")
	if m.Topic != Topic || m.Tag != Tag || len(m.Keys) != 1 || m.Keys[0] != "10042" {
		t.Errorf("Message = %+v", m)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		``, `not json`, `{}`, `{"member_id":0,"login_at":"2026-11-26T08:15:30Z"}`,
		`{"member_id":-3,"login_at":"2026-11-26T08:15:30Z"}`, `{"member_id":5}`,
		`{"member_id":5,"login_at":"yesterday"}`,
		`{"member_id":5,"login_at":"2026-11-26T08:15:30Z","channel":"fax"}`,
		`{"member_id":5,"login_at":"2026-11-26T08:15:30Z","ip":"999.1.1.1"}`,
		`{"member_id":5,"login_at":"2026-11-26T08:15:30Z","event_id":"` + strings.Repeat("x", 65) + `"}`,
		`{"member_id":"5","login_at":"2026-11-26T08:15:30Z"}`,
		// Strict: nothing after the object, keys exact and once.
		`{"member_id":5,"login_at":"2026-11-26T08:15:30Z"} trailing`,
		`{"Member_ID":5,"login_at":"2026-11-26T08:15:30Z"}`,
		`{"member_id":7,"member_id":5,"login_at":"2026-11-26T08:15:30Z"}`,
	} {
		if _, err := Decode([]byte(body)); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%q) = %v, want ErrInvalid", body, err)
		}
	}
}

type recordSender struct{ msgs []mq.Message }

func (r *recordSender) SendBatch(_ context.Context, msgs []mq.Message) error {
	r.msgs = append(r.msgs, msgs...)
	return nil
}

func TestPublisher(t *testing.T) {
	t.Parallel()
	var rec recordSender
	p := Publisher{Sender: &rec, Topic: "custom_topic"}
	now := time.Now()
	if err := p.Publish(t.Context(), Event{MemberID: 1, LoginAt: now}, Event{MemberID: 2, LoginAt: now}); err != nil {
		t.Fatal(err)
	}
	if len(rec.msgs) != 2 || rec.msgs[1].Topic != "custom_topic" || rec.msgs[1].Keys[0] != "2" {
		t.Errorf("sent %+v", rec.msgs)
	}
	if err := p.Publish(t.Context(), Event{MemberID: 3, LoginAt: now}, Event{}); !errors.Is(err, ErrInvalid) || len(rec.msgs) != 2 {
		t.Errorf("invalid event: %v, %d sent", err, len(rec.msgs))
	}
}
