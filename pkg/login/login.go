// Package login owns the user-logged-in event contract: what the account
// system publishes to RocketMQ when a member logs in (topic, tag, key and
// JSON body), how it is encoded and checked, and a batching publisher.
// Whoever cares about logins (couponsd's lazy coupons, analytics) subscribes
// with its own consumer group; the account system knows none of them.
//
// The contract (also in docs/COUPONS.md):
//
//	topic  mkt_user_login
//	tag    login
//	key    the member id in decimal, e.g. "10042"
//	body   JSON: {"member_id":10042,"login_at":"2026-11-26T08:15:30.123Z",
//	        "event_id":"…","channel":"app","platform":"ios","device_id":"…",
//	        "app_version":"8.3.1","ip":"203.0.113.7"}
//
// member_id (positive) and login_at (RFC 3339) are required; the rest is
// optional context an account system usually has. Unknown fields are
// ignored, so the account system may send more. Delivery is at least once:
// consumers must treat a repeated event (same or different event_id) as
// harmless.
package login

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"mkt/pkg/mq"
	"mkt/pkg/strictjson"
)

// Topic carries the account system's user-logged-in events.
const Topic = "mkt_user_login"

// Tag is the tag of a login event on Topic.
const Tag = "login"

// Field limits: longer values are refused by Validate.
const (
	MaxEventIDLen    = 64
	MaxDeviceIDLen   = 128
	MaxAppVersionLen = 32
)

// ErrInvalid is wrapped by every error about an event that breaks the
// contract (undecodable body, missing member id or login time...).
var ErrInvalid = errors.New("login: invalid event")

// Channel is where the member logged in.
type Channel string

// Login channels.
const (
	ChannelApp         Channel = "app"          // the shop's mobile app
	ChannelWeb         Channel = "web"          // desktop web site
	ChannelH5          Channel = "h5"           // mobile web site
	ChannelMiniProgram Channel = "mini_program" // mini program inside a super-app
)

// Channels lists the known login channels.
func Channels() []Channel {
	return []Channel{ChannelApp, ChannelWeb, ChannelH5, ChannelMiniProgram}
}

// Event is one user-logged-in event.
type Event struct {
	// MemberID is membership_account.id of the member who logged in. Required.
	MemberID int64 `json:"member_id"`
	// LoginAt is when the login happened (the account system's clock). Required.
	LoginAt time.Time `json:"login_at"`
	// EventID is the account system's unique id of this login, for tracing
	// and de-duplication by consumers that need it. Optional.
	EventID string `json:"event_id,omitempty"`
	// Channel is where the member logged in (app, web, h5, mini_program). Optional.
	Channel Channel `json:"channel,omitempty"`
	// Platform is the client OS (ios, android, windows, macos, linux...). Optional.
	Platform string `json:"platform,omitempty"`
	// DeviceID identifies the device (two devices = two concurrent logins). Optional.
	DeviceID string `json:"device_id,omitempty"`
	// AppVersion is the client version. Optional.
	AppVersion string `json:"app_version,omitempty"`
	// IP is the client address (IPv4 or IPv6). Optional.
	IP string `json:"ip,omitempty"`
}

// Validate checks the event against the contract and returns all problems.
func (e Event) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...)))
	}
	if e.MemberID <= 0 {
		bad("member_id %d must be positive", e.MemberID)
	}
	if e.LoginAt.IsZero() {
		bad("login_at is required")
	}
	if len(e.EventID) > MaxEventIDLen {
		bad("event_id is longer than %d bytes", MaxEventIDLen)
	}
	if e.Channel != "" {
		known := false
		for _, c := range Channels() {
			known = known || c == e.Channel
		}
		if !known {
			bad("channel %q: want app, web, h5 or mini_program", e.Channel)
		}
	}
	if len(e.DeviceID) > MaxDeviceIDLen {
		bad("device_id is longer than %d bytes", MaxDeviceIDLen)
	}
	if len(e.AppVersion) > MaxAppVersionLen {
		bad("app_version is longer than %d bytes", MaxAppVersionLen)
	}
	if e.IP != "" {
		if _, err := netip.ParseAddr(e.IP); err != nil {
			bad("ip %q is not an IP address", e.IP)
		}
	}
	for _, s := range []string{e.EventID, e.Platform, e.DeviceID, e.AppVersion} {
		if !utf8.ValidString(s) {
			bad("a text field is not valid UTF-8")
			break
		}
	}
	return errors.Join(errs...)
}

// Encode returns the event's JSON body. It does not validate.
func (e Event) Encode() []byte {
	b, err := json.Marshal(e)
	if err != nil { // cannot happen: plain fields only
		panic(err)
	}
	return b
}

// Decode parses and validates a JSON body strictly (strictjson): one
// object, keys spelled exactly and each given once, nothing after it.
// Unknown fields are ignored (the account system may send more than the
// contract names). Every failure
// wraps ErrInvalid: such a message is poison and retrying cannot help.
func Decode(body []byte) (Event, error) {
	var e Event
	if len(bytes.TrimSpace(body)) == 0 {
		return Event{}, fmt.Errorf("%w: empty body", ErrInvalid)
	}
	if err := strictjson.Decode(body, &e, strictjson.Options{AllowUnknown: true}); err != nil {
		return Event{}, fmt.Errorf("%w: decode body: %w", ErrInvalid, err)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Key is the message key of a member's login events: the member id in decimal.
func Key(memberID int64) string { return strconv.FormatInt(memberID, 10) }

// Message returns the event as a message on topic (Topic when empty), with
// tag Tag and key Key(e.MemberID).
func (e Event) Message(topic string) mq.Message {
	if topic == "" {
		topic = Topic
	}
	return mq.Message{Topic: topic, Tag: Tag, Keys: []string{Key(e.MemberID)}, Body: e.Encode()}
}

// Sender is the part of *mq.Producer a Publisher needs.
type Sender interface {
	SendBatch(ctx context.Context, msgs []mq.Message) error
}

// Publisher publishes login events, batched by the producer (at most
// mq.DefaultMaxBatchCount messages per send by default).
type Publisher struct {
	// Sender sends the messages; required.
	Sender Sender
	// Topic is where events go; default Topic.
	Topic string
}

// Publish validates and publishes events. Nothing is sent if one is invalid.
// On a send error some batches may already be published (see
// mq.Producer.SendBatch); publishing them again is harmless for consumers
// that honour the contract.
func (p Publisher) Publish(ctx context.Context, events ...Event) error {
	if p.Sender == nil {
		return errors.New("login: publisher needs a Sender")
	}
	msgs := make([]mq.Message, len(events))
	for i, e := range events {
		if err := e.Validate(); err != nil {
			return fmt.Errorf("login: event %d (member %d): %w", i, e.MemberID, err)
		}
		msgs[i] = e.Message(p.Topic)
	}
	if err := p.Sender.SendBatch(ctx, msgs); err != nil {
		return fmt.Errorf("login: publish %d events: %w", len(events), err)
	}
	return nil
}
