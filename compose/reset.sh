#!/usr/bin/env bash
# make reset: make down, then delete all local data ($STACK_DIR, including
# idlink.env, so the next `make up` makes a new IDLINK_PSEUDONYM_KEY).
# The Kafka jar cache lives in $CACHE_DIR (.cache/kafka) and is kept.
set -euo pipefail
# shellcheck source=compose/lib.sh
. "$(dirname "$0")/lib.sh"

"$COMPOSE_DIR/down.sh"
take_lock
case $STACK_DIR in
  / | "$REPO_ROOT" | "$HOME") die "refusing to delete STACK_DIR=$STACK_DIR" ;;
esac
rm -rf "$STACK_DIR"
log "deleted $STACK_DIR (Kafka jar cache kept in $CACHE_DIR/kafka)"
