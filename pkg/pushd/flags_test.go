package pushd_test

import (
	"context"
	"testing"

	"mkt/pkg/daemon/daemoncmd"
	"mkt/pkg/pushd"
)

// TestFlagsRefusedBeforeConnecting: a failure threshold of 0 or above 1 is
// refused (exit 2) before anything is connected, not replaced by the default.
func TestFlagsRefusedBeforeConnecting(t *testing.T) {
	for _, args := range [][]string{{"--failure-threshold", "0"}, {"--failure-threshold", "1.5"}, {"--failure-threshold", "-0.1"}} {
		if code := daemoncmd.Main(context.Background(), pushd.Spec(), args); code != daemoncmd.ExitUsage {
			t.Errorf("pushd %v: exit %d, want %d", args, code, daemoncmd.ExitUsage)
		}
	}
}
