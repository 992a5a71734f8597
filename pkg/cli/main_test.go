package cli

import (
	"os"
	"testing"

	"mkt/pkg/config"
	"mkt/pkg/pushtest"
)

// TestMain removes the pushd binary the end-to-end tests built.
func TestMain(m *testing.M) {
	config.UseLocalStackRedisPassword() // commands run in-process read the environment
	code := m.Run()
	pushtest.RemoveBuilt()
	os.Exit(code)
}
