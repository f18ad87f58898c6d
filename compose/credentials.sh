#!/usr/bin/env bash
# compose/credentials.sh: make sure the local stack's passwords exist
# ($STACK_DIR/credentials, mode 600, generated once; the ones `make up` uses)
# and its CA and certificates ($STACK_DIR/tls, copied for the containers to
# $STACK_DIR/tls-docker), and print the passwords file's path. The Docker
# Compose deployment reads them:
#   docker compose --env-file "$(bash compose/credentials.sh)" \
#       -f compose/docker-compose.yml up -d --wait
set -euo pipefail
# shellcheck source=compose/lib.sh
. "$(dirname "$0")/lib.sh"

take_lock
load_credentials
[ -n "$SECURE" ] || die "$STACK_DIR predates access control: \`make reset\` first (deletes its data)"
tls_docker_copy
echo "$CRED_FILE"
