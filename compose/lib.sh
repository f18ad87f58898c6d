# shellcheck shell=bash
# Shared helpers for the local stack scripts (up/down/reset/restart).
# Sourced, not executed. Everything runs on loopback, as our own daemons
# (never the distro's system services), with all state under $STACK_DIR.
#
# Layout:
#   $STACK_DIR (default <repo>/.stack, git-ignored; deleted by reset)
#     idlink.env                 settings and credentials for idlink (CONTRACT.md section 5)
#     credentials                the stack's passwords (mode 600), generated once
#     ports                      the stack's ports (see below)
#     plaintext                  present: plaintext listeners too (IDLINK_STACK_PLAINTEXT)
#     idlink-plaintext.env       idlink.env for those listeners (only while they are on)
#     tls/{ca,server,http,idlink,agency-<agency>}.{crt,key}, server.pem
#                                the stack's CA and certificates (see tls_setup)
#     tls-docker/                copies for docker-compose.yml's containers (tls_docker_copy)
#     kafka/{server.properties,admin.properties,admin-controller.properties,
#            security.stamp,kafka.log,kafka.pid,data/}
#     redis/{redis.conf,redis.log,redis.pid,appendonly...,dump.rdb}
#     clickhouse/{config.xml,users.xml,clickhouse.pid,data/,tmp/,log/}
#   $CACHE_DIR (default <repo>/.cache, git-ignored; kept by reset)
#     kafka/<version>/libs/*.jar  Kafka jars fetched by Maven (a re-download
#                                 is slow, and they are not "data")

# Seconds to wait for services to answer / to stop gracefully.
READY_TIMEOUT=${READY_TIMEOUT:-120}
STOP_TIMEOUT=${STOP_TIMEOUT:-30}

# Fixed KRaft cluster id (base64url of the 16 bytes "idlink-dev-stack").
KAFKA_CLUSTER_ID=aWRsaW5rLWRldi1zdGFjaw

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COMPOSE_DIR=$REPO_ROOT/compose

# Relative STACK_DIR/CACHE_DIR are taken from the repo root (as the Makefile passes them).
abs_path() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$REPO_ROOT/$1" ;; esac; }
STACK_DIR=$(abs_path "${STACK_DIR:-.stack}")
CACHE_DIR=$(abs_path "${CACHE_DIR:-.cache}")

# Ports: CONTRACT.md section 5 defaults. The environment may override them to
# run a second, independent stack next to the first (with its own STACK_DIR), e.g.
#   STACK_DIR=/tmp/idl2 KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 KAFKA_MTLS_PORT=19094 \
#     KAFKA_PLAINTEXT_PORT=19095 REDIS_PORT=16379 REDIS_PLAINTEXT_PORT=16380 \
#     CLICKHOUSE_TCP_PORT=19000 CLICKHOUSE_HTTP_PORT=18123 CLICKHOUSE_PLAINTEXT_TCP_PORT=19001 \
#     bash compose/up.sh
# On a secured stack the first ports are TLS: Kafka SASL_SSL (KAFKA_PORT),
# its controller (SASL_SSL) and mutual TLS (KAFKA_MTLS_PORT, SSL with client
# certificates), Redis (tls-port), ClickHouse's secure native port
# (CLICKHOUSE_TCP_PORT) and HTTPS (CLICKHOUSE_HTTP_PORT). The *_PLAINTEXT_*
# ports are listened on only while plaintext listeners are on (see
# set_plaintext).
# up.sh records them in $STACK_DIR/ports, so down/restart/reset of that stack
# need only its STACK_DIR. Its idlink.env names its ports: point idlink at it
# with IDLINK_ENV_FILE=$STACK_DIR/idlink.env.
PORT_VARS=(KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_MTLS_PORT KAFKA_PLAINTEXT_PORT REDIS_PORT REDIS_PLAINTEXT_PORT
  CLICKHOUSE_TCP_PORT CLICKHOUSE_HTTP_PORT CLICKHOUSE_PLAINTEXT_TCP_PORT)
load_ports() {
  local v line
  if [ -f "$STACK_DIR/ports" ]; then
    while IFS= read -r line; do
      v=${line%%=*}
      case " ${PORT_VARS[*]} " in *" $v "*) ;; *) continue ;; esac
      [ -n "${!v:-}" ] || printf -v "$v" '%s' "${line#*=}"
    done <"$STACK_DIR/ports"
  fi
  KAFKA_PORT=${KAFKA_PORT:-9092}
  KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
  KAFKA_MTLS_PORT=${KAFKA_MTLS_PORT:-9094}
  KAFKA_PLAINTEXT_PORT=${KAFKA_PLAINTEXT_PORT:-9095}
  REDIS_PORT=${REDIS_PORT:-6379}
  REDIS_PLAINTEXT_PORT=${REDIS_PLAINTEXT_PORT:-6380}
  CLICKHOUSE_TCP_PORT=${CLICKHOUSE_TCP_PORT:-9000}
  CLICKHOUSE_HTTP_PORT=${CLICKHOUSE_HTTP_PORT:-8123}
  CLICKHOUSE_PLAINTEXT_TCP_PORT=${CLICKHOUSE_PLAINTEXT_TCP_PORT:-9001}
  for v in "${PORT_VARS[@]}"; do
    case ${!v} in '' | *[!0-9]*) die "$v must be a port number, got '${!v}'" ;; esac
  done
}
save_ports() {
  local v
  for v in "${PORT_VARS[@]}"; do printf '%s=%s\n' "$v" "${!v}"; done >"$STACK_DIR/ports.tmp"
  mv -f "$STACK_DIR/ports.tmp" "$STACK_DIR/ports"
}
HOST=127.0.0.1

# Single source of truth for the Kafka version: compose/kafka/pom.xml.
KAFKA_POM=$COMPOSE_DIR/kafka/pom.xml
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")
KAFKA_LIBS=$CACHE_DIR/kafka/$KAFKA_VERSION/libs

KAFKA_DIR=$STACK_DIR/kafka
REDIS_DIR=$STACK_DIR/redis
CH_DIR=$STACK_DIR/clickhouse
TLS_DIR=$STACK_DIR/tls

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

load_ports

