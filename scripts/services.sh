#!/usr/bin/env bash
# Local services for Helios tests, on 127.0.0.1: PostgreSQL, Redis, Kafka (KRaft).
#
#   scripts/services.sh up     [postgres|redis|kafka ...]   install if missing, start, wait until ready
#   scripts/services.sh down   [postgres|redis|kafka ...]   stop what this script started
#   scripts/services.sh status [postgres|redis|kafka ...]   one line per service; exit 1 if any is down
#
# Without service names, all three. `up` is idempotent: a running service is left alone.
# `down` only stops processes recorded in the state dir and exits 0 if nothing was running.
#
# Environment (defaults):
#   HELIOS_STATE_DIR              $REPO/.services   data, configs, pid and log files
#   HELIOS_CACHE_DIR              $HOME/.cache/helios   Kafka jars (kafka-<version>/libs)
#   HELIOS_PG_PORT                5432
#   HELIOS_REDIS_PORT             6379
#   HELIOS_KAFKA_PORT             9092
#   HELIOS_KAFKA_CONTROLLER_PORT  9093
#   HELIOS_PYTHON                 $REPO/.venv/bin/python if present, else python3
#                                 (Kafka readiness uses confluent_kafka from it when importable,
#                                 otherwise a TCP connect check)
#   HELIOS_KAFKA_READY_TIMEOUT    120 (seconds)
#
# Clients:  postgresql://helios:helios@127.0.0.1:5432/helios  (role has CREATEDB)
#           redis://127.0.0.1:6379/0      127.0.0.1:9092 (Kafka bootstrap)
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$SCRIPT_DIR/.." && pwd -P)
KAFKA_TEMPLATE_DIR=$SCRIPT_DIR/kafka

HOST=127.0.0.1
STATE_DIR=${HELIOS_STATE_DIR:-$REPO/.services}
CACHE_DIR=${HELIOS_CACHE_DIR:-$HOME/.cache/helios}
PG_PORT=${HELIOS_PG_PORT:-5432}
REDIS_PORT=${HELIOS_REDIS_PORT:-6379}
KAFKA_PORT=${HELIOS_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${HELIOS_KAFKA_CONTROLLER_PORT:-9093}
KAFKA_READY_TIMEOUT=${HELIOS_KAFKA_READY_TIMEOUT:-120}
ALL_SERVICES=(postgres redis kafka)

# PostgreSQL: our own cluster (not Debian's pg_ctlcluster one), so `down` touches nothing else.
PG_USER=helios PG_PASSWORD=helios PG_DB=helios
PG_HOME_POINTER=$STATE_DIR/postgres.home # records where the cluster lives (see pg_choose_home)

REDIS_DIR=$STATE_DIR/redis
REDIS_PID=$REDIS_DIR/redis.pid
REDIS_LOG=$REDIS_DIR/redis.log

KAFKA_DIR=$STATE_DIR/kafka
KAFKA_DATA=$KAFKA_DIR/data
KAFKA_CFG=$KAFKA_DIR/server.properties
KAFKA_PID=$KAFKA_DIR/broker.pid
KAFKA_LOG=$KAFKA_DIR/broker.log
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_TEMPLATE_DIR/pom.xml")
KAFKA_LIBS_HOME=$CACHE_DIR/kafka-$KAFKA_VERSION
KAFKA_LIBS=$KAFKA_LIBS_HOME/libs

# ---------------------------------------------------------------- helpers

log() { printf '[services] %s\n' "$*"; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }
secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); } # ms -> "12.3"

is_root() { [[ $EUID -eq 0 ]]; }

as_root() {
  if is_root; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
  else die "need root to run: $*"
  fi
}

# TCP connect check.
port_open() { timeout 2 bash -c ': </dev/tcp/$0/$1' "$HOST" "$1" 2>/dev/null; }

