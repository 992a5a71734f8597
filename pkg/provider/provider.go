package provider

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. A Result's Err wraps at most one of ErrRejected,
// ErrUnavailable, ErrTimeout, ErrInvalidMessage, or a context error.
var (
	// ErrUnknownChannel reports a channel name that is not sms, email, app or inbox.
	ErrUnknownChannel = errors.New("unknown channel")
	// ErrInvalidConfig reports a provider configuration that cannot work.
	ErrInvalidConfig = errors.New("invalid provider config")
	// ErrInvalidMessage reports a message or recipient refused before any call
	// was made (wrong channel, empty address, duplicate member in one call).
	// It is permanent.
	ErrInvalidMessage = errors.New("invalid message")
	// ErrRejected reports a permanent refusal by the provider: a 4xx answer other
	// than 408 and 429, or a per-recipient "ok":false without "retryable":true.
	// Sending the same message again will fail the same way.
	ErrRejected = errors.New("rejected by provider")
	// ErrUnavailable reports a transient provider failure: a network error, a
	// 5xx, 408 or 429 answer, or a per-recipient failure marked retryable.
	ErrUnavailable = errors.New("provider unavailable")
	// ErrTimeout reports a call that did not complete within the per-call
	// timeout. The provider may or may not have delivered; resending with the
	// same idempotency key is safe.
	ErrTimeout = errors.New("provider call timed out")
)

// StatusError is the provider's non-2xx HTTP answer. It is wrapped together
// with ErrRejected or ErrUnavailable; use errors.As to read the status code.
type StatusError struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// Reason is the provider's explanation (the "error" field of a JSON body,
	// or the start of a text body), with the bearer token redacted.
	Reason string
}

// Error implements error.
func (e *StatusError) Error() string {
	if e.Reason == "" {
		return "HTTP " + strconv.Itoa(e.StatusCode)
	}
	return "HTTP " + strconv.Itoa(e.StatusCode) + ": " + e.Reason
}

// Recipient is one member a message is delivered to.
type Recipient struct {
	// MemberID is the member's account id.
	MemberID uint64
	// Address is where the channel delivers: a mobile number (sms), an e-mail
	// address (email), a device push token (app). For the inbox channel it may
	// be empty: the member id is the address.
	Address string
}

// Message is one rendered message of a campaign on one channel, sent to one or
// more recipients.
type Message struct {
	// CampaignID is the campaign the message belongs to.
	CampaignID uint64
	// Channel is the channel the message goes out on; a provider refuses a
	// message for another channel.
	Channel Channel
	// Title is the optional subject (e-mail) or heading (app push, inbox).
	Title string
	// Body is the rendered message text.
	Body string
	// IdempotencyKey is the base of the per-recipient idempotency key that the
	// provider dedupes on. The key sent for a recipient is
	// IdempotencyKey + ":" + member id (see RecipientKey). Empty means the
	// default "<campaign id>:<channel>", which makes a resend of the same
	// campaign to the same member on the same channel deduplicable.
	IdempotencyKey string
}

// RecipientKey returns the idempotency key sent to the provider for member in
// msg: "<base>:<member id>", where base is msg.IdempotencyKey or, when empty,
// "<campaign id>:<channel>" — for example "42:sms:1001".
func RecipientKey(msg Message, member uint64) string {
	b := make([]byte, 0, 48)
	if msg.IdempotencyKey != "" {
		b = append(b, msg.IdempotencyKey...)
	} else {
		b = strconv.AppendUint(b, msg.CampaignID, 10)
		b = append(b, ':')
		b = append(b, msg.Channel...)
	}
	b = append(b, ':')
	b = strconv.AppendUint(b, member, 10)
	return string(b)
}

// Result is the outcome of sending a message to one recipient.
type Result struct {
	// MemberID is the recipient's member id.
	MemberID uint64
	// OK reports that the provider accepted the message for this recipient.
	OK bool
	// ProviderID is the provider's message id, when it returned one.
	ProviderID string
	// Err is why the send failed (nil when OK). It wraps one of the package's
	// sentinel errors or a context error, and never contains the bearer token.
	Err error
	// Retryable reports a failure that may succeed if sent again later:
	// retries were exhausted on a transient failure, or the context ended
	// before the recipient was settled. False for permanent failures.
	Retryable bool
	// Attempts is the number of provider calls that carried this recipient
	// (0 if it was refused before any call).
	Attempts int
}

// Provider delivers messages over one channel. Implementations are safe for
// concurrent use by many goroutines.
type Provider interface {
	// Name identifies the provider in logs and metrics.
	Name() string
	// MaxBatch is the most recipients Send handles in one provider call; 1 means
	// the provider is called once per recipient. Callers should pass at most
	// MaxBatch recipients per Send (more are split into consecutive calls).
	MaxBatch() int
	// Send delivers msg to every recipient and returns exactly one Result per
	// recipient, in the order of to. It handles rate limiting, timeouts and
	// retries itself and only returns once every recipient is settled or ctx
	// is done (then the unsettled ones fail Retryable with ctx's error).
	Send(ctx context.Context, msg Message, to []Recipient) []Result
}

// failAll returns one failed Result per recipient.
func failAll(to []Recipient, err error, retryable bool) []Result {
	out := make([]Result, len(to))
	for i, r := range to {
		out[i] = Result{MemberID: r.MemberID, Err: err, Retryable: retryable}
	}
	return out
}

// validateMessage checks what a provider for channel ch needs of msg.
func validateMessage(ch Channel, msg Message) error {
	if msg.Channel != ch {
		return fmt.Errorf("%w: message for channel %q sent to a %q provider", ErrInvalidMessage, msg.Channel, ch)
	}
	if msg.Body == "" {
		return fmt.Errorf("%w: empty body", ErrInvalidMessage)
	}
	return nil
}
