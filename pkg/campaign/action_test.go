package campaign_test

import (
	"slices"
	"strings"
	"testing"

	"mkt/pkg/campaign"
)

func TestActions(t *testing.T) {
	t.Parallel()
	want := []campaign.Action{"pause", "resume", "cancel", "retry-failed"}
	if got := campaign.Actions(); !slices.Equal(got, want) {
		t.Errorf("Actions() = %q, want %q", got, want)
	}
	for _, a := range want {
		if got, publishes := a.Publishes(), a == "resume" || a == "retry-failed"; got != publishes {
			t.Errorf("%s.Publishes() = %v", a, got)
		}
	}
	// An unknown action is refused before the database is touched.
	var c campaign.Control
	if _, err := c.Do(t.Context(), "restart", 1, ""); err == nil || !strings.Contains(err.Error(), `unknown control action "restart"`) {
		t.Errorf("Do(restart) = %v", err)
	}
}
