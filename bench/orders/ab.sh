#!/usr/bin/env bash
# A/B of two bloomcast builds on the order path: which one spends less CPU per order.
#   bench/orders/ab.sh OLD_BINARY NEW_BINARY [pairs=10] [seconds=8]
# Both servers run at once against one redis-server (as run.sh's: unix socket, AOF everysec, no
# automatic rewrite) and one stream; the same wrk load as run.sh (orders.lua, 50 connections)
# goes to one and then the other, alternating which goes first, while the other is paused
# (SIGSTOP). This VM's speed drifts by tens of percent within a minute, far more than most
# changes move, so only pairs run seconds apart compare; a difference counts when it holds in
# (nearly) every pair. Prints one line per run, then per build the median CPU per order and the
# median of the pairs' new/old ratios: in all, in user space and in the kernel. A change to
# bloomcast's own code moves the user-space part; the kernel part (the sockets) is most of the
# noise, so a user-space change shows there first.
# Keep a copy of the old build first: cp build/bloomcast /tmp/bloomcast-old.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
old=${1:?usage: ab.sh OLD_BINARY NEW_BINARY [pairs] [seconds]}
new=${2:?usage: ab.sh OLD_BINARY NEW_BINARY [pairs] [seconds]}
pairs=${3:-10}
seconds=${4:-8}
conns=50
admin_token=bench-admin-token
for tool in wrk redis-server redis-cli python3 curl; do
  command -v $tool >/dev/null || { echo "ab.sh: $tool is missing: run bench/setup.sh" >&2; exit 1; }
done

dir=$(mktemp -d /tmp/bloomcast-orders-ab-XXXXXX)
sock=$dir/redis.sock
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# "UTIME STIME" of a process, in µs.
cpu_us() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%d %d\n", $12 * 1000000 / hz, $13 * 1000000 / hz }' \
    "/proc/$1/stat"
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

mkdir -p "$dir/redis"
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir/redis" --save '' \
  --appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0 --logfile "$dir/redis.log" &
pids+=($!)
for _ in $(seq 100); do redis-cli -s "$sock" ping >/dev/null 2>&1 && break; sleep 0.1; done

# start_server BINARY NAME: sets started_pid and started_port once GET /healthz answers (at
# most 20 s).
start_server() {
  local port
  port=$(free_port)
  "$1" serve --bind 127.0.0.1 --http-port "$port" --rtmp-port 0 --data-dir "$dir/$2" \
    --redis "unix:$sock" --admin-token "$admin_token" --rate-limits off --renditions source \
    --log-level warn > "$dir/$2.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 200); do
    if curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; then
      started_pid=$pid
      started_port=$port
      return 0
    fi
    sleep 0.1
  done
  echo "ab.sh: $1 did not come up; its log:" >&2
  tail -20 "$dir/$2.log" >&2
  exit 1
}
start_server "$old" old
old_pid=$started_pid old_port=$started_port
start_server "$new" new
new_pid=$started_pid new_port=$started_port

# One stream with product TEA (stock 10^9) and 200 buyers' tokens, made through the old build
# (both share Redis and the admin token, so both know the stream and accept the tokens).
stream=$(python3 - "$old_port" "$admin_token" "$dir/tokens" <<'PY'
import json, sys, urllib.request
port, admin, tokens_path = sys.argv[1:]
def call(path, body, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    if token: req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())
factory = call("/api/factories", {"name": "orders a/b"}, admin)["id"]
s = call("/api/streams", {"factory_id": factory, "title": "orders a/b"}, admin)["id"]
call(f"/api/streams/{s}/products", {"sku": "TEA", "title": "明前龙井", "price_cents": 1990,
                                     "stock": 10**9, "limit_per_buyer": 0}, admin)
with open(tokens_path, "w") as f:
    for i in range(200):
        f.write(call("/api/sessions", {"name": f"买家{i}"})["token"] + "\n")
print(s)
PY
)

# run LABEL PID PORT: a 2 s warm-up, then the measured run; appends "LABEL USER_US KERNEL_US" (per
# order).
run() {
  local label=$1 pid=$2 port=$3 cpu0 cpu1
  kill -CONT "$pid"
  TOKENS=$dir/tokens STREAM=$stream SKU=TEA NONCE="w$(date +%s%N)" \
    wrk -t2 -c$conns -d2s -s "$here/orders.lua" "http://127.0.0.1:$port" > /dev/null
  cpu0=$(cpu_us "$pid")
  TOKENS=$dir/tokens STREAM=$stream SKU=TEA NONCE="m$(date +%s%N)" \
    wrk -t2 -c$conns -d"${seconds}s" -s "$here/orders.lua" "http://127.0.0.1:$port" > "$dir/out"
  cpu1=$(cpu_us "$pid")
  kill -STOP "$pid"
  python3 - "$label" "$dir/out" "$cpu0" "$cpu1" "$seconds" "$dir/results" <<'PY'
import sys
label, out, cpu0, cpu1, seconds, results = sys.argv[1:7]
seconds = float(seconds)
wrk = dict(kv.split("=") for kv in next(l for l in open(out) if l.startswith("WRK ")).split()[1:])
ok = int(wrk["requests"]) - int(wrk["non2xx"])
(u0, k0), (u1, k1) = (map(int, c.split()) for c in (cpu0, cpu1))
user, kernel = (u1 - u0) / ok, (k1 - k0) / ok
print(f"{label}: {ok / seconds:8.0f} orders/s  {user + kernel:6.2f} µs CPU / order (user {user:5.2f}, "
      f"kernel {kernel:5.2f})  p99 {int(wrk['p99_us']) / 1000:5.1f} ms  non-2xx {wrk['non2xx']}")
open(results, "a").write(f"{label} {user} {kernel}\n")
PY
}

kill -STOP "$new_pid"
echo "ab.sh: $pairs pairs of ${seconds}s runs, $conns connections; old=$old new=$new"
for ((i = 1; i <= pairs; i++)); do
  if ((i % 2)); then
    run old "$old_pid" "$old_port"; run new "$new_pid" "$new_port"
  else
    run new "$new_pid" "$new_port"; run old "$old_pid" "$old_port"
  fi
done
python3 - "$dir/results" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
for part, pick in (("CPU", lambda u, k: u + k), ("user", lambda u, k: u), ("kernel", lambda u, k: k)):
    old = [pick(float(u), float(k)) for label, u, k in rows if label == "old"]
    new = [pick(float(u), float(k)) for label, u, k in rows if label == "new"]
    ratios = [n / o for o, n in zip(old, new)]
    print(f"median µs {part} / order: old {statistics.median(old):.2f}, new {statistics.median(new):.2f}; "
          f"new/old per pair: median {statistics.median(ratios):.3f}, "
          f"new lower in {sum(r < 1 for r in ratios)} of {len(ratios)}")
PY