# Plaintext listeners (secured stacks): off unless asked for. up.sh applies
# IDLINK_STACK_PLAINTEXT (1: on, 0: off; unset: as before) and records it in
# $STACK_DIR/plaintext, so restarts and later runs keep it. While on, Kafka
# also listens SASL_PLAINTEXT on KAFKA_PLAINTEXT_PORT, Redis plaintext on
# REDIS_PLAINTEXT_PORT, ClickHouse's plain native port on
# CLICKHOUSE_PLAINTEXT_TCP_PORT, and idlink-plaintext.env points idlink at
# them (same users and passwords), e.g. to compare speeds:
#   IDLINK_ENV_FILE=.stack/idlink-plaintext.env bin/idlink ...
PLAINTEXT=
[ ! -f "$STACK_DIR/plaintext" ] || PLAINTEXT=1
set_plaintext() {
  case ${IDLINK_STACK_PLAINTEXT:-} in
    '') ;;
    1) PLAINTEXT=1 && mkdir -p "$STACK_DIR" && touch "$STACK_DIR/plaintext" ;;
    0) PLAINTEXT= && rm -f "$STACK_DIR/plaintext" ;;
    *) die "IDLINK_STACK_PLAINTEXT must be 1 (plaintext listeners too) or 0 (TLS only), got '$IDLINK_STACK_PLAINTEXT'" ;;
  esac
}

# put_config FILE: write stdin to FILE (mode 600) unless FILE holds exactly
# that already (ClickHouse reloads a configuration file that is written).
put_config() {
  local f=$1
  (umask 077 && cat >"$f.new")
  if [ -f "$f" ] && cmp -s "$f.new" "$f"; then
    rm -f "$f.new"
  else
    mv -f "$f.new" "$f"
  fi
}

# Each *_start records the SHA-256 of the configuration it started its
# service with (started.sha256 beside the pidfile). A service found running
# with another one, or with none recorded (started by an older up.sh), is
# restarted by *_start: that is how `make up` moves an older stack to TLS,
# turns plaintext listeners on or off and loads a renewed certificate.
config_hash() {
  case $1 in
    kafka) cat "$KAFKA_DIR/server.properties" ;;
    redis) cat "$REDIS_DIR/redis.conf" ;;
    clickhouse) cat "$CH_DIR/config.xml" "$CH_DIR/users.xml" ;;
  esac | sha256sum | cut -d' ' -f1
}
started_file() { echo "$(dirname "$(pidfile_of "$1")")/started.sha256"; }
mark_started() { config_hash "$1" >"$(started_file "$1")"; }
config_current() { [ -f "$(started_file "$1")" ] && [ "$(cat "$(started_file "$1")")" = "$(config_hash "$1")" ]; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# port_open PORT: true if something accepts TCP connections on $HOST:PORT.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null; }

# Serialise concurrent runs (e.g. two `make test` at once) on one lock file
# (fd 9; daemons are started with 9>&- so they do not inherit the lock).
take_lock() {
  mkdir -p "$STACK_DIR"
  exec 9>"$STACK_DIR/.lock"
  flock -w 600 9 || die "could not lock $STACK_DIR/.lock"
}

# ------------------------------------------------------------- credentials --

# Access control: Kafka SASL/SCRAM users with ACLs, a Redis ACL user (the
# default user disabled), ClickHouse users. Passwords are generated once per
# stack into $CRED_FILE (mode 600; kept by down, deleted by reset) and handed
# to idlink through idlink.env (write_env).
#
# A stack created before access control existed (state under $STACK_DIR but
# no credentials file) keeps running as it was, without authentication, so
# that `make up` or a restart of one of its services never locks out the
# programs already using it. To secure it: `make reset && make up` (its data
# is deleted; Kafka's SCRAM users can only be added to new storage, see
# kafka_configure). load_credentials sets SECURE=1 for a secured stack.
CRED_FILE=$STACK_DIR/credentials
AGENCIES=(mps nia nhsa mot mohrss platform) # CONTRACT.md section 1
SECURE=

upper() { printf '%s' "$1" | tr '[:lower:]' '[:upper:]'; }
# Passwords are hex, so they need no quoting in URLs, XML, JAAS or redis.conf.
new_password() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
sha256_hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# cred_names: every password of a stack, as variables of $CRED_FILE.
cred_names() {
  local a
  echo KAFKA_ADMIN_PASSWORD KAFKA_IDLINK_PASSWORD KAFKA_CONSUMER_PASSWORD
  for a in "${AGENCIES[@]}"; do echo "KAFKA_AGENCY_$(upper "$a")_PASSWORD"; done
  echo REDIS_IDLINK_PASSWORD CLICKHOUSE_DEFAULT_PASSWORD CLICKHOUSE_IDLINK_PASSWORD CLICKHOUSE_ANALYST_PASSWORD
}

# legacy_stack: state from before access control, and no credentials.
legacy_stack() {
  [ ! -f "$CRED_FILE" ] || return 1
  [ -e "$KAFKA_DIR/server.properties" ] || [ -e "$REDIS_DIR/redis.conf" ] ||
    [ -e "$CH_DIR/config.xml" ] || [ -e "$STACK_DIR/idlink.env" ]
}

# load_credentials: read $CRED_FILE, adding any password it lacks (a new
# stack gets all of them), and set SECURE=1. A legacy stack stays unsecured
# (SECURE empty). Once per shell: every function that configures or talks to
# a service calls it, so scripts that source this file (e.g. idlink-chaos's)
# need not.
CREDS_LOADED=
load_credentials() {
  local name line names
  [ -z "$CREDS_LOADED" ] || return 0
  CREDS_LOADED=1
  if legacy_stack; then
    SECURE=
    return 0
  fi
  names=" $(cred_names | tr '\n' ' ') "
  mkdir -p "$STACK_DIR"
  (umask 077 && touch "$CRED_FILE")
  # Only the file counts, never a variable of the same name in the environment.
  for name in $names; do unset "$name"; done
  while IFS= read -r line; do
    name=${line%%=*}
    case $names in *" $name "*) printf -v "$name" '%s' "${line#*=}" ;; esac
  done <"$CRED_FILE"
  for name in $names; do
    if [ -z "${!name:-}" ]; then
      printf -v "$name" '%s' "$(new_password)"
      printf '%s=%s\n' "$name" "${!name}" >>"$CRED_FILE"
    fi
  done
  chmod 600 "$CRED_FILE"
  SECURE=1
}

# --------------------------------------------------------------------- tls --

# TLS (secured stacks): a private CA and certificates made once per stack
# with openssl in $TLS_DIR (mode 700; kept by down, deleted by reset):
#   ca.crt, ca.key          the stack's CA (10 years); every *_TLS_CA_FILE
#   server.crt, server.key  Kafka's, Redis's and ClickHouse's certificate for
#                           127.0.0.1, ::1 and localhost (serverAuth; and
#                           clientAuth, for a broker that asks its own
#                           inter-broker connections for one, as
#                           docker-compose.yml's does); server.pem holds
#                           both, for Kafka's PEM key store
#   http.crt, http.key      `idlink serve`'s (IDLINK_TLS_CERT_FILE/KEY_FILE)
#   idlink.crt, idlink.key  idlink's client certificate (CN=idlink,
#                           clientAuth): Redis requires one (REDIS_TLS_*)
#   agency-<agency>.crt/.key  each agency's client certificate
#                           (CN=agency-<agency>) for Kafka's mutual-TLS
#                           listener, where it is the Kafka user
#                           agency-<agency>, with that user's ACLs
# Keys are EC P-256. The other certificates last 397 days and are made again
# when fewer than 30 remain (each service's configuration names its
# certificate's fingerprint, so up.sh then restarts it); a new CA (ca.key
# lost) makes all of them again.
TLS_LEAF_DAYS=397

