package mq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
)

// ErrTopicNotReady is returned by EnsureTopics when a topic's route was not
// published by the name server before the context ended.
var ErrTopicNotReady = errors.New("mq: topic route not published")

// ErrInvalidName is wrapped by errors about malformed topic or group names.
var ErrInvalidName = errors.New("mq: invalid name")

// DefaultQueueNums is the queue count EnsureTopics uses when given zero.
// Keep it at least the number of consumers of a group: a consumer without a
// queue sits idle.
const DefaultQueueNums = 8

// The broker's character set for topic and group names (%RETRY% and %DLQ%
// topics included) and its length limits.
var namePattern = regexp.MustCompile(`^[%|a-zA-Z0-9_-]+$`)

const (
	maxTopicLen = 127
	maxGroupLen = 255
)

func validateName(kind, name string, maxLen int) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty %s", ErrInvalidName, kind)
	case len(name) > maxLen:
		return fmt.Errorf("%w: %s %q is longer than %d", ErrInvalidName, kind, name, maxLen)
	case !namePattern.MatchString(name):
		return fmt.Errorf("%w: %s %q: only letters, digits, '_', '-', '%%' and '|'", ErrInvalidName, kind, name)
	}
	return nil
}

// RetryTopic is the topic the broker uses to redeliver a consumer group's
// failed messages.
func RetryTopic(group string) string { return "%RETRY%" + group }

// DeadLetterTopic is the topic where the broker puts a consumer group's
// messages that failed too many times (or were rejected as Permanent).
// To read it, EnsureTopics(DeadLetterTopic(group)) (which also makes it
// readable) and consume it with a consumer group of its own.
func DeadLetterTopic(group string) string { return "%DLQ%" + group }

// EnsureTopics creates topics with queueNums read and write queues on
// cfg.BrokerAddr (0 means DefaultQueueNums) and waits until the name server
// publishes a route for each: the admin API does not report the broker's
// answer, so the route is the proof. Creating an existing topic updates its
// queue count and permissions. The wait is bounded by ctx only; pass a
// context with a deadline.
func EnsureTopics(ctx context.Context, cfg Config, queueNums int, topics ...string) error {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return err
	}
	if queueNums == 0 {
		queueNums = DefaultQueueNums
	}
	if queueNums < 1 || queueNums > 1024 {
		return fmt.Errorf("%w: %d queues per topic, want 1..1024", ErrInvalidConfig, queueNums)
	}
	for _, t := range topics {
		if err := validateName("topic", t, maxTopicLen); err != nil {
			return err
		}
	}
	adm, _, err := cfg.admin()
	if err != nil {
		return err
	}
	defer func() { _ = adm.Close() }()

	for _, t := range topics {
		err := adm.CreateTopic(ctx,
			admin.WithTopicCreate(t),
			admin.WithBrokerAddrCreate(cfg.BrokerAddr),
			admin.WithReadQueueNums(queueNums),
			admin.WithWriteQueueNums(queueNums),
		)
		if err != nil {
			return fmt.Errorf("mq: create topic %q on broker %s: %w", t, cfg.BrokerAddr, err)
		}
	}

	pending := append([]string(nil), topics...)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var lastErr error
		rest := pending[:0]
		for _, t := range pending {
			// The admin caches a route once found, so a found route is
			// final; not-found answers are not cached and are asked again.
			mqs, err := adm.FetchPublishMessageQueues(ctx, t)
			if err != nil || len(mqs) == 0 {
				lastErr = err
				rest = append(rest, t)
				continue
			}
			if len(mqs) != queueNums {
				cfg.Logger.Warn("mq: topic route has another queue count than asked",
					slog.String("topic", t), slog.Int("queues", len(mqs)), slog.Int("want_queues", queueNums))
			}
		}
		pending = rest
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: topics %q after creating them on %s (name server %s, last error: %w): %w",
				ErrTopicNotReady, pending, cfg.BrokerAddr, cfg.NameServer, lastErr, ctx.Err())
		case <-tick.C:
		}
	}
}

// DeleteTopics deletes topics from cfg.BrokerAddr and the name server,
// skipping those the name server has no route for (never created, or gone
// already). It tries every topic and returns their errors joined.
func DeleteTopics(ctx context.Context, cfg Config, topics ...string) error {
	adm, addrs, err := cfg.withDefaults().admin()
	if err != nil {
		return err
	}
	defer func() { _ = adm.Close() }()
	var errs []error
	for _, t := range topics {
		if mqs, err := adm.FetchPublishMessageQueues(ctx, t); err != nil || len(mqs) == 0 {
			continue
		}
		if err := adm.DeleteTopic(ctx, admin.WithTopicDelete(t),
			admin.WithBrokerAddrDelete(cfg.BrokerAddr), admin.WithNameSrvAddr(addrs)); err != nil {
			errs = append(errs, fmt.Errorf("mq: delete topic %q on broker %s: %w", t, cfg.BrokerAddr, err))
		}
	}
	return errors.Join(errs...)
}

// admin opens an admin client of c's name servers, which it returns too.
func (c Config) admin() (admin.Admin, []string, error) {
	addrs, err := c.nameServers()
	if err != nil {
		return nil, nil, err
	}
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver(addrs)))
	if err != nil {
		return nil, nil, fmt.Errorf("mq: create admin client: %w", err)
	}
	return adm, addrs, nil
}

// CheckGroupName returns an error wrapping ErrInvalidName unless name is a
// consumer group name the broker accepts.
func CheckGroupName(name string) error { return validateName("consumer group", name, maxGroupLen) }
