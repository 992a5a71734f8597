#!/usr/bin/env bash
# test.sh — all of mkt's tests on a fresh machine: brings the local stack up
# (scripts/services.sh up), then gofmt, go vet, golangci-lint (.golangci.yml;
# skipped with a note when it is not installed) and `go test -race` over every
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

echo "== golangci-lint"
lint="$(command -v golangci-lint || true)"
gopath="$(go env GOPATH)"
if [[ -z "$lint" && -x "${gopath%%:*}/bin/golangci-lint" ]]; then
	lint="${gopath%%:*}/bin/golangci-lint"
fi
if [[ -n "$lint" ]]; then
	"$lint" run ./...
else
	echo "golangci-lint: not installed, skipped (install: go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0)"
fi

echo "== go test -race"
pkgs=("$@")
((${#pkgs[@]})) || pkgs=(./...)
go test -race -count=1 -timeout 30m "${pkgs[@]}"
