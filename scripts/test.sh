#!/usr/bin/env bash
# test.sh — all of mkt's tests on a fresh machine: brings the local stack up
# (scripts/services.sh up), then gofmt, go vet and `go test -race` over every
# package. Integration tests talk to the real MariaDB, Redis and RocketMQ.
#
#   scripts/test.sh                 everything
#   scripts/test.sh ./pkg/mq/...    only these packages (still starts the stack)
set -Eeuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/services.sh up
# shellcheck source=scripts/lib/stack-env.sh
source scripts/lib/stack-env.sh

echo "== gofmt"
unformatted="$(gofmt -l cmd pkg migrations deploy)"
if [[ -n "$unformatted" ]]; then
	echo "gofmt: these files need formatting:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
pkgs=("$@")
((${#pkgs[@]})) || pkgs=(./...)
go test -race -count=1 -timeout 30m "${pkgs[@]}"
