package mq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// Batch limits. The broker refuses request bodies over 4 MiB
// (maxMessageSize); batches stay well under it.
const (
	DefaultMaxBatchCount = 100
	DefaultMaxBatchBytes = 512 << 10
	maxBrokerBodyBytes   = 4 << 20
)

// ErrMessageTooLarge is returned when one message alone is over the batch
// byte limit; nothing of the call is sent.
var ErrMessageTooLarge = errors.New("mq: message too large")

// ErrSendNotOK is returned when the broker stored a batch but answered with
// a status other than OK (flush or replication timeout): the messages may be
// delivered, and resending may duplicate them.
var ErrSendNotOK = errors.New("mq: broker did not confirm the send")

// ErrClosed is returned by calls on a producer or consumer that was shut down.
var ErrClosed = errors.New("mq: closed")

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	Config
	// Group is the producer group, informational for plain producers.
	// Default "mkt_producer".
	Group string
	// MaxBatchCount caps the messages per send. Default DefaultMaxBatchCount.
	MaxBatchCount int
	// MaxBatchBytes caps the encoded bytes per send (bodies plus properties
	// plus 22 bytes per message). Default DefaultMaxBatchBytes, at most 4 MiB.
	MaxBatchBytes int
}

func (c ProducerConfig) withDefaults() ProducerConfig {
	c.Config = c.Config.withDefaults()
	c.Group = cmp.Or(c.Group, "mkt_producer")
	c.MaxBatchCount = cmp.Or(c.MaxBatchCount, DefaultMaxBatchCount)
	c.MaxBatchBytes = cmp.Or(c.MaxBatchBytes, DefaultMaxBatchBytes)
	return c
}

func (c ProducerConfig) validate() error {
	if err := c.validateWithGroup("producer group", c.Group); err != nil {
		return err
	}
	if c.MaxBatchCount < 1 || c.MaxBatchCount > 1024 {
		return fmt.Errorf("%w: max batch count %d, want 1..1024", ErrInvalidConfig, c.MaxBatchCount)
	}
	if c.MaxBatchBytes < 1<<10 || c.MaxBatchBytes > maxBrokerBodyBytes {
		return fmt.Errorf("%w: max batch bytes %d, want 1 KiB..4 MiB", ErrInvalidConfig, c.MaxBatchBytes)
	}
	return nil
}

// Producer publishes messages synchronously, batching them. It is safe for
// concurrent use.
type Producer struct {
	cfg    ProducerConfig
	log    *slog.Logger
	client rocketmq.Producer

	mu     sync.RWMutex
	closed bool
}

// NewProducer creates and starts a producer.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts, err := cfg.producerOptions(cfg.Group, "producer")
	if err != nil {
		return nil, err
	}
	client, err := rocketmq.NewProducer(opts...)
	if err != nil {
		return nil, fmt.Errorf("mq: create producer: %w", err)
	}
	if err := client.Start(); err != nil {
		return nil, fmt.Errorf("mq: start producer: %w", err)
	}
	return &Producer{cfg: cfg, log: cfg.Logger, client: client}, nil
}

// producerOptions are the client options of a producer of group: c's name
// servers, send timeout and retries, and an instance of its own, named after
// prefix (check-backs reach the callbacks of the first producer created for
// an IP@instance, whatever its group).
func (c Config) producerOptions(group, prefix string) ([]producer.Option, error) {
	resolver, err := c.resolver()
	if err != nil {
		return nil, err
	}
	return []producer.Option{
		producer.WithNsResolver(resolver),
		producer.WithGroupName(group),
		producer.WithInstanceName(uniqueInstance(prefix)),
		producer.WithSendMsgTimeout(c.SendTimeout),
		producer.WithRetry(c.Retries),
	}, nil
}

// Send publishes one message.
func (p *Producer) Send(ctx context.Context, m Message) error {
	return p.SendBatch(ctx, []Message{m})
}

