package cachetest

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"mkt/pkg/config"
)

// The tests use t.Setenv, so they do not run in parallel.

func TestPassword(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "password")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir() // a local stack's state directory
	if err := os.MkdirAll(filepath.Join(state, "redis"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "redis", "password"), []byte("stack\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, env, envFile string
		stateDir           string // MKT_STATE_DIR; "" = an empty directory
		want               string
		wantErr            error
	}{
		{name: "none: no AUTH", want: ""},
		{name: "none: the local stack's file", stateDir: state, want: "stack"},
		{name: "from the file, newline trimmed", envFile: file, want: "s3cret"},
		{name: "from the variable", env: "inline", want: "inline"},
		{name: "both set", env: "inline", envFile: file, wantErr: config.ErrInvalid},
		{name: "missing file", envFile: filepath.Join(dir, "missing"), wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MKT_REDIS_PASSWORD", tt.env)
			t.Setenv("MKT_REDIS_PASSWORD_FILE", tt.envFile)
			t.Setenv("MKT_STATE_DIR", cmp.Or(tt.stateDir, t.TempDir()))
			got, err := ReadPassword()
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("ReadPassword() = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
			if tt.stateDir != "" && os.Getenv("MKT_REDIS_PASSWORD_FILE") != filepath.Join(state, "redis", "password") {
				t.Errorf("MKT_REDIS_PASSWORD_FILE = %q, want the stack's file named for the daemons a test starts", os.Getenv("MKT_REDIS_PASSWORD_FILE"))
			}
		})
	}
}

func TestAddr(t *testing.T) {
	t.Setenv("MKT_REDIS_ADDR", "")
	if got := Addr(); got != config.DefaultRedisAddr {
		t.Errorf("Addr() = %q, want the default %q", got, config.DefaultRedisAddr)
	}
	t.Setenv("MKT_REDIS_ADDR", "127.0.0.1:26379")
	if got := Addr(); got != "127.0.0.1:26379" {
		t.Errorf("Addr() = %q, want MKT_REDIS_ADDR", got)
	}
}
