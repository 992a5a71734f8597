package provider

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"mkt/pkg/textlimit"
)

// RateUnit says what a provider's rate limit counts.
type RateUnit string

const (
	// RatePerRecipient makes the rate limit count recipients (messages): a
	// batch call of 100 recipients takes 100 tokens. This is the default,
	// because providers' quotas are usually messages per second, and it keeps
	// the configured rate meaningful whatever the batch size.
	RatePerRecipient RateUnit = "recipient"
	// RatePerCall makes the rate limit count HTTP calls, for providers that
	// limit requests per second whatever a batch holds.
	RatePerCall RateUnit = "call"
)

// HTTPConfig configures an HTTPProvider. Zero values take the defaults shown.
type HTTPConfig struct {
	// Name identifies the provider in logs and metrics (default "http-<channel>").
	Name string
	// Channel is the channel this provider delivers (required).
	Channel Channel
	// URL receives one JSON POST per recipient (required, http or https).
	URL string
	// BatchURL receives batch POSTs when BatchSize > 1 (default URL + "/batch").
	BatchURL string
	// Token is sent as "Authorization: Bearer <token>" when not empty. The
	// caller resolves it from the environment or a file; the provider never
	// logs it and redacts it from every error it returns.
	Token string
	// BatchSize is the most recipients per call: 1 (default) posts each
	// recipient to URL; more posts up to BatchSize recipients to BatchURL.
	BatchSize int
	// Timeout bounds one HTTP call, including reading the answer (default
	// DefaultTimeout).
	Timeout time.Duration
	// RateLimit is the sustained rate, per second, in RateUnit, enforced before
	// every call including retries; 0 means unlimited. It applies to this
	// provider value (share one HTTPProvider per channel within a process;
	// several processes each get the full rate).
	RateLimit float64
	// RateBurst is the limiter's bucket size (default: for RatePerRecipient
	// BatchSize or 1% of RateLimit, whichever is larger; 1 for RatePerCall).
	// With RatePerRecipient it must be at least BatchSize.
	RateBurst int
	// RateUnit says what RateLimit counts (default RatePerRecipient).
	RateUnit RateUnit
	// MaxAttempts is the most calls per recipient, first try included
	// (default DefaultMaxAttempts).
	MaxAttempts int
	// BackoffBase is the pause after the first failed attempt, doubled after
	// each further one and jittered (default 100ms).
	BackoffBase time.Duration
	// BackoffMax caps the backoff pause (default 5s).
	BackoffMax time.Duration
	// MaxRetryAfter caps how long a provider's Retry-After can hold a retry
	// (default 30s); a longer Retry-After waits this long.
	MaxRetryAfter time.Duration
	// HTTPClient makes the calls (default: a client on NewTransport with
	// MaxConnsPerHost). Its own Timeout should be zero or above Timeout.
	HTTPClient *http.Client
	// MaxConnsPerHost caps connections of the default client (0 = no cap).
	MaxConnsPerHost int
	// Logger receives retry diagnostics at debug level (default slog.Default()).
	Logger *slog.Logger
	// Observer, if set, is called after every HTTP call (for metrics). It
	// must be fast and safe for concurrent use.
	Observer func(Attempt)
}

// Attempt describes one HTTP call, for HTTPConfig.Observer.
type Attempt struct {
	// Provider is the provider's name.
	Provider string
	// Channel is the provider's channel.
	Channel Channel
	// Recipients is how many recipients the call carried.
	Recipients int
	// Number is the attempt number for these recipients, starting at 1.
	Number int
	// StatusCode is the HTTP status, or 0 when no answer arrived.
	StatusCode int
	// Duration is the call's wall time (rate-limit wait excluded).
	Duration time.Duration
	// Err is the call's failure (nil for a 2xx answer). Per-recipient
	// failures inside a batch answer are not reported here.
	Err error
}

