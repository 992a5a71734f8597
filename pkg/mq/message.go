package mq

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// ErrInvalidMessage is wrapped by errors about a message that cannot be sent.
var ErrInvalidMessage = errors.New("mq: invalid message")

// Message is one message to publish.
type Message struct {
	// Topic must exist (see EnsureTopics).
	Topic string
	// Tag is an optional single tag consumers can filter on ("a || b" in
	// ConsumerConfig.Tags). It must not contain '|'.
	Tag string
	// Keys are optional business keys (e.g. campaign ID) indexed by the
	// broker for lookup. They must not contain spaces.
	Keys []string
	// Body is the payload, required: the 5.3.3 broker fails on an empty one.
	Body []byte
	// Properties are optional user properties, delivered back in
	// Delivery.Properties. Names start with a lower-case letter and use
	// [a-z0-9_.-]; upper-case names belong to the broker and the client.
	Properties map[string]string
}

var propertyNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]*$`)

// Limits the broker enforces on the encoded properties of a message.
const maxPropertiesLen = 32767

func (m Message) validate() error {
	if err := validateName("topic", m.Topic, maxTopicLen); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidMessage, err)
	}
	if len(m.Body) == 0 {
		return fmt.Errorf("%w: empty body (topic %q)", ErrInvalidMessage, m.Topic)
	}
	if strings.Contains(m.Tag, "|") || hasSeparator(m.Tag) {
		return fmt.Errorf("%w: tag %q contains '|' or a control character", ErrInvalidMessage, m.Tag)
	}
	for _, k := range m.Keys {
		if k == "" || strings.ContainsAny(k, " \t\n") || hasSeparator(k) {
			return fmt.Errorf("%w: key %q is empty or contains white space or a control character", ErrInvalidMessage, k)
		}
	}
	for k, v := range m.Properties {
		if !propertyNamePattern.MatchString(k) {
			return fmt.Errorf("%w: property name %q: want a lower-case name matching %s", ErrInvalidMessage, k, propertyNamePattern)
		}
		if hasSeparator(v) {
			return fmt.Errorf("%w: property %q value contains a control character", ErrInvalidMessage, k)
		}
	}
	return nil
}

// hasSeparator reports the characters the wire format uses between properties.
func hasSeparator(s string) bool { return strings.ContainsAny(s, "\x01\x02") }

// toPrimitive converts m into the client's message, with a fresh unique
// message ID (the client sets one only for single sends, not batch members).
func (m Message) toPrimitive() *primitive.Message {
	pm := primitive.NewMessage(m.Topic, m.Body)
	if m.Tag != "" {
		pm.WithTag(m.Tag)
	}
	if len(m.Keys) > 0 {
		pm.WithKeys(m.Keys)
	}
	for k, v := range m.Properties {
		pm.WithProperty(k, v)
	}
	pm.WithProperty(primitive.PropertyUniqueClientMessageIdKeyIndex, primitive.CreateUniqID())
	return pm
}

// encodedSize is the size of pm inside a batch request body, as the client
// encodes it (primitive.Message.Marshal) without copying the body.
func encodedSize(pm *primitive.Message) (size, propsLen int) {
	propsLen = len(pm.MarshallProperties())
	return 4 + 4 + 4 + 4 + 4 + len(pm.Body) + 2 + propsLen, propsLen
}

// fromPrimitive is the inverse of toPrimitive, for check-backs and deliveries.
func fromPrimitive(pm *primitive.Message) Message {
	m := Message{Topic: pm.Topic, Tag: pm.GetTags(), Body: pm.Body}
	if keys := pm.GetKeys(); keys != "" {
		m.Keys = strings.Fields(keys)
	}
	m.Properties = userProperties(pm.GetProperties())
	return m
}

// userProperties keeps the properties a user may set (see Message.Properties).
func userProperties(all map[string]string) map[string]string {
	var out map[string]string
	for k, v := range all {
		if !propertyNamePattern.MatchString(k) {
			continue
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[k] = v
	}
	return out
}
