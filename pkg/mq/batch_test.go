package mq

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func msgsOf(topic string, n, bodyLen int) []Message {
	out := make([]Message, n)
	for i := range out {
		out[i] = Message{Topic: topic, Keys: []string{fmt.Sprintf("k%d", i)}, Body: bytes.Repeat([]byte{'x'}, bodyLen)}
	}
	return out
}

func batchSizes(bs []batch) []int {
	out := make([]int, len(bs))
	for i, b := range bs {
		out[i] = len(b.msgs)
	}
	return out
}

func TestSplitBatchesByCount(t *testing.T) {
	bs, err := splitBatches(msgsOf("t", 250, 10), 100, DefaultMaxBatchBytes)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(batchSizes(bs)), "[100 100 50]"; got != want {
		t.Fatalf("batch sizes = %s, want %s", got, want)
	}
}

func TestSplitBatchesByBytes(t *testing.T) {
	msgs := msgsOf("t", 10, 1000)
	one, _ := encodedSize(msgs[0].toPrimitive())
	maxBytes := 3*one + one/2 // room for three messages, not four
	bs, err := splitBatches(msgs, 100, maxBytes)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(batchSizes(bs)), "[3 3 3 1]"; got != want {
		t.Fatalf("batch sizes = %s, want %s", got, want)
	}
	for i, b := range bs {
		total := 0
		for _, pm := range b.msgs {
			s, _ := encodedSize(pm)
			total += s
			if got := len(pm.Marshal()); got != s {
				t.Fatalf("encodedSize = %d, Marshal gives %d bytes", s, got)
			}
		}
		if total != b.bytes || total > maxBytes {
			t.Fatalf("batch %d: bytes %d (recorded %d), limit %d", i, total, b.bytes, maxBytes)
		}
	}
}

func TestSplitBatchesExactFit(t *testing.T) {
	msgs := msgsOf("t", 4, 500)
	one, _ := encodedSize(msgs[0].toPrimitive())
	bs, err := splitBatches(msgs, 100, 2*one)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(batchSizes(bs)), "[2 2]"; got != want {
		t.Fatalf("batch sizes = %s, want %s", got, want)
	}
}

func TestSplitBatchesGroupsByTopicKeepingOrder(t *testing.T) {
	var msgs []Message
	for i := range 7 {
		topic := []string{"b", "a", "c"}[i%3]
		msgs = append(msgs, Message{Topic: topic, Keys: []string{fmt.Sprint(i)}, Body: []byte("b")})
	}
	bs, err := splitBatches(msgs, 2, DefaultMaxBatchBytes)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range bs {
		s := b.topic + ":"
		for _, pm := range b.msgs {
			if pm.Topic != b.topic {
				t.Fatalf("message of topic %q in a batch of %q", pm.Topic, b.topic)
			}
			s += pm.GetKeys()
		}
		got = append(got, s)
	}
	if want := "[b:03 b:6 a:14 c:25]"; fmt.Sprint(got) != want {
		t.Fatalf("batches = %v, want %s", got, want)
	}
}

func TestSplitBatchesRejectsOversizedMessage(t *testing.T) {
	msgs := msgsOf("t", 3, 10)
	msgs[1].Body = bytes.Repeat([]byte{'x'}, 2048)
	_, err := splitBatches(msgs, 100, 1024)
	if !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("err = %v, want ErrMessageTooLarge", err)
	}
}

func TestSplitBatchesRejectsInvalidMessage(t *testing.T) {
	msgs := msgsOf("t", 3, 10)
	msgs[2].Properties = map[string]string{"KEYS": "x"}
	if _, err := splitBatches(msgs, 100, 1024); !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("err = %v, want ErrInvalidMessage", err)
	}
}

func TestSplitBatchesEmpty(t *testing.T) {
	bs, err := splitBatches(nil, 100, 1024)
	if err != nil || len(bs) != 0 {
		t.Fatalf("splitBatches(nil) = %v, %v; want no batch", bs, err)
	}
}

func TestSplitBatchesGivesUniqueIDs(t *testing.T) {
	bs, err := splitBatches(msgsOf("t", 300, 1), 100, DefaultMaxBatchBytes)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, b := range bs {
		for _, pm := range b.msgs {
			id := pm.GetProperty("UNIQ_KEY")
			if id == "" || seen[id] {
				t.Fatalf("message ID %q empty or repeated", id)
			}
			seen[id] = true
		}
	}
}