// HTTPProvider delivers messages with the JSON-over-HTTP wire format described
// in the package documentation. It is safe for concurrent use.
type HTTPProvider struct {
	cfg      HTTPConfig
	client   *http.Client
	limiter  *rate.Limiter
	auth     string
	logger   *slog.Logger
	bufs     sync.Pool
	ownTrans *http.Transport
}

var _ Provider = (*HTTPProvider)(nil)

// Defaults of HTTPConfig, which are pushd's --<channel>-timeout and
// --<channel>-max-attempts too.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMaxAttempts = 3
)

// NewHTTP validates cfg, fills its defaults and returns the provider.
func NewHTTP(cfg HTTPConfig) (*HTTPProvider, error) {
	if !cfg.Channel.Valid() {
		return nil, fmt.Errorf("%w: channel %q: %w", ErrInvalidConfig, string(cfg.Channel), ErrUnknownChannel)
	}
	cfg.Name = cmp.Or(cfg.Name, "http-"+string(cfg.Channel))
	cfg.BatchSize = cmp.Or(cfg.BatchSize, 1)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.RateUnit = cmp.Or(cfg.RateUnit, RatePerRecipient)
	cfg.MaxAttempts = cmp.Or(cfg.MaxAttempts, DefaultMaxAttempts)
	cfg.BackoffBase = cmp.Or(cfg.BackoffBase, 100*time.Millisecond)
	cfg.BackoffMax = cmp.Or(cfg.BackoffMax, 5*time.Second)
	cfg.MaxRetryAfter = cmp.Or(cfg.MaxRetryAfter, 30*time.Second)
	cfg.Logger = cmp.Or(cfg.Logger, slog.Default())
	if cfg.RateUnit == RatePerRecipient {
		cfg.RateBurst = cmp.Or(cfg.RateBurst, max(cfg.BatchSize, int(cfg.RateLimit/100)))
	} else {
		cfg.RateBurst = cmp.Or(cfg.RateBurst, 1)
	}
	if cfg.BatchURL == "" && cfg.BatchSize > 1 {
		cfg.BatchURL = strings.TrimRight(cfg.URL, "/") + "/batch"
	}

	if err := validateURL("URL", cfg.URL); err != nil {
		return nil, err
	}
	if cfg.BatchSize > 1 {
		if err := validateURL("BatchURL", cfg.BatchURL); err != nil {
			return nil, err
		}
	}
	switch {
	case cfg.BatchSize < 1:
		return nil, fmt.Errorf("%w: BatchSize %d < 1", ErrInvalidConfig, cfg.BatchSize)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: negative Timeout", ErrInvalidConfig)
	case cfg.RateLimit < 0 || math.IsNaN(cfg.RateLimit):
		return nil, fmt.Errorf("%w: RateLimit %v must be >= 0", ErrInvalidConfig, cfg.RateLimit)
	case cfg.RateUnit != RatePerRecipient && cfg.RateUnit != RatePerCall:
		return nil, fmt.Errorf("%w: RateUnit %q (want %q or %q)", ErrInvalidConfig, cfg.RateUnit, RatePerRecipient, RatePerCall)
	case cfg.RateBurst < 1:
		return nil, fmt.Errorf("%w: RateBurst %d < 1", ErrInvalidConfig, cfg.RateBurst)
	case cfg.RateUnit == RatePerRecipient && cfg.RateLimit > 0 && cfg.RateBurst < cfg.BatchSize:
		return nil, fmt.Errorf("%w: RateBurst %d below BatchSize %d: a full batch could never pass the limiter", ErrInvalidConfig, cfg.RateBurst, cfg.BatchSize)
	case cfg.MaxAttempts < 1:
		return nil, fmt.Errorf("%w: MaxAttempts %d < 1", ErrInvalidConfig, cfg.MaxAttempts)
	case cfg.BackoffBase < 0 || cfg.BackoffMax < cfg.BackoffBase:
		return nil, fmt.Errorf("%w: backoff base %v / max %v", ErrInvalidConfig, cfg.BackoffBase, cfg.BackoffMax)
	case cfg.MaxRetryAfter < 0:
		return nil, fmt.Errorf("%w: negative MaxRetryAfter", ErrInvalidConfig)
	}

	p := &HTTPProvider{cfg: cfg, client: cfg.HTTPClient, logger: cfg.Logger}
	if p.client == nil {
		p.ownTrans = NewTransport(TransportConfig{MaxConnsPerHost: cfg.MaxConnsPerHost})
		p.client = &http.Client{Transport: p.ownTrans}
	}
	if cfg.Token != "" {
		p.auth = "Bearer " + cfg.Token
	}
	limit := rate.Inf
	if cfg.RateLimit > 0 {
		limit = rate.Limit(cfg.RateLimit)
	}
	p.limiter = rate.NewLimiter(limit, cfg.RateBurst)
	p.bufs.New = func() any { return new(bytes.Buffer) }
	return p, nil
}

func validateURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Do not echo the URL: it may carry a credential in its query.
		return fmt.Errorf("%w: %s must be an absolute http(s) URL", ErrInvalidConfig, field)
	}
	return nil
}

// Name implements Provider.
func (p *HTTPProvider) Name() string { return p.cfg.Name }

// MaxBatch implements Provider: the configured BatchSize.
func (p *HTTPProvider) MaxBatch() int { return p.cfg.BatchSize }

// Channel returns the channel the provider delivers.
func (p *HTTPProvider) Channel() Channel { return p.cfg.Channel }

// Close releases idle connections of the provider's own transport.
func (p *HTTPProvider) Close() {
	if p.ownTrans != nil {
		p.ownTrans.CloseIdleConnections()
	}
}

// Send implements Provider. With BatchSize 1 the recipients are posted one
// after another; otherwise they go in consecutive batch calls of up to
// BatchSize. Callers wanting concurrency call Send from many goroutines.
func (p *HTTPProvider) Send(ctx context.Context, msg Message, to []Recipient) []Result {
	if len(to) == 0 {
		return nil
	}
	if err := validateMessage(p.cfg.Channel, msg); err != nil {
		return failAll(to, err, false)
	}
	res := make([]Result, len(to))
	for i := range to {
		res[i].MemberID = to[i].MemberID
	}
	if p.cfg.BatchSize == 1 {
		for i := range to {
			p.sendOne(ctx, msg, to[i], &res[i])
		}
		return res
	}
	for start := 0; start < len(to); start += p.cfg.BatchSize {
		end := min(start+p.cfg.BatchSize, len(to))
		p.sendBatch(ctx, msg, to[start:end], res[start:end])
	}
	return res
}

// wireMessage builds the wire form of msg for r, or refuses r.
func (p *HTTPProvider) wireMessage(msg Message, r Recipient) (WireMessage, error) {
	addr := r.Address
	if addr == "" {
		if p.cfg.Channel != ChannelInbox {
			return WireMessage{}, fmt.Errorf("%w: member %d has no %s address", ErrInvalidMessage, r.MemberID, p.cfg.Channel)
		}
		addr = strconv.FormatUint(r.MemberID, 10)
	}
	return WireMessage{
		IdempotencyKey: RecipientKey(msg, r.MemberID),
		Channel:        p.cfg.Channel,
		To:             addr,
		MemberID:       r.MemberID,
		Title:          msg.Title,
		Body:           msg.Body,
		CampaignID:     msg.CampaignID,
	}, nil
}

