// Package config owns how mkt binaries read their settings: every setting is a
// command-line flag whose default comes from an MKT_* environment variable when
// set, else from a hard default that works against the local single-machine
// services. Secrets (DSNs with passwords, tokens) are never flag values: they
// come from an MKT_X environment variable or from a file named by MKT_X_FILE
// or --x-file.
//
// Binders register flags and read the environment at bind time; Resolve (or
// (*Common).Resolve) must be called after flag parsing to read secret files and
// to report environment values that could not be parsed.
package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// ErrInvalid is wrapped by every error about a setting that has an unusable
// value (unparseable environment variable, bad address, unknown level...).
var ErrInvalid = errors.New("invalid setting")

// annotEnvError is the flag annotation holding the message of an environment
// value that could not be parsed at bind time.
const annotEnvError = "mkt_env_error"

// lookupEnv returns the value of env and whether it is set to something
// non-empty. An empty value counts as unset, as in systemd's EnvironmentFile
// where "MKT_X=" is the usual way to say "no value".
func lookupEnv(env string) (string, bool) {
	v, ok := os.LookupEnv(env)
	if !ok || v == "" {
		return "", false
	}
	return v, true
}

func usageWithEnv(usage string, envs ...string) string {
	return fmt.Sprintf("%s (env %s)", usage, strings.Join(envs, ", "))
}

// String binds a string flag named name whose default is $env if set, else def.
func String(fs *pflag.FlagSet, p *string, name, env, def, usage string) {
	if v, ok := lookupEnv(env); ok {
		def = v
	}
	fs.StringVar(p, name, def, usageWithEnv(usage, env))
}

// Int binds an int flag named name whose default is $env if set, else def.
// An $env that is not an integer is reported by Resolve.
func Int(fs *pflag.FlagSet, p *int, name, env string, def int, usage string) {
	bindParsed(fs, name, env, usage, func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("want an integer")
		}
		def = n
		return nil
	}, func(u string) { fs.IntVar(p, name, def, u) })
}

// Float64 binds a float64 flag named name whose default is $env if set, else
// def. An $env that is not a number is reported by Resolve.
func Float64(fs *pflag.FlagSet, p *float64, name, env string, def float64, usage string) {
	bindParsed(fs, name, env, usage, func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return errors.New("want a finite number")
		}
		def = f
		return nil
	}, func(u string) { fs.Float64Var(p, name, def, u) })
}

// Duration binds a duration flag named name whose default is $env if set,
// else def. An $env that is not a Go duration ("250ms", "1m30s") is reported
// by Resolve.
func Duration(fs *pflag.FlagSet, p *time.Duration, name, env string, def time.Duration, usage string) {
	bindParsed(fs, name, env, usage, func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New(`want a duration such as "500ms" or "1m30s"`)
		}
		def = d
		return nil
	}, func(u string) { fs.DurationVar(p, name, def, u) })
}

// Bool binds a bool flag named name whose default is $env if set, else def.
// An $env that is not a boolean (1, t, true, 0, f, false...) is reported by
// Resolve.
func Bool(fs *pflag.FlagSet, p *bool, name, env string, def bool, usage string) {
	bindParsed(fs, name, env, usage, func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		def = b
		return nil
	}, func(u string) { fs.BoolVar(p, name, def, u) })
}

// bindParsed reads env, lets parse update the default, registers the flag
// through register and records a parse failure on the flag for Resolve.
func bindParsed(fs *pflag.FlagSet, name, env, usage string, parse func(string) error, register func(usage string)) {
	v, set := lookupEnv(env)
	var perr error
	if set {
		perr = parse(v)
	}
	register(usageWithEnv(usage, env))
	if perr != nil {
		msg := fmt.Sprintf("%s=%q: %v", env, v, perr)
		// SetAnnotation only fails for an unknown flag; it was just registered.
		_ = fs.SetAnnotation(name, annotEnvError, []string{msg})
	}
}

// secretFile is the pflag.Value of a --x-file flag: it remembers where the
// secret goes and which environment variables may carry it.
type secretFile struct {
	path   string
	target *string
	env    string
	def    string
}

func (s *secretFile) String() string { return s.path }

func (s *secretFile) Set(v string) error {
	s.path = v
	return nil
}

func (s *secretFile) Type() string { return "path" }

// Secret binds a secret setting without ever accepting its value on the
// command line. It registers the flag "<name>-file"; the value is taken, in
// this order, from the file named by --<name>-file, from $env, from the file
// named by $env_FILE, else def. Setting both $env and $env_FILE is an error.
// File contents lose their trailing newline. *p holds $env (or def) right
// after binding; Resolve completes it from files.
func Secret(fs *pflag.FlagSet, p *string, name, env, def, usage string) {
	fileEnv := env + "_FILE"
	*p = def
	if v, ok := lookupEnv(env); ok {
		*p = v
	}
	sf := &secretFile{target: p, env: env, def: def}
	if v, ok := lookupEnv(fileEnv); ok {
		sf.path = v
	}
	fs.Var(sf, name+"-file", usageWithEnv("file holding the "+usage, env, fileEnv))
}

// resolveSecret applies Secret's precedence for one --x-file flag.
func resolveSecret(f *pflag.Flag, sf *secretFile) error {
	fileEnv := sf.env + "_FILE"
	envVal, envSet := lookupEnv(sf.env)
	_, fileEnvSet := lookupEnv(fileEnv)
	switch {
	case f.Changed && sf.path != "":
		return readSecretFile(sf, "--"+f.Name)
	case f.Changed: // --x-file="" explicitly: fall back to the environment.
	case envSet && fileEnvSet:
		return fmt.Errorf("config: both %s and %s are set; use one: %w", sf.env, fileEnv, ErrInvalid)
	case fileEnvSet:
		return readSecretFile(sf, fileEnv)
	}
	if envSet {
		*sf.target = envVal
	} else {
		*sf.target = sf.def
	}
	return nil
}

func readSecretFile(sf *secretFile, from string) error {
	b, err := os.ReadFile(sf.path)
	if err != nil {
		return fmt.Errorf("config: read secret file for %s (from %s): %w", sf.env, from, err)
	}
	*sf.target = strings.TrimRight(string(b), "\r\n")
	return nil
}

// Resolve finishes the settings bound on fs after flag parsing: it reads every
// secret file and reports every environment value that could not be parsed
// (unless the flag was given on the command line, which overrides it). All
// problems are returned together, each wrapping ErrInvalid or the file error.
func Resolve(fs *pflag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if msgs := f.Annotations[annotEnvError]; len(msgs) > 0 && !f.Changed {
			errs = append(errs, fmt.Errorf("config: --%s: invalid %s: %w", f.Name, msgs[0], ErrInvalid))
		}
		if sf, ok := f.Value.(*secretFile); ok {
			if err := resolveSecret(f, sf); err != nil {
				errs = append(errs, err)
			}
		}
		if f.Changed {
			if err := CheckFinite(f); err != nil {
				errs = append(errs, fmt.Errorf("config: %w: %w", err, ErrInvalid))
			}
		}
	})
	return errors.Join(errs...)
}

// CheckFinite refuses NaN and ±Inf in a float64 flag: strconv parses them,
// and no range check (x < 0, x > max) catches NaN. Other flags pass.
func CheckFinite(f *pflag.Flag) error {
	if f.Value.Type() != "float64" {
		return nil
	}
	if v, err := strconv.ParseFloat(f.Value.String(), 64); err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		return fmt.Errorf("--%s %s: want a finite number", f.Name, f.Value.String())
	}
	return nil
}
