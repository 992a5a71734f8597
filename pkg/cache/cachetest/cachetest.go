// Package cachetest tells integration tests which Redis to use and how to log
// in: the address from MKT_REDIS_ADDR and the password from
// MKT_REDIS_PASSWORD or the file MKT_REDIS_PASSWORD_FILE names, read the way
// mkt's binaries read them (pkg/config), so a test and the daemons it starts
// agree. The local stack's password is in <state>/redis/password
// (scripts/services.sh), found when neither variable is set.
//
// It does not import pkg/cache, so that package's own tests can use it.
package cachetest

import (
	"cmp"
	"io"
	"os"
	"testing"

	"github.com/spf13/pflag"

	"mkt/pkg/config"
)

// Addr returns the test Redis's host:port: MKT_REDIS_ADDR, else the local
// stack's default.
func Addr() string {
	return cmp.Or(os.Getenv("MKT_REDIS_ADDR"), config.DefaultRedisAddr)
}

// ReadPassword returns the test Redis's password, "" for none: MKT_REDIS_PASSWORD,
// or the contents of the file MKT_REDIS_PASSWORD_FILE names, or, with
// neither set, the local stack's password file (which it then names in
// MKT_REDIS_PASSWORD_FILE for the daemons the test starts:
// config.UseLocalStackRedisPassword). Setting both, or naming a file that
// cannot be read, is an error.
func ReadPassword() (string, error) {
	config.UseLocalStackRedisPassword()
	fs := pflag.NewFlagSet("cachetest", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var pw string
	config.Secret(fs, &pw, "redis-password", "MKT_REDIS_PASSWORD", "", "Redis password")
	if err := config.Resolve(fs); err != nil {
		return "", err
	}
	return pw, nil
}

// Password is ReadPassword for a test: it fails t when the password cannot be
// read.
func Password(t testing.TB) string {
	t.Helper()
	pw, err := ReadPassword()
	if err != nil {
		t.Fatalf("cachetest: Redis password (MKT_REDIS_PASSWORD / MKT_REDIS_PASSWORD_FILE): %v", err)
	}
	return pw
}
