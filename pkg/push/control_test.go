package push

import (
	"testing"
	"time"
)

func TestFailureWindowTumbles(t *testing.T) {
	t.Parallel()
	f := newFailureWindow(100, 0.5)
	if closed, _, _, _ := f.add(1, 60, 60); closed {
		t.Fatal("window closed before 100 attempts")
	}
	closed, tripped, a, fl := f.add(1, 50, 0)
	if !closed || !tripped || a != 110 || fl != 60 {
		t.Fatalf("add = %v %v %d %d, want a tripped window of 110 with 60 failed", closed, tripped, a, fl)
	}
	// A fresh window: the old failures are forgotten.
	if closed, tripped, _, _ := f.add(1, 100, 50); !closed || tripped {
		t.Errorf("50%% is not above 50%%: closed %v tripped %v", closed, tripped)
	}
	f.add(2, 99, 99)
	f.reset(2)
	if closed, _, _, _ := f.add(2, 1, 1); closed {
		t.Error("reset did not forget the open window")
	}
	if closed, _, _, _ := f.add(3, 0, 0); closed {
		t.Error("empty add closed a window")
	}
}

func TestTruncateKeepsUTF8(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"aé", 2, "a"}, {"€€", 4, "€"}} {
		if got := truncate(c.in, c.n); got != c.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

func TestConfigDefaultsAndValidation(t *testing.T) {
	t.Parallel()
	_, err := Config{}.withDefaults()
	if err == nil {
		t.Fatal("empty config accepted")
	}
	cfg, err := Config{DB: nil, Lease: time.Millisecond, PageSize: -1, FailureThreshold: 2}.withDefaults()
	if err == nil {
		t.Fatalf("bad config accepted: %+v", cfg)
	}
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c := newStatusCache(nil, time.Second, clk)
	c.put(7, "running")
	if st, err := c.get(t.Context(), 7); err != nil || st != "running" {
		t.Errorf("cached get = %q, %v", st, err)
	}
	c.forget(7)
	if _, ok := c.m[7]; ok {
		t.Error("forget kept the entry")
	}
}
