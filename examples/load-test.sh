#!/usr/bin/env bash
# Load test of a test project with wrk: the layer off (baseline), the layer on while not in
# maintenance, and in maintenance (blocked, exempt and pattern-checked paths).
# Usage: bash examples/load-test.sh [testproject-axum|testproject-actix|testproject-rocket|custom-hyper]
# (default testproject-axum; needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
SERVER=${1:-testproject-axum}
cargo build --release -q -p maintenance-examples --bin "$SERVER"
cargo build --release -q -p maintenance-cli --bin maintenance
BIN=$PWD/target/release/$SERVER
CLI=$PWD/target/release/maintenance
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export DATABASE_URL="sqlite://$work/bench.db" RUST_LOG=warn
PORT=${PORT:-3999}
DURATION=${DURATION:-10s}
"$CLI" migrate >/dev/null

run() { # name, MAINTENANCE_LAYER, path
    MAINTENANCE_LAYER=$2 BIND=127.0.0.1:$PORT "$BIN" >"$work/server.log" 2>&1 &
    local pid=$!
    sleep 1
    wrk -t2 -c64 -d"$DURATION" "http://127.0.0.1:$PORT$3" >"$work/wrk.out"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    printf '%-58s %10s req/s  latency avg %s  non-2xx/3xx: %s\n' "$1" \
        "$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")" \
        "$(awk '/Latency/ {print $2}' "$work/wrk.out")" \
        "$(awk '/Non-2xx/ {print $5}' "$work/wrk.out")"
}

echo "$SERVER"
"$CLI" off >/dev/null
run "layer off, GET /" off /
run "layer on, not in maintenance, GET /" on /
"$CLI" on --message "Load test" >/dev/null
run "in maintenance, GET / (503)" on /
run "in maintenance, GET /admin/login/ (200, ^admin ignored)" on /admin/login/
run "in maintenance, GET /ignored-page/ (503 after pattern check)" on /ignored-page/
"$CLI" off >/dev/null
