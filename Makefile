# idlink Makefile. Local stack targets (see CONTRACT.md section 4); the
# stack's scripts live in compose/, its state in $(STACK_DIR).

SHELL := /bin/bash
STACK_DIR ?= .stack
export STACK_DIR

.PHONY: up down reset

## up: install what is missing, start Kafka, Redis, ClickHouse; wait until they answer
up:
	bash compose/up.sh

## down: stop the local stack, keeping its data
down:
	bash compose/down.sh

## reset: stop the local stack and delete its data (keeps the .cache/ Kafka jars)
reset:
	bash compose/reset.sh

GO       ?= go
BIN      := bin/idlink
FUZZTIME ?= 30s
# bench and chaos sizes; CI passes smaller ones
N        ?= 1000000
CHAOS_N  ?= 200000
CHAOS_BACKPRESSURE ?= 60
# PLAINTEXT=1: `make bench` (and any target's `up`) turns the stack's
# plaintext listeners on (IDLINK_STACK_PLAINTEXT=1, kept until
# IDLINK_STACK_PLAINTEXT=0 make up) and the bench uses them
# (.stack/idlink-plaintext.env) instead of TLS
PLAINTEXT ?=
ifeq ($(PLAINTEXT),1)
export IDLINK_STACK_PLAINTEXT := 1
BENCH_ENV := IDLINK_ENV_FILE=$(abspath $(STACK_DIR))/idlink-plaintext.env
endif

.PHONY: build test lint fuzz bench chaos demo deps

## build: compile bin/idlink
build:
	$(GO) build -o $(BIN) ./cmd/idlink

## deps: test-only tools (chdb for SQL on current ClickHouse, Chromium for the dashboard test)
deps:
	bash analytics/sqlcheck/install.sh
	bash compose/install-chromium.sh

## lint: go vet and gofmt
lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## test: bring the stack up and run every test against it
test: up deps lint
	$(GO) test -count=1 -timeout 30m ./...

## fuzz: run every fuzz target for FUZZTIME each
fuzz:
	bash scripts/fuzz.sh $(FUZZTIME)

## bench: end-to-end benchmark on the real stack (N events), over TLS; PLAINTEXT=1: without TLS
bench: up build
	$(BENCH_ENV) $(GO) run ./cmd/idlink-bench -n $(N)

## chaos: kill and restart things while CHAOS_N events flow; check nothing is lost
chaos: up build
	$(GO) run ./cmd/idlink-chaos -n $(CHAOS_N) -backpressure-seconds $(CHAOS_BACKPRESSURE)

## demo: stack up, bundled sample events through the whole pipeline, reports printed
demo: up build
	./$(BIN) demo
