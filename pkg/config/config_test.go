package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// The tests use t.Setenv, so they do not run in parallel.

func newFS() *pflag.FlagSet {
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	return fs
}

// unsetEnv makes env unset for the test, restoring it afterwards.
func unsetEnv(t *testing.T, envs ...string) {
	t.Helper()
	for _, e := range envs {
		t.Setenv(e, "") // registers restore
		if err := os.Unsetenv(e); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBinders(t *testing.T) {
	type vals struct {
		s string
		i int
		f float64
		d time.Duration
		b bool
	}
	bind := func(fs *pflag.FlagSet, v *vals) {
		String(fs, &v.s, "name", "MKT_T_NAME", "def", "a name")
		Int(fs, &v.i, "count", "MKT_T_COUNT", 7, "a count")
		Float64(fs, &v.f, "rate", "MKT_T_RATE", 1.5, "a rate")
		Duration(fs, &v.d, "wait", "MKT_T_WAIT", time.Second, "a wait")
		Bool(fs, &v.b, "on", "MKT_T_ON", false, "a switch")
	}
	envs := []string{"MKT_T_NAME", "MKT_T_COUNT", "MKT_T_RATE", "MKT_T_WAIT", "MKT_T_ON"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want vals
	}{
		{name: "defaults", want: vals{"def", 7, 1.5, time.Second, false}},
		{
			name: "env overrides default",
			env:  map[string]string{"MKT_T_NAME": "env", "MKT_T_COUNT": "42", "MKT_T_RATE": "2.25", "MKT_T_WAIT": "250ms", "MKT_T_ON": "true"},
			want: vals{"env", 42, 2.25, 250 * time.Millisecond, true},
		},
		{
			name: "empty env counts as unset",
			env:  map[string]string{"MKT_T_NAME": "", "MKT_T_COUNT": ""},
			want: vals{"def", 7, 1.5, time.Second, false},
		},
		{
			name: "flag overrides env",
			env:  map[string]string{"MKT_T_NAME": "env", "MKT_T_COUNT": "42", "MKT_T_RATE": "2.25", "MKT_T_WAIT": "250ms", "MKT_T_ON": "true"},
			args: []string{"--name=flag", "--count=3", "--rate=0.5", "--wait=2m", "--on=false"},
			want: vals{"flag", 3, 0.5, 2 * time.Minute, false},
		},
		{
			name: "flag overrides an invalid env",
			env:  map[string]string{"MKT_T_COUNT": "abc"},
			args: []string{"--count=3"},
			want: vals{"def", 3, 1.5, time.Second, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unsetEnv(t, envs...)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := newFS()
			var got vals
			bind(fs, &got)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if err := Resolve(fs); err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestUsageNamesEnv(t *testing.T) {
	fs := newFS()
	var c Common
	c.Bind(fs)
	fs.VisitAll(func(f *pflag.Flag) {
		if !strings.Contains(f.Usage, "(env MKT_") || !strings.HasSuffix(f.Usage, ")") {
			t.Errorf("--%s usage %q does not end with (env MKT_...)", f.Name, f.Usage)
		}
	})
	for _, secret := range []string{"mysql-dsn", "redis-password"} {
		if fs.Lookup(secret) != nil {
			t.Errorf("--%s exists: secrets must not be flag values", secret)
		}
		if fs.Lookup(secret+"-file") == nil {
			t.Errorf("--%s-file missing", secret)
		}
	}
	usage := fs.FlagUsages()
	for _, env := range []string{"MKT_MYSQL_DSN", "MKT_MYSQL_DSN_FILE", "MKT_REDIS_ADDR", "MKT_REDIS_PASSWORD_FILE", "MKT_REDIS_DB",
		"MKT_ROCKETMQ_NAMESRV", "MKT_ROCKETMQ_BROKER", "MKT_LOG_LEVEL", "MKT_LOG_FORMAT"} {
		if !strings.Contains(usage, env) {
			t.Errorf("--help does not mention %s:\n%s", env, usage)
		}
	}
}

func TestInvalidEnvRejected(t *testing.T) {
	tests := []struct {
		env, value, wantMsg string
		bind                func(fs *pflag.FlagSet)
	}{
		{"MKT_T_INT", "abc", "want an integer", func(fs *pflag.FlagSet) { var v int; Int(fs, &v, "x", "MKT_T_INT", 1, "u") }},
		{"MKT_T_DUR", "5", "want a duration", func(fs *pflag.FlagSet) { var v time.Duration; Duration(fs, &v, "x", "MKT_T_DUR", 0, "u") }},
		{"MKT_T_BOOL", "yes please", "want true or false", func(fs *pflag.FlagSet) { var v bool; Bool(fs, &v, "x", "MKT_T_BOOL", false, "u") }},
		{"MKT_T_FLOAT", "1,5", "want a finite number", func(fs *pflag.FlagSet) { var v float64; Float64(fs, &v, "x", "MKT_T_FLOAT", 0, "u") }},
		{"MKT_T_FLOAT", "NaN", "want a finite number", func(fs *pflag.FlagSet) { var v float64; Float64(fs, &v, "x", "MKT_T_FLOAT", 0, "u") }},
		{"MKT_T_FLOAT", "-Inf", "want a finite number", func(fs *pflag.FlagSet) { var v float64; Float64(fs, &v, "x", "MKT_T_FLOAT", 0, "u") }},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			t.Setenv(tt.env, tt.value)
			fs := newFS()
			tt.bind(fs)
			if err := fs.Parse(nil); err != nil {
				t.Fatal(err)
			}
			err := Resolve(fs)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Resolve = %v, want ErrInvalid", err)
			}
			for _, want := range []string{tt.env, fmt.Sprintf("%q", tt.value), tt.wantMsg, "--x"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestNonFiniteFloatFlagRejected(t *testing.T) {
	for _, arg := range []string{"NaN", "nan", "+Inf", "-inf"} {
		fs := newFS()
		var v float64
		Float64(fs, &v, "x", "MKT_T_FLOAT_FLAG", 0.5, "u")
		if err := fs.Parse([]string{"--x", arg}); err != nil {
			t.Fatal(err)
		}
		if err := Resolve(fs); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "--x") {
			t.Errorf("--x %s: Resolve = %v, want ErrInvalid naming --x", arg, err)
		}
	}
	fs := newFS()
	var v float64
	Float64(fs, &v, "x", "MKT_T_FLOAT_FLAG", 0.5, "u")
	if err := fs.Parse([]string{"--x", "1e-3"}); err != nil {
		t.Fatal(err)
	}
	if err := Resolve(fs); err != nil || v != 1e-3 {
		t.Errorf("--x 1e-3: %v, %v", v, err)
	}
}

func TestSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	envFile := write("env-file", "from-env-file\n")
	flagFile := write("flag-file", "from-flag-file\r\n")
	missing := filepath.Join(dir, "missing")

	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    string
		wantErr error
	}{
		{name: "default", want: "def"},
		{name: "env value", env: map[string]string{"MKT_T_TOKEN": "from-env"}, want: "from-env"},
		{name: "env file, newline trimmed", env: map[string]string{"MKT_T_TOKEN_FILE": envFile}, want: "from-env-file"},
		{name: "flag file beats env", env: map[string]string{"MKT_T_TOKEN": "from-env"}, args: []string{"--token-file", flagFile}, want: "from-flag-file"},
		{name: "flag file beats env file", env: map[string]string{"MKT_T_TOKEN_FILE": envFile}, args: []string{"--token-file=" + flagFile}, want: "from-flag-file"},
		{name: "env and env file both set", env: map[string]string{"MKT_T_TOKEN": "x", "MKT_T_TOKEN_FILE": envFile}, wantErr: ErrInvalid},
		{name: "unreadable env file", env: map[string]string{"MKT_T_TOKEN_FILE": missing}, wantErr: fs.ErrNotExist},
		{name: "unreadable flag file", args: []string{"--token-file", missing}, wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			unsetEnv(t, "MKT_T_TOKEN", "MKT_T_TOKEN_FILE")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fset := newFS()
			var got string
			Secret(fset, &got, "token", "MKT_T_TOKEN", "def", "provider token")
			if err := fset.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := Resolve(fset)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Resolve = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), "MKT_T_TOKEN") {
					t.Errorf("error %q does not name the setting", err)
				}
				if strings.Contains(err.Error(), "from-env") || strings.Contains(err.Error(), "x\"") {
					t.Errorf("error %q leaks the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got != tt.want {
				t.Errorf("secret = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCommon(t *testing.T) {
	allEnv := []string{"MKT_MYSQL_DSN", "MKT_MYSQL_DSN_FILE", "MKT_REDIS_ADDR", "MKT_REDIS_PASSWORD", "MKT_REDIS_PASSWORD_FILE",
		"MKT_REDIS_DB", "MKT_ROCKETMQ_NAMESRV", "MKT_ROCKETMQ_BROKER", "MKT_LOG_LEVEL", "MKT_LOG_FORMAT"}

	t.Run("defaults", func(t *testing.T) {
		unsetEnv(t, allEnv...)
		fs := newFS()
		var c Common
		c.Bind(fs)
		if err := fs.Parse(nil); err != nil {
			t.Fatal(err)
		}
		if err := c.Resolve(); err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		want := Common{MySQLDSN: DefaultMySQLDSN, RedisAddr: "127.0.0.1:6379", RocketMQNameServer: "127.0.0.1:9876",
			RocketMQBroker: "127.0.0.1:10911", LogLevel: "info", LogFormat: "text", fs: fs}
		if c != want {
			t.Errorf("got %+v\nwant %+v", c, want)
		}
	})

	t.Run("env, files and flags", func(t *testing.T) {
		unsetEnv(t, allEnv...)
		pw := filepath.Join(t.TempDir(), "redis-pw")
		if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("MKT_MYSQL_DSN", "u:p@tcp(db:3306)/mkt")
		t.Setenv("MKT_REDIS_PASSWORD_FILE", pw)
		t.Setenv("MKT_REDIS_DB", "3")
		t.Setenv("MKT_ROCKETMQ_NAMESRV", "ns1:9876;ns2:9876")
		t.Setenv("MKT_LOG_FORMAT", "json")
		fs := newFS()
		var c Common
		c.Bind(fs)
		if err := fs.Parse([]string{"--redis-addr=cache:6380", "--log-level=debug"}); err != nil {
			t.Fatal(err)
		}
		if err := c.Resolve(); err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		if c.MySQLDSN != "u:p@tcp(db:3306)/mkt" || c.RedisPassword != "s3cret" || c.RedisDB != 3 ||
			c.RedisAddr != "cache:6380" || c.RocketMQNameServer != "ns1:9876;ns2:9876" || c.LogLevel != "debug" || c.LogFormat != "json" {
			t.Errorf("got %+v", c)
		}
	})

	t.Run("bad values rejected together", func(t *testing.T) {
		unsetEnv(t, allEnv...)
		t.Setenv("MKT_REDIS_DB", "abc")
		t.Setenv("MKT_MYSQL_DSN", "u:topsecret@tcp(db:3306)mkt") // no slash before the database
		fs := newFS()
		var c Common
		c.Bind(fs)
		if err := fs.Parse([]string{"--redis-addr=nocolon", "--log-level=loud", "--log-format=xml", "--rocketmq-broker=b:1"}); err != nil {
			t.Fatal(err)
		}
		err := c.Resolve()
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("Resolve = %v, want ErrInvalid", err)
		}
		for _, want := range []string{"MKT_REDIS_DB", "MySQL DSN", "Redis address", "log level", "log format"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not mention %q:\n%v", want, err)
			}
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("error leaks the DSN password:\n%v", err)
		}
	})
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	c := Common{LogLevel: "warn", LogFormat: "json"}
	log, err := c.Logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	out := buf.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Errorf("unexpected log output %q", out)
	}
	if _, err := (&Common{LogLevel: "info", LogFormat: "yaml"}).Logger(&buf); !errors.Is(err, ErrInvalid) {
		t.Errorf("yaml format: err = %v, want ErrInvalid", err)
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ in, want string }{
		{DefaultMySQLDSN, "mkt:xxxxx@tcp(127.0.0.1:3306)/mkt?parseTime=true&loc=UTC&charset=utf8mb4&collation=utf8mb4_unicode_ci"},
		{"user:p@ss:w/rd@tcp(h:3306)/db", "user:xxxxx@tcp(h:3306)/db"},
		{"user@tcp(h:3306)/db", "user@tcp(h:3306)/db"},
		{"/db", "/db"},
		{"user:pw@/db", "user:xxxxx@/db"},
		{"redis://:pw@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0"},
		{"redis://u:pw@h:6379", "redis://u:xxxxx@h:6379"},
		{"redis://h:6379", "redis://h:6379"},
	}
	for _, tt := range tests {
		if got := RedactDSN(tt.in); got != tt.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	c := Common{MySQLDSN: "app:hunter2@tcp(db:3306)/mkt", RedisPassword: "hunter3", RedisAddr: "r:1", LogLevel: "info", LogFormat: "text"}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("config", "config", &c, "dsn", c.MySQLDSN, "pw", c.RedisPassword)
	printed := buf.String() + fmt.Sprintf("%v %s %q %#v %+v", c.MySQLDSN, c.MySQLDSN, c.RedisPassword, c.MySQLDSN, c)
	for _, secret := range []string{"hunter2", "hunter3"} {
		if strings.Contains(printed, secret) {
			t.Errorf("secret %q printed in:\n%s", secret, printed)
		}
	}
	if !strings.Contains(buf.String(), "app:xxxxx@tcp(db:3306)/mkt") {
		t.Errorf("redacted DSN missing from log:\n%s", buf.String())
	}
	if Redacted("").String() != "" {
		t.Errorf("empty secret should print empty")
	}
}
