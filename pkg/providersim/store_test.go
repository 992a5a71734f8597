package providersim

import (
	"testing"

	"mkt/pkg/provider"
)

func TestCountsReport(t *testing.T) {
	t.Parallel()
	var c counts
	const n = 1_000_000
	for m := uint64(1); m <= n; m++ {
		if m == 500 { // gap
			continue
		}
		c.add(m)
	}
	c.add(42)
	c.add(42)
	c.add(n + 5)          // outside the expected range
	c.add(denseLimit + 9) // sparse
	c.add(denseLimit + 9) // sparse duplicate
	for range 300 {
		c.add(7) // saturates at 255
	}
	if c.distinct != n-1+2 || c.duplicates != 2+1+300 {
		t.Fatalf("distinct %d duplicates %d", c.distinct, c.duplicates)
	}

	rep := c.report(provider.ChannelSMS, DeliveryQuery{CampaignID: 1, From: 1, To: n, List: ListExceptions, Limit: 10})
	if rep.Missing != 1 || rep.Unexpected != 2 || rep.DuplicatedMembers != 3 {
		t.Fatalf("report %+v", rep)
	}
	want := []MemberCount{{7, 255}, {42, 3}, {500, 0}, {n + 5, 1}, {denseLimit + 9, 2}}
	if len(rep.Exceptions) != len(want) {
		t.Fatalf("exceptions %v, want %v", rep.Exceptions, want)
	}
	for i := range want {
		if rep.Exceptions[i] != want[i] {
			t.Fatalf("exceptions %v, want %v", rep.Exceptions, want)
		}
	}

	// Without a range only duplicates are listed; the limit truncates.
	rep = c.report(provider.ChannelSMS, DeliveryQuery{CampaignID: 1, List: ListExceptions, Limit: 2})
	if len(rep.Exceptions) != 2 || !rep.Truncated || rep.Missing != 0 || rep.DuplicatedMembers != 3 {
		t.Fatalf("unranged report %+v", rep)
	}

	// A range reaching past the dense slice counts those members missing.
	// (n+5 is delivered; every member below n-1 is unexpected.)
	rep = c.report(provider.ChannelSMS, DeliveryQuery{CampaignID: 1, From: n - 1, To: n + 10, List: ListExceptions, Limit: 100})
	if rep.Missing != 9 || rep.Unexpected != n-3+1 {
		t.Fatalf("range past the end %+v", rep)
	}

	// Ranges above the dense limit.
	rep = c.report(provider.ChannelSMS, DeliveryQuery{CampaignID: 1, From: denseLimit + 8, To: denseLimit + 10, List: ListExceptions, Limit: 100})
	if rep.Missing != 2 || rep.DuplicatedMembers != 3 {
		t.Fatalf("sparse range %+v", rep)
	}

	rep = c.report(provider.ChannelSMS, DeliveryQuery{CampaignID: 1, List: ListDelivered, Limit: 3})
	if len(rep.Exceptions) != 3 || rep.Exceptions[0] != (MemberCount{1, 1}) {
		t.Fatalf("delivered list %+v", rep.Exceptions)
	}
}
