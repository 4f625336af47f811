#!/usr/bin/env bash
# A production-like charrnn on one machine: the esbuild bundle (run from a copy of dist/ with no
# node_modules, as in the images) against a local S3 server (s3rver), configured the way the
# Knative service is: CHARRNN_STORE=s3://…, AWS_ENDPOINT_URL_S3, AWS_REGION, key id + secret.
#
#   infra/local-stack.sh            then: charrnn --url <printed URL> --token <printed token> …
#
# Environment (all optional):
#   PORT=8080              server port (0 = any free port)
#   S3_PORT=0              s3rver port (0 = any free port)
#   BUCKET=charrnn  PREFIX=local
#   CHARRNN_API_TOKEN      default: local-dev-token
#   CHARRNN_BACKEND        default: auto (wasm here unless tfjs-node is installed)
#   KEEP=1                 keep the temp directory (bucket data) after exit
# Ctrl+C (or SIGTERM) stops the server (which gets its SIGTERM grace) and s3rver.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${PORT:-8080}"
S3_PORT="${S3_PORT:-0}"
BUCKET="${BUCKET:-charrnn}"
PREFIX="${PREFIX:-local}"
TOKEN="${CHARRNN_API_TOKEN:-local-dev-token}"
S3RVER="$ROOT/node_modules/s3rver/bin/s3rver.js"

if [[ ! -f "$S3RVER" ]]; then
  echo "local-stack: s3rver is not installed; run 'npm ci' in $ROOT first" >&2
  exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/charrnn-local-stack.XXXXXX")"
mkdir -p "$WORK/s3"
# Build straight into the temp directory: the server runs from there with no node_modules.
if ! node "$ROOT/infra/build.mjs" --quiet --outdir "$WORK/dist"; then
  rm -rf "$WORK"
  exit 1
fi

S3_PID=""
SERVER_PID=""
cleanup() {
  trap - EXIT INT TERM
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    # The server drains within its shutdown grace (10 s by default); give it a little more.
    for _ in $(seq 1 60); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  if [[ -n "$S3_PID" ]]; then
    kill -TERM "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
  fi
  if [[ "${KEEP:-}" == "1" ]]; then
    echo "local-stack: kept $WORK"
  else
    rm -rf "$WORK"
  fi
  echo "local-stack: stopped"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The logs exist before their writers start: the background job opens its redirect only once it
# is scheduled, and the polling below must not race it (sed on a missing file fails the script).
: >"$WORK/s3rver.log"
: >"$WORK/server.log"
# s3rver encrypts list continuation tokens with DES: OpenSSL 3 needs the legacy provider.
node --openssl-legacy-provider "$S3RVER" -d "$WORK/s3" -a 127.0.0.1 -p "$S3_PORT" \
  --configure-bucket "$BUCKET" >"$WORK/s3rver.log" 2>&1 &
S3_PID=$!

s3_port=""
for _ in $(seq 1 100); do
  s3_port="$(sed -n 's/.*listening on [^:]*:\([0-9][0-9]*\).*/\1/p' "$WORK/s3rver.log" | head -n1)"
  [[ -n "$s3_port" ]] && break
  kill -0 "$S3_PID" 2>/dev/null || { echo "local-stack: s3rver exited:" >&2; cat "$WORK/s3rver.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$s3_port" ]] || { echo "local-stack: s3rver did not start in 10 s" >&2; exit 1; }

# Only the bundle: no node_modules next to it, as in the images.
(
  cd "$WORK"
  exec env \
    PORT="$PORT" \
    CHARRNN_STORE="s3://$BUCKET/$PREFIX" \
    CHARRNN_API_TOKEN="$TOKEN" \
    AWS_ENDPOINT_URL_S3="http://127.0.0.1:$s3_port" \
    AWS_REGION="us-east-1" \
    AWS_ACCESS_KEY_ID="S3RVER" \
    AWS_SECRET_ACCESS_KEY="S3RVER" \
    node dist/functions/main.mjs
) > >(tee "$WORK/server.log") 2>&1 &
SERVER_PID=$!

# The server logs the address it listens on; with PORT=0 that is the only way to learn it.
url=""
for _ in $(seq 1 300); do
  if [[ "$PORT" != "0" ]] && curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
    url="http://127.0.0.1:$PORT"
    break
  fi
  if [[ "$PORT" == "0" ]]; then
    p="$(grep -o 'http://[0-9.]*:[0-9][0-9]*' "$WORK/server.log" | head -n1 || true)"
    if [[ -n "$p" ]] && curl -fsS "$p/healthz" >/dev/null 2>&1; then url="$p"; break; fi
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "local-stack: the server exited (log above)" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$url" ]] || { echo "local-stack: the server did not answer /healthz in 30 s" >&2; exit 1; }

echo "local-stack: charrnn at $url  (token: $TOKEN)"
echo "local-stack: store s3://$BUCKET/$PREFIX on s3rver http://127.0.0.1:$s3_port  (data in $WORK/s3)"
echo "local-stack: Ctrl+C stops both"
wait "$SERVER_PID" || true
SERVER_PID=""
