package mq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"mkt/pkg/daemon"
)

// Consumer defaults.
const (
	DefaultMaxReconsumeTimes = 5
	DefaultConcurrency       = 20
)

// DefaultRetryDelayLevels are the broker delay levels of the 1st, 2nd, …
// redelivery: 1s, 5s, 10s, 30s, 1m with the broker's default
// messageDelayLevel ("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h").
var DefaultRetryDelayLevels = []int{1, 2, 3, 4, 5}

// maxDelayLevel is the highest level of the broker's default table.
const maxDelayLevel = 18

// Handler processes one delivery. Returning nil acknowledges it. Any other
// error makes the broker redeliver it later (through RetryTopic(group)) until
// MaxReconsumeTimes is exceeded, then dead-letter it (DeadLetterTopic(group)).
// Wrap an error with Permanent to dead-letter the message at once. A panic
// counts as an ordinary error. Handlers run concurrently and must be
// idempotent: delivery is at least once.
type Handler func(ctx context.Context, d *Delivery) error

// Delivery is one received message.
type Delivery struct {
	// Topic is the topic the message was published to (also for redeliveries).
	Topic string
	Tag   string
	Keys  []string
	Body  []byte
	// Properties are the user properties set at publish (see Message).
	Properties map[string]string
	// MsgID is the client-assigned unique ID, the same on every redelivery.
	MsgID string
	// ReconsumeTimes is 0 on the first delivery and counts redeliveries.
	ReconsumeTimes int
	// QueueID and QueueOffset locate the copy being delivered (for a
	// redelivery, in the retry topic).
	QueueID     int
	QueueOffset int64
	// BornTime is when the producer sent the message.
	BornTime time.Time
	// StoreTime is when the broker stored the copy being delivered (for a
	// dead letter read from DeadLetterTopic: when it was dead-lettered).
	StoreTime time.Time
	// OriginTopic is the topic a redelivered or dead-lettered copy was
	// first published to (the broker's RETRY_TOPIC property); empty for a
	// first delivery.
	OriginTopic string
}

type permanentError struct{ err error }

func (e permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (e.g. an unparseable message):
// the consumer logs it and has the broker dead-letter the message at once.
// Should that request fail, the client requeues the message for an ordinary
// retry instead, and it still reaches the dead-letter topic in the end.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err: err}
}

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Config
	// Group is the consumer group, required. Consumers of one group share
	// the topic's queues (clustering): each message goes to one of them.
	Group string
	// Topic is the topic to consume, required; it must exist before Start.
	Topic string
	// Tags is a tag expression: "*" (default) or "a || b".
	Tags string
	// Instance names this consumer's client. It must be unique per process
	// and host among consumers of the group (the broker tells group members
	// apart by IP@instance). Default: unique per call, from the PID and a
	// random suffix.
	Instance string
	// MaxReconsumeTimes is how many redeliveries a failing message gets
	// before it is dead-lettered. Default DefaultMaxReconsumeTimes, 1..32.
	MaxReconsumeTimes int
	// RetryDelayLevels are the broker delay levels of successive
	// redeliveries; the last one repeats. Default DefaultRetryDelayLevels.
	RetryDelayLevels []int
	// Concurrency is how many handlers run at once. Default DefaultConcurrency.
	// Messages are handed over one at a time.
	Concurrency int
	// Handler processes deliveries. Required.
	Handler Handler
	// OnDeadLetter, if set, is called when a delivery's failure makes the
	// consumer have the broker dead-letter it (a Permanent error, or the
	// last attempt failed), with that error. Should the broker request
	// fail, the client retries and OnDeadLetter may be called again.
	OnDeadLetter func(d *Delivery, err error)
	// ConsumeTimeout is how long a handler may hold a message before the
	// client gives it back to the broker for redelivery. Default (0) the
	// client's 15 minutes; a handler that blocks on purpose (retrying a
	// store until it is back) sets more.
	ConsumeTimeout time.Duration
	// CancelOnShutdown cancels the handlers' context as soon as Shutdown
	// begins instead of letting them finish: for handlers that block,
	// retrying until they succeed. A handler that then returns an error
	// has its message left for redelivery, without using up a retry.
	CancelOnShutdown bool
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	c.Config = c.Config.withDefaults()
	c.Tags = cmp.Or(c.Tags, "*")
	c.Instance = cmp.Or(c.Instance, uniqueInstance("consumer"))
	c.MaxReconsumeTimes = cmp.Or(c.MaxReconsumeTimes, DefaultMaxReconsumeTimes)
	if len(c.RetryDelayLevels) == 0 {
		c.RetryDelayLevels = DefaultRetryDelayLevels
	}
	c.Concurrency = cmp.Or(c.Concurrency, DefaultConcurrency)
	return c
}

