package cachetest

import (
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
	tests := []struct {
		name, env, envFile string
		want               string
		wantErr            error
	}{
		{name: "none: no AUTH", want: ""},
		{name: "from the file, newline trimmed", envFile: file, want: "s3cret"},
		{name: "from the variable", env: "inline", want: "inline"},
		{name: "both set", env: "inline", envFile: file, wantErr: config.ErrInvalid},
		{name: "missing file", envFile: filepath.Join(dir, "missing"), wantErr: fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("MKT_REDIS_PASSWORD", tt.env)
			t.Setenv("MKT_REDIS_PASSWORD_FILE", tt.envFile)
			got, err := ReadPassword()
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("ReadPassword() = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
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
