#!/usr/bin/env bash
# Local services for running and testing the HES on one machine:
#   PostgreSQL 15 (127.0.0.1:5432, database "hes"), Redis (127.0.0.1:6379),
#   Mosquitto (127.0.0.1:1883) and the Kafka-protocol mock broker (KAFKA_BROKERS, default 127.0.0.1:9092).
#
#   scripts/local-stack.sh up              install what is missing, start what is down, wait until all answer,
#                                          then print the environment to use (eval "$(scripts/local-stack.sh up)")
#   scripts/local-stack.sh env             print that environment only
#   scripts/local-stack.sh status          one line per service; exit 1 if any is down
#   scripts/local-stack.sh restart-kafka   restart the Kafka mock (it keeps everything in memory: an empty cluster)
#   scripts/local-stack.sh down            stop the Kafka mock. PostgreSQL, Redis and Mosquitto are the machine's
#                                          shared services and are left running.
#
# Options through the environment: KAFKA_BROKERS=127.0.0.1:<port> to run the mock on another port,
# KAFKA_MOCK_BROKERS=3 for a three-broker cluster on <port>..<port>+2, HES_CACHE_DIR for where the mock is
# built and its pid/log files live (default /var/cache/hes as root), KAFKA_MOCK_PARTITION_MAX_BYTES and
# KAFKA_MOCK_PARTITION_MAX_MSGSETS for the retention per partition of a mock it starts (default 5 MiB and
# 100,000 message sets; older data is dropped).
# Progress and errors go to stderr; stdout carries only the environment.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
local_dir="$repo_root/.local"

if [[ -z "${HES_CACHE_DIR:-}" ]]; then
  if [[ "$(id -u)" == 0 ]]; then HES_CACHE_DIR=/var/cache/hes; else HES_CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/hes"; fi
fi
export HES_CACHE_DIR

pg_version=15
pg_port=5432
pg_database=hes
redis_port=6379
mqtt_port=1883
kafka_broker_count="${KAFKA_MOCK_BROKERS:-1}"
kafka_first="${KAFKA_BROKERS:-127.0.0.1:9092}"
kafka_first="${kafka_first%%,*}"
kafka_host="${kafka_first%:*}"
kafka_port="${kafka_first##*:}"
run_dir="$HES_CACHE_DIR/run"
kafka_pid_file="$run_dir/kafka-mock-$kafka_port.pid"
kafka_bootstrap_file="$run_dir/kafka-mock-$kafka_port.bootstrap"
kafka_log="$run_dir/kafka-mock-$kafka_port.log"
master_key_file="$local_dir/master.key"
wait_seconds="${HES_STACK_WAIT_SECONDS:-30}"

log() { echo "local-stack: $*" >&2; }
fail() {
  echo "local-stack: ERROR: $*" >&2
  exit 1
}

case "$kafka_host" in
  127.0.0.1 | localhost) ;;
  *) fail "KAFKA_BROKERS: the local mock listens on 127.0.0.1 only, got host '$kafka_host'" ;;