// SendBatch publishes msgs: grouped by topic (in order of first appearance,
// keeping order within a topic), split into batches of at most MaxBatchCount
// messages and MaxBatchBytes encoded bytes, each batch sent with one request.
// All messages are checked before anything is sent. A message alone over
// MaxBatchBytes fails with ErrMessageTooLarge. On a send error the batches
// before it are already published; the error says how many messages were.
func (p *Producer) SendBatch(ctx context.Context, msgs []Message) error {
	batches, err := splitBatches(msgs, p.cfg.MaxBatchCount, p.cfg.MaxBatchBytes)
	if err != nil {
		return err
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	sent := 0
	for i, b := range batches {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mq: send batch %d/%d to topic %q (%d of %d messages sent): %w",
				i+1, len(batches), b.topic, sent, len(msgs), err)
		}
		res, err := p.sendSync(ctx, b.msgs)
		if err == nil && res.Status != primitive.SendOK {
			err = fmt.Errorf("%w: status %d", ErrSendNotOK, res.Status)
		}
		if err != nil {
			return fmt.Errorf("mq: send batch %d/%d to topic %q (%d messages, %d bytes; %d of %d messages sent before): %w",
				i+1, len(batches), b.topic, len(b.msgs), b.bytes, sent, len(msgs), err)
		}
		sent += len(b.msgs)
	}
	return nil
}

// routeWait bounds how long a send waits for a topic's route to be known.
const routeWait = 5 * time.Second

// sendSync sends one batch. The client fails a send at once, before sending
// anything, when it does not know the topic's route yet — which happens to a
// fresh producer whose first sends race its first route lookup, and to a
// topic created a moment ago. Such a send is retried with a short backoff
// for up to routeWait: nothing was published, so the retry cannot duplicate.
func (p *Producer) sendSync(ctx context.Context, msgs []*primitive.Message) (*primitive.SendResult, error) {
	deadline := time.Now().Add(routeWait)
	delay := 20 * time.Millisecond
	for {
		res, err := p.client.SendSync(ctx, msgs...)
		if err == nil || !strings.Contains(err.Error(), "route info not found") || time.Now().After(deadline) {
			return res, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errors.Join(err, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

// Shutdown stops the producer; sends in progress finish first.
func (p *Producer) Shutdown() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if err := p.client.Shutdown(); err != nil {
		return fmt.Errorf("mq: shut down producer: %w", err)
	}
	return nil
}

// batch is one send request's worth of messages of one topic.
type batch struct {
	topic string
	msgs  []*primitive.Message
	bytes int
}

// splitBatches validates and converts msgs, groups them by topic and cuts
// each topic's run into batches bounded by maxCount messages and maxBytes
// encoded bytes.
func splitBatches(msgs []Message, maxCount, maxBytes int) ([]batch, error) {
	var topics []string
	byTopic := make(map[string][]int)
	for i, m := range msgs {
		if err := m.validate(); err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		if _, ok := byTopic[m.Topic]; !ok {
			topics = append(topics, m.Topic)
		}
		byTopic[m.Topic] = append(byTopic[m.Topic], i)
	}
	var out []batch
	for _, t := range topics {
		cur := batch{topic: t}
		for _, i := range byTopic[t] {
			pm := msgs[i].toPrimitive()
			size, propsLen := encodedSize(pm)
			if propsLen > maxPropertiesLen {
				return nil, fmt.Errorf("%w: message %d (topic %q): properties encode to %d bytes, over %d",
					ErrInvalidMessage, i, t, propsLen, maxPropertiesLen)
			}
			if size > maxBytes {
				return nil, fmt.Errorf("%w: message %d (topic %q) encodes to %d bytes, over the %d-byte batch limit",
					ErrMessageTooLarge, i, t, size, maxBytes)
			}
			if len(cur.msgs) > 0 && (len(cur.msgs) == maxCount || cur.bytes+size > maxBytes) {
				out = append(out, cur)
				cur = batch{topic: t}
			}
			cur.msgs = append(cur.msgs, pm)
			cur.bytes += size
		}
		out = append(out, cur)
	}
	return out, nil
}
