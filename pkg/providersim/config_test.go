package providersim

import (
	"errors"
	"testing"
	"time"
)

func TestParseLatency(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Latency
		ok   bool
	}{
		{"", Latency{}, true},
		{"0", Latency{}, true},
		{"200ms", Latency{Kind: LatencyFixed, Min: 200 * time.Millisecond}, true},
		{"100ms-300ms", Latency{Kind: LatencyUniform, Min: 100 * time.Millisecond, Max: 300 * time.Millisecond}, true},
		{"uniform:1ms,2ms", Latency{Kind: LatencyUniform, Min: time.Millisecond, Max: 2 * time.Millisecond}, true},
		{"normal:200ms,50ms", Latency{Kind: LatencyNormal, Mean: 200 * time.Millisecond, Stddev: 50 * time.Millisecond}, true},
		{"300ms-100ms", Latency{}, false},
		{"normal:200ms", Latency{}, false},
		{"gamma:1ms,2ms", Latency{}, false},
		{"fast", Latency{}, false},
		{"-5ms", Latency{}, false},
	}
	for _, tt := range tests {
		got, err := ParseLatency(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("ParseLatency(%q) = %+v, %v; want %+v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ParseLatency(%q): %v does not wrap ErrInvalidConfig", tt.in, err)
		}
		if err == nil {
			back, err := ParseLatency(got.String())
			if err != nil || back != got {
				t.Errorf("round trip of %q via %q: %+v %v", tt.in, got.String(), back, err)
			}
		}
	}
}

func TestLatencySample(t *testing.T) {
	t.Parallel()
	u := Latency{Kind: LatencyUniform, Min: 100 * time.Millisecond, Max: 300 * time.Millisecond}
	n := Latency{Kind: LatencyNormal, Mean: 200 * time.Millisecond, Stddev: 50 * time.Millisecond}
	var sum time.Duration
	const draws = 20000
	for i := range uint64(draws) {
		h := splitmix64(i)
		a, b := unit(h), unit(splitmix64(h))
		if d := u.sample(a, b); d < u.Min || d > u.Max {
			t.Fatalf("uniform draw %v", d)
		}
		d := n.sample(a, b)
		if d < 0 || d > n.Mean+4*n.Stddev {
			t.Fatalf("normal draw %v", d)
		}
		sum += d
	}
	if mean := sum / draws; mean < 190*time.Millisecond || mean > 210*time.Millisecond {
		t.Fatalf("normal mean %v, want about 200ms", mean)
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]Config{
		"rate above 1":    {ErrorRate: 1.5},
		"negative rate":   {TimeoutRate: -0.1},
		"sum above 1":     {ErrorRate: 0.5, TimeoutRate: 0.3, RateLimit429Rate: 0.3},
		"fractional wait": {RetryAfter: 1500 * time.Millisecond},
	} {
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
