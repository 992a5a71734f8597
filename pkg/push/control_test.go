package push

import (
	"testing"
	"time"

	"mkt/pkg/campaign"
)

func TestFailureWindowTumbles(t *testing.T) {
	t.Parallel()
	f := newFailureWindow(100, 0.5)
	if closed, _, _, _ := f.add(promo(1), 60, 60); closed {
		t.Fatal("window closed before 100 attempts")
	}
	closed, tripped, a, fl := f.add(promo(1), 50, 0)
	if !closed || !tripped || a != 110 || fl != 60 {
		t.Fatalf("add = %v %v %d %d, want a tripped window of 110 with 60 failed", closed, tripped, a, fl)
	}
	// A fresh window: the old failures are forgotten.
	if closed, tripped, _, _ := f.add(promo(1), 100, 50); !closed || tripped {
		t.Errorf("50%% is not above 50%%: closed %v tripped %v", closed, tripped)
	}
	f.add(promo(2), 99, 99)
	f.reset(promo(2))
	if closed, _, _, _ := f.add(promo(2), 1, 1); closed {
		t.Error("reset did not forget the open window")
	}
	if closed, _, _, _ := f.add(promo(3), 0, 0); closed {
		t.Error("empty add closed a window")
	}
}

// promo names promotion id in the worker's per-campaign maps.
func promo(id uint64) runKey { return runKey{campaign.KindPromotion, id} }

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
	c.put(campaign.KindPromotion, 7, "running")
	if st, err := c.get(t.Context(), campaign.KindPromotion, 7); err != nil || st != "running" {
		t.Errorf("cached get = %q, %v", st, err)
	}
	c.put(campaign.KindCoupon, 7, "paused")
	if st, err := c.get(t.Context(), campaign.KindCoupon, 7); err != nil || st != "paused" {
		t.Errorf("cached get of coupon 7 = %q, %v; promotion 7 and coupon 7 are different runs", st, err)
	}
	c.forget(campaign.KindPromotion, 7)
	if _, ok := c.m[promo(7)]; ok {
		t.Error("forget kept the entry")
	}
}
