package providersim

import (
	"slices"
	"sync"

	"mkt/pkg/provider"
)

// denseLimit is the member id below which counts live in a byte slice
// indexed by member id (1 byte per member: 10M members = 10 MB); larger ids
// go to a map.
const denseLimit = 1 << 27

// storeKey identifies one campaign on one channel.
type storeKey struct {
	campaign uint64
	channel  provider.Channel
}

// counts holds per-member delivery counts of one campaign on one channel,
// saturating at 255.
type counts struct {
	mu         sync.Mutex
	dense      []uint8
	sparse     map[uint64]uint8
	distinct   uint64
	deliveries uint64
	duplicates uint64
}

// add records one delivery to member and reports whether it was a duplicate.
// The caller holds c.mu.
func (c *counts) add(member uint64) (dup bool) {
	var n uint8
	if member < denseLimit {
		if member >= uint64(len(c.dense)) {
			size := max(member+1, uint64(len(c.dense))*2, 4096)
			size = min(size, denseLimit)
			grown := make([]uint8, size)
			copy(grown, c.dense)
			c.dense = grown
		}
		n = c.dense[member]
		if n < 255 {
			c.dense[member] = n + 1
		}
	} else {
		if c.sparse == nil {
			c.sparse = make(map[uint64]uint8)
		}
		n = c.sparse[member]
		if n < 255 {
			c.sparse[member] = n + 1
		}
	}
	c.deliveries++
	if n == 0 {
		c.distinct++
		return false
	}
	c.duplicates++
	return true
}

// get returns member's count. The caller holds c.mu.
func (c *counts) get(member uint64) uint8 {
	if member < uint64(len(c.dense)) {
		return c.dense[member]
	}
	if member >= denseLimit {
		return c.sparse[member]
	}
	return 0
}

// store holds the delivery counts of every campaign and channel.
type store struct {
	mu sync.RWMutex
	m  map[storeKey]*counts
}

func newStore() *store { return &store{m: make(map[storeKey]*counts)} }

// counts returns (creating it if needed) the counts of k.
func (s *store) counts(k storeKey) *counts {
	s.mu.RLock()
	c := s.m[k]
	s.mu.RUnlock()
	if c != nil {
		return c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c = s.m[k]; c == nil {
		c = &counts{}
		s.m[k] = c
	}
	return c
}

// reset forgets every count.
func (s *store) reset() {
	s.mu.Lock()
	s.m = make(map[storeKey]*counts)
	s.mu.Unlock()
}

// channels returns the channels with counts for campaign, in stable order.
func (s *store) channels(campaign uint64) []provider.Channel {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []provider.Channel
	for k := range s.m {
		if k.campaign == campaign {
			out = append(out, k.channel)
		}
	}
	slices.Sort(out)
	return out
}

// lookup returns the counts of k, or nil.
func (s *store) lookup(k storeKey) *counts {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[k]
}

// report builds the delivery report of one campaign on one channel.
func (c *counts) report(ch provider.Channel, q DeliveryQuery) ChannelDeliveries {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := ChannelDeliveries{
		Channel:    ch,
		Distinct:   c.distinct,
		Deliveries: c.deliveries,
		Duplicates: c.duplicates,
		Exceptions: []MemberCount{},
	}
	ranged := q.To > 0
	// listed decides whether a member with count n belongs in the list.
	listed := func(member uint64, n uint8) bool {
		if q.List == ListDelivered {
			return n > 0
		}
		if ranged && (member < q.From || member > q.To) {
			return n > 0 // delivered outside the expected range
		}
		return n > 1 || (ranged && n == 0)
	}
	emit := func(member uint64, n uint8) {
		if n > 1 {
			out.DuplicatedMembers++
		}
		if ranged {
			switch {
			case member < q.From || member > q.To:
				if n > 0 {
					out.Unexpected++
				}
			case n == 0:
				out.Missing++
			}
		}
		if listed(member, n) {
			if len(out.Exceptions) < q.Limit {
				out.Exceptions = append(out.Exceptions, MemberCount{MemberID: member, Count: int(n)})
			} else {
				out.Truncated = true
			}
		}
	}
	// Members in the dense slice, plus the range's members beyond it (zero).
	end := uint64(len(c.dense))
	if ranged {
		end = max(end, min(q.To+1, denseLimit))
	}
	for m := uint64(0); m < end; m++ {
		var n uint8
		if m < uint64(len(c.dense)) {
			n = c.dense[m]
		}
		if n == 0 && (!ranged || m < q.From || m > q.To) {
			continue // fast path: absent and not expected
		}
		emit(m, n)
	}
	// Sparse members, and the range's members beyond denseLimit.
	sparse := make([]uint64, 0, len(c.sparse))
	for m := range c.sparse {
		sparse = append(sparse, m)
	}
	slices.Sort(sparse)
	if ranged && q.To >= denseLimit {
		// Expected members up there are few in practice; walk the range.
		i := 0
		for m := max(q.From, denseLimit); ; m++ {
			for i < len(sparse) && sparse[i] < m {
				emit(sparse[i], c.sparse[sparse[i]])
				i++
			}
			if i < len(sparse) && sparse[i] == m {
				i++
			}
			emit(m, c.sparse[m])
			if m == q.To {
				break
			}
		}
		for ; i < len(sparse); i++ {
			emit(sparse[i], c.sparse[sparse[i]])
		}
	} else {
		for _, m := range sparse {
			emit(m, c.sparse[m])
		}
	}
	return out
}
