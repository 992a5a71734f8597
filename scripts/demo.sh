#!/usr/bin/env bash
# demo.sh — the main job on a fresh machine: bring the local stack up
# (MariaDB, Redis, RocketMQ), build mkt, migrate the schema, seed a small
# member base and show the status.
#
#   scripts/demo.sh            20,000 demo members
#   MKT_DEMO_MEMBERS=100000 scripts/demo.sh
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
members="${MKT_DEMO_MEMBERS:-20000}"

bash scripts/services.sh up

echo "== build"
go build -o bin/ ./cmd/...

echo "== migrate"
bin/mktctl migrate

echo "== seed $members members"
bin/mktctl users seed --count "$members"

echo "== status"
bin/mktctl status
