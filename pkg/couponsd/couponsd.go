// Package couponsd wires the coupon daemon: lazy coupon issuance on login
// events and the coupon lifecycle API, behind the shared daemon runtime (ops
// server, readiness, graceful drain).
package couponsd

import (
	"mkt/pkg/deps"
)

// TopicLogin carries the account system's user-logged-in events.
const TopicLogin = "mkt_user_login"

const long = `couponsd is mkt's coupon daemon. It consumes user-login events from RocketMQ
in a consumer group and issues lazy coupons, and serves the coupon lifecycle.

It runs in the foreground, logs with slog to stderr, serves /healthz, /readyz
and /metrics on --ops-addr, reports readiness to systemd when NOTIFY_SOCKET is
set, and drains gracefully on SIGTERM or SIGINT (a second signal forces exit).
Unreachable dependencies at start are retried with backoff while /readyz says
what is missing.`

// Spec returns couponsd's daemon description.
func Spec() deps.DaemonSpec {
	return deps.DaemonSpec{
		Name:           "couponsd",
		Short:          "mkt coupon daemon: lazy issuance on login and the coupon lifecycle",
		Long:           long,
		DefaultOpsAddr: "127.0.0.1:9302",
		Topics:         []string{TopicLogin},
	}
}
