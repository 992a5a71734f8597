// Package pushd wires the push daemon: the planner (campaign-created events)
// and the fan-out workers (shard tasks), both in consumer groups so every
// running pushd shares the work, behind the shared daemon runtime (ops
// server, readiness, graceful drain).
package pushd

import (
	"context"

	"mkt/pkg/campaign"
	"mkt/pkg/daemon"
	"mkt/pkg/deps"
)

const long = `pushd is mkt's push daemon. It consumes campaign-created events (planner)
and shard tasks (fan-out workers) from RocketMQ in consumer groups, so every
running pushd shares the work, and sends through the configured channel
providers.

It runs in the foreground, logs with slog to stderr, serves /healthz, /readyz
and /metrics on --ops-addr, reports readiness to systemd when NOTIFY_SOCKET is
set, and drains gracefully on SIGTERM or SIGINT (a second signal forces exit).
Unreachable dependencies at start are retried with backoff while /readyz says
what is missing.`

// Spec returns pushd's daemon description.
func Spec() deps.DaemonSpec {
	return deps.DaemonSpec{
		Name:           "pushd",
		Short:          "mkt push daemon: campaign planner and shard fan-out workers",
		Long:           long,
		DefaultOpsAddr: "127.0.0.1:9301",
		Topics:         []string{campaign.TopicEvents, campaign.TopicShards},
		Components: func(ctx context.Context, env *deps.Env) ([]daemon.Component, error) {
			return nil, nil
		},
	}
}
