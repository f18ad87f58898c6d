# shellcheck shell=bash
# Shared helpers for the local stack scripts (up/down/reset/restart).
# Sourced, not executed. Everything runs on loopback, as our own daemons
# (never the distro's system services), with all state under $STACK_DIR.
#
# Layout:
#   $STACK_DIR (default <repo>/.stack, git-ignored; deleted by reset)
#     idlink.env                 settings for idlink (see CONTRACT.md section 5)
#     kafka/{server.properties,kafka.log,kafka.pid,data/}
#     redis/{redis.conf,redis.log,redis.pid,appendonly...,dump.rdb}
#     clickhouse/{config.xml,users.xml,clickhouse.pid,data/,tmp/,log/}
#   $CACHE_DIR (default <repo>/.cache, git-ignored; kept by reset)
#     kafka/<version>/libs/*.jar  Kafka jars fetched by Maven (a re-download
#                                 is slow, and they are not "data")

# Ports (fixed: CONTRACT.md section 5 defaults).
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
REDIS_PORT=6379
CLICKHOUSE_TCP_PORT=9000
CLICKHOUSE_HTTP_PORT=8123
HOST=127.0.0.1

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

# Single source of truth for the Kafka version: compose/kafka/pom.xml.
KAFKA_POM=$COMPOSE_DIR/kafka/pom.xml
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM")
KAFKA_LIBS=$CACHE_DIR/kafka/$KAFKA_VERSION/libs

KAFKA_DIR=$STACK_DIR/kafka
REDIS_DIR=$STACK_DIR/redis
CH_DIR=$STACK_DIR/clickhouse

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] ERROR: %s\n' "$*" >&2; exit 1; }

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

kafka_configure() {
  mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<EOF
# Generated by compose/up.sh; edits are overwritten.
# Single-node KRaft (combined broker + controller) for local development.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
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
  # Format the storage once (fixed cluster id); kept across down/up.
  if [ ! -f "$KAFKA_DIR/data/meta.properties" ]; then
    log "kafka: formatting storage (cluster id $KAFKA_CLUSTER_ID)"
    if ! kafka_tool kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" \
        -c "$KAFKA_DIR/server.properties" >"$KAFKA_DIR/format.log" 2>&1; then
      cat "$KAFKA_DIR/format.log" >&2
      die "kafka: storage format failed"
    fi
  fi
}

kafka_start() {
  if pid_of kafka >/dev/null; then return 0; fi
  if port_open "$KAFKA_PORT"; then
    log "kafka: something else already answers on $HOST:$KAFKA_PORT; leaving it alone"
    return 0
  fi
  kafka_fetch
  kafka_configure
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
}

# Ready = port open and, if we started it, the broker logged that it started.
kafka_ready() {
  port_open "$KAFKA_PORT" || return 1
  if pid_of kafka >/dev/null && [ -f "$KAFKA_DIR/kafka.log" ]; then
    grep -q 'Kafka Server started' "$KAFKA_DIR/kafka.log"
  fi
}
kafka_logfile() { echo "$KAFKA_DIR/kafka.log"; }

# ------------------------------------------------------------------- redis --

redis_configure() {
  mkdir -p "$REDIS_DIR"
  cat >"$REDIS_DIR/redis.conf" <<EOF
# Generated by compose/up.sh; edits are overwritten.
bind $HOST
port $REDIS_PORT
protected-mode yes
daemonize yes
pidfile $REDIS_DIR/redis.pid
logfile $REDIS_DIR/redis.log
dir $REDIS_DIR
appendonly yes
appendfsync everysec
save 3600 1 300 100 60 10000
EOF
}

redis_start() {
  if pid_of redis >/dev/null; then return 0; fi
  if port_open "$REDIS_PORT"; then
    log "redis: something else already answers on $HOST:$REDIS_PORT; leaving it alone"
    return 0
  fi
  redis_configure
  redis-server "$REDIS_DIR/redis.conf" </dev/null >>"$REDIS_DIR/redis.log" 2>&1 9>&- ||
    { tail -n 20 "$REDIS_DIR/redis.log" >&2; die "redis: failed to start"; }
}

redis_ready() { [ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
redis_logfile() { echo "$REDIS_DIR/redis.log"; }

# -------------------------------------------------------------- clickhouse --

# ClickHouse 18.16 (Debian) runs fine as root; its data lives under $CH_DIR.
clickhouse_configure() {
  mkdir -p "$CH_DIR"/{data,tmp,log,user_files,format_schemas}
  cat >"$CH_DIR/config.xml" <<EOF
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
    <http_port>$CLICKHOUSE_HTTP_PORT</http_port>
    <tcp_port>$CLICKHOUSE_TCP_PORT</tcp_port>
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
  cat >"$CH_DIR/users.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by compose/up.sh. User "default", no password, loopback only. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
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

clickhouse_start() {
  if pid_of clickhouse >/dev/null; then return 0; fi
  if port_open "$CLICKHOUSE_TCP_PORT" || port_open "$CLICKHOUSE_HTTP_PORT"; then
    log "clickhouse: something else already answers on $HOST:$CLICKHOUSE_TCP_PORT/$CLICKHOUSE_HTTP_PORT; leaving it alone"
    return 0
  fi
  clickhouse_configure
  # --daemon forks; the server writes its own pidfile.
  (cd "$CH_DIR" && clickhouse-server --daemon --config-file="$CH_DIR/config.xml" \
    --pid-file="$CH_DIR/clickhouse.pid" </dev/null >>"$CH_DIR/log/stdout.log" 2>&1 9>&-) ||
    { tail -n 20 "$CH_DIR/log/stdout.log" >&2; die "clickhouse: failed to start"; }
}

clickhouse_ready() { [ "$(curl -fsS --max-time 2 "http://$HOST:$CLICKHOUSE_HTTP_PORT/ping" 2>/dev/null)" = Ok. ]; }
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
    kafka) echo "kafka       ready  $HOST:$KAFKA_PORT (KRaft, controller $HOST:$KAFKA_CONTROLLER_PORT, Kafka $KAFKA_VERSION)" ;;
    redis) echo "redis       ready  redis://$HOST:$REDIS_PORT/0" ;;
    clickhouse) echo "clickhouse  ready  $HOST:$CLICKHOUSE_TCP_PORT (native), http://$HOST:$CLICKHOUSE_HTTP_PORT" ;;
  esac
}

start_service() { "${1}_start"; }

# --------------------------------------------------------------- idlink.env --

# Write $STACK_DIR/idlink.env; the pseudonym key is generated once and kept.
write_env() {
  local f=$STACK_DIR/idlink.env key=
  if [ -f "$f" ]; then
    key=$(sed -n 's/^IDLINK_PSEUDONYM_KEY=//p' "$f" | head -n 1)
  fi
  [ -n "$key" ] || key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
  umask 077
  cat >"$f.tmp" <<EOF
# Written by compose/up.sh (make up). Variables already set in the environment win.
KAFKA_BROKERS=$HOST:$KAFKA_PORT
REDIS_URL=redis://$HOST:$REDIS_PORT/0
CLICKHOUSE_ADDR=$HOST:$CLICKHOUSE_TCP_PORT
IDLINK_PSEUDONYM_KEY=$key
EOF
  mv -f "$f.tmp" "$f"
}
