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
