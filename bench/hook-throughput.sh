#!/usr/bin/env bash
# hook's throughput on one real signed webhook (pull_request.opened: HMAC check, JSON parse,
# CloudEvent published to a sink over HTTP) vs a trivial axum handler that only reads the same
# body, measured with wrk in one run on this machine. Release builds; needs `wrk` (apt).
#   bench/hook-throughput.sh        DURATION=20s CONNECTIONS=64 bench/hook-throughput.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "SKIP: wrk is not installed (apt-get install wrk)"; exit 0; }
target=${CARGO_TARGET_DIR:-target}
cargo build -q --release -p prow-cli --bin prow
cargo build -q --release -p prow-bench-coldstart --bin axum-hello
work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

payload=testdata/webhooks/pull_request.opened.json
secret=hook-throughput
printf '%s' "$secret" > "$work/hmac"
signature="sha256=$(openssl dgst -sha256 -hmac "$secret" -r < "$payload" | cut -d' ' -f1)"
# wrk sends the same delivery id every time; hook publishes each (dedup is the broker's job).
cat > "$work/post.lua" <<LUA
wrk.method = "POST"
local f = io.open("$payload", "rb"); wrk.body = f:read("*a"); f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "pull_request"
wrk.headers["X-GitHub-Delivery"] = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
wrk.headers["X-Hub-Signature-256"] = "$signature"
LUA

wait_up() { for _ in $(seq 1 200); do curl -fsS "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "port $1 never came up" >&2; exit 1; }
PORT=18201 "$target/release/axum-hello" & pids+=($!)   # baseline, and hook's sink
wait_up 18201
PORT=18202 HMAC_SECRET_FILE="$work/hmac" K_SINK=http://127.0.0.1:18201/ RUST_LOG=warn \
  "$target/release/prow" serve hook & pids+=($!)
wait_up 18202
check=$(curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:18202/hook \
  -H 'Content-Type: application/json' -H 'X-GitHub-Event: pull_request' \
  -H 'X-GitHub-Delivery: check' -H "X-Hub-Signature-256: $signature" --data-binary "@$payload")
[[ $check == 200 ]] || { echo "hook answered $check to a signed webhook" >&2; exit 1; }

run() { wrk -t2 -c"${CONNECTIONS:-32}" -d"${DURATION:-10s}" --latency -s "$work/post.lua" "$1"; }
rps() { awk '/Requests\/sec/ { print $2 }'; }
p99() { awk '$1 == "99%" { print $2 }'; }
base=$(run http://127.0.0.1:18201/hook)
hook=$(run http://127.0.0.1:18202/hook)
grep -q "Non-2xx" <<<"$hook" && { echo "hook answered non-2xx under load:" >&2; echo "$hook" >&2; exit 1; }
b=$(rps <<<"$base"); h=$(rps <<<"$hook")
echo "trivial axum (read body, 200): $b req/s, p99 $(p99 <<<"$base")"
echo "hook (verify HMAC, parse, publish CloudEvent): $h req/s, p99 $(p99 <<<"$hook")"
awk -v b="$b" -v h="$h" 'BEGIN { printf "ratio: trivial / hook = %.2f\n", b / h }'
