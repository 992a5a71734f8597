// Package mq is the queue layer of mkt on Apache RocketMQ
// (github.com/apache/rocketmq-client-go/v2): topic creation and deletion,
// batched and transactional publishing, and a consumer-group consumer with
// bounded retries and dead-lettering.
//
// Wiring, once per process:
//
//	mq.RouteClientLogs(logger, slog.LevelWarn) // the client's logger is global
//	err := mq.EnsureTopics(ctx, cfg, 8, "campaign_events", "shard_tasks")
//	p, err := mq.NewProducer(mq.ProducerConfig{Config: cfg})
//	c, err := mq.NewConsumer(mq.ConsumerConfig{Config: cfg, Group: "pushd", Topic: "shard_tasks", Handler: h})
//	err = c.Start(ctx)
//	...
//	c.Shutdown(ctx); p.Shutdown() // receivers first, then senders
//
// Delivery is at least once: a rebalance or a restart may deliver a message
// again, so handlers must be idempotent. A failing handler's message is
// redelivered after short delays (DefaultRetryDelayLevels) and, after
// MaxReconsumeTimes redeliveries, moved by the broker to DeadLetterTopic(group);
// an error wrapped with Permanent dead-letters it at once. Nothing is dropped
// silently: every failure is logged.
//
// What the client and the 5.3.3 broker do that callers should know (verified
// by this package's integration tests):
//   - An empty message body makes the broker fail the send with a
//     NullPointerException; Message.Body is required.
//   - The client shares one connection set, and its callbacks, between all
//     producers and consumers with the same IP@instance name; every client
//     made here gets a unique instance name unless ConsumerConfig.Instance is set.
//   - The client learns new topic routes only every 30 s. A group's retry
//     topic is created by the broker on the first failure, so the first
//     redeliveries waited up to a minute; Consumer.Start creates it up front.
//   - With "consume from last offset", a brand-new group computes its start
//     offset in a rebalance that races with Start's return: a message sent
//     right after Start was skipped. New groups here start from the oldest
//     retained message instead.
//   - Returning "retry later" with delay level -1 makes the broker dead-letter
//     the message immediately (used for Permanent). Dead-letter topics the
//     broker creates are readable, with one queue; the dead-lettered copy
//     keeps the message ID, keys, body and properties.
//   - The client gives batch members no unique ID; this package sets one, so
//     Delivery.MsgID is stable across redeliveries and dead-lettering.
//   - The client logs every rolled-back transaction at error level
//     ("executeLocalTransaction but state unexpected"); that is expected.
//   - Shutting the client down leaves some goroutines (statistics, the
//     transaction check-back loop, long-polling pulls) to end on their own.
package mq
