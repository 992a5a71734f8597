package xxljob

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // --xxl-job-zone works on hosts without a zone database

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"mkt/pkg/config"
)

// DefaultListen is the default listen address of the executor (the port
// XXL-Job's executors use by default).
const DefaultListen = "127.0.0.1:9999"

// DefaultAppName is the default AppName.
const DefaultAppName = "mkt-pushd"

// MaxTokenLen bounds the access token.
const MaxTokenLen = 512

// Options are the executor's settings as a daemon's flags: off unless
// --xxl-job-admin is set.
type Options struct {
	Admin     string
	App       string
	Token     string
	Listen    string
	Advertise string
	Zone      string
}

// Bind registers --xxl-job-admin, --xxl-job-app, --xxl-job-token-file,
// --xxl-job-listen, --xxl-job-advertise and --xxl-job-zone with their
// MKT_XXL_JOB_* environment defaults. The token is a secret: from a file or
// the environment, never a flag value.
func (o *Options) Bind(fs *pflag.FlagSet) {
	config.String(fs, &o.Admin, "xxl-job-admin", "MKT_XXL_JOB_ADMIN", "", "XXL-Job admin base URL(s), comma-separated, e.g. http://admin:8080/xxl-job-admin (empty: no executor)")
	config.String(fs, &o.App, "xxl-job-app", "MKT_XXL_JOB_APP", DefaultAppName, "XXL-Job executor AppName (4-64: a lowercase letter, then letters, digits, '-')")
	config.Secret(fs, &o.Token, "xxl-job-token", "MKT_XXL_JOB_TOKEN", "", "XXL-Job access token (the admin's xxl.job.accessToken; required with --xxl-job-admin)")
	config.String(fs, &o.Listen, "xxl-job-listen", "MKT_XXL_JOB_LISTEN", DefaultListen, "listen address of the XXL-Job executor server")
	config.String(fs, &o.Advertise, "xxl-job-advertise", "MKT_XXL_JOB_ADVERTISE", "", "executor address registered with the admin, e.g. http://10.0.0.5:9999/ (default: http://<listen address>/)")
	config.String(fs, &o.Zone, "xxl-job-zone", "MKT_XXL_JOB_ZONE", "Local", "time zone of a trigger's date for the hotgoods job, e.g. Asia/Shanghai")
}

// Enabled reports whether an admin is configured.
func (o *Options) Enabled() bool { return strings.TrimSpace(o.Admin) != "" }

// AdminURLs returns the admin addresses, each ending in "/".
func (o *Options) AdminURLs() []string {
	var out []string
	for _, u := range strings.Split(o.Admin, ",") {
		if u = strings.TrimSpace(u); u != "" {
			norm, _ := checkHTTPURL(u)
			out = append(out, norm)
		}
	}
	return out
}

// Location loads --xxl-job-zone.
func (o *Options) Location() (*time.Location, error) {
	loc, err := time.LoadLocation(o.Zone)
	if err != nil {
		return nil, fmt.Errorf("--xxl-job-zone %q: %w", o.Zone, err)
	}
	return loc, nil
}

// Validate checks the settings once flags are parsed and secrets resolved;
// nothing is checked when the executor is off. The token never appears in
// an error.
func (o *Options) Validate() error {
	if !o.Enabled() {
		return nil
	}
	var errs []error
	for _, u := range strings.Split(o.Admin, ",") {
		if _, err := checkHTTPURL(strings.TrimSpace(u)); err != nil {
			errs = append(errs, fmt.Errorf("--xxl-job-admin: %w", err))
		}
	}
	if err := CheckAppName(o.App); err != nil {
		errs = append(errs, fmt.Errorf("--xxl-job-app: %w", err))
	}
	if o.Token == "" {
		errs = append(errs, errors.New("--xxl-job-token-file (or MKT_XXL_JOB_TOKEN_FILE, MKT_XXL_JOB_TOKEN): an access token is required with --xxl-job-admin, or anyone reaching the executor could trigger jobs"))
	} else if err := checkToken(o.Token); err != nil {
		errs = append(errs, fmt.Errorf("xxl-job token: %w", err))
	}
	host, port, err := net.SplitHostPort(o.Listen)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		errs = append(errs, fmt.Errorf("--xxl-job-listen %q: want host:port", o.Listen))
	}
	if o.Advertise != "" {
		if _, err := checkHTTPURL(o.Advertise); err != nil {
			errs = append(errs, fmt.Errorf("--xxl-job-advertise: %w", err))
		}
	} else if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		errs = append(errs, fmt.Errorf("--xxl-job-listen %q listens on every interface: say which address the admin reaches with --xxl-job-advertise", o.Listen))
	}
	if _, err := o.Location(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Config returns the executor's Config for handlers, with logger and
// metrics registry.
func (o *Options) Config(handlers map[string]Handler, log *slog.Logger, reg prometheus.Registerer) Config {
	return Config{
		AdminURLs:    o.AdminURLs(),
		AppName:      o.App,
		AccessToken:  o.Token,
		ListenAddr:   o.Listen,
		AdvertiseURL: o.Advertise,
		Handlers:     handlers,
		Logger:       log,
		Registerer:   reg,
	}
}

// checkHTTPURL checks an http(s) URL with a host and no credentials, query
// or fragment, and returns it ending in "/".
func checkHTTPURL(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return s, fmt.Errorf("URL %q: want an http:// or https:// URL (%w)", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return s, fmt.Errorf("URL %q: want an http:// or https:// URL", s)
	case u.Host == "" || u.Hostname() == "":
		return s, fmt.Errorf("URL %q: no host", s)
	case u.User != nil:
		return s, fmt.Errorf("URL %q: credentials do not belong in the URL", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return s, fmt.Errorf("URL %q: no query or fragment, please", s)
	case len(s) > 255:
		return s, fmt.Errorf("URL %q: longer than 255 characters", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return s, fmt.Errorf("URL %q: port %q: want 1..65535", s, p)
		}
	}
	if !strings.HasSuffix(s, "/") {
		s += "/"
	}
	return s, nil
}

// checkToken refuses a token that cannot travel in an HTTP header.
func checkToken(t string) error {
	if len(t) > MaxTokenLen {
		return fmt.Errorf("access token longer than %d bytes", MaxTokenLen)
	}
	for _, c := range []byte(t) {
		if c < 0x20 || c == 0x7f {
			return errors.New("access token holds a control character (a stray newline in its file?)")
		}
	}
	return nil
}
