package pushd_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mkt/pkg/daemon/daemoncmd"
	"mkt/pkg/pushd"
)

// TestXXLJobFlags: the executor's flags are validated before anything is
// connected (exit 2), the token never shows in the error, and --help
// documents them.
func TestXXLJobFlags(t *testing.T) {
	for _, env := range []string{"MKT_XXL_JOB_ADMIN", "MKT_XXL_JOB_TOKEN", "MKT_XXL_JOB_TOKEN_FILE", "MKT_XXL_JOB_LISTEN", "MKT_XXL_JOB_ADVERTISE"} {
		t.Setenv(env, "")
	}
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("very-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin := []string{"--xxl-job-admin", "http://127.0.0.1:8080/xxl-job-admin", "--xxl-job-token-file", token}
	for _, args := range [][]string{
		{"--xxl-job-admin", "http://127.0.0.1:8080/xxl-job-admin"}, // no token
		append(admin[:2:2], "--xxl-job-token-file", filepath.Join(t.TempDir(), "missing")),
		{"--xxl-job-admin", "ftp://admin/", "--xxl-job-token-file", token},
		append(append([]string(nil), admin...), "--xxl-job-app", "Bad_Name"),
		append(append([]string(nil), admin...), "--xxl-job-listen", "0.0.0.0:9999"),
		append(append([]string(nil), admin...), "--xxl-job-zone", "Nowhere/City"),
	} {
		var stderr bytes.Buffer
		cmd := daemoncmd.Command(pushd.Spec(), &stderr)
		cmd.SetArgs(args)
		cmd.SetOut(&stderr)
		err := cmd.ExecuteContext(context.Background())
		if err == nil {
			t.Errorf("pushd %v: accepted", args)
			continue
		}
		if code := daemoncmd.Main(context.Background(), pushd.Spec(), args); code != daemoncmd.ExitUsage {
			t.Errorf("pushd %v: exit %d, want %d (%v)", args, code, daemoncmd.ExitUsage, err)
		}
		if strings.Contains(err.Error()+stderr.String(), "very-secret") {
			t.Errorf("pushd %v: the token shows: %v", args, err)
		}
	}
	var out bytes.Buffer
	cmd := daemoncmd.Command(pushd.Spec(), &out)
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--xxl-job-admin", "--xxl-job-app", "--xxl-job-token-file", "--xxl-job-listen", "--xxl-job-advertise", "--xxl-job-zone", "MKT_XXL_JOB_TOKEN_FILE", `"hotgoods"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %s", want)
		}
	}
}
