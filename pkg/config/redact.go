package config

import (
	"log/slog"
	"net/url"
	"strings"
)

// redactedMark replaces a secret in printed output.
const redactedMark = "xxxxx"

// DSN is a data source name that may embed a password. It prints (fmt's %v,
// %s, %q, %#v) and logs (slog) with the password redacted; convert it with
// string(dsn) only where the driver needs the real value.
type DSN string

// String returns the DSN with its password redacted.
func (d DSN) String() string { return RedactDSN(string(d)) }

// GoString returns the DSN with its password redacted, for %#v.
func (d DSN) GoString() string { return `"` + RedactDSN(string(d)) + `"` }

// LogValue returns the DSN with its password redacted.
func (d DSN) LogValue() slog.Value { return slog.StringValue(RedactDSN(string(d))) }

// Redacted is a secret string (password, token) that never prints or logs its
// value: it shows as "xxxxx", or as "" when empty so a missing secret stays
// visible. Convert with string(r) where the value is needed.
type Redacted string

// String returns "xxxxx", or "" for an empty secret.
func (r Redacted) String() string {
	if r == "" {
		return ""
	}
	return redactedMark
}

// GoString returns the quoted redacted form, for %#v.
func (r Redacted) GoString() string { return `"` + r.String() + `"` }

// LogValue returns the redacted form.
func (r Redacted) LogValue() slog.Value { return slog.StringValue(r.String()) }

// RedactDSN returns dsn with its password replaced by "xxxxx". It understands
// go-sql-driver/mysql DSNs (user:pass@tcp(host:port)/db?params) and URL-style
// ones (redis://user:pass@host/0). A DSN without a password is returned as is.
func RedactDSN(dsn string) string {
	if i := strings.Index(dsn, "://"); i > 0 && !strings.ContainsAny(dsn[:i], "@/:(") {
		if u, err := url.Parse(dsn); err == nil {
			if u.User != nil {
				if _, has := u.User.Password(); has {
					u.User = url.UserPassword(u.User.Username(), redactedMark)
				}
			}
			return u.String()
		}
		// Unparseable URL: fall through to the mysql form, which still finds
		// user:pass@ in the usual place.
	}
	// go-sql-driver/mysql: the database follows the last '/', the credentials
	// end at the last '@' before it and the user ends at the first ':'.
	slash := strings.LastIndex(dsn, "/")
	if slash < 0 {
		slash = len(dsn)
	}
	at := strings.LastIndex(dsn[:slash], "@")
	if at < 0 {
		return dsn
	}
	colon := strings.Index(dsn[:at], ":")
	if colon < 0 {
		return dsn
	}
	return dsn[:colon+1] + redactedMark + dsn[at:]
}
