#!/usr/bin/env bash
# compose/restart.sh SERVICE  (kafka|redis|clickhouse)
# Stop one service of the local stack (gracefully, SIGKILL after
# $STOP_TIMEOUT s) and start it again, returning once it answers.
# Data is kept. Meant for chaos tests.
set -euo pipefail
# shellcheck source=compose/lib.sh
. "$(dirname "$0")/lib.sh"

svc=${1:-}
case $svc in
  kafka | redis | clickhouse) ;;
  *) die "usage: $0 kafka|redis|clickhouse" ;;
esac
take_lock
load_credentials
stop_service "$svc"
start_service "$svc"
wait_ready "$svc"