func (c ConsumerConfig) validate() error {
	if err := c.validateWithGroup("consumer group", c.Group); err != nil {
		return err
	}
	if err := validateName("topic", c.Topic, maxTopicLen); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.MaxReconsumeTimes < 1 || c.MaxReconsumeTimes > 32 {
		return fmt.Errorf("%w: max reconsume times %d, want 1..32", ErrInvalidConfig, c.MaxReconsumeTimes)
	}
	for _, l := range c.RetryDelayLevels {
		if l < 1 || l > maxDelayLevel {
			return fmt.Errorf("%w: retry delay level %d, want 1..%d", ErrInvalidConfig, l, maxDelayLevel)
		}
	}
	if c.Concurrency < 1 || c.Concurrency > 10000 {
		return fmt.Errorf("%w: concurrency %d, want 1..10000", ErrInvalidConfig, c.Concurrency)
	}
	if c.Handler == nil {
		return fmt.Errorf("%w: consumer needs a Handler", ErrInvalidConfig)
	}
	return nil
}

// Consumer is a push consumer in a consumer group (clustering mode). A group
// resumes from its committed offsets; a brand-new group starts with the
// oldest message the topic still retains, so nothing published around its
// first start is skipped (handlers are idempotent anyway). Its lifecycle is
// daemon.StartStop's: Start, then Shutdown (Stop), which is final.
type Consumer struct {
	daemon.StartStop

	cfg    ConsumerConfig
	log    *slog.Logger
	client rocketmq.PushConsumer

	// handlers admits the client's deliveries until Shutdown begins and
	// counts the handlers running, for Shutdown to wait for.
	handlers daemon.Admission
	// handlerCtx is the handlers' context, cancelled by cancelHandlers (a
	// hard stop, or Shutdown with CancelOnShutdown); both are set by Start
	// before the client runs a handler.
	handlerCtx     context.Context
	cancelHandlers context.CancelCauseFunc
}

// NewConsumer creates a consumer; Start begins consuming.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	resolver, err := cfg.resolver()
	if err != nil {
		return nil, err
	}
	opts := []consumer.Option{
		consumer.WithNsResolver(resolver),
		consumer.WithGroupName(cfg.Group),
		consumer.WithInstance(cfg.Instance),
		consumer.WithConsumerModel(consumer.Clustering),
		// A brand-new group (no committed offset) starts at the oldest
		// retained message. "Last offset" races with the first rebalance:
		// messages sent right after Start were skipped (seen on 5.3.3).
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
		consumer.WithMaxReconsumeTimes(int32(cfg.MaxReconsumeTimes)),
		consumer.WithConsumeMessageBatchMaxSize(1),
		consumer.WithConsumeGoroutineNums(cfg.Concurrency),
		consumer.WithRetry(cfg.Retries),
	}
	if cfg.ConsumeTimeout > 0 {
		opts = append(opts, consumer.WithConsumeTimeout(cfg.ConsumeTimeout))
	}
	client, err := rocketmq.NewPushConsumer(opts...)
	if err != nil {
		return nil, fmt.Errorf("mq: create consumer of group %q: %w", cfg.Group, err)
	}
	c := &Consumer{
		cfg:    cfg,
		log:    cfg.Logger.With(slog.String("group", cfg.Group), slog.String("topic", cfg.Topic)),
		client: client,
	}
	sel := consumer.MessageSelector{Type: consumer.TAG, Expression: cfg.Tags}
	if err := client.Subscribe(cfg.Topic, sel, c.consume); err != nil {
		return nil, fmt.Errorf("mq: subscribe group %q to topic %q: %w", cfg.Group, cfg.Topic, err)
	}
	return c, nil
}

