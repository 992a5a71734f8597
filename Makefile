# mkt — `make help` lists the targets.
GO ?= go
GOLANGCI_LINT ?= golangci-lint
GOLANGCI_LINT_INSTALL := go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
BIN := bin
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc

.PHONY: help build install up down status test demo demo-hotgoods fmt vet lint bench-seed

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build mktctl, pushd and couponsd into bin/
	$(GO) build -o $(BIN)/ ./cmd/...

install: ## build and install binaries, systemd units, sysusers/tmpfiles, example env files (PREFIX=/usr/local DESTDIR= SYSCONFDIR=/etc UNITDIR=…; docs/OPERATIONS.md)
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" SYSCONFDIR="$(SYSCONFDIR)" UNITDIR="$(UNITDIR)" GO="$(GO)" bash scripts/install.sh

up: ## start MariaDB, Redis and RocketMQ on 127.0.0.1 (installs what is missing)
	bash scripts/services.sh up

down: ## stop the local stack (keeps its data)
	bash scripts/services.sh down

status: ## show what runs where
	bash scripts/services.sh status

test: ## the full test suite against the real stack (starts it)
	bash scripts/test.sh

demo: ## the main job: stack up, build, migrate, seed members, run a campaign end to end
	bash scripts/demo.sh

demo-hotgoods: ## a hot-goods day end to end: generated segments, launched, fanned out, one push per member
	bash scripts/demo-hotgoods.sh

fmt: ## gofmt every Go file
	gofmt -w cmd pkg migrations deploy

vet: ## go vet
	$(GO) vet ./...

lint: ## run golangci-lint (install: go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0)
	@command -v $(GOLANGCI_LINT) >/dev/null || { echo "golangci-lint is not on PATH; install it: $(GOLANGCI_LINT_INSTALL)" >&2; exit 1; }
	$(GOLANGCI_LINT) run ./...

bench-seed: build ## measure seeding 1,000,000 members (writes nothing to docs)
	$(BIN)/mktctl users seed --count 1000000