// sendOne delivers to one recipient through URL, retrying transient failures.
func (p *HTTPProvider) sendOne(ctx context.Context, msg Message, r Recipient, res *Result) {
	wm, err := p.wireMessage(msg, r)
	if err != nil {
		res.Err = err
		return
	}
	body, err := json.Marshal(wm)
	if err != nil {
		res.Err = fmt.Errorf("%w: encode: %w", ErrInvalidMessage, err)
		return
	}
	for attempt := 1; ; attempt++ {
		if err := p.wait(ctx, 1); err != nil {
			res.Err, res.Retryable = err, true
			return
		}
		res.Attempts = attempt
		out := p.call(ctx, p.cfg.URL, body, wm.IdempotencyKey, 1, attempt)
		if out.err == nil {
			var ans wireSingleAnswer
			if len(bytes.TrimSpace(out.body)) > 0 && json.Unmarshal(out.body, &ans) == nil && ans.OK != nil && !*ans.OK {
				res.Err, res.Retryable = p.recipientFailure(ans.Error, ans.Retryable), ans.Retryable
				if !res.Retryable {
					return
				}
			} else {
				res.OK, res.ProviderID = true, ans.ID
				return
			}
		} else {
			res.Err, res.Retryable = out.err, out.retryable
			if !out.retryable {
				return
			}
		}
		if ctx.Err() != nil {
			res.Err = fmt.Errorf("send aborted: %w (last error: %w)", ctx.Err(), res.Err)
			return
		}
		if attempt >= p.cfg.MaxAttempts {
			res.Err = fmt.Errorf("gave up after %d attempts: %w", attempt, res.Err)
			return
		}
		if err := p.pause(ctx, attempt, out.retryAfter, 1, out.status, res.Err); err != nil {
			res.Err = fmt.Errorf("send aborted: %w (last error: %w)", err, res.Err)
			return
		}
	}
}

// sendBatch delivers to up to BatchSize recipients through BatchURL, retrying
// whole-call transient failures and per-recipient retryable failures with the
// recipients still pending.
func (p *HTTPProvider) sendBatch(ctx context.Context, msg Message, to []Recipient, res []Result) {
	wms := make([]WireMessage, len(to))
	pending := make([]int, 0, len(to))
	pos := make(map[uint64]int, len(to))
	for i, r := range to {
		wm, err := p.wireMessage(msg, r)
		if err == nil {
			if _, dup := pos[r.MemberID]; dup {
				err = fmt.Errorf("%w: member %d twice in one batch", ErrInvalidMessage, r.MemberID)
			}
		}
		if err != nil {
			res[i].Err = err
			continue
		}
		wms[i] = wm
		pos[r.MemberID] = i
		pending = append(pending, i)
	}
	req := WireBatchRequest{Messages: make([]WireMessage, 0, len(pending))}
	for attempt := 1; len(pending) > 0; attempt++ {
		if err := p.wait(ctx, len(pending)); err != nil {
			for _, i := range pending {
				res[i].Err, res[i].Retryable = err, true
			}
			return
		}
		req.Messages = req.Messages[:0]
		for _, i := range pending {
			req.Messages = append(req.Messages, wms[i])
			res[i].Attempts = attempt
		}
		body, err := json.Marshal(req)
		if err != nil {
			for _, i := range pending {
				res[i].Err = fmt.Errorf("%w: encode batch: %w", ErrInvalidMessage, err)
			}
			return
		}
		out := p.call(ctx, p.cfg.BatchURL, body, "", len(pending), attempt)
		var failErr error // last failure, for the observer and the log
		if out.err != nil {
			failErr = out.err
			for _, i := range pending {
				res[i].Err, res[i].Retryable = out.err, out.retryable
			}
			if !out.retryable {
				return
			}
		} else {
			var ans WireBatchResponse
			if err := json.Unmarshal(out.body, &ans); err != nil {
				failErr = fmt.Errorf("%w: unreadable batch answer: %w", ErrUnavailable, err)
				for _, i := range pending {
					res[i].Err, res[i].Retryable = failErr, true
				}
			} else {
				for _, i := range pending {
					res[i].Err, res[i].Retryable = nil, false
				}
				seen := 0
				for _, wr := range ans.Results {
					i, ok := pos[wr.MemberID]
					if !ok || res[i].Attempts != attempt || res[i].OK || res[i].Err != nil {
						continue // unknown, not in this call, or answered twice
					}
					seen++
					if wr.OK {
						res[i].OK, res[i].ProviderID = true, wr.ID
						continue
					}
					res[i].Err, res[i].Retryable = p.recipientFailure(wr.Error, wr.Retryable), wr.Retryable
				}
				if seen < len(pending) {
					missing := fmt.Errorf("%w: batch answer has no result for this member", ErrUnavailable)
					for _, i := range pending {
						if !res[i].OK && res[i].Err == nil {
							res[i].Err, res[i].Retryable = missing, true
						}
					}
				}
			}
		}
		// Keep only the recipients worth another call.
		next := pending[:0]
		for _, i := range pending {
			if !res[i].OK && res[i].Retryable {
				next = append(next, i)
				failErr = cmp.Or(failErr, res[i].Err)
			}
		}
		pending = next
		if len(pending) == 0 {
			return
		}
		if ctx.Err() != nil || attempt >= p.cfg.MaxAttempts {
			for _, i := range pending {
				if ctx.Err() != nil {
					res[i].Err = fmt.Errorf("send aborted: %w (last error: %w)", ctx.Err(), res[i].Err)
				} else {
					res[i].Err = fmt.Errorf("gave up after %d attempts: %w", attempt, res[i].Err)
				}
			}
			return
		}
		if err := p.pause(ctx, attempt, out.retryAfter, len(pending), out.status, failErr); err != nil {
			for _, i := range pending {
				res[i].Err = fmt.Errorf("send aborted: %w (last error: %w)", err, res[i].Err)
			}
			return
		}
	}
}

