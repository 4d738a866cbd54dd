#!/usr/bin/env bash
# Chat fan-out: bloomcast vs a Node.js `ws` server, same load generator, same run.
#   bench/chat/run.sh [receivers=10000] [senders=10] [rate=100 msg/s] [seconds=10]
# Env: SKIP_BUILD=1 (use build/ as it is), DRAIN_S=5 (wait for late deliveries), BATCH_MS=0 (the
# Node peer's batching; 0 = a frame per message, its usual design), KEEP=1 (keep the temp dir),
# PEER=none (bloomcast only, for A/B runs of two builds; no table, no ratio).
#
# Builds bloomcast and bloomcast_chat_load (build/, BLOOMCAST_JOBS=1 unless set), installs the
# peer's `ws` with npm ci, then for each server in turn: starts it on a free 127.0.0.1 port,
# runs the load generator (which reads the server's CPU and RSS from /proc: see chat_load.cc),
# stops it. Prints one table. The defaults are the goal's load (10,000 receivers at 100 msg/s:
# 1,000,000 deliveries/s offered) for 10 s, about a minute in all; `run.sh 1000 4 100 5` is a
# smoke run. Below the peer's capacity both servers deliver everything and the delivered/s
# ratio says nothing: compare capacity at the goal's size.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
receivers=${1:-10000}
senders=${2:-10}
rate=${3:-100}
seconds=${4:-10}
drain_s=${DRAIN_S:-5}
admin_token=bench-admin-token

# ---- build and install (outside the measurement) -----------------------------------------------
if [ -z "${SKIP_BUILD:-}" ]; then
  BLOOMCAST_JOBS=${BLOOMCAST_JOBS:-1} "$root/scripts/build.sh" plain --target bloomcast bloomcast_chat_load
fi
load=$root/build/bench/bloomcast_chat_load
bloomcast=$root/build/bloomcast
for f in "$load" "$bloomcast"; do
  [ -x "$f" ] || { echo "run.sh: $f is missing (build first, or drop SKIP_BUILD)" >&2; exit 1; }
done
command -v node >/dev/null && command -v npm >/dev/null || { echo "run.sh: needs node and npm (bench/setup.sh)" >&2; exit 1; }
if [ ! -d "$here/node-peer/node_modules/ws" ]; then
  (cd "$here/node-peer" && npm ci --no-audit --no-fund --silent)
fi

# One descriptor per connection on both sides (load generator and server), plus slack.
ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ $((receivers + senders + 256)) -gt "$(ulimit -n)" ]; then
  echo "run.sh: $((receivers + senders)) connections need more descriptors than the hard limit $(ulimit -n)" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/bloomcast-chat-bench-XXXXXX)
