package mqtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"

	"mkt/pkg/mkttest"
	"mkt/pkg/mq"
	"mkt/pkg/mq/mqtest"
)

// routedQueues returns how many queues the name server routes for topic,
// 0 when it has no route.
func routedQueues(t *testing.T, cfg mq.Config, topic string) int {
	t.Helper()
	adm, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver(strings.Split(cfg.NameServer, ";"))))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = adm.Close() }()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	mqs, err := adm.FetchPublishMessageQueues(ctx, topic)
	if err != nil {
		return 0
	}
	return len(mqs)
}

// TestTopicsLiveForTheTest: Topics creates the topics with the queues asked
// for, and they are gone from the name server once the test that asked
// for them ends.
func TestTopicsLiveForTheTest(t *testing.T) {
	t.Parallel()
	cfg := mqtest.Config(t)
	a, b := mkttest.Namespace(t, "mqtest_a_"), mkttest.Namespace(t, "mqtest_b_")
	t.Run("holder", func(t *testing.T) {
		mqtest.Topics(t, cfg, 2, a, b)
		for _, topic := range []string{a, b} {
			if n := routedQueues(t, cfg, topic); n < 2 {
				t.Errorf("%s: %d queues routed, want at least 2", topic, n)
			}
		}
	})
	for _, topic := range []string{a, b} {
		if n := routedQueues(t, cfg, topic); n != 0 {
			t.Errorf("%s: still routed (%d queues) after its test ended", topic, n)
		}
	}
}