esac
[[ "$kafka_port" =~ ^[0-9]+$ ]] || fail "KAFKA_BROKERS: '$kafka_first' is not host:port"
[[ "$kafka_broker_count" == 1 || "$kafka_broker_count" == 3 ]] || fail "KAFKA_MOCK_BROKERS: must be 1 or 3, got '$kafka_broker_count'"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for <description> <seconds> <command...>: polls every 0.1 s.
wait_for() {
  local what="$1" seconds="$2"
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

# Installs Debian packages when one of the commands is missing (needs root).
ensure_packages() {
  local missing=() pkg cmd
  while (($#)); do
    cmd="$1" pkg="$2"
    shift 2
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  [[ "$(id -u)" == 0 ]] || fail "missing packages ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root"
  log "installing ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2; then
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  fi
}

pg_bin() { echo "/usr/lib/postgresql/$pg_version/bin"; }
pg_ready() { pg_isready -q -h 127.0.0.1 -p "$pg_port"; }
psql_admin() { psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

ensure_postgres() {
  if ! pg_ready 2>/dev/null; then
    ensure_packages pg_ctlcluster postgresql "$(pg_bin)/postgres" "postgresql-$pg_version"
    if [[ ! -d "/etc/postgresql/$pg_version/main" ]]; then
      pg_createcluster "$pg_version" main >&2
    fi
    log "starting PostgreSQL $pg_version"
    pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start >&2 ||
      fail "PostgreSQL did not start; see /var/log/postgresql/postgresql-$pg_version-main.log"
    wait_for PostgreSQL "$wait_seconds" pg_ready ||
      fail "PostgreSQL is not accepting connections on 127.0.0.1:$pg_port after ${wait_seconds}s; see /var/log/postgresql/postgresql-$pg_version-main.log"
  fi
  if ! psql_admin -tAc 'select 1' >/dev/null 2>&1; then
    fail "PostgreSQL on 127.0.0.1:$pg_port does not let user postgres in without a password; local runs expect 'host all all 127.0.0.1/32 trust' in /etc/postgresql/$pg_version/main/pg_hba.conf"
  fi
  if [[ "$(psql_admin -tAc "select 1 from pg_database where datname = '$pg_database'")" != 1 ]]; then
    log "creating database $pg_database"
    psql_admin -c "create database $pg_database" >/dev/null 2>&1 ||
      [[ "$(psql_admin -tAc "select 1 from pg_database where datname = '$pg_database'")" == 1 ]] ||
      fail "could not create database $pg_database"
  fi
}

redis_ready() { [[ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" == PONG ]]; }

ensure_redis() {
  redis_ready && return 0
  ensure_packages redis-server redis-server redis-cli redis-tools
  port_open "$redis_port" && fail "port $redis_port is taken by something that does not answer Redis PING"
  log "starting Redis"
  mkdir -p "$local_dir/redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
    --dir "$local_dir/redis" --logfile "$local_dir/redis/redis.log" >&2
  wait_for Redis "$wait_seconds" redis_ready ||
    fail "Redis does not answer on 127.0.0.1:$redis_port after ${wait_seconds}s; see $local_dir/redis/redis.log"
}

mqtt_ready() { port_open "$mqtt_port"; }

ensure_mosquitto() {
  mqtt_ready && return 0
  ensure_packages mosquitto mosquitto
  log "starting Mosquitto"
  mkdir -p "$local_dir/mosquitto"
  cat >"$local_dir/mosquitto/mosquitto.conf" <<EOF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence false
log_dest file $local_dir/mosquitto/mosquitto.log
EOF
  mosquitto -d -c "$local_dir/mosquitto/mosquitto.conf"
  wait_for Mosquitto "$wait_seconds" mqtt_ready ||
    fail "Mosquitto does not listen on 127.0.0.1:$mqtt_port after ${wait_seconds}s; see $local_dir/mosquitto/mosquitto.log"
}

kafka_pid() {
  [[ -f "$kafka_pid_file" ]] || return 1
  local pid
  pid="$(cat "$kafka_pid_file" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}
kafka_ready() { kafka_pid >/dev/null && [[ -s "$kafka_bootstrap_file" ]] && port_open "$kafka_port"; }

start_kafka() {
  ensure_packages gcc build-essential make build-essential patch patch dpkg-source dpkg-dev
  local launcher port
  launcher="$(bash "$repo_root/scripts/kafka-mock/build.sh")"
  for ((port = kafka_port; port < kafka_port + kafka_broker_count; port++)); do
    if port_open "$port"; then
      fail "port $port is already in use by another process ($(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'users:.*' || echo unknown)); choose another with KAFKA_BROKERS=127.0.0.1:<port>"
    fi
  done
  mkdir -p "$run_dir"
  rm -f "$kafka_bootstrap_file"
  log "starting Kafka mock ($kafka_broker_count broker(s) from 127.0.0.1:$kafka_port)"
  setsid "$launcher" --brokers "$kafka_broker_count" --port "$kafka_port" \
    --pid-file "$kafka_pid_file" --bootstrap-file "$kafka_bootstrap_file" \
    >"$kafka_log" 2>&1 </dev/null &
  wait_for "Kafka mock" "$wait_seconds" kafka_ready ||
    fail "Kafka mock is not listening on 127.0.0.1:$kafka_port after ${wait_seconds}s; see $kafka_log"
}

stop_kafka() {
  local pid
  if pid="$(kafka_pid)"; then
    log "stopping Kafka mock (pid $pid)"
    kill -TERM "$pid"
    if ! wait_for "Kafka mock exit" 10 bash -c "! kill -0 $pid 2>/dev/null"; then
      log "Kafka mock (pid $pid) ignored SIGTERM for 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$kafka_pid_file" "$kafka_bootstrap_file"
}

ensure_kafka() {
  kafka_ready && return 0
  stop_kafka
  start_kafka
}

ensure_master_key() {
  [[ -s "$master_key_file" ]] && return 0
  mkdir -p "$local_dir"
  log "generating a local master key in $master_key_file"
  (
    umask 077
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$master_key_file.tmp"
  )
  mv "$master_key_file.tmp" "$master_key_file"
}

print_env() {
  local brokers
  if [[ -s "$kafka_bootstrap_file" ]]; then brokers="$(cat "$kafka_bootstrap_file")"; else brokers="$kafka_first"; fi
  cat <<EOF
export KAFKA_BROKERS=$brokers
export DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/$pg_database
export REDIS_URL=redis://127.0.0.1:$redis_port
export MQTT_URL=mqtt://127.0.0.1:$mqtt_port
export HES_MASTER_KEY_FILE=$master_key_file
EOF
}

status() {
  local down=0 pid
  if pg_ready 2>/dev/null; then echo "postgresql  up    127.0.0.1:$pg_port"; else echo "postgresql  DOWN  127.0.0.1:$pg_port"; down=1; fi
  if redis_ready; then echo "redis       up    127.0.0.1:$redis_port"; else echo "redis       DOWN  127.0.0.1:$redis_port"; down=1; fi
  if mqtt_ready; then echo "mosquitto   up    127.0.0.1:$mqtt_port"; else echo "mosquitto   DOWN  127.0.0.1:$mqtt_port"; down=1; fi
  if kafka_ready; then
    pid="$(kafka_pid)"
    echo "kafka-mock  up    $(cat "$kafka_bootstrap_file") (pid $pid, log $kafka_log)"
  else
    echo "kafka-mock  DOWN  127.0.0.1:$kafka_port"
    down=1
  fi
  return "$down"
}

command="${1:-}"
case "$command" in
  up)
    ensure_postgres
    ensure_redis
    ensure_mosquitto
    ensure_kafka
    ensure_master_key
    print_env
    ;;
  env) print_env ;;
  status) status ;;
  restart-kafka)
    stop_kafka
    start_kafka
    print_env
    ;;
  down) stop_kafka ;;
  *)
    echo "usage: $0 up|env|status|restart-kafka|down" >&2
    exit 2
    ;;
esac