# Print the pid from a pid file if that process is alive and its command line
# contains $2 (guards against a recycled pid); fail otherwise.
live_pid() {
  local pidfile=$1 pattern=$2 pid
  [[ -r $pidfile ]] || return 1
  pid=$(head -n1 "$pidfile" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern" || return 1
  echo "$pid"
}

# SIGTERM, wait up to $2 seconds, then SIGKILL.
stop_pid() {
  local pid=$1 wait_s=$2 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < wait_s * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "pid $pid did not stop in ${wait_s}s, killing"
  kill -KILL "$pid" 2>/dev/null || true
}

# Install missing Debian packages: one `apt-get update`, one `apt-get install`.
# A temporary policy-rc.d keeps the packages' postinst from starting the
# system-wide postgresql/redis-server services on our ports.
apt_install() {
  command -v apt-get >/dev/null || die "missing $*; install them (no apt-get here)"
  log "installing Debian packages: $* (log: $STATE_DIR/apt.log)"
  mkdir -p "$STATE_DIR"
  as_root env DEBIAN_FRONTEND=noninteractive bash -euo pipefail -c '
    policy=/usr/sbin/policy-rc.d
    if [[ ! -e $policy ]]; then
      printf "#!/bin/sh\nexit 101\n" >"$policy" && chmod 755 "$policy"
      trap "rm -f $policy" EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@"
  ' apt_install "$@" >"$STATE_DIR/apt.log" 2>&1 || { tail -n 30 "$STATE_DIR/apt.log" >&2; die "apt-get install $* failed"; }
}

pg_bindir_any() { # newest installed PostgreSQL server
  local d
  d=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n1)
  [[ -n $d ]] && dirname "$d"
}

ensure_packages() {
  local missing=() svc
  for svc in "$@"; do
    case $svc in
      postgres) pg_bindir_any >/dev/null || missing+=(postgresql) ;;
      redis) command -v redis-server >/dev/null || missing+=(redis-server) ;;
      kafka)
        command -v java >/dev/null || die "java (17+) not found"
        [[ -d $KAFKA_LIBS && -f $KAFKA_LIBS_HOME/.complete ]] || command -v mvn >/dev/null || die "mvn not found"
        ;;
    esac
  done
  if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
}

# ---------------------------------------------------------------- PostgreSQL

