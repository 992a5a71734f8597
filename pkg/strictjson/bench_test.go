package strictjson

import (
	"encoding/json"
	"testing"
	"time"
)

// benchEvent has the shape of a login event.
type benchEvent struct {
	MemberID int64     `json:"member_id"`
	At       time.Time `json:"at"`
	IP       string    `json:"ip,omitempty"`
	Device   string    `json:"device,omitempty"`
}

var benchBody = []byte(`{"member_id":5012,"at":"2026-12-01T06:00:00.123Z","ip":"10.0.0.7","device":"ios"}`)

// BenchmarkDecode: a login event, strictly (go test -bench Decode ./pkg/strictjson).
func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var e benchEvent
		if err := Decode(benchBody, &e, Options{AllowUnknown: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshal is encoding/json's lenient decode of the same event,
// for comparison.
func BenchmarkUnmarshal(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		var e benchEvent
		if err := json.Unmarshal(benchBody, &e); err != nil {
			b.Fatal(err)
		}
	}
}
