#!/usr/bin/env bash
# compose/kafka-run.sh CLASS [ARGS...]: run a Kafka tool with the jars that
# `make up` cached, e.g.
#   compose/kafka-run.sh org.apache.kafka.tools.TopicCommand \
#       --bootstrap-server 127.0.0.1:9092 --list \
#       --command-config .stack/kafka/admin.properties
# (--command-config: on a secured stack, as the admin user; see lib.sh).
set -euo pipefail
# shellcheck source=compose/lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -ge 1 ] || die "usage: $0 MAIN_CLASS [ARGS...]"
[ -f "$KAFKA_LIBS/.complete" ] || die "Kafka jars not fetched yet: run make up"
kafka_tool "$@"
