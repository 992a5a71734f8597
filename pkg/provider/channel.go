package provider

import (
	"fmt"
	"strings"
)

// Channel is a delivery channel a campaign can push over. Its string form
// ("sms", "email", "app", "inbox") is what flags, configuration, the database
// and the wire format use.
type Channel string

// The channels a campaign can use.
const (
	// ChannelSMS delivers a text message to a mobile number.
	ChannelSMS Channel = "sms"
	// ChannelEmail delivers an e-mail to an address.
	ChannelEmail Channel = "email"
	// ChannelApp delivers an app push notification to a device push token.
	ChannelApp Channel = "app"
	// ChannelInbox delivers a message to the member's in-site inbox; the
	// recipient is addressed by member id.
	ChannelInbox Channel = "inbox"
)

// Channels returns every known channel in a stable order.
func Channels() []Channel {
	return []Channel{ChannelSMS, ChannelEmail, ChannelApp, ChannelInbox}
}

// ParseChannel parses a channel name, case-insensitively and ignoring
// surrounding spaces. Besides the canonical names it accepts the aliases
// "push" (app), "mail" and "e-mail" (email). It fails with ErrUnknownChannel.
func ParseChannel(s string) (Channel, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "sms":
		return ChannelSMS, nil
	case "email", "e-mail", "mail":
		return ChannelEmail, nil
	case "app", "push":
		return ChannelApp, nil
	case "inbox":
		return ChannelInbox, nil
	}
	return "", fmt.Errorf("parse channel %q: %w (want one of sms, email, app, inbox)", s, ErrUnknownChannel)
}

// ParseChannels parses a comma-separated list of channels ("sms,email"),
// dropping duplicates and keeping the first-seen order. An empty list is an
// error.
func ParseChannels(s string) ([]Channel, error) {
	var out []Channel
	seen := make(map[Channel]bool, 4)
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		c, err := ParseChannel(part)
		if err != nil {
			return nil, err
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("parse channels %q: %w: empty list", s, ErrUnknownChannel)
	}
	return out, nil
}

// Valid reports whether c is one of the known channels (in canonical form).
func (c Channel) Valid() bool {
	switch c {
	case ChannelSMS, ChannelEmail, ChannelApp, ChannelInbox:
		return true
	}
	return false
}

// String returns the canonical channel name.
func (c Channel) String() string { return string(c) }

// MarshalText implements encoding.TextMarshaler; it refuses unknown channels.
func (c Channel) MarshalText() ([]byte, error) {
	if !c.Valid() {
		return nil, fmt.Errorf("marshal channel %q: %w", string(c), ErrUnknownChannel)
	}
	return []byte(c), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseChannel.
func (c *Channel) UnmarshalText(b []byte) error {
	parsed, err := ParseChannel(string(b))
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}

// ListProblems describes what is wrong in a list of channels — unknown or
// repeated ones — or returns nil when every channel is known and listed once.
func ListProblems(chs []Channel) []string {
	var out []string
	seen := make(map[Channel]bool, len(chs))
	for _, c := range chs {
		if !c.Valid() {
			out = append(out, fmt.Sprintf("channel %q is unknown", c))
		}
		if seen[c] {
			out = append(out, fmt.Sprintf("channel %q is listed twice", c))
		}
		seen[c] = true
	}
	return out
}
