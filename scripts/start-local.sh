#!/usr/bin/env bash
# `npm run start:local`: from a fresh clone to a running system on this machine.
#   1. npm ci when node_modules is missing;
#   2. scripts/local-stack.sh up (PostgreSQL, Redis, Mosquitto, Kafka mock) and its environment;
#   3. npm run build;
#   4. every step in scripts/start-local.d/*.sh, in name order.
# Steps are sourced, so they see the environment and can call start_service to run a long-lived process in the
# background (log in .local/logs/<name>.log). When any service was started, this script stays in the foreground
# until Ctrl-C or until one service exits, and then stops them all.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
export HES_LOCAL_DIR="$repo_root/.local"
mkdir -p "$HES_LOCAL_DIR/logs"

log() { echo "start-local: $*" >&2; }

if [[ ! -d node_modules ]]; then
  log "installing dependencies (npm ci)"
  npm ci
fi

stack_env="$(bash scripts/local-stack.sh up)"
eval "$stack_env"
log "services up:"
sed 's/^export /  /' <<<"$stack_env" >&2

log "building (npm run build)"
npm run --silent build

service_pids=()
service_names=()

# start_service <name> <command...>: runs the command in the background with its output in .local/logs/<name>.log.
start_service() {
  local name="$1"
  shift
  "$@" >"$HES_LOCAL_DIR/logs/$name.log" 2>&1 &
  service_pids+=("$!")
  service_names+=("$name")
  log "started $name (pid $!, log .local/logs/$name.log)"
}

stop_services() {
  local i
  for i in "${!service_pids[@]}"; do
    if kill -0 "${service_pids[$i]}" 2>/dev/null; then
      log "stopping ${service_names[$i]} (pid ${service_pids[$i]})"
      kill -TERM "${service_pids[$i]}" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
}
trap stop_services EXIT
trap 'exit 130' INT TERM

for step in scripts/start-local.d/*.sh; do
  log "step $(basename "$step")"
  # shellcheck source=/dev/null
  source "$step"
done

if ((${#service_pids[@]})); then
  log "running ${service_names[*]}; Ctrl-C stops everything"
  wait -n "${service_pids[@]}" || true
  log "a service exited; stopping the others"
fi
