package xxljob_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"mkt/pkg/config"
	"mkt/pkg/xxljob"
)

// parseOptions binds the options on a fresh flag set, parses args and
// resolves the secret files, as a daemon does.
func parseOptions(t *testing.T, args ...string) (*xxljob.Options, error) {
	t.Helper()
	for _, env := range []string{"MKT_XXL_JOB_ADMIN", "MKT_XXL_JOB_APP", "MKT_XXL_JOB_TOKEN", "MKT_XXL_JOB_TOKEN_FILE",
		"MKT_XXL_JOB_LISTEN", "MKT_XXL_JOB_ADVERTISE", "MKT_XXL_JOB_ZONE"} {
		t.Setenv(env, "")
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o := &xxljob.Options{}
	o.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := config.Resolve(fs); err != nil {
		return o, err
	}
	return o, o.Validate()
}

func TestOptions(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badToken := filepath.Join(dir, "bad")
	if err := os.WriteFile(badToken, []byte("two\nlines\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := []string{"--xxl-job-admin", "http://admin:8080/xxl-job-admin", "--xxl-job-token-file", tokenFile}

	o, err := parseOptions(t)
	if err != nil || o.Enabled() {
		t.Fatalf("off by default: %+v %v", o, err)
	}
	o, err = parseOptions(t, ok...)
	if err != nil || !o.Enabled() || o.Token != testToken || o.App != xxljob.DefaultAppName {
		t.Fatalf("good flags: %v", err)
	}
	if got := o.AdminURLs(); len(got) != 1 || got[0] != "http://admin:8080/xxl-job-admin/" {
		t.Errorf("admin URLs %v", got)
	}
	o, err = parseOptions(t, "--xxl-job-admin", "http://a:8080/xxl-job-admin, https://b/xxl-job-admin/", "--xxl-job-token-file", tokenFile,
		"--xxl-job-listen", "0.0.0.0:9999", "--xxl-job-advertise", "http://10.0.0.5:9999", "--xxl-job-zone", "Asia/Shanghai", "--xxl-job-app", "message-push")
	if err != nil || len(o.AdminURLs()) != 2 {
		t.Fatalf("two admins, advertised: %v", err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--xxl-job-admin", "ftp://admin/"}, "http:// or https://"},
		{[]string{"--xxl-job-admin", "admin:8080"}, "http:// or https://"},
		{[]string{"--xxl-job-admin", "http://user:pw@admin/"}, "credentials"},
		{[]string{"--xxl-job-admin", "http:///x"}, "no host"},
		{[]string{"--xxl-job-admin", "http://admin/?a=b"}, "query"},
		{[]string{"--xxl-job-app", "abc"}, "4 to 64"},
		{[]string{"--xxl-job-app", strings.Repeat("a", 65)}, "4 to 64"},
		{[]string{"--xxl-job-app", "Mkt-pushd"}, "lowercase letter first"},
		{[]string{"--xxl-job-app", "mkt_pushd"}, "lowercase letter first"},
		{[]string{"--xxl-job-app", "mkt<pushd>"}, "lowercase letter first"},
		{[]string{"--xxl-job-listen", "9999"}, "host:port"},
		{[]string{"--xxl-job-listen", ":9999"}, "--xxl-job-advertise"},
		{[]string{"--xxl-job-listen", "0.0.0.0:9999"}, "--xxl-job-advertise"},
		{[]string{"--xxl-job-advertise", "10.0.0.5:9999"}, "http:// or https://"},
		{[]string{"--xxl-job-zone", "Mars/Olympus"}, "--xxl-job-zone"},
		{[]string{"--xxl-job-token-file", badToken}, "control character"},
		{[]string{"--xxl-job-token-file", filepath.Join(dir, "missing")}, "no such file"},
	} {
		args := append(append([]string(nil), ok...), c.args...)
		_, err := parseOptions(t, args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want …%s…", c.args, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), testToken) {
			t.Errorf("%v: the error shows the token: %v", c.args, err)
		}
	}
	_, err = parseOptions(t, "--xxl-job-admin", "http://admin:8080/xxl-job-admin")
	if err == nil || !strings.Contains(err.Error(), "access token is required") {
		t.Errorf("no token: %v", err)
	}
}
