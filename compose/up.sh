#!/usr/bin/env bash
# make up: install what is missing, start Kafka (KRaft), Redis and ClickHouse
# on 127.0.0.1 as our own daemons (state under $STACK_DIR), wait until all
# three answer (at most $READY_TIMEOUT s), write $STACK_DIR/idlink.env.
# A new stack gets access control: passwords generated once, Kafka SASL/SCRAM
# users with ACLs and idlink's topics, a Redis ACL user, ClickHouse users
# (see compose/lib.sh); idlink.env holds the credentials idlink uses. It
# also gets TLS: a private CA and certificates made once (tls_setup), every
# service on TLS listeners only (IDLINK_STACK_PLAINTEXT=1 adds plaintext
# ones, =0 removes them again), and idlink.env names the CA and certificates.
# Idempotent: a service that already runs with the configuration it should
# have is left alone; one whose configuration changed (an older stack moving
# to TLS, plaintext listeners turned on or off, a renewed certificate) is
# restarted.
set -euo pipefail
# shellcheck source=compose/lib.sh
. "$(dirname "$0")/lib.sh"

take_lock
install_prereqs
load_credentials
set_plaintext
save_ports
tls_setup
if [ -z "$SECURE" ]; then
  log "this stack predates access control and runs without authentication;"
  log "\`make reset && make up\` replaces it with a secured one (deletes its data)"
fi

# Redis and ClickHouse start in the background at once; Kafka may first
# need its jars (Maven, first run only) and a storage format.
redis_start
clickhouse_start
kafka_start
wait_ready redis clickhouse kafka
kafka_secure

write_env
echo "env         written $STACK_DIR/idlink.env"
