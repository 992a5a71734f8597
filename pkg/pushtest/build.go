package pushtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// built holds the pushd binary BuildPushd built for this process.
var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

// BuildPushd builds cmd/pushd (without -race: the children are the system
// under test, the race detector watches the test process) once per process
// and returns the executable's path. Tests call it; RemoveBuilt removes it
// when they are done (from TestMain).
func BuildPushd() (string, error) {
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "mkt-pushd-")
		if built.err != nil {
			return
		}
		goBin, err := exec.LookPath("go")
		if err != nil {
			built.err = fmt.Errorf("pushtest: go tool not on PATH: %w", err)
			return
		}
		built.bin = filepath.Join(built.dir, "pushd")
		cmd := exec.Command(goBin, "build", "-o", built.bin, "mkt/cmd/pushd")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("pushtest: go build mkt/cmd/pushd: %w\n%s", err, out)
		}
	})
	return built.bin, built.err
}

// RemoveBuilt removes what BuildPushd built, if anything.
func RemoveBuilt() {
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
}
