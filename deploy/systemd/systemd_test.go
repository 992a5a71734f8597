// Package systemd_test checks the systemd files of deploy/systemd as an
// operator gets them: installed by scripts/install.sh, then judged by
// systemd-analyze verify and systemd-analyze security.
package systemd_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the highest exposure systemd-analyze security may give a
// daemon unit (issue 11).
const maxExposure = 2.0

var units = []string{"pushd.service", "couponsd.service", "mkt-hotgoods.service", "mkt-hotgoods.timer"}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// binDir holds mktctl, pushd and couponsd, built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mkt-systemd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cmd := exec.Command("go", "build", "-o", dir+"/", "./cmd/...")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// install runs scripts/install.sh with env added to the environment.
func install(t *testing.T, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "install.sh"))
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestInstall stages an installation into a DESTDIR and checks the tree:
// binaries, units pointing at PREFIX/bin and SYSCONFDIR/mkt, sysusers.d and
// tmpfiles.d files, examples; a second run keeps the operator's env files.
func TestInstall(t *testing.T) {
	bin := binDir
	dest := t.TempDir()
	env := []string{"DESTDIR=" + dest, "PREFIX=/opt/mkt", "SYSCONFDIR=/etc/opt/mkt", "UNITDIR=/etc/systemd/system", "BIN_DIR=" + bin}
	if out, err := install(t, env...); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	want := map[string]os.FileMode{
		"opt/mkt/bin/mktctl":                             0o755,
		"opt/mkt/bin/pushd":                              0o755,
		"opt/mkt/bin/couponsd":                           0o755,
		"etc/systemd/system/pushd.service":               0o644,
		"etc/systemd/system/couponsd.service":            0o644,
		"etc/systemd/system/mkt-hotgoods.service":        0o644,
		"etc/systemd/system/mkt-hotgoods.timer":          0o644,
		"opt/mkt/lib/sysusers.d/mkt.conf":                0o644,
		"opt/mkt/lib/tmpfiles.d/mkt.conf":                0o644,
		"opt/mkt/share/doc/mkt/examples/mkt.env.example": 0o644,
		"etc/opt/mkt/mkt/mkt.env":                        0o640,
		"etc/opt/mkt/mkt/pushd.env":                      0o640,
		"etc/opt/mkt/mkt/couponsd.env":                   0o640,
		"etc/opt/mkt/mkt":                                0o750 | os.ModeDir,
	}
	for rel, mode := range want {
		fi, err := os.Stat(filepath.Join(dest, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if fi.Mode()&(os.ModePerm|os.ModeDir) != mode {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode(), mode)
		}
	}
	pushd := readFile(t, filepath.Join(dest, "etc/systemd/system/pushd.service"))
	for _, s := range []string{"ExecStart=/opt/mkt/bin/pushd\n", "EnvironmentFile=/etc/opt/mkt/mkt/mkt.env\n",
		"LoadCredential=mysql.dsn:/etc/opt/mkt/mkt/mysql.dsn\n"} {
		if !strings.Contains(pushd, s) {
			t.Errorf("installed pushd.service lacks %q", s)
		}
	}
	for _, line := range strings.Split(pushd, "\n") {
		if !strings.HasPrefix(line, "#") && (strings.Contains(line, "/usr/local/bin") || strings.Contains(line, "/etc/mkt/")) {
			t.Errorf("installed pushd.service still names /usr/local/bin or /etc/mkt: %s", line)
		}
	}

	// A second install refreshes everything but the operator's env files.
	envFile := filepath.Join(dest, "etc/opt/mkt/mkt/mkt.env")
	if err := os.WriteFile(envFile, []byte("MKT_REDIS_ADDR=redis.internal:6379\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	out, err := install(t, env...)
	if err != nil {
		t.Fatalf("install.sh again: %v\n%s", err, out)
	}
	if got := readFile(t, envFile); got != "MKT_REDIS_ADDR=redis.internal:6379\n" {
		t.Errorf("mkt.env overwritten: %q", got)
	}
	if !strings.Contains(out, "/etc/opt/mkt/mkt/mkt.env kept") {
		t.Errorf("second install does not say it kept mkt.env:\n%s", out)
	}

	// Usage errors exit 2 and write nothing.
	for _, bad := range [][]string{
		{"DESTDIR=" + t.TempDir(), "PREFIX=relative/path", "BIN_DIR=" + bin},
		{"DESTDIR=" + t.TempDir(), "BIN_DIR=" + t.TempDir()}, // no binaries there
	} {
		out, err := install(t, bad...)
		if code := exitCode(err); code != 2 {
			t.Errorf("install.sh with %v: exit %d, want 2\n%s", bad, code, out)
		}
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// TestSystemdAnalyze installs into a temporary PREFIX (no DESTDIR, so the
// units' ExecStart paths exist, as verify demands), runs systemd-analyze
// verify on every unit and systemd-analyze security --offline=true on each
// service, and fails above maxExposure.
func TestSystemdAnalyze(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd): the units are not verified")
	}
	bin := binDir
	root := t.TempDir()
	if out, err := install(t, "PREFIX="+root+"/usr", "SYSCONFDIR="+root+"/etc", "BIN_DIR="+bin); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	unitDir := filepath.Join(root, "usr/lib/systemd/system")
	var paths []string
	for _, u := range units {
		paths = append(paths, filepath.Join(unitDir, u))
	}

	cmd := exec.Command(analyze, append([]string{"verify"}, paths...)...)
	cmd.Dir = unitDir
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	exposureRe := regexp.MustCompile(`Overall exposure level for (\S+): ([0-9.]+)`)
	for _, u := range units {
		if !strings.HasSuffix(u, ".service") {
			continue
		}
		out, err := exec.Command(analyze, "security", "--offline=true", filepath.Join(unitDir, u)).CombinedOutput()
		m := exposureRe.FindSubmatch(out)
		if m == nil {
			t.Errorf("systemd-analyze security %s: %v, no exposure in\n%s", u, err, out)
			continue
		}
		exposure, perr := strconv.ParseFloat(string(m[2]), 64)
		if perr != nil {
			t.Fatalf("%s: exposure %q: %v", u, m[2], perr)
		}
		t.Logf("%s: exposure %.1f", u, exposure)
		if exposure > maxExposure {
			t.Errorf("%s: exposure %.1f, want at most %.1f:\n%s", u, exposure, maxExposure, out)
		}
	}
}

// envReaders reads, from the units, which binaries load each env file: an
// env file's name ("pushd.env") to the binaries of the units whose
// EnvironmentFile= names it.
func envReaders(t *testing.T) map[string][]string {
	t.Helper()
	readers := map[string][]string{}
	for _, unit := range units {
		if !strings.HasSuffix(unit, ".service") {
			continue
		}
		var bin string
		var files []string
		for line := range strings.Lines(readFile(t, filepath.Join(repoRoot(t), "deploy", "systemd", unit))) {
			key, value, ok := strings.Cut(strings.TrimSpace(line), "=")
			switch {
			case !ok:
			case key == "ExecStart":
				bin = filepath.Base(strings.Fields(value)[0])
			case key == "EnvironmentFile":
				files = append(files, filepath.Base(strings.TrimPrefix(value, "-")))
			}
		}
		if bin == "" {
			t.Fatalf("%s has no ExecStart", unit)
		}
		for _, f := range files {
			readers[f] = append(readers[f], bin)
		}
	}
	return readers
}

// TestEnvExamplesNameRealSettings: every MKT_* variable an example env file
// sets, or shows commented out, is one that each binary reading the file
// takes, as its --help lists it. A misspelt or renamed variable would be
// ignored in silence.
func TestEnvExamplesNameRealSettings(t *testing.T) {
	t.Parallel()
	name := regexp.MustCompile(`MKT_[A-Z0-9_]*[A-Z0-9]`)
	assignment := regexp.MustCompile(`(?m)^#?\s*(MKT_[A-Z0-9_]+)=`)
	readers := envReaders(t)
	known := map[string]map[string]bool{}
	for _, bin := range []string{"pushd", "couponsd", "mktctl"} {
		out, err := exec.Command(filepath.Join(binDir, bin), "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --help: %v\n%s", bin, err, out)
		}
		known[bin] = map[string]bool{}
		for _, v := range name.FindAllString(string(out), -1) {
			known[bin][v] = true
		}
	}
	examples, err := filepath.Glob(filepath.Join(repoRoot(t), "deploy", "systemd", "*.env.example"))
	if err != nil || len(examples) == 0 {
		t.Fatalf("no example env files: %v", err)
	}
	for _, path := range examples {
		file := filepath.Base(path)
		bins := readers[strings.TrimSuffix(file, ".example")]
		if len(bins) == 0 {
			t.Errorf("%s: no unit loads %s", file, strings.TrimSuffix(file, ".example"))
			continue
		}
		vars := assignment.FindAllStringSubmatch(readFile(t, path), -1)
		if len(vars) == 0 {
			t.Errorf("%s sets no MKT_* variable", file)
		}
		for _, m := range vars {
			v := m[1]
			for _, bin := range bins {
				if !known[bin][v] {
					t.Errorf("%s sets %s, which %s --help does not list", file, v, bin)
				}
			}
		}
	}
}