// recipientFailure maps a per-recipient "ok":false to an error wrapping
// ErrUnavailable when the provider says to retry, ErrRejected otherwise.
func (p *HTTPProvider) recipientFailure(reason string, retryable bool) error {
	reason = textlimit.BytesMarked(p.redact(reason), 200)
	if reason == "" {
		reason = "no reason given"
	}
	if retryable {
		return fmt.Errorf("%w: %s", ErrUnavailable, reason)
	}
	return fmt.Errorf("%w: %s", ErrRejected, reason)
}

// wait takes n tokens (or one, per RateUnit) from the limiter.
func (p *HTTPProvider) wait(ctx context.Context, n int) error {
	if p.cfg.RateUnit == RatePerCall {
		n = 1
	}
	if err := p.limiter.WaitN(ctx, n); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("send aborted waiting for the rate limit: %w", ctx.Err())
		}
		// The limiter refuses up front when ctx's deadline comes before the
		// tokens would: report it as the deadline it is.
		return fmt.Errorf("send aborted waiting for the rate limit: %w (%w)", context.DeadlineExceeded, err)
	}
	return nil
}

// pause sleeps before the next attempt and reports the retry.
func (p *HTTPProvider) pause(ctx context.Context, attempt int, retryAfter time.Duration, n, status int, cause error) error {
	d := retryDelay(attempt, retryAfter, &p.cfg)
	if p.logger.Enabled(ctx, slog.LevelDebug) {
		p.logger.DebugContext(ctx, "provider call failed, retrying",
			slog.String("provider", p.cfg.Name), slog.Int("attempt", attempt),
			slog.Int("recipients", n), slog.Int("status", status),
			slog.Duration("wait", d), slog.Any("err", cause))
	}
	return sleep(ctx, d)
}

// callOutcome is the classified result of one HTTP call.
type callOutcome struct {
	status     int
	body       []byte // the 2xx answer's body (a private copy)
	err        error  // nil for 2xx
	retryable  bool
	retryAfter time.Duration
}

// maxAnswer bounds how much of an answer is read.
const maxAnswer = 16 << 20

