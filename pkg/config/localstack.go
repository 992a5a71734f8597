package config

import (
	"os"
	"path/filepath"
)

// LocalStackRedisPasswordFile returns the Redis password file of the local
// development stack (scripts/services.sh writes <state>/redis/password;
// state is $MKT_STATE_DIR, else .mkt at the root of the module holding the
// working directory), or "" when there is none. Only development tooling —
// tests and the children they start, benchmarks — looks there; the daemons
// read MKT_REDIS_PASSWORD(_FILE) alone.
func LocalStackRedisPasswordFile() string {
	state := os.Getenv("MKT_STATE_DIR")
	if state == "" {
		dir, err := os.Getwd()
		if err != nil {
			return ""
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				return ""
			}
			dir = parent
		}
		state = filepath.Join(dir, ".mkt")
	}
	f := filepath.Join(state, "redis", "password")
	if _, err := os.Stat(f); err != nil {
		return ""
	}
	return f
}

// UseLocalStackRedisPassword points MKT_REDIS_PASSWORD_FILE at the local
// stack's password file when neither MKT_REDIS_PASSWORD nor
// MKT_REDIS_PASSWORD_FILE is set, so that this process and the children it
// starts log in to the development Redis. Development tooling only.
func UseLocalStackRedisPassword() {
	if os.Getenv("MKT_REDIS_PASSWORD") != "" || os.Getenv("MKT_REDIS_PASSWORD_FILE") != "" {
		return
	}
	if f := LocalStackRedisPasswordFile(); f != "" {
		_ = os.Setenv("MKT_REDIS_PASSWORD_FILE", f)
	}
}