// Start begins consuming. The topic must exist (see EnsureTopics). Start
// first creates the group's retry topic on cfg.BrokerAddr: the broker would
// create it on the first failure, but the client only learns new routes
// every 30 s, which would hold back the first redeliveries by up to a
// minute. ctx bounds the start only: unlike other components' runs, the
// consumer's goes on after ctx ends, until Shutdown, so that a caller may
// start it with a deadline. After Shutdown, Start returns ErrClosed: create
// a new consumer.
func (c *Consumer) Start(ctx context.Context) error {
	err := c.StartWith(context.WithoutCancel(ctx), func(run *daemon.Lifetime) error {
		if err := EnsureTopics(ctx, c.cfg.Config, 1, RetryTopic(c.cfg.Group)); err != nil {
			return fmt.Errorf("mq: start consumer of group %q: %w", c.cfg.Group, err)
		}
		base := run.Context()
		if c.cfg.CancelOnShutdown {
			base = run.Stopping()
		}
		c.handlerCtx, c.cancelHandlers = context.WithCancelCause(base)
		c.handlers.Open()
		if err := c.client.Start(); err != nil {
			return fmt.Errorf("mq: start consumer of group %q on topic %q (does the topic exist? see EnsureTopics): %w",
				c.cfg.Group, c.cfg.Topic, err)
		}
		return nil
	})
	if errors.Is(err, daemon.ErrStopped) {
		return ErrClosed
	}
	return err
}

// Shutdown stops fetching, waits for handlers in progress (until ctx ends,
// then cancels their context), commits offsets and closes the client.
// Messages fetched but not handled yet are not acknowledged and will be
// delivered again, to this group's other consumers or after a restart; so
// may a message whose handler finished at the very moment of shutdown.
func (c *Consumer) Shutdown(ctx context.Context) error { return c.StopWith(ctx, c.drain) }

// Stop is Shutdown, so a Consumer is a daemon component (Start/Stop).
func (c *Consumer) Stop(ctx context.Context) error { return c.Shutdown(ctx) }

// drain is Shutdown's work on a started consumer. A delivery refused or
// failed from here on is held until the consumer is stopped (see consume),
// which happens after the client is down.
func (c *Consumer) drain(ctx context.Context, _ *daemon.Lifetime) error {
	c.client.Suspend() // no new pulls; fetched messages park in consume
	waitErr := c.handlers.CloseAndWait(ctx, "handlers still running")
	if waitErr != nil {
		c.cancelHandlers(daemon.ErrStopped)
		waitErr = fmt.Errorf("mq: consumer of group %q stopped with %w", c.cfg.Group, waitErr)
		c.log.Warn("mq: consumer shutdown deadline passed, handlers cancelled")
	}
	err := c.client.Shutdown()
	c.cancelHandlers(daemon.ErrStopped)
	if err != nil {
		return errors.Join(waitErr, fmt.Errorf("mq: shut down consumer of group %q: %w", c.cfg.Group, err))
	}
	return waitErr
}

