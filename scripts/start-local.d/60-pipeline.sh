# Sourced by scripts/start-local.sh after the decode demo. The live pipeline: migrates the local database,
# registers a small simulated fleet (meters with encrypted keys, gateways with API keys), starts the collector
# and a decryptor, the simulator sending to the collector over HTTP at a modest rate with gateway duplicates,
# and a watcher that prints every few seconds how many readings are stored and the latest values of a few
# meters, read back from PostgreSQL and Redis. Ctrl-C stops everything (start-local.sh's trap).
# Knobs: HES_DEMO_FLEET_METERS (default 200), HES_DEMO_RATE (telegrams/s, default 50),
# HES_DEMO_DUPLICATES (default 0.1), HES_DEMO_WATCH_SECONDS (default 5).
pipeline_dir="$HES_LOCAL_DIR/pipeline"
mkdir -p "$pipeline_dir"
pipeline_meters="${HES_DEMO_FLEET_METERS:-200}"
pipeline_prefix=demo

node bin/hes.js migrate >&2

# The gateways' API keys are made once and kept (0600): registration is idempotent and an existing gateway
# must be given the key it was created with.
if [[ ! -s "$pipeline_dir/gateway-api-keys" ]]; then
  (
    umask 077
    node -e 'const { generateApiKey } = require("./dist/libs/keys/src"); console.log(generateApiKey()); console.log(generateApiKey());' \
      >"$pipeline_dir/gateway-api-keys"
  )
fi
mapfile -t pipeline_api_keys <"$pipeline_dir/gateway-api-keys"
pipeline_fleet=(--meters "$pipeline_meters" --seed 1 --groups 4 --name-prefix "$pipeline_prefix"
  --gateways 2 --api-key "${pipeline_api_keys[@]}")
node bin/hes.js simulate "${pipeline_fleet[@]}" --register --no-send >/dev/null

# wait_healthy <name> <url>: up to 60 s for the service's /health to answer 200.
wait_healthy() {
  local deadline=$((SECONDS + 60))
  until node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$2"; do
    if ((SECONDS >= deadline)); then
      echo "start-local: $1 not healthy after 60 s; see .local/logs/$1.log" >&2
      return 1
    fi
    sleep 0.5
  done
}

start_service collector node dist/apps/collector/src/main.js
# The Kafka stand-in holds a group (re)join for about the session timeout: keep it short locally.
DECRYPTOR_SESSION_TIMEOUT_MS=6000 DECRYPTOR_HEARTBEAT_INTERVAL_MS=500 DECRYPTOR_MAX_WAIT_MS=100 \
  start_service decryptor node dist/apps/decryptor/src/main.js
wait_healthy collector "http://127.0.0.1:${COLLECTOR_PORT:-8080}/health"
wait_healthy decryptor "http://127.0.0.1:${DECRYPTOR_PORT:-8081}/health"
start_service simulator node bin/hes.js simulate "${pipeline_fleet[@]}" \
  --rate "${HES_DEMO_RATE:-50}" --duplicates "${HES_DEMO_DUPLICATES:-0.1}" --batch-size 50 --progress-interval 30

# The watcher writes to this terminal (not a log), and is stopped with the services.
node scripts/start-local.d/pipeline-watch.js "$pipeline_prefix" "${HES_DEMO_WATCH_SECONDS:-5}" &
service_pids+=("$!")
service_names+=(watch)
echo "start-local: collector :${COLLECTOR_PORT:-8080}, decryptor :${DECRYPTOR_PORT:-8081} (/metrics, /health); simulator summary in .local/logs/simulator.log on stop" >&2