// call makes one POST and classifies its answer.
func (p *HTTPProvider) call(ctx context.Context, u string, body []byte, idemKey string, n, attempt int) (out callOutcome) {
	start := time.Now()
	defer func() {
		if p.cfg.Observer != nil {
			p.cfg.Observer(Attempt{
				Provider: p.cfg.Name, Channel: p.cfg.Channel, Recipients: n, Number: attempt,
				StatusCode: out.status, Duration: time.Since(start), Err: out.err,
			})
		}
	}()
	callCtx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return callOutcome{err: fmt.Errorf("%w: build request: %v", ErrInvalidMessage, p.redact(err.Error()))}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "mkt-pushd")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	if p.auth != "" {
		req.Header.Set("Authorization", p.auth)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return p.transportFailure(ctx, callCtx, err)
	}
	buf := p.bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer p.bufs.Put(buf)
	_, rerr := buf.ReadFrom(io.LimitReader(resp.Body, maxAnswer))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	_ = resp.Body.Close()
	out.status = resp.StatusCode
	if retryableStatus(resp.StatusCode) {
		out.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if rerr != nil {
			// The provider accepted, but the answer was cut: resend; the
			// idempotency key prevents a double delivery.
			f := p.transportFailure(ctx, callCtx, rerr)
			f.status = resp.StatusCode
			return f
		}
		out.body = bytes.Clone(buf.Bytes())
		return out
	case retryableStatus(resp.StatusCode):
		out.err = fmt.Errorf("%w: %w", ErrUnavailable, p.statusError(resp, buf.Bytes()))
		out.retryable = true
	default:
		out.err = fmt.Errorf("%w: %w", ErrRejected, p.statusError(resp, buf.Bytes()))
	}
	return out
}

// transportFailure classifies a call that got no (complete) answer.
func (p *HTTPProvider) transportFailure(ctx, callCtx context.Context, err error) callOutcome {
	msg := p.redact(err.Error())
	switch {
	case ctx.Err() != nil:
		return callOutcome{err: fmt.Errorf("call aborted: %w", ctx.Err()), retryable: true}
	case errors.Is(callCtx.Err(), context.DeadlineExceeded):
		return callOutcome{err: fmt.Errorf("%w after %v", ErrTimeout, p.cfg.Timeout), retryable: true}
	default:
		return callOutcome{err: fmt.Errorf("%w: %s", ErrUnavailable, msg), retryable: true}
	}
}

// statusError builds the StatusError of a non-2xx answer.
func (p *HTTPProvider) statusError(resp *http.Response, body []byte) *StatusError {
	var reason string
	var we WireError
	if json.Unmarshal(body, &we) == nil && we.Error != "" {
		reason = we.Error
	} else {
		reason = string(body)
	}
	// Redact before truncating, so that no part of the token can survive.
	reason = textlimit.BytesMarked(strings.TrimSpace(p.redact(reason)), 200)
	if reason == "" {
		reason = http.StatusText(resp.StatusCode)
	}
	return &StatusError{StatusCode: resp.StatusCode, Reason: reason}
}

// redact removes the bearer token from s, and the query strings and user
// information of the provider's URLs (they may carry keys): a failure's
// reason is stored with the delivery and shown to operators.
func (p *HTTPProvider) redact(s string) string {
	for _, u := range []string{p.cfg.URL, p.cfg.BatchURL} {
		if u != "" && strings.Contains(s, u) {
			s = strings.ReplaceAll(s, u, safeURL(u))
		}
	}
	if p.cfg.Token == "" || !strings.Contains(s, p.cfg.Token) {
		return s
	}
	return strings.ReplaceAll(s, p.cfg.Token, "[REDACTED]")
}

// safeURL is u without its user information, query and fragment.
func safeURL(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return "[provider URL]"
	}
	parsed.User, parsed.RawQuery, parsed.Fragment, parsed.RawFragment = nil, "", "", ""
	return parsed.String()
}
