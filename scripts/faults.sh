#!/usr/bin/env bash
# faults.sh — the fault suite (docs/RELIABILITY.md): runs the push pipeline
# and lazy coupon issuance on a stack of its own, injects one fault per
# scenario in the middle of a run (kill -9 / SIGTERM of a daemon, MariaDB,
# the broker or Redis stopped for a while, Redis flushed, the provider
# failing for a spell), and prints per scenario what members got: delivered,
# duplicates, missing, time to recover. Long (about an hour at 300,000
# members), so not part of scripts/test.sh or CI.
#
#   scripts/faults.sh                                  every scenario, 300,000 members
#   SCENARIO=push-kill9-pushd scripts/faults.sh        one scenario (a regexp: SCENARIO='push-mariadb.*')
#   MKT_FAULTS_MEMBERS=50000 scripts/faults.sh         a quicker run
#   scripts/faults.sh list                             the scenarios
#   scripts/faults.sh status | down                    the suite's stack
#
# The suite's stack is scripts/services.sh with MKT_STATE_DIR=.mkt-faults and
# ports 13306 (MariaDB), 16379 (Redis), 19876 (name server), 20911 (broker,
# also 20909 and 20912) — never the shared stack in .mkt, which it would
# stop and flush. It stays up between runs (`scripts/faults.sh down` stops it).
# Settings (environment): MKT_FAULTS_MEMBERS (300000), MKT_FAULTS_TIMEOUT per
# scenario (20m), MKT_FAULTS_SPELL provider fault length (15s),
# MKT_FAULTS_LATENCY provider latency (200ms), MKT_FAULTS_LEASE pushd --lease
# (10s), MKT_FAULTS_SETTLE (3m), MKT_FAULTS_REPORT (Markdown results file,
# default .mkt-faults/results/faults-<time>.md), MKT_FAULTS_STATE_DIR and
# MKT_FAULTS_{MYSQL,REDIS,NAMESRV,BROKER}_PORT.
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stack_env() {
	export MKT_STATE_DIR="${MKT_FAULTS_STATE_DIR:-$PWD/.mkt-faults}"
	export MKT_MYSQL_PORT="${MKT_FAULTS_MYSQL_PORT:-13306}"
	export MKT_REDIS_PORT="${MKT_FAULTS_REDIS_PORT:-16379}"
	export MKT_NAMESRV_PORT="${MKT_FAULTS_NAMESRV_PORT:-19876}"
	export MKT_BROKER_PORT="${MKT_FAULTS_BROKER_PORT:-20911}"
}

case "${1:-}" in
list)
	grep -ho '{"\(push\|coupon\)-[a-z0-9-]*"' pkg/faults/*_test.go | tr -d '{"'
	exit 0
	;;
status | down)
	stack_env
	exec bash scripts/services.sh "$1"
	;;
"") ;;
-h | --help | help)
	sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "faults.sh: unknown command '$1' (want list | status | down, or nothing to run the suite)" >&2
	exit 2
	;;
esac

echo "== fault suite: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), ${MKT_FAULTS_MEMBERS:-300000} members"
exec go test -tags faults -count=1 -v -timeout "${MKT_FAULTS_GO_TIMEOUT:-6h}" \
	-run "TestFaults/^(${SCENARIO:-.*})\$" ./pkg/faults