// ShutdownAll shuts down consumers of one group together: every one is
// suspended first (no new pulls, and no rebalance), then each is shut down
// as Shutdown does. Shutting them down one after another instead makes the
// broker tell the ones still running that a member left, and each of them
// rebalances, taking over queues only to drop them a moment later. A
// process with one consumer per group, as pushd and couponsd are, does not
// need this.
func ShutdownAll(ctx context.Context, cs ...*Consumer) error {
	for _, c := range cs {
		select {
		case <-c.Started():
			c.client.Suspend() // a flag: harmless on a consumer already stopping
		default:
		}
	}
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// consume is the client callback (one message per call).
func (c *Consumer) consume(ctx context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	if !c.handlers.Enter() {
		// Shutting down: hold the message until the client is down, so
		// its queue is dropped and the result ignored; the offset stays
		// uncommitted and the message is delivered again later.
		<-c.Stopped()
		return consumer.ConsumeRetryLater, nil
	}
	done := sync.OnceFunc(c.handlers.Leave)
	defer done()

	cctx, _ := primitive.GetConcurrentlyCtx(ctx)
	for _, m := range msgs {
		d := toDelivery(m)
		err := c.handle(d)
		if err == nil {
			continue
		}
		if c.handlers.Closed() {
			// Failed while shutting down (or cut short by a hard stop):
			// not counted as an attempt. Hold the message until the
			// client is down, so its queue is dropped and the result
			// ignored; it is delivered again later (the offset stays
			// uncommitted) without using up a retry.
			c.log.Warn("mq: handler failed during shutdown, message left for redelivery",
				slog.String("msg_id", d.MsgID), slog.String("error", err.Error()))
			done()
			<-c.Stopped()
			return consumer.ConsumeRetryLater, nil
		}
		attrs := []any{
			slog.String("msg_id", d.MsgID),
			slog.Int("reconsume_times", d.ReconsumeTimes),
			slog.String("error", err.Error()),
		}
		switch {
		case IsPermanent(err):
			c.log.Error("mq: permanent failure, dead-lettering message", attrs...)
			c.deadLettered(d, err)
			if cctx != nil {
				cctx.DelayLevelWhenNextConsume = -1 // broker: straight to %DLQ%
			}
		case d.ReconsumeTimes >= c.cfg.MaxReconsumeTimes:
			c.log.Error("mq: message failed its last attempt, dead-lettering it",
				append(attrs, slog.String("dlq_topic", DeadLetterTopic(c.cfg.Group)))...)
			c.deadLettered(d, err)
		default:
			level := c.delayLevel(d.ReconsumeTimes)
			c.log.Warn("mq: handler failed, message will be redelivered",
				append(attrs, slog.Int("delay_level", level))...)
			if cctx != nil {
				cctx.DelayLevelWhenNextConsume = level
			}
		}
		return consumer.ConsumeRetryLater, nil
	}
	return consumer.ConsumeSuccess, nil
}

// handle runs the handler, turning a panic into an error.
func (c *Consumer) handle(d *Delivery) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("mq: handler panicked", slog.String("msg_id", d.MsgID),
				slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("mq: handler panic: %v", r)
		}
	}()
	return c.cfg.Handler(c.handlerCtx, d)
}

// deadLettered calls the OnDeadLetter hook, if any, shielding the
// consumer from its panic.
func (c *Consumer) deadLettered(d *Delivery, err error) {
	if c.cfg.OnDeadLetter == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("mq: OnDeadLetter panicked", slog.String("msg_id", d.MsgID), slog.Any("panic", r))
		}
	}()
	c.cfg.OnDeadLetter(d, err)
}

// delayLevel is the broker delay level of the redelivery after a failure at
// reconsumeTimes.
func (c *Consumer) delayLevel(reconsumeTimes int) int {
	levels := c.cfg.RetryDelayLevels
	return levels[min(reconsumeTimes, len(levels)-1)]
}

func toDelivery(m *primitive.MessageExt) *Delivery {
	msg := fromPrimitive(&m.Message)
	d := &Delivery{
		Topic:          m.Topic,
		Tag:            msg.Tag,
		Keys:           msg.Keys,
		Body:           m.Body,
		Properties:     msg.Properties,
		MsgID:          m.MsgId,
		ReconsumeTimes: int(m.ReconsumeTimes),
		QueueOffset:    m.QueueOffset,
		BornTime:       time.UnixMilli(m.BornTimestamp),
		StoreTime:      time.UnixMilli(m.StoreTimestamp),
		OriginTopic:    m.GetProperty(primitive.PropertyRetryTopic),
	}
	if m.Queue != nil {
		d.QueueID = m.Queue.QueueId
	}
	return d
}

// Name identifies the consumer by group and topic (for a daemon's logs).
func (c *Consumer) Name() string { return "consumer " + c.cfg.Group + "@" + c.cfg.Topic }
