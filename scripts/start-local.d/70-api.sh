# Sourced by scripts/start-local.sh after the pipeline. The REST API and WebSocket gateway on :3000 (API_PORT), with
# a local JWT secret and a platform admin made once and kept in .local/api (0600), so the readings the pipeline
# stores can be queried: log in with the printed command, then e.g. GET /api/v1/meters. OpenAPI at /docs.
api_dir="$HES_LOCAL_DIR/api"
mkdir -p "$api_dir"
api_port="${API_PORT:-3000}"
api_admin_email=admin@hes.local

if [[ ! -s "$api_dir/jwt-secret" ]]; then
  (umask 077 && node -e 'console.log(require("node:crypto").randomBytes(32).toString("hex"))' >"$api_dir/jwt-secret")
fi
if [[ ! -s "$api_dir/admin-password" ]]; then
  (
    umask 077
    node -e 'console.log(require("node:crypto").randomBytes(12).toString("base64url"))' >"$api_dir/admin-password.new"
    node bin/hes.js users add --email "$api_admin_email" --role platform_admin --password-stdin \
      <"$api_dir/admin-password.new" >/dev/null
    mv "$api_dir/admin-password.new" "$api_dir/admin-password"
  )
fi

API_JWT_SECRET="$(cat "$api_dir/jwt-secret")" start_service api node dist/apps/api/src/main.js
wait_healthy api "http://127.0.0.1:$api_port/health"
cat >&2 <<INFO
start-local: API :$api_port (OpenAPI at http://127.0.0.1:$api_port/docs, WebSocket at ws://127.0.0.1:$api_port/api/v1/ws)
start-local: log in as $api_admin_email (password in .local/api/admin-password):
  curl -s -X POST http://127.0.0.1:$api_port/api/v1/auth/login -H 'content-type: application/json' \\
    -d "{\"email\":\"$api_admin_email\",\"password\":\"\$(cat .local/api/admin-password)\"}"
INFO
