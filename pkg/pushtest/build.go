package pushtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// built holds the binaries Build built for this process.
var built struct {
	mu   sync.Mutex
	dir  string
	bins map[string]string
}

// Build builds cmd/NAME of this module (without -race: the children are the
// system under test, the race detector watches the test process) once per
// process and returns the executable's path. RemoveBuilt removes what was
// built (from TestMain).
func Build(name string) (string, error) {
	built.mu.Lock()
	defer built.mu.Unlock()
	if bin, ok := built.bins[name]; ok {
		return bin, nil
	}
	if built.dir == "" {
		dir, err := os.MkdirTemp("", "mkt-bin-")
		if err != nil {
			return "", fmt.Errorf("pushtest: %w", err)
		}
		built.dir, built.bins = dir, map[string]string{}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("pushtest: go tool not on PATH: %w", err)
	}
	bin := filepath.Join(built.dir, name)
	if out, err := exec.Command(goBin, "build", "-o", bin, "mkt/cmd/"+name).CombinedOutput(); err != nil {
		return "", fmt.Errorf("pushtest: go build mkt/cmd/%s: %w\n%s", name, err, out)
	}
	built.bins[name] = bin
	return bin, nil
}

// BuildPushd is Build("pushd").
func BuildPushd() (string, error) { return Build("pushd") }

// RemoveBuilt removes what Build built, if anything.
func RemoveBuilt() {
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
		built.dir, built.bins = "", nil
	}
}
