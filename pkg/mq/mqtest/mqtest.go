// Package mqtest is the RocketMQ of mkt's integration tests, as
// pkg/store/storetest is their MariaDB: the test broker's settings, the
// client library's own logs routed once, and topics that are gone when the
// test ends.
//
// The broker comes from mkttest.RocketMQ (MKT_ROCKETMQ_NAMESRV and
// MKT_ROCKETMQ_BROKER, default the local stack's). Only tests import this
// package; pkg/mq's own tests cannot (it imports pkg/mq) and build their
// Config themselves.
package mqtest

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
)

// topicTimeout bounds creating or deleting a test's topics.
const topicTimeout = time.Minute

var routeClientLogs sync.Once

// Config returns the test broker's settings, logging through
// mkttest.Logger. The first call of a test binary also routes the RocketMQ
// client library's own logs to stderr: errors, or the level MKT_TEST_LOG
// asks for. It comes before the binary's first client, which needs a Config.
func Config(t testing.TB) mq.Config {
	t.Helper()
	nameServer, broker := mkttest.RocketMQ(t)
	routeClientLogs.Do(func() {
		level, ok := mkttest.LogLevel()
		if !ok {
			level = slog.LevelError
		}
		mq.RouteClientLogs(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), level)
	})
	return mq.Config{NameServer: nameServer, BrokerAddr: broker, Logger: mkttest.Logger()}
}

// StartConsumer creates and starts a consumer with cfg, and shuts it down
// when t ends; a failed shutdown fails t. Call it after Topics, so that the
// consumer stops before its topics go.
func StartConsumer(t testing.TB, cfg mq.ConsumerConfig) *mq.Consumer {
	t.Helper()
	c, err := mq.NewConsumer(cfg)
	if err != nil {
		t.Fatalf("mqtest: consumer: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), topicTimeout)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("mqtest: start the consumer of %s: %v", cfg.Group, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := c.Shutdown(ctx); err != nil {
			t.Errorf("mqtest: shut the consumer of %s down: %v", cfg.Group, err)
		}
	})
	return c
}

// Topics creates topics with queues queues each and deletes them when t
// ends, with DeleteAtEnd.
func Topics(t testing.TB, cfg mq.Config, queues int, topics ...string) {
	t.Helper()
	DeleteAtEnd(t, cfg, topics...)
	ctx, cancel := context.WithTimeout(context.Background(), topicTimeout)
	defer cancel()
	if err := mq.EnsureTopics(ctx, cfg, queues, topics...); err != nil {
		t.Fatalf("mqtest: create topics %v: %v", topics, err)
	}
}

// DeleteAtEnd deletes topics when t ends (those never created are passed
// over), for the topics the broker creates itself: a group's retry and
// dead-letter topics. Cleanups run last registered first, so call it before
// starting the consumers of those topics: they are shut down before their
// topics go. A topic that cannot be deleted fails t.
func DeleteAtEnd(t testing.TB, cfg mq.Config, topics ...string) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), topicTimeout)
		defer cancel()
		if err := mq.DeleteTopics(ctx, cfg, topics...); err != nil {
			t.Errorf("mqtest: delete test topics: %v", err)
		}
	})
}