as_pg() { # run as the cluster owner (initdb/postgres refuse to run as root)
  if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_superuser() { if is_root; then echo postgres; else id -un; fi; }

# The cluster lives in $STATE_DIR/postgres, owned by the postgres user. If that
# user cannot reach it (e.g. a clone under /root, mode 0700), fall back to a
# directory under postgres' home; the choice is recorded in $PG_HOME_POINTER.
pg_choose_home() {
  local home=$STATE_DIR/postgres
  mkdir -p "$home"
  if is_root; then
    chown postgres: "$home"
    if ! runuser -u postgres -- test -w "$home"; then
      home=/var/lib/postgresql/helios/$(printf '%s' "$STATE_DIR" | sha1sum | cut -c1-12)
      log "postgres user cannot reach $STATE_DIR/postgres; using $home"
      mkdir -p "$home" && chown postgres: "$home" "$(dirname "$home")"
    fi
  fi
  echo "$home" >"$PG_HOME_POINTER"
}

pg_vars() { # sets PG_HOME PGDATA PG_LOG PG_SOCKDIR
  PG_HOME=$STATE_DIR/postgres
  [[ -r $PG_HOME_POINTER ]] && PG_HOME=$(<"$PG_HOME_POINTER")
  PGDATA=$PG_HOME/data
  PG_LOG=$PG_HOME/postgres.log
  PG_SOCKDIR=$PG_HOME # unix socket path must stay under 108 bytes
  ((${#PG_SOCKDIR} < 90)) || PG_SOCKDIR=/tmp
}

pg_bindir() { # the server version that created the cluster, else the newest
  local v
  if [[ -r $PGDATA/PG_VERSION ]]; then
    v=$(<"$PGDATA/PG_VERSION")
    [[ -x /usr/lib/postgresql/$v/bin/postgres ]] || die "cluster $PGDATA is PostgreSQL $v, not installed; remove it to recreate"
    echo "/usr/lib/postgresql/$v/bin"
  else
    pg_bindir_any || die "PostgreSQL server not installed"
  fi
}

pg_pid() { # postmaster pid if our cluster runs
  pg_vars
  [[ -r $PGDATA/postmaster.pid ]] || return 1
  live_pid "$PGDATA/postmaster.pid" "$PGDATA"
}

pg_can_login() {
  PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=3 psql -X -q -tA -h "$HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" \
    -c 'select 1' >/dev/null 2>&1
}

pg_up() {
  local bindir running_port
  if pg_pid >/dev/null; then
    running_port=$(sed -n 4p "$PGDATA/postmaster.pid")
    [[ $running_port == "$PG_PORT" ]] ||
      die "postgres: our cluster runs on port $running_port, not $PG_PORT; run '$0 down postgres' first"
  fi
  if pg_pid >/dev/null && port_open "$PG_PORT"; then
    log "postgres: already running (pid $(pg_pid))"
    return
  fi
  if ! pg_pid >/dev/null && port_open "$PG_PORT"; then
    if pg_can_login; then
      log "postgres: something else on $HOST:$PG_PORT accepts helios/helios; using it (not managed here)"
      return
    fi
    die "postgres: port $PG_PORT is taken by another server; stop it or set HELIOS_PG_PORT"
  fi
  pg_choose_home
  pg_vars
  bindir=$(pg_bindir)
  if [[ ! -f $PGDATA/PG_VERSION ]]; then
    log "postgres: initdb $PGDATA"
    as_pg "$bindir/initdb" -D "$PGDATA" -U "$(pg_superuser)" --auth-local=peer --auth-host=scram-sha-256 \
      --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    echo "include_if_exists = 'helios.conf'" | as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null
  fi
  # Rewritten on every start so port changes apply. Test data only: no fsync.
  as_pg tee "$PGDATA/helios.conf" >/dev/null <<EOF
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKDIR'
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  log "postgres: starting on $HOST:$PG_PORT"
  if ! as_pg "$bindir/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 start >/dev/null 9>&-; then
    tail -n 30 "$PG_LOG" >&2 || true
    die "postgres failed to start (log: $PG_LOG)"
  fi
  as_pg "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -p "$PG_PORT" -U "$(pg_superuser)" -d postgres <<EOF
SELECT format('CREATE ROLE %I', '$PG_USER') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_USER')
\gexec
ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
SELECT format('CREATE DATABASE %I OWNER %I', '$PG_DB', '$PG_USER')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$PG_DB')
\gexec
EOF
  pg_can_login || die "postgres: cannot log in as $PG_USER (log: $PG_LOG)"
  log "postgres: ready (pid $(pg_pid))"
}

pg_down() {
  if ! pg_pid >/dev/null; then log "postgres: not running"; return; fi
  log "postgres: stopping (pid $(pg_pid))"
  as_pg "$(pg_bindir)/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
}

pg_status() {
  local pid
  pg_vars
  if pid=$(pg_pid) && port_open "$PG_PORT"; then status_line postgres up "$PG_PORT" "$pid" "$PG_LOG"
  elif [[ -z ${pid:-} ]] && pg_can_login; then status_line postgres "up (external)" "$PG_PORT" - -
  else status_line postgres down "$PG_PORT" "${pid:--}" "$PG_LOG"; return 1
  fi
}

# ---------------------------------------------------------------- Redis

redis_ping() { # RESP PING over /dev/tcp; no redis-cli needed
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "PING\r\n" >&3 && IFS= read -r l <&3 && [[ $l == +PONG* ]]' \
    "$HOST" "$REDIS_PORT" 2>/dev/null
}

redis_pid() { live_pid "$REDIS_PID" redis-server; }

redis_up() {
  local i pid
  if pid=$(redis_pid) && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF ":$REDIS_PORT"; then
    die "redis: ours (pid $pid) runs on another port than $REDIS_PORT; run '$0 down redis' first"
  fi
  if redis_pid >/dev/null && redis_ping; then
    log "redis: already running (pid $(redis_pid))"
    return
  fi
  if ! redis_pid >/dev/null && port_open "$REDIS_PORT"; then
    if redis_ping; then
      log "redis: something else on $HOST:$REDIS_PORT answers PING; using it (not managed here)"
      return
    fi
    die "redis: port $REDIS_PORT is taken by something that is not Redis; set HELIOS_REDIS_PORT"
  fi
  mkdir -p "$REDIS_DIR"
  rm -f "$REDIS_PID"
  log "redis: starting on $HOST:$REDIS_PORT"
  redis-server --bind "$HOST" --port "$REDIS_PORT" --daemonize yes --pidfile "$REDIS_PID" \
    --logfile "$REDIS_LOG" --dir "$REDIS_DIR" --save '' --appendonly no >/dev/null 9>&-
  for ((i = 0; i < 100; i++)); do
    redis_pid >/dev/null && redis_ping && break
    sleep 0.1
  done
  redis_ping || { tail -n 20 "$REDIS_LOG" >&2 || true; die "redis did not start (log: $REDIS_LOG)"; }
  log "redis: ready (pid $(redis_pid))"
}

redis_down() {
  local pid
  if ! pid=$(redis_pid); then log "redis: not running"; rm -f "$REDIS_PID"; return; fi
  log "redis: stopping (pid $pid)"
  stop_pid "$pid" 30
  rm -f "$REDIS_PID"
}

redis_status() {
  local pid
  if pid=$(redis_pid) && redis_ping; then status_line redis up "$REDIS_PORT" "$pid" "$REDIS_LOG"
  elif [[ -z ${pid:-} ]] && redis_ping; then status_line redis "up (external)" "$REDIS_PORT" - -
  else status_line redis down "$REDIS_PORT" "${pid:--}" "$REDIS_LOG"; return 1
  fi
}

# ---------------------------------------------------------------- Kafka

kafka_pid() { live_pid "$KAFKA_PID" "kafka.Kafka $KAFKA_CFG"; }

kafka_python() {
  if [[ -n ${HELIOS_PYTHON:-} ]]; then echo "$HELIOS_PYTHON"
  elif [[ -x $REPO/.venv/bin/python ]]; then echo "$REPO/.venv/bin/python"
  else echo python3
  fi
}

# Resolve the broker classpath from Maven Central into the cache, once per POM content.
kafka_fetch_jars() {
  local stamp tmp t0
  stamp=$(sha256sum <"$KAFKA_TEMPLATE_DIR/pom.xml" | cut -d' ' -f1)
  if [[ -d $KAFKA_LIBS && $(cat "$KAFKA_LIBS_HOME/.complete" 2>/dev/null) == "$stamp" ]]; then
    return
  fi
  log "kafka: resolving Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_LIBS"
  t0=$(now_ms)
  mkdir -p "$KAFKA_LIBS_HOME"
  tmp=$(mktemp -d "$KAFKA_LIBS_HOME/libs.tmp.XXXXXX")
  # Name the 3.x plugin explicitly: Maven 3.8 would pick maven-dependency-plugin 2.8.
  if ! mvn -B -q -f "$KAFKA_TEMPLATE_DIR/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$KAFKA_LIBS_HOME/mvn.log" 2>&1; then
    rm -rf "$tmp"
    tail -n 30 "$KAFKA_LIBS_HOME/mvn.log" >&2
    die "kafka: mvn copy-dependencies failed (log: $KAFKA_LIBS_HOME/mvn.log)"
  fi
  rm -rf "$KAFKA_LIBS" && mv "$tmp" "$KAFKA_LIBS"
  echo "$stamp" >"$KAFKA_LIBS_HOME/.complete"
  log "kafka: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars resolved in $(secs $(($(now_ms) - t0))) s"
}

kafka_cluster_id() { # 22-char base64url like Uuid.toString(); never starts with '-'
  local id
  if [[ ! -s $KAFKA_DIR/cluster.id ]]; then
    id=$(python3 -c 'import base64, uuid
while (s := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(s)')
    echo "$id" >"$KAFKA_DIR/cluster.id"
  fi
  cat "$KAFKA_DIR/cluster.id"
}

kafka_java_opts() {
  printf '%s\n' -Djava.awt.headless=true -XX:+ExitOnOutOfMemoryError \
    "-Dlog4j2.configurationFile=$KAFKA_TEMPLATE_DIR/log4j2.properties" "-Dkafka.logs.dir=$KAFKA_DIR"
}

# Wait until the broker answers Kafka's protocol (confluent_kafka) or, without
# it, accepts TCP connections (the broker opens its port only once unfenced).
# Returns 0 ready, 1 timeout, 2 process died.
kafka_wait_ready() {
  local pid=$1 py deadline
  py=$(kafka_python)
  if "$py" -c 'import confluent_kafka' 2>/dev/null; then
    log "kafka: waiting for AdminClient.list_topics() via $py"
    "$py" - "$HOST:$KAFKA_PORT" "$pid" "$KAFKA_READY_TIMEOUT" <<'EOF' && return 0 || return $?
import logging, os, sys, time
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
bootstrap, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
quiet = logging.getLogger("helios.services.kafka")
quiet.addHandler(logging.NullHandler()); quiet.propagate = False
admin = AdminClient({"bootstrap.servers": bootstrap, "reconnect.backoff.ms": 50,
                     "reconnect.backoff.max.ms": 500, "socket.connection.setup.timeout.ms": 1000,
                     "logger": quiet})
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(2)
    try:
        if admin.list_topics(timeout=2).brokers:
            sys.exit(0)
    except KafkaException:
        pass
    time.sleep(0.1)
sys.exit(1)
EOF
  fi
  log "kafka: confluent_kafka not importable by $py; waiting for a TCP connect on $KAFKA_PORT"
  deadline=$((SECONDS + KAFKA_READY_TIMEOUT))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || return 2
    port_open "$KAFKA_PORT" && return 0
    sleep 0.2
  done
  return 1
}

KAFKA_FORMAT_MS= KAFKA_READY_MS= # set by kafka_up when it started the broker
kafka_up() {
  local pid id signature t0 rc=0 java_opts p
  if kafka_pid >/dev/null && ! grep -qxF "listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT" "$KAFKA_CFG"; then
    die "kafka: our broker runs with other ports than $KAFKA_PORT/$KAFKA_CONTROLLER_PORT; run '$0 down kafka' first"
  fi
  if pid=$(kafka_pid) && port_open "$KAFKA_PORT"; then
    log "kafka: already running (pid $pid)"
    return
  fi
  if [[ -z ${pid:-} ]]; then
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
      ! port_open "$p" || die "kafka: port $p is taken by another process; set HELIOS_KAFKA_PORT / HELIOS_KAFKA_CONTROLLER_PORT"
    done
    kafka_fetch_jars
    mkdir -p "$KAFKA_DIR"
    sed -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" \
      -e "s|@LOG_DIRS@|$KAFKA_DATA|g" "$KAFKA_TEMPLATE_DIR/server.properties.in" >"$KAFKA_CFG"
    # The quorum's voter endpoint is written at format time: reformat (test data, gone) if it changed.
    signature="kafka=$KAFKA_VERSION controller=$HOST:$KAFKA_CONTROLLER_PORT"
    if [[ -d $KAFKA_DATA && $(cat "$KAFKA_DIR/format.signature" 2>/dev/null) != "$signature" ]]; then
      log "kafka: controller endpoint or version changed; wiping $KAFKA_DATA"
      rm -rf "$KAFKA_DATA"
    fi
    id=$(kafka_cluster_id)
    mapfile -t java_opts < <(kafka_java_opts)
    t0=$(now_ms)
    if ! java -Xmx256m -XX:TieredStopAtLevel=1 "${java_opts[@]}" -cp "$KAFKA_LIBS/*" \
      kafka.tools.StorageTool format --standalone -t "$id" -c "$KAFKA_CFG" --ignore-formatted >>"$KAFKA_LOG" 2>&1; then
      tail -n 30 "$KAFKA_LOG" >&2
      die "kafka: storage format failed (log: $KAFKA_LOG)"
    fi
    echo "$signature" >"$KAFKA_DIR/format.signature"
    KAFKA_FORMAT_MS=$(($(now_ms) - t0))

    log "kafka: starting Kafka $KAFKA_VERSION on $HOST:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT), log $KAFKA_LOG"
    t0=$(now_ms)
    (
      cd "$KAFKA_DIR"
      exec setsid nohup java -Xms512m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 \
        "${java_opts[@]}" -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_CFG" >>"$KAFKA_LOG" 2>&1 </dev/null 9>&-
    ) &
    pid=$!
    echo "$pid" >"$KAFKA_PID"
  else
    log "kafka: pid $pid is running but port $KAFKA_PORT is not open yet; waiting"
    t0=$(now_ms)
  fi
  kafka_wait_ready "$pid" || rc=$?
  if ((rc != 0)); then
    if ((rc == 2)); then
      log "kafka: broker process exited"
    else
      log "kafka: not ready after ${KAFKA_READY_TIMEOUT}s; stopping it"
      stop_pid "$pid" 30
    fi
    rm -f "$KAFKA_PID"
    echo "---- tail of $KAFKA_LOG" >&2
    tail -n 40 "$KAFKA_LOG" >&2
    die "kafka failed to start"
  fi
  KAFKA_READY_MS=$(($(now_ms) - t0))
  log "kafka: ready (pid $pid) after $(secs "$KAFKA_READY_MS") s"
}

kafka_down() {
  local pid
  if ! pid=$(kafka_pid); then log "kafka: not running"; rm -f "$KAFKA_PID"; return; fi
  log "kafka: stopping (pid $pid)"
  stop_pid "$pid" 60 # SIGTERM: a clean (not controlled, see the template) shutdown
  rm -f "$KAFKA_PID"
}

kafka_status() {
  local pid
  if pid=$(kafka_pid) && port_open "$KAFKA_PORT"; then status_line kafka up "$KAFKA_PORT" "$pid" "$KAFKA_LOG"
  else status_line kafka down "$KAFKA_PORT" "${pid:--}" "$KAFKA_LOG"; return 1
  fi
}

# ---------------------------------------------------------------- commands

status_line() { # name state port pid log
  printf '%-9s %-14s %s:%-6s pid %-8s log %s\n' "$1" "$2" "$HOST" "$3" "$4" "$5"
}

# Serialise concurrent up/down. Daemons are started with 9>&- so they do not inherit the lock.
lock_state_dir() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  flock -w 300 9 || die "another services.sh holds $STATE_DIR/.lock"
}

cmd_up() {
  local t0 svc
  t0=$(now_ms)
  lock_state_dir
  ensure_packages "$@"
  for svc in "$@"; do "${svc/postgres/pg}_up"; done
  echo
  if [[ -n $KAFKA_READY_MS ]]; then
    log "kafka broker start -> ready: $(secs "$KAFKA_READY_MS") s (storage format before that: $(secs "${KAFKA_FORMAT_MS:-0}") s)"
  fi
  log "up done in $(secs $(($(now_ms) - t0))) s"
  echo "DATABASE_URL=postgresql://$PG_USER:$PG_PASSWORD@$HOST:$PG_PORT/$PG_DB"
  echo "REDIS_URL=redis://$HOST:$REDIS_PORT/0"
  echo "KAFKA_BOOTSTRAP_SERVERS=$HOST:$KAFKA_PORT"
}

cmd_down() {
  local svc i
  lock_state_dir
  for ((i = $# ; i > 0; i--)); do # reverse order
    svc=${!i}
    "${svc/postgres/pg}_down"
  done
}

cmd_status() {
  local svc rc=0
  for svc in "$@"; do "${svc/postgres/pg}_status" || rc=1; done
  return "$rc"
}

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
  exit 2
}

main() {
  (($#)) || usage
  local cmd=$1 svc
  shift
  (($#)) || set -- "${ALL_SERVICES[@]}"
  for svc in "$@"; do
    [[ " ${ALL_SERVICES[*]} " == *" $svc "* ]] || die "unknown service '$svc' (one of: ${ALL_SERVICES[*]})"
  done
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
