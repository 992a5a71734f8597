package bench

import (
	"context"
	"fmt"

	"mkt/pkg/provider"
	"mkt/pkg/providersim"
	"mkt/pkg/store"
)

// MaxListed bounds each id list of an Audit.
const MaxListed = 100

// Audit compares what a simulator delivered for one campaign on one
// channel with the members who should have got it.
type Audit struct {
	// CampaignID and Channel say what was audited.
	CampaignID uint64           `json:"campaign_id"`
	Channel    provider.Channel `json:"channel"`
	// Expected counts the members who should have been delivered.
	Expected uint64 `json:"expected"`
	// Delivered counts distinct members delivered at least once, expected
	// or not.
	Delivered uint64 `json:"delivered"`
	// Missing counts expected members never delivered.
	Missing uint64 `json:"missing"`
	// Duplicates counts deliveries beyond the first per member.
	Duplicates uint64 `json:"duplicates"`
	// DuplicatedMembers counts members delivered more than once.
	DuplicatedMembers uint64 `json:"duplicated_members"`
	// Unexpected counts members delivered who were not expected.
	Unexpected uint64 `json:"unexpected"`
	// MissingIDs and DuplicatedIDs list the first MaxListed of each, in
	// ascending order (DuplicatedIDs among the expected members).
	MissingIDs    []uint64 `json:"missing_ids,omitempty"`
	DuplicatedIDs []uint64 `json:"duplicated_ids,omitempty"`
}

// OK reports whether every expected member was delivered exactly once and
// nobody else was.
func (a Audit) OK() bool {
	return a.Missing == 0 && a.Duplicates == 0 && a.Unexpected == 0
}

// String summarises the audit.
func (a Audit) String() string {
	return fmt.Sprintf("campaign %d on %s: %d expected, %d delivered, %d missing %v, %d duplicates (%d members %v), %d unexpected",
		a.CampaignID, a.Channel, a.Expected, a.Delivered, a.Missing, a.MissingIDs, a.Duplicates,
		a.DuplicatedMembers, a.DuplicatedIDs, a.Unexpected)
}

// AddressColumn is the membership_account column holding a channel's
// address, as the push worker reads it.
func AddressColumn(ch provider.Channel) (string, error) {
	switch ch {
	case provider.ChannelSMS:
		return "mobile", nil
	case provider.ChannelEmail:
		return "email", nil
	case provider.ChannelApp:
		return "push_token", nil
	}
	return "", fmt.Errorf("bench: channel %q is not delivered through a provider", ch)
}

// EveryoneQuery returns the query listing, in ascending order, the members
// an everyone campaign should reach on ch: active accounts with an address
// on the channel.
func EveryoneQuery(ch provider.Channel) (string, error) {
	col, err := AddressColumn(ch)
	if err != nil {
		return "", err
	}
	return `SELECT id FROM membership_account WHERE status = 'active' AND ` + col + ` <> '' ORDER BY id`, nil
}

// AuditEveryone audits an everyone campaign on ch against the database's
// members (see EveryoneQuery).
func AuditEveryone(ctx context.Context, db store.Handler, sim *providersim.Simulator, campaignID uint64, ch provider.Channel) (Audit, error) {
	q, err := EveryoneQuery(ch)
	if err != nil {
		return Audit{}, err
	}
	return AuditQuery(ctx, db, sim, campaignID, ch, q)
}

// AuditQuery audits campaignID on ch against the expected members listed
// by query (one id column, ascending, no duplicates). The ids are streamed,
// not loaded, and each is looked up in the simulator, so memory stays flat
// whatever the audience size.
func AuditQuery(ctx context.Context, db store.Handler, sim *providersim.Simulator, campaignID uint64, ch provider.Channel, query string, args ...any) (Audit, error) {
	a := Audit{CampaignID: campaignID, Channel: ch}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return a, fmt.Errorf("bench: audit campaign %d: list expected members: %w", campaignID, err)
	}
	defer rows.Close()
	var delivered uint64 // expected members delivered at least once
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			return a, fmt.Errorf("bench: audit campaign %d: read expected member: %w", campaignID, err)
		}
		a.Expected++
		switch n := sim.Count(campaignID, ch, id); {
		case n == 0:
			a.Missing++
			if len(a.MissingIDs) < MaxListed {
				a.MissingIDs = append(a.MissingIDs, id)
			}
		case n > 1:
			delivered++
			if len(a.DuplicatedIDs) < MaxListed {
				a.DuplicatedIDs = append(a.DuplicatedIDs, id)
			}
		default:
			delivered++
		}
	}
	if err := rows.Err(); err != nil {
		return a, fmt.Errorf("bench: audit campaign %d: list expected members: %w", campaignID, err)
	}
	rep, err := sim.Deliveries(providersim.DeliveryQuery{CampaignID: campaignID, Channel: ch, Limit: 1})
	if err != nil {
		return a, fmt.Errorf("bench: audit campaign %d: %w", campaignID, err)
	}
	c := rep.Channel(ch)
	a.Delivered = c.Distinct
	a.Duplicates = c.Duplicates
	a.DuplicatedMembers = c.DuplicatedMembers
	a.Unexpected = c.Distinct - delivered
	return a, nil
}
