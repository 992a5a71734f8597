package pushd

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"mkt/pkg/config"
	"mkt/pkg/provider"
)

// httpChannels are the channels delivered through an HTTP provider; the
// inbox is written to the database by pushd itself.
var httpChannels = []provider.Channel{provider.ChannelSMS, provider.ChannelEmail, provider.ChannelApp}

// ProviderSettings configure one channel's HTTP provider.
type ProviderSettings struct {
	URL         string
	BatchURL    string
	Token       string
	BatchSize   int
	RateLimit   float64
	RateBurst   int
	Timeout     time.Duration
	MaxAttempts int
}

// ProvidersConfig holds every HTTP channel's settings.
type ProvidersConfig map[provider.Channel]*ProviderSettings

// Bind registers --<channel>-url, --<channel>-token-file,
// --<channel>-batch, --<channel>-rate, --<channel>-burst, --<channel>-timeout
// and --<channel>-max-attempts for sms, email and app, with MKT_PROVIDER_<CHANNEL>_*
// environment defaults. A channel without a URL is not served by this pushd.
func (pc *ProvidersConfig) Bind(fs *pflag.FlagSet) {
	*pc = ProvidersConfig{}
	for _, ch := range httpChannels {
		s := &ProviderSettings{}
		(*pc)[ch] = s
		name := string(ch)
		env := "MKT_PROVIDER_" + strings.ToUpper(name) + "_"
		config.String(fs, &s.URL, name+"-url", env+"URL", "", name+" provider endpoint for single sends (empty: channel not served)")
		config.String(fs, &s.BatchURL, name+"-batch-url", env+"BATCH_URL", "", name+" provider batch endpoint (default <url>/batch)")
		config.Secret(fs, &s.Token, name+"-token", env+"TOKEN", "", name+" provider bearer token")
		config.Int(fs, &s.BatchSize, name+"-batch", env+"BATCH", 1, name+" recipients per provider call (1 = one call per recipient)")
		config.Float64(fs, &s.RateLimit, name+"-rate", env+"RATE", 0, name+" provider rate limit in recipients per second per pushd (0 = none)")
		config.Int(fs, &s.RateBurst, name+"-burst", env+"BURST", 0, name+" provider rate-limit burst (default: the batch size or 1% of the rate)")
		config.Duration(fs, &s.Timeout, name+"-timeout", env+"TIMEOUT", provider.DefaultTimeout, name+" provider timeout per call")
		config.Int(fs, &s.MaxAttempts, name+"-max-attempts", env+"MAX_ATTEMPTS", provider.DefaultMaxAttempts, name+" provider attempts per recipient (timeouts, 5xx, 429)")
	}
}

// Build creates the HTTP providers of every configured channel.
func (pc ProvidersConfig) Build(logger *slog.Logger, maxConns int) (map[provider.Channel]*provider.HTTPProvider, error) {
	out := map[provider.Channel]*provider.HTTPProvider{}
	var errs []error
	for _, ch := range httpChannels {
		s := pc[ch]
		if s == nil || s.URL == "" {
			continue
		}
		p, err := provider.NewHTTP(provider.HTTPConfig{
			Name:            string(ch) + "-http",
			Channel:         ch,
			URL:             s.URL,
			BatchURL:        s.BatchURL,
			Token:           s.Token,
			BatchSize:       s.BatchSize,
			Timeout:         s.Timeout,
			RateLimit:       s.RateLimit,
			RateBurst:       s.RateBurst,
			MaxAttempts:     s.MaxAttempts,
			MaxConnsPerHost: maxConns,
			Logger:          logger,
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s provider: %w", ch, err))
			continue
		}
		out[ch] = p
	}
	return out, errors.Join(errs...)
}
