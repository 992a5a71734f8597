package childproc

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNotFound is returned by Find when a daemon's executable is nowhere it
// looks.
var ErrNotFound = errors.New("not found")

// Find returns the executable of the daemon name ("pushd", "couponsd"):
// explicit when it is set (it must exist), else the one next to the running
// executable, else the one on $PATH. It never builds anything: when there
// is none, the error (wrapping ErrNotFound) says how to build it.
func Find(name, explicit string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		self = ""
	}
	return find(name, explicit, self)
}

// find is Find with the running executable's path given (self; "" when
// unknown).
func find(name, explicit, self string) (string, error) {
	if explicit != "" {
		st, err := os.Stat(explicit)
		if err != nil {
			return "", fmt.Errorf("%s executable %w: %w", name, ErrNotFound, err)
		}
		if st.IsDir() {
			return "", fmt.Errorf("%s executable %w: %s is a directory", name, ErrNotFound, explicit)
		}
		return explicit, nil
	}
	where := "on $PATH"
	if self != "" {
		dir := filepath.Dir(self)
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
		where = "in " + dir + " (next to " + filepath.Base(self) + ") nor on $PATH"
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s %w %s: build the binaries together with `make build` "+
		"(or `go build -o bin/ ./cmd/...`) in the mkt source tree and run bin/%s, or put %s on $PATH",
		name, ErrNotFound, where, filepath.Base(cmp.Or(self, "mktctl")), name)
}