TLS_READY=
tls_setup() {
  load_credentials
  [ -n "$SECURE" ] && [ -z "$TLS_READY" ] || return 0
  TLS_READY=1
  local a
  (
    umask 077
    mkdir -p "$TLS_DIR"
    chmod 700 "$TLS_DIR"
    cd "$TLS_DIR"
    if [ ! -s ca.crt ] || [ ! -s ca.key ]; then
      log "tls: making the stack's CA ($TLS_DIR/ca.crt)"
      rm -f ./*.crt ./*.key ./*.pem
      openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
        -keyout ca.key -out ca.crt -days 3650 -subj "/O=idlink/CN=idlink local stack CA $(date -u +%Y%m%dT%H%M%SZ)" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        >"$TLS_DIR/openssl.log" 2>&1 || { cat "$TLS_DIR/openssl.log" >&2; die "tls: making the CA failed"; }
    fi
    local san="subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"
    tls_leaf server serverAuth,clientAuth "/O=idlink/CN=localhost" "$san"
    tls_leaf http serverAuth "/O=idlink/CN=localhost" "$san"
    tls_leaf idlink clientAuth "/CN=idlink" ""
    for a in "${AGENCIES[@]}"; do tls_leaf "agency-$a" clientAuth "/CN=agency-$a" ""; done
    cat server.key server.crt >server.pem.new && mv -f server.pem.new server.pem
  )
}

# tls_leaf NAME USAGE SUBJECT [SAN]: NAME.key and NAME.crt signed by the CA,
# for USAGE (extendedKeyUsage: serverAuth, clientAuth or both), unless a
# valid one is there. In $TLS_DIR.
tls_leaf() {
  local name=$1 usage=$2 subject=$3 san=$4 ext
  if [ -s "$name.key" ] && [ -s "$name.crt" ] && openssl x509 -checkend $((30 * 86400)) -noout -in "$name.crt" >/dev/null 2>&1 &&
    openssl verify -CAfile ca.crt "$name.crt" >/dev/null 2>&1; then
    return 0
  fi
  log "tls: making $TLS_DIR/$name.crt ($usage, $subject)"
  ext="basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=$usage"
  [ -z "$san" ] || ext+=$'\n'"$san"
  if ! { openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -subj "$subject" 2>>openssl.log |
    openssl x509 -req -sha256 -CA ca.crt -CAkey ca.key -set_serial "0x$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" \
      -days "$TLS_LEAF_DAYS" -extfile <(printf '%s\n' "$ext") -out "$name.crt" 2>>openssl.log; }; then
    cat openssl.log >&2
    die "tls: making $name.crt failed"
  fi
}

# tls_docker_copy: the CA, the server certificate and its key (and
# server.pem) copied to $STACK_DIR/tls-docker, readable by everyone, for
# docker-compose.yml's containers, which run as their own users.
tls_docker_copy() {
  tls_setup
  local d=$STACK_DIR/tls-docker f
  mkdir -p "$d"
  chmod 755 "$d"
  for f in ca.crt server.crt server.key server.pem; do
    install -m 644 "$TLS_DIR/$f" "$d/$f"
  done
}

# tls_fingerprint NAME: the SHA-256 fingerprint of $TLS_DIR/NAME.crt.
tls_fingerprint() { openssl x509 -noout -fingerprint -sha256 -in "$TLS_DIR/$1.crt" | cut -d= -f2; }

# ---------------------------------------------------------------- processes --

# pidfile_of NAME: its pidfile. pid_of NAME: pid from NAME's pidfile if that process is alive (else fails).
pidfile_of() {
  case $1 in
    kafka) echo "$KAFKA_DIR/kafka.pid" ;;
    redis) echo "$REDIS_DIR/redis.pid" ;;
    clickhouse) echo "$CH_DIR/clickhouse.pid" ;;
    *) die "unknown service '$1' (kafka|redis|clickhouse)" ;;
  esac
}
pid_of() {
  local f pid
  f=$(pidfile_of "$1")
  [ -s "$f" ] || return 1
  pid=$(tr -dc '0-9' <"$f")
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then return 1; fi
  # Guard against a stale pidfile whose pid was reused by another program.
  case "$1:$(cat "/proc/$pid/comm" 2>/dev/null)" in
    kafka:java | redis:redis-server | clickhouse:clickhouse-serv*) echo "$pid" ;;
    *) return 1 ;;
  esac
}

# stop_service NAME: SIGTERM by pidfile, SIGKILL after $STOP_TIMEOUT s. Keeps data.
stop_service() {
  local name=$1 pid i
  if ! pid=$(pid_of "$name"); then
    log "$name: not running (no live pidfile)"
    rm -f "$(pidfile_of "$name")"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: still alive after ${STOP_TIMEOUT}s, killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$(pidfile_of "$name")"
  log "$name: stopped"
}

# ----------------------------------------------------------------- install --

# Install missing Debian packages; apt-get update only if the first try fails.
apt_install() {
  local pkgs=("$@") created_policy=
  [ ${#pkgs[@]} -gt 0 ] || return 0
  log "installing ${pkgs[*]} (apt)"
  # Keep the packages' postinst from starting system services on our ports.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}")
  local rc=0
  if ! as_root "${apt[@]}" >"$STACK_DIR/apt.log" 2>&1; then
    log "apt-get install failed; running apt-get update and retrying"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$STACK_DIR/apt.log" 2>&1 || true
    as_root "${apt[@]}" >>"$STACK_DIR/apt.log" 2>&1 || rc=$?
  fi
  [ -z "$created_policy" ] || as_root rm -f /usr/sbin/policy-rc.d
  [ $rc -eq 0 ] || { tail -n 30 "$STACK_DIR/apt.log" >&2; die "apt-get install ${pkgs[*]} failed"; }
}

install_prereqs() {
  local need=()
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v redis-cli >/dev/null || need+=(redis-tools)
  command -v clickhouse-server >/dev/null || need+=(clickhouse-server)
  command -v clickhouse-client >/dev/null || need+=(clickhouse-client)
  command -v java >/dev/null || need+=(default-jre-headless)
  command -v mvn >/dev/null || need+=(maven)
  command -v curl >/dev/null || need+=(curl)
  command -v pgrep >/dev/null || need+=(procps)
  command -v openssl >/dev/null || need+=(openssl)
  apt_install "${need[@]}"
  stop_system_services
}

# The Debian packages ship init scripts; if a system redis/clickhouse is
# running (started by a postinst without policy-rc.d, or by hand), stop it so
# the ports are ours. System instances run as the packages' service users
# (ours run as the invoking user), which is how they are told apart.
# Failures are tolerated.
stop_system_services() {
  local entry svc user comm pids
  for entry in redis-server:redis:redis-server clickhouse-server:clickhouse:clickhouse-serv; do
    IFS=: read -r svc user comm <<<"$entry"
    [ "$(id -un)" != "$user" ] || continue
    pids=$(pgrep -u "$user" -x "$comm" 2>/dev/null) || continue
    log "stopping the system $svc service (pid ${pids//$'\n'/ }) so ours can use the port"
    as_root service "$svc" stop >/dev/null 2>&1 || true
    sleep 1
    pids=$(pgrep -u "$user" -x "$comm" 2>/dev/null) || continue
    # shellcheck disable=SC2086  # one pid per word
    as_root kill -TERM $pids 2>/dev/null || true
    sleep 3
    pids=$(pgrep -u "$user" -x "$comm" 2>/dev/null) || continue
    # shellcheck disable=SC2086
    as_root kill -KILL $pids 2>/dev/null || true
  done
}

# Fetch Kafka jars into $KAFKA_LIBS with Maven, once per pom.xml content.
kafka_fetch() {
  local stamp=$KAFKA_LIBS/.complete want
  want=$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  log "kafka: fetching Apache Kafka $KAFKA_VERSION jars with Maven (first run only)"
  local tmp=$KAFKA_LIBS.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  if ! mvn -B -q -f "$KAFKA_POM" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
    tail -n 40 "$tmp.log" >&2
    rm -rf "$tmp"
    die "kafka: mvn dependency:copy-dependencies failed (log above)"
  fi
  rm -f "$tmp.log"
  echo "$want" >"$tmp/.complete"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
}

# ------------------------------------------------------------------- kafka --

# kafka_tool CLASS ARGS...: run a Kafka CLI main class with the cached jars
# (warnings only, on stderr), e.g. org.apache.kafka.tools.TopicCommand.
kafka_tool() {
  java -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$COMPOSE_DIR/kafka/tools-log4j2.properties" \
    -cp "$KAFKA_LIBS/*" "$@"
}

# Kafka security (secured stacks): clients use SASL_SSL with SCRAM-SHA-512
# on $KAFKA_PORT (TLS with the server certificate of tls_setup; the SASL
# user is the identity); StandardAuthorizer with ACLs, and no access without
# one. On $KAFKA_MTLS_PORT, an SSL listener requires a client certificate
# from the stack's CA and takes its subject's CN as the user
# (ssl.principal.mapping.rules: CN=agency-mps is User:agency-mps), so an
# agency authenticated by its certificate has its SASL user's ACLs. With
# plaintext listeners on (set_plaintext), SASL_PLAINTEXT on
# $KAFKA_PLAINTEXT_PORT as well. "admin" is the super user: the broker's
# own (inter-broker and controller) user and the one up.sh's tools run as.
# The controller listener uses SASL/PLAIN over TLS with admin only (KRaft
# controller listeners cannot use SCRAM; an unauthenticated one would need
# ANONYMOUS as a super user, so anything on loopback could act as the
# broker). Users, with the ACLs kafka_secure grants:
#   idlink           idlink's service user (KAFKA_SASL_USERNAME): every
#                    operation on every topic and group, so that it can create
#                    its topics under any IDLINK_TOPIC_PREFIX (tests use random
#                    ones), run the consumers and delete test topics; no
#                    cluster-level rights, so it cannot change users or ACLs
#   agency-<agency>  one per agency: write its own topic events.<agency> and
#                    the dead-letter topic events.deadletter; nothing else
#   consumer         the consumers' own user: read the agency topics,
#                    identity.changes, events.deadletter and audit.lookups
#                    (the verification API's audit, written by idlink), write
#                    identity.changes and events.deadletter, groups idlink-*
# (agency and consumer ACLs cover the demo's names too: KAFKA_ACL_NAMESPACES).
kafka_configure() {
  load_credentials
  tls_setup
  mkdir -p "$KAFKA_DIR/data"
  local listeners
  if [ -z "$SECURE" ]; then
    listeners=PLAINTEXT://$HOST:$KAFKA_PORT
  else
    listeners=SASL_SSL://$HOST:$KAFKA_PORT,SSL://$HOST:$KAFKA_MTLS_PORT
    [ -z "$PLAINTEXT" ] || listeners+=,SASL_PLAINTEXT://$HOST:$KAFKA_PLAINTEXT_PORT
  fi
  put_config "$KAFKA_DIR/server.properties" < <(
    cat <<EOF
# Generated by compose/up.sh; edits are overwritten.
# Single-node KRaft (combined broker + controller) for local development.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=$listeners,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=${listeners%%:*}
log.dirs=$KAFKA_DIR/data
num.partitions=6
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
EOF
    if [ -z "$SECURE" ]; then
      echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    else
      cat <<EOF
# Access control and TLS (see compose/lib.sh). Holds the admin password: mode 600.
listener.security.protocol.map=CONTROLLER:SASL_SSL,SASL_SSL:SASL_SSL,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD" user_admin="$KAFKA_ADMIN_PASSWORD";
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false
# server certificate $(tls_fingerprint server)
ssl.keystore.type=PEM
ssl.keystore.location=$TLS_DIR/server.pem
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.crt
ssl.enabled.protocols=TLSv1.3,TLSv1.2
ssl.client.auth=none
listener.name.ssl.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([a-z0-9-]+)$/\$1/,DEFAULT
EOF
    fi
  )
  if [ -z "$SECURE" ]; then
    rm -f "$KAFKA_DIR/admin.properties" "$KAFKA_DIR/admin-controller.properties"
  else
    # Client settings for up.sh's own tools, as admin: via the broker
    # listener (SCRAM) and via the controller listener (PLAIN), both TLS.
    put_config "$KAFKA_DIR/admin.properties" <<EOF
security.protocol=SASL_SSL
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.crt
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
EOF
    put_config "$KAFKA_DIR/admin-controller.properties" <<EOF
security.protocol=SASL_SSL
ssl.truststore.type=PEM
ssl.truststore.location=$TLS_DIR/ca.crt
sasl.mechanism=PLAIN
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$KAFKA_ADMIN_PASSWORD";
EOF
  fi
  # Format the storage once (fixed cluster id); kept across down/up. A
  # secured stack's SCRAM users are created here, in the initial metadata
  # (so the broker's own admin user exists before it starts). Note: their
  # passwords are on the formatting command line for its ~2 s.
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    log "kafka: formatting storage (cluster id $KAFKA_CLUSTER_ID)"
    local scram=() user var
    if [ -n "$SECURE" ]; then
      while read -r user var; do
        scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=${!var}]")
      done < <(kafka_users)
    fi
    rm -f "$KAFKA_DIR/security.stamp"
    if ! kafka_tool kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" \
        -c "$KAFKA_DIR/server.properties" "${scram[@]+"${scram[@]}"}" >"$KAFKA_DIR/format.log" 2>&1; then
      cat "$KAFKA_DIR/format.log" >&2
      die "kafka: storage format failed"
    fi
  fi
}

# kafka_start: start the broker, or restart it if its configuration changed.
kafka_start() {
  if pid_of kafka >/dev/null; then
    kafka_configure
    ! config_current kafka || return 0
    log "kafka: running with another configuration than the current one; restarting it"
    stop_service kafka
  elif port_open "$KAFKA_PORT"; then
    log "kafka: something else already answers on $HOST:$KAFKA_PORT; leaving it alone"
    return 0
  else
    kafka_fetch
    kafka_configure
  fi
  [ ! -f "$KAFKA_DIR/kafka.log" ] || mv -f "$KAFKA_DIR/kafka.log" "$KAFKA_DIR/kafka.log.prev"
  # setsid: own session, so Ctrl-C in make does not kill the daemon.
  # The inner shell writes its own pid, then execs java (same pid).
  # shellcheck disable=SC2016  # $$/$1/$@ are for the inner shell
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$KAFKA_DIR/kafka.pid" \
    java -Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$COMPOSE_DIR/kafka/log4j2.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
    </dev/null >>"$KAFKA_DIR/kafka.log" 2>&1 9>&- &
  disown || true
  mark_started kafka
}

# Ready = port open and, if we started it, the broker logged that it started.
kafka_ready() {
  port_open "$KAFKA_PORT" || return 1
  if pid_of kafka >/dev/null && [ -f "$KAFKA_DIR/kafka.log" ]; then
    grep -q 'Kafka Server started' "$KAFKA_DIR/kafka.log"
  fi
}
kafka_logfile() { echo "$KAFKA_DIR/kafka.log"; }

# kafka_users: "name PASSWORD_VARIABLE" per SCRAM user of a secured stack.
# They are created when the storage is formatted: a user added here later
# needs `make reset` (or kafka-configs --alter --entity-type users as admin).
kafka_users() {
  local a
  echo "admin KAFKA_ADMIN_PASSWORD"
  echo "idlink KAFKA_IDLINK_PASSWORD"
  echo "consumer KAFKA_CONSUMER_PASSWORD"
  for a in "${AGENCIES[@]}"; do echo "agency-$a KAFKA_AGENCY_$(upper "$a")_PASSWORD"; done
}

# The topics up.sh creates (names as in pipeline/topics.go, no prefix).
kafka_topics() {
  local a
  for a in "${AGENCIES[@]}"; do echo "events.$a"; done
  echo events.deadletter
  echo identity.changes
  echo audit.lookups
}

# Topic/group namespaces the per-agency and consumer ACLs cover: the real
# one and \`idlink demo\`'s (IDLINK_TOPIC_PREFIX=demo., IDLINK_GROUP_PREFIX=demo-,
# see cmd/idlink/demo.go). idlink.env names them (KAFKA_SASL_AGENCY_PREFIXES):
# under other prefixes (tests, benchmarks, chaos runs) idlink publishes as
# its own user.
KAFKA_ACL_NAMESPACES=("" "demo.")

# kafka_acl_calls: the arguments of one kafka-acls call per line (ACLs as
# described above kafka_configure). A literal "*" names every topic/group.
kafka_acl_calls() {
  local a ns own reads="" writes="" groups=""
  echo "--allow-principal User:idlink --operation All --topic * --group *"
  for a in "${AGENCIES[@]}"; do
    own=""
    for ns in "${KAFKA_ACL_NAMESPACES[@]}"; do
      own+=" --topic ${ns}events.$a --topic ${ns}events.deadletter"
      reads+=" --topic ${ns}events.$a"
    done
    echo "--allow-principal User:agency-$a --operation Write --operation Describe$own"
  done
  for ns in "${KAFKA_ACL_NAMESPACES[@]}"; do
    reads+=" --topic ${ns}identity.changes --topic ${ns}events.deadletter --topic ${ns}audit.lookups"
    writes+=" --topic ${ns}identity.changes --topic ${ns}events.deadletter"
    groups+=" --group ${ns%.}${ns:+-}idlink-"
  done
  echo "--allow-principal User:consumer --operation Read --operation Describe$reads"
  echo "--allow-principal User:consumer --operation Write$writes"
  echo "--allow-principal User:consumer --operation Read --operation Describe --resource-pattern-type prefixed$groups"
}

# kafka_secure: create idlink's topics and grant the ACLs, as admin, once the
# broker answers. Both are idempotent; a stamp of what was applied lets later
# runs skip the tools (each is a JVM start). Topics deleted by hand are
# re-created by idlink itself (the idlink user may create topics).
kafka_secure() {
  load_credentials
  [ -n "$SECURE" ] && pid_of kafka >/dev/null || return 0
  local stamp=$KAFKA_DIR/security.stamp want tmp call t i rc=0 pids=()
  want=$( { kafka_topics; kafka_acl_calls; } | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  log "kafka: creating topics and ACLs as admin (once; again only when they change)"
  tmp=$(mktemp -d "$KAFKA_DIR/secure.XXXXXX")
  local bs=(--bootstrap-server "$HOST:$KAFKA_PORT" --command-config "$KAFKA_DIR/admin.properties")
  i=0
  while read -r t; do
    i=$((i + 1))
    kafka_tool org.apache.kafka.tools.TopicCommand "${bs[@]}" --create --if-not-exists \
      --topic "$t" --partitions 6 --replication-factor 1 >"$tmp/$i.log" 2>&1 &
    pids+=($!)
  done < <(kafka_topics)
  while read -r call; do
    i=$((i + 1))
    # shellcheck disable=SC2086  # one argument per word; no globbing of "*"
    (set -f && kafka_tool org.apache.kafka.tools.AclCommand "${bs[@]}" --add $call) >"$tmp/$i.log" 2>&1 &
    pids+=($!)
  done < <(kafka_acl_calls)
  for t in "${pids[@]}"; do wait "$t" || rc=1; done
  if [ $rc -ne 0 ]; then
    grep -hE 'ERROR|Error|Exception' "$tmp"/*.log | head -n 20 >&2
    rm -rf "$tmp"
    die "kafka: creating topics or ACLs as admin failed (logs above)"
  fi
  rm -rf "$tmp"
  echo "$want" >"$stamp"
}

# ------------------------------------------------------------------- redis --

# redis_configure: redis.conf; on a secured stack TLS only (tls-port
# $REDIS_PORT, client certificates from the stack's CA required, plain
# `port` 0) unless plaintext listeners are on ($REDIS_PLAINTEXT_PORT).
redis_configure() {
  load_credentials
  tls_setup
  mkdir -p "$REDIS_DIR"
  local ports="port $REDIS_PORT" plain=0
  if [ -n "$SECURE" ]; then
    [ -z "$PLAINTEXT" ] || plain=$REDIS_PLAINTEXT_PORT
    ports="port $plain
tls-port $REDIS_PORT
# server certificate $(tls_fingerprint server)
tls-cert-file $TLS_DIR/server.crt
tls-key-file $TLS_DIR/server.key
tls-ca-cert-file $TLS_DIR/ca.crt
tls-auth-clients yes
tls-protocols \"TLSv1.2 TLSv1.3\""
  fi
  put_config "$REDIS_DIR/redis.conf" < <(
    cat <<EOF
# Generated by compose/up.sh; edits are overwritten.
bind $HOST
$ports
protected-mode yes
daemonize yes
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
dir $REDIS_DIR
appendonly yes
appendfsync everysec
# The append-only file is what a restart loads; snapshots are a backup, so
# take them every 5 minutes at most (under load, the old "60 10000" rule
# forked and dumped the whole data set every minute).
save 3600 1 300 100
# Rewrite the AOF when it doubles, but not before it reaches 256 MB: with a
# small data set the default 64 MB meant a fork and a full rewrite every few
# seconds of heavy writing (p99 spikes of 300-400 ms in the latency bench).
auto-aof-rewrite-min-size 256mb
# The resolver keeps pointers in bucketed hashes (consumers/identity); keep
# them in the compact listpack encoding up to ~1000 entries per bucket.
hash-max-listpack-entries 1024
EOF
    if [ -n "$SECURE" ]; then
      # Access control: no default user; "idlink" (REDIS_URL) may use any key
      # and channel and every command but the @dangerous ones (CONFIG, ACL,
      # MODULE, DEBUG, SHUTDOWN, FLUSHALL, REPLICAOF, KEYS, ...), except INFO
      # (read-only; the benchmark reads used_memory). Only the password's
      # SHA-256 is stored here.
      cat <<EOF
user default off
user idlink on #$(sha256_hex "$REDIS_IDLINK_PASSWORD") ~* &* +@all -@dangerous +info
EOF
    fi
  )
}

# redis_start: start Redis, or restart it if its configuration changed.
redis_start() {
  if pid_of redis >/dev/null; then
    redis_configure
    ! config_current redis || return 0
    log "redis: running with another configuration than the current one; restarting it"
    stop_service redis
  elif port_open "$REDIS_PORT"; then
    log "redis: something else already answers on $HOST:$REDIS_PORT; leaving it alone"
    return 0
  else
    redis_configure
  fi
  redis-server "$REDIS_DIR/redis.conf" </dev/null >>"$REDIS_DIR/redis.log" 2>&1 9>&- ||
    { tail -n 20 "$REDIS_DIR/redis.log" >&2; die "redis: failed to start"; }
  mark_started redis
}

# redis_cli ARGS...: redis-cli to our server, as user idlink on a secured
# stack (password through the environment, not the command line), over TLS
# with idlink's client certificate.
redis_cli() {
  load_credentials
  if [ -n "$SECURE" ]; then
    REDISCLI_AUTH=$REDIS_IDLINK_PASSWORD timeout 10 redis-cli --user idlink -h "$HOST" -p "$REDIS_PORT" \
      --tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/idlink.crt" --key "$TLS_DIR/idlink.key" "$@"
  else
    timeout 10 redis-cli -h "$HOST" -p "$REDIS_PORT" "$@"
  fi
}
redis_ready() { [ "$(redis_cli ping 2>/dev/null)" = PONG ]; }
redis_logfile() { echo "$REDIS_DIR/redis.log"; }

# -------------------------------------------------------------- clickhouse --

# ClickHouse 18.16 (Debian) runs fine as root; its data lives under $CH_DIR.
# On a secured stack: the secure native port ($CLICKHOUSE_TCP_PORT) and HTTPS
# ($CLICKHOUSE_HTTP_PORT) with the stack's server certificate (Poco's
# openSSL section), the plain native port only while plaintext listeners are
# on ($CLICKHOUSE_PLAINTEXT_TCP_PORT).
clickhouse_configure() {
  load_credentials
  tls_setup
  mkdir -p "$CH_DIR"/{data,tmp,log,user_files,format_schemas}
  local ports="<http_port>$CLICKHOUSE_HTTP_PORT</http_port>
    <tcp_port>$CLICKHOUSE_TCP_PORT</tcp_port>"
  if [ -n "$SECURE" ]; then
    ports="<https_port>$CLICKHOUSE_HTTP_PORT</https_port>
    <tcp_port_secure>$CLICKHOUSE_TCP_PORT</tcp_port_secure>${PLAINTEXT:+
    <tcp_port>$CLICKHOUSE_PLAINTEXT_TCP_PORT</tcp_port>}
    <!-- server certificate $(tls_fingerprint server) -->
    <openSSL>
        <server>
            <certificateFile>$TLS_DIR/server.crt</certificateFile>
            <privateKeyFile>$TLS_DIR/server.key</privateKeyFile>
            <verificationMode>none</verificationMode>
            <loadDefaultCAFile>false</loadDefaultCAFile>
            <cacheSessions>true</cacheSessions>
            <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
            <preferServerCiphers>true</preferServerCiphers>
        </server>
    </openSSL>"
  fi
  put_config "$CH_DIR/config.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by compose/up.sh; edits are overwritten. Minimal ClickHouse 18.16 config. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$CH_DIR/log/clickhouse-server.log</log>
        <errorlog>$CH_DIR/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>
    <listen_host>$HOST</listen_host>
    $ports
    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>536870912</mark_cache_size>
    <path>$CH_DIR/data/</path>
    <tmp_path>$CH_DIR/tmp/</tmp_path>
    <user_files_path>$CH_DIR/user_files/</user_files_path>
    <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
    <users_config>$CH_DIR/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <partition_by>toYYYYMM(event_date)</partition_by>
        <flush_interval_milliseconds>7500</flush_interval_milliseconds>
    </query_log>
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
</yandex>
EOF
  local users
  if [ -z "$SECURE" ]; then
    users=$(clickhouse_user default '<password></password>' default)
  else
    # Access control: "idlink" reads and writes (CLICKHOUSE_USER), "analyst"
    # only reads (readonly=1: SELECT, no INSERT/CREATE/ALTER/SET); "default"
    # is for administrators (password in $CRED_FILE only). All loopback only;
    # only the passwords' SHA-256 are stored here.
    users=$(
      clickhouse_user default "<password_sha256_hex>$(sha256_hex "$CLICKHOUSE_DEFAULT_PASSWORD")</password_sha256_hex>" default
      clickhouse_user idlink "<password_sha256_hex>$(sha256_hex "$CLICKHOUSE_IDLINK_PASSWORD")</password_sha256_hex>" default
      clickhouse_user analyst "<password_sha256_hex>$(sha256_hex "$CLICKHOUSE_ANALYST_PASSWORD")</password_sha256_hex>" readonly
    )
  fi
  put_config "$CH_DIR/users.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by compose/up.sh; edits are overwritten. Users (loopback only) below. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
        <readonly>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
$users
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

# clickhouse_user NAME PASSWORD_ELEMENT PROFILE: one <users> entry, loopback only.
clickhouse_user() {
  cat <<EOF
        <$1>
            $2
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>$3</profile>
            <quota>default</quota>
        </$1>
EOF
}

# clickhouse_start: start ClickHouse, or restart it if its configuration
# changed.
clickhouse_start() {
  if pid_of clickhouse >/dev/null; then
    clickhouse_configure
    ! config_current clickhouse || return 0
    log "clickhouse: running with another configuration than the current one; restarting it"
    stop_service clickhouse
  elif port_open "$CLICKHOUSE_TCP_PORT" || port_open "$CLICKHOUSE_HTTP_PORT"; then
    log "clickhouse: something else already answers on $HOST:$CLICKHOUSE_TCP_PORT/$CLICKHOUSE_HTTP_PORT; leaving it alone"
    return 0
  else
    clickhouse_configure
  fi
  # --daemon forks; the server writes its own pidfile.
  (cd "$CH_DIR" && clickhouse-server --daemon --config-file="$CH_DIR/config.xml" \
    --pid-file="$CH_DIR/clickhouse.pid" </dev/null >>"$CH_DIR/log/stdout.log" 2>&1 9>&-) ||
    { tail -n 20 "$CH_DIR/log/stdout.log" >&2; die "clickhouse: failed to start"; }
  mark_started clickhouse
}

clickhouse_ready() {
  load_credentials
  if [ -n "$SECURE" ]; then
    [ "$(curl -fsS --max-time 2 --cacert "$TLS_DIR/ca.crt" "https://$HOST:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null)" = Ok. ]
  else
    [ "$(curl -fsS --max-time 2 "http://$HOST:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null)" = Ok. ]
  fi
}
clickhouse_logfile() {
  if [ -s "$CH_DIR/log/clickhouse-server.err.log" ]; then echo "$CH_DIR/log/clickhouse-server.err.log"
  else echo "$CH_DIR/log/clickhouse-server.log"; fi
}

# ----------------------------------------------------------------- waiting --

# wait_ready NAME...: poll until every service answers, $READY_TIMEOUT s total.
wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) name pending
  pending=("$@")
  while [ ${#pending[@]} -gt 0 ]; do
    local still=()
    for name in "${pending[@]}"; do
      if "${name}_ready"; then
        ready_line "$name"
      else
        still+=("$name")
      fi
    done
    pending=("${still[@]+"${still[@]}"}")
    [ ${#pending[@]} -gt 0 ] || break
    if [ $SECONDS -ge "$deadline" ]; then
      for name in "${pending[@]}"; do
        show_log "$name" "did not answer within ${READY_TIMEOUT}s"
      done
      exit 1
    fi
    # A daemon of ours that died will never answer: fail fast.
    for name in "${pending[@]}"; do
      if [ -f "$(pidfile_of "$name")" ] && ! pid_of "$name" >/dev/null; then
        show_log "$name" "exited during start-up"
        exit 1
      fi
    done
    sleep 0.5
  done
}

# show_log NAME WHY: error message with the service's first error lines and log tail.
show_log() {
  local lf
  lf=$("${1}_logfile")
  printf '[stack] ERROR: %s %s. Log: %s\n' "$1" "$2" "$lf" >&2
  [ -f "$lf" ] || return 0
  if grep -qE ' (ERROR|FATAL|Error|<Error>) ' "$lf"; then
    printf -- '--- first errors:\n' >&2
    grep -E ' (ERROR|FATAL|Error|<Error>) ' "$lf" | head -n 5 | cut -c1-400 >&2
  fi
  printf -- '--- last lines:\n' >&2
  tail -n 25 "$lf" | cut -c1-400 >&2
}

ready_line() {
  case $1 in
    kafka)
      if [ -n "$SECURE" ]; then
        echo "kafka       ready  $HOST:$KAFKA_PORT (SASL_SSL), mutual TLS $HOST:$KAFKA_MTLS_PORT${PLAINTEXT:+, SASL_PLAINTEXT $HOST:$KAFKA_PLAINTEXT_PORT} (KRaft, controller $HOST:$KAFKA_CONTROLLER_PORT, Kafka $KAFKA_VERSION)"
      else
        echo "kafka       ready  $HOST:$KAFKA_PORT (KRaft, controller $HOST:$KAFKA_CONTROLLER_PORT, Kafka $KAFKA_VERSION)"
      fi ;;
    redis)
      if [ -n "$SECURE" ]; then echo "redis       ready  rediss://$HOST:$REDIS_PORT/0${PLAINTEXT:+, redis://$HOST:$REDIS_PLAINTEXT_PORT/0}"
      else echo "redis       ready  redis://$HOST:$REDIS_PORT/0"; fi ;;
    clickhouse)
      if [ -n "$SECURE" ]; then echo "clickhouse  ready  $HOST:$CLICKHOUSE_TCP_PORT (native, TLS)${PLAINTEXT:+, $HOST:$CLICKHOUSE_PLAINTEXT_TCP_PORT (native)}, https://$HOST:$CLICKHOUSE_HTTP_PORT"
      else echo "clickhouse  ready  $HOST:$CLICKHOUSE_TCP_PORT (native), http://$HOST:$CLICKHOUSE_HTTP_PORT"; fi ;;
  esac
}

start_service() { "${1}_start"; }

# --------------------------------------------------------------- idlink.env --

# Write $STACK_DIR/idlink.env; the pseudonym key is generated once and kept.
# On a secured stack it also holds the credentials and TLS settings idlink
# uses (variables as read by pipeline/config.go):
#   KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME/PASSWORD  idlink's service user
#   KAFKA_SASL_USERNAME_<AGENCY>/KAFKA_SASL_PASSWORD_<AGENCY>  (MPS, NIA, ...)
#                       per-agency users, used by the producer for that agency
#   KAFKA_SASL_AGENCY_PREFIXES  the topic prefixes their ACLs cover
#   KAFKA_SASL_USERNAME_CONSUMER/KAFKA_SASL_PASSWORD_CONSUMER  the consumers' user
#   KAFKA_TLS, KAFKA_TLS_CA_FILE  SASL_SSL to $KAFKA_PORT
#   REDIS_URL           rediss:// with user idlink and its password;
#                       REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE/KEY_FILE
#                       (idlink's client certificate, which Redis requires)
#   CLICKHOUSE_USER/PASSWORD, CLICKHOUSE_ANALYST_USER/PASSWORD
#   CLICKHOUSE_SECURE, CLICKHOUSE_TLS_CA_FILE  the secure native port
#   IDLINK_TLS_CERT_FILE/KEY_FILE  `idlink serve` answers HTTPS
# While plaintext listeners are on (set_plaintext) it also writes
# idlink-plaintext.env: the same on the plaintext ports, without TLS.
write_env() {
  load_credentials
  local f=$STACK_DIR/idlink.env key=''
  if [ -f "$f" ]; then
    key=$(sed -n 's/^IDLINK_PSEUDONYM_KEY=//p' "$f" | head -n 1)
  fi
  [ -n "$key" ] || key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  umask 077
  env_body tls "$key" >"$f.tmp"
  mv -f "$f.tmp" "$f"
  if [ -n "$SECURE" ] && [ -n "$PLAINTEXT" ]; then
    env_body plaintext "$key" >"$STACK_DIR/idlink-plaintext.env.tmp"
    mv -f "$STACK_DIR/idlink-plaintext.env.tmp" "$STACK_DIR/idlink-plaintext.env"
  else
    rm -f "$STACK_DIR/idlink-plaintext.env"
  fi
}

# env_body tls|plaintext KEY: the contents of idlink.env (tls) or
# idlink-plaintext.env, with pseudonym key KEY.
env_body() {
  local mode=$1 key=$2 a var
  if [ -z "$SECURE" ]; then
    cat <<EOF
# Written by compose/up.sh (make up). Variables already set in the environment win.
# This stack predates access control and runs without authentication or TLS:
# \`make reset && make up\` replaces it with a secured one (deleting its data).
KAFKA_BROKERS=$HOST:$KAFKA_PORT
REDIS_URL=redis://$HOST:$REDIS_PORT/0
CLICKHOUSE_ADDR=$HOST:$CLICKHOUSE_TCP_PORT
IDLINK_PSEUDONYM_KEY=$key
EOF
    return 0
  fi
  cat <<EOF
# Written by compose/up.sh (make up). Variables already set in the environment win.
# Credentials of the local stack (generated once, kept in $CRED_FILE).
EOF
  if [ "$mode" = plaintext ]; then
    cat <<EOF
# The stack's plaintext listeners (IDLINK_STACK_PLAINTEXT=1): no TLS.
KAFKA_BROKERS=$HOST:$KAFKA_PLAINTEXT_PORT
KAFKA_TLS=false
EOF
  else
    cat <<EOF
# TLS: the stack's CA and certificates are in $TLS_DIR.
KAFKA_BROKERS=$HOST:$KAFKA_PORT
KAFKA_TLS=true
KAFKA_TLS_CA_FILE=$TLS_DIR/ca.crt
EOF
  fi
  if pid_of kafka >/dev/null; then
    cat <<EOF
KAFKA_SASL_MECHANISM=SCRAM-SHA-512
KAFKA_SASL_USERNAME=idlink
KAFKA_SASL_PASSWORD=$KAFKA_IDLINK_PASSWORD
KAFKA_SASL_USERNAME_CONSUMER=consumer
KAFKA_SASL_PASSWORD_CONSUMER=$KAFKA_CONSUMER_PASSWORD
EOF
    for a in "${AGENCIES[@]}"; do
      var=KAFKA_AGENCY_$(upper "$a")_PASSWORD
      printf 'KAFKA_SASL_USERNAME_%s=agency-%s\nKAFKA_SASL_PASSWORD_%s=%s\n' "$(upper "$a")" "$a" "$(upper "$a")" "${!var}"
    done
    # The IDLINK_TOPIC_PREFIX values the agency users' ACLs cover (an empty
    # entry: none); under other prefixes idlink publishes as KAFKA_SASL_USERNAME.
    printf 'KAFKA_SASL_AGENCY_PREFIXES=%s\n' "$(IFS=, && echo "${KAFKA_ACL_NAMESPACES[*]}")"
  else
    log "kafka: not ours (Docker?): no Kafka credentials in idlink.env; see compose/docker-compose.yml"
    echo "# No Kafka credentials: the broker on $HOST:$KAFKA_PORT is not this stack's own;"
    echo "# compose/docker-compose.yml's takes idlink's client certificate instead."
    [ "$mode" = plaintext ] || printf 'KAFKA_TLS_CERT_FILE=%s\nKAFKA_TLS_KEY_FILE=%s\n' "$TLS_DIR/idlink.crt" "$TLS_DIR/idlink.key"
  fi
  if [ "$mode" = plaintext ]; then
    cat <<EOF
REDIS_URL=redis://idlink:$REDIS_IDLINK_PASSWORD@$HOST:$REDIS_PLAINTEXT_PORT/0
CLICKHOUSE_ADDR=$HOST:$CLICKHOUSE_PLAINTEXT_TCP_PORT
CLICKHOUSE_SECURE=false
EOF
  else
    cat <<EOF
REDIS_URL=rediss://idlink:$REDIS_IDLINK_PASSWORD@$HOST:$REDIS_PORT/0
REDIS_TLS_CA_FILE=$TLS_DIR/ca.crt
REDIS_TLS_CERT_FILE=$TLS_DIR/idlink.crt
REDIS_TLS_KEY_FILE=$TLS_DIR/idlink.key
CLICKHOUSE_ADDR=$HOST:$CLICKHOUSE_TCP_PORT
CLICKHOUSE_SECURE=true
CLICKHOUSE_TLS_CA_FILE=$TLS_DIR/ca.crt
IDLINK_TLS_CERT_FILE=$TLS_DIR/http.crt
IDLINK_TLS_KEY_FILE=$TLS_DIR/http.key
EOF
  fi
  cat <<EOF
CLICKHOUSE_USER=idlink
CLICKHOUSE_PASSWORD=$CLICKHOUSE_IDLINK_PASSWORD
CLICKHOUSE_ANALYST_USER=analyst
CLICKHOUSE_ANALYST_PASSWORD=$CLICKHOUSE_ANALYST_PASSWORD
IDLINK_PSEUDONYM_KEY=$key
EOF
}
