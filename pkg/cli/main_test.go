package cli

import (
	"os"
	"testing"

	"mkt/pkg/pushtest"
)

// TestMain removes the pushd binary the end-to-end tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	pushtest.RemoveBuilt()
	os.Exit(code)
}
