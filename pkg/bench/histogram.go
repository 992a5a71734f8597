package bench

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations in constant memory (about 120 KiB) with a
// relative error under 0.2%: values below 1,024 µs get a bucket per
// microsecond, larger ones 512 buckets per power of two. It is safe for
// concurrent use; the zero value is ready.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Int64
}

const (
	histLinear  = 1024 // µs recorded exactly
	histSub     = 512  // buckets per power of two above
	histShifts  = 28   // up to 2^38 µs, about 76 hours
	histBuckets = histLinear + histShifts*histSub
)

func histIndex(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	shift := bits.Len64(us) - 10 // us>>shift is in [512, 1024)
	if shift > histShifts {
		return histBuckets - 1
	}
	return histLinear + (shift-1)*histSub + int(us>>shift) - histSub
}

// histUpper returns the largest value (µs) of bucket i.
func histUpper(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	shift := (i-histLinear)/histSub + 1
	m := uint64((i-histLinear)%histSub + histSub)
	return (m+1)<<shift - 1
}

// Record adds one duration (negative ones count as zero).
func (h *Histogram) Record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	h.counts[histIndex(us)].Add(1)
	h.total.Add(1)
	for {
		cur := h.max.Load()
		if int64(d) <= cur || h.max.CompareAndSwap(cur, int64(d)) {
			break
		}
	}
}

// Count returns the number of recorded durations.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest recorded duration.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the q-quantile (0 < q <= 1) of the recorded durations:
// the upper bound of the bucket holding it, never above Max. Zero when
// nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	total := h.total.Load()
	if total == 0 {
		return 0
	}
	rank := uint64(q * float64(total))
	rank = min(max(rank, 1), total)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return min(time.Duration(histUpper(i))*time.Microsecond, h.Max())
		}
	}
	return h.Max()
}