server_pid=""
child=""  # the load generator while it runs
# Stops the server under test, if any: SIGTERM, then SIGKILL after 5 s (bounded).
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
cleanup() {
  [ -z "$child" ] || kill "$child" 2>/dev/null || true
  stop_server
  if [ -n "${KEEP:-}" ]; then echo "run.sh: logs kept in $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (at most 20 s) until GET /healthz answers on port $1.
wait_healthy() {
  for _ in $(seq 200); do
    curl -sf -o /dev/null "http://127.0.0.1:$1/healthz" && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: the server on port $1 did not come up; its log:" >&2
  tail -20 "$2" >&2
  return 1
}

# run_load LABEL PORT [extra chat_load args...] -> appends the RESULT line to $dir/results
run_load() {
  local label=$1 port=$2
  shift 2
  echo "== $label: $receivers receivers, $senders senders, $rate msg/s for $seconds s" >&2
  # In the background and waited for, so that a signal stops the run at once (bash runs traps
  # only between foreground commands).
  "$load" --port "$port" --admin-token "$admin_token" --receivers "$receivers" --senders "$senders" \
    --rate "$rate" --seconds "$seconds" --drain-s "$drain_s" --server-pid "$server_pid" --label "$label" "$@" \
    > "$dir/$label.out" &
  child=$!
  wait "$child" || true
  child=""
  grep -v '^RESULT ' "$dir/$label.out" >&2 || true
  grep '^RESULT ' "$dir/$label.out" >> "$dir/results" || { echo "run.sh: no result from $label" >&2; exit 1; }
}

# ---- bloomcast: embedded Redis (AOF always, as shipped), rate limits off ---------------------
port=$(free_port)
"$bloomcast" serve --bind 127.0.0.1 --http-port "$port" --rtmp-port 0 --data-dir "$dir/bloomcast" \
  --admin-token "$admin_token" --rate-limits off --renditions source --log-level warn \
  > "$dir/bloomcast.log" 2>&1 &
server_pid=$!
wait_healthy "$port" "$dir/bloomcast.log"
redis_pid=$(cat "$dir/bloomcast/redis/redis.pid" 2>/dev/null || echo 0)
run_load bloomcast "$port" --redis-pid "$redis_pid"
sleep 1  # the server sees the load generator's connections close
if ! kill -0 "$server_pid" 2>/dev/null; then  # it should still be serving; say so if not
  echo "run.sh: note: bloomcast exited by itself after the load generator left; its log ends:" >&2
  tail -3 "$dir/bloomcast.log" >&2
fi
stop_server
if [ "${PEER:-node}" = none ]; then  # A/B runs of bloomcast builds: its lines above are the result
  echo "run.sh: PEER=none: no peer run, so no table" >&2
  exit 0
fi

# ---- Node.js + ws --------------------------------------------------------------------------------
port=$(free_port)
PORT=$port ADMIN_TOKEN=$admin_token BATCH_MS=${BATCH_MS:-0} node "$here/node-peer/server.js" \
  > "$dir/node.log" 2>&1 &
server_pid=$!
wait_healthy "$port" "$dir/node.log"
run_load node-ws "$port"
stop_server

# ---- the table ---------------------------------------------------------------------------------
echo
echo "chat fan-out: $receivers receivers in one room, $senders senders, $rate msg/s for $seconds s" \
  "(node BATCH_MS=${BATCH_MS:-0}; load $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
python3 - "$dir/results" <<'PY'
import sys
runs = []
for line in open(sys.argv[1]):
    kv = dict(item.split('=', 1) for item in line.split()[1:])
    runs.append(kv)
b, n = runs[0], runs[1]
def f(r, k): return float(r[k])
def known(r, k): return r[k] if f(r, k) >= 0 else "-"  # -1: not measured (no pid, or it died)
rows = [
    ("connections joined (failed)", lambda r: f"{r['joined']} ({r['failed']})"),
    ("messages sent", lambda r: r['sent']),
    ("delivered msgs/s", lambda r: f"{f(r, 'per_s'):,.0f}"),
    ("lost (not delivered in time)", lambda r: f"{r['lost']} ({100 * f(r, 'lost') / max(1, f(r, 'expected')):.3f}%)"),
    ("duplicates", lambda r: r['dup']),
    ("closed by the server", lambda r: r['closed']),
    ("latency p50 ms", lambda r: r['p50_ms']),
    ("latency p99 ms", lambda r: r['p99_ms']),
    ("latency max ms", lambda r: r['max_ms']),
    ("server CPU, cores", lambda r: known(r, 'server_cores')),
    ("server CPU µs / delivery", lambda r: known(r, 'cpu_us_per_delivery')),
    ("its Redis CPU, cores", lambda r: known(r, 'redis_cores')),
    ("idle KiB / connection", lambda r: known(r, 'idle_kib_per_conn')),
    ("load generator, cores", lambda r: r['client_cores']),
    ("worst sender lag ms", lambda r: r['sender_lag_ms']),
]
print(f"| {'':30} | {'bloomcast':>18} | {'node + ws':>18} |")
print(f"| {'-' * 30} | {'-' * 17}: | {'-' * 17}: |")
for name, get in rows:
    print(f"| {name:30} | {get(b):>18} | {get(n):>18} |")
ratio = f(b, 'per_s') / f(n, 'per_s') if f(n, 'per_s') > 0 else float('inf')
print(f"\nbloomcast / node delivered msgs/s: {ratio:.1f}x")
goals = [
    ("zero loss", f(b, 'lost') == 0 and f(b, 'dup') == 0),
    ("p99 <= 250 ms", f(b, 'p99_ms') <= 250),
    (">= 10x node's delivered msgs/s", ratio >= 10),
    ("idle <= 8 KiB / connection", 0 <= f(b, 'idle_kib_per_conn') <= 8),
]
print("goals (set for 10,000 receivers at 100 msg/s): " +
      ", ".join(f"{g}: {'yes' if ok else 'NO'}" for g, ok in goals))
PY
