#!/usr/bin/env bash
# make down: stop Kafka, Redis and ClickHouse (SIGTERM, SIGKILL after
# $STOP_TIMEOUT s), keeping their data under $STACK_DIR.
set -euo pipefail
# shellcheck source=compose/lib.sh
. "$(dirname "$0")/lib.sh"

[ -d "$STACK_DIR" ] || { log "nothing to stop ($STACK_DIR does not exist)"; exit 0; }
take_lock
# Stop in parallel: Kafka takes a few seconds for a clean shutdown.
pids=()
for svc in kafka clickhouse redis; do
  stop_service "$svc" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
exit $rc
