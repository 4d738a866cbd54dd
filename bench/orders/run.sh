#!/usr/bin/env bash
# Orders through the HTTP API: bloomcast vs the Redis ceiling of its own place script vs a
# Node.js + ioredis server of the same API, in one run, against one redis-server.
#   bench/orders/run.sh [seconds=10] [connections=50]
# Env: AOF=everysec|always|no (appendfsync of the shared redis-server; everysec is what the
# embedded Redis ships with), RB_N=200000 (redis-benchmark requests), RB_P=16 (its pipeline),
# WRK_THREADS=2, SESSIONS=200 (buyers in rotation), WARMUP_S=2 (unmeasured wrk run before each
# HTTP server), FLOOR_S=6 (the GET /healthz run), SKIP_BUILD=1, KEEP=1 (keep the temp dir and logs).
#
# Phases, one after the other (each alone on the machine):
#   1. bloomcast serve --redis unix:SOCK --rate-limits off, wrk -c CONNECTIONS with orders.lua
#      (a fresh idempotency key per request, session tokens in rotation); then the same wrk load
#      on GET /healthz (one Redis PING per request: the floor an order's CPU stands on); then
#      bloomcast stops.
#   2. redis-benchmark -c CONNECTIONS -P 16 EVALSHA of the same place script (as
#      place_script_aof.sh): the most orders/s this Redis gives the script on this machine.
#   3. node-peer/server.js (ioredis, same script via EVALSHA), the same wrk load.
# Each phase gets its own stream (product TEA, stock 10^9) so the checks are per phase. CPU per
# order = the server's utime+stime (/proc/PID/stat) over the measured run / orders answered 2xx.
# At the end: no oversell (stock + units sold = initial, units = orders, qty 1 each) and every
# acknowledged order stored.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${1:-10}
conns=${2:-50}
aof=${AOF:-everysec}
rb_n=${RB_N:-200000}
rb_p=${RB_P:-16}
wrk_threads=${WRK_THREADS:-2}
sessions=${SESSIONS:-200}
warmup_s=${WARMUP_S:-2}
floor_s=${FLOOR_S:-6}
initial_stock=1000000000
admin_token=bench-admin-token

# ---- build and install (outside the measurement) -----------------------------------------------
if [ -z "${SKIP_BUILD:-}" ]; then
  BLOOMCAST_JOBS=${BLOOMCAST_JOBS:-1} "$root/scripts/build.sh" plain --target bloomcast
fi
bloomcast=$root/build/bloomcast
[ -x "$bloomcast" ] || { echo "run.sh: $bloomcast is missing" >&2; exit 1; }
for tool in wrk redis-server redis-cli redis-benchmark node npm python3 curl; do
  command -v $tool >/dev/null || { echo "run.sh: $tool is missing: run bench/setup.sh" >&2; exit 1; }
done
if [ ! -d "$here/node-peer/node_modules/ioredis" ]; then
  (cd "$here/node-peer" && npm ci --no-audit --no-fund --silent)
fi

dir=$(mktemp -d /tmp/bloomcast-orders-bench-XXXXXX)
sock=$dir/redis.sock
pids=()  # every server this script started, stopped in reverse order
child="" # the load tool while it runs
# Stops one process: SIGTERM, then SIGKILL after 5 s (bounded).
stop_pid() {
  kill "$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  [ -z "$child" ] || kill "$child" 2>/dev/null || true
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do stop_pid "${pids[i]}"; done
  if [ -n "${KEEP:-}" ]; then echo "run.sh: logs kept in $dir" >&2; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# utime + stime of a process in µs; sys_us: stime alone (the kernel's share).
cpu_us() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%d\n", ($12 + $13) * 1000000 / hz }' "/proc/$1/stat"
}
sys_us() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%d\n", $13 * 1000000 / hz }' "/proc/$1/stat"
}
now_us() { echo $(($(date +%s%N) / 1000)); }
# Time a process's main thread (Redis's command thread) spent runnable but waiting for a CPU, in
# µs (/proc/PID/schedstat's second field, ns).
wait_us() { awk '{ printf "%d\n", $2 / 1000 }' "/proc/$1/schedstat"; }
R() { redis-cli -s "$sock" "$@"; }
# Runs a command and then prints "CLIENT cpu_us=N": the CPU its process tree used. In the
# background and waited for, so that a signal stops the run at once (bash runs traps only
# between foreground commands).
with_client_cpu() {
  python3 -c '
import resource, signal, subprocess, sys
p = subprocess.Popen(sys.argv[1:])
signal.signal(signal.SIGTERM, lambda *_: p.terminate())  # run.sh stopping: stop the tool too
rc = p.wait()
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"CLIENT cpu_us={int((r.ru_utime + r.ru_stime) * 1e6)}", flush=True)
sys.exit(rc)' "$@" &
  child=$!
  local rc=0
  wait "$child" || rc=$?
  child=""
  return $rc
}
# Waits (at most 20 s) until GET /healthz on port $1 answers 200; $2 is the pid, $3 its log.
wait_healthy() {
  for _ in $(seq 200); do
    curl -sf -o /dev/null "http://127.0.0.1:$1/healthz" && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: the server on port $1 did not come up; its log:" >&2
  tail -20 "$3" >&2
  exit 1
}

# ---- Redis: the embedded Redis's settings (infra/EmbeddedRedis.cc), on a unix socket ----------
mkdir -p "$dir/redis"
aof_args=(--appendonly yes --appendfsync "$aof")
[ "$aof" = no ] && aof_args=(--appendonly no)
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir/redis" --save '' \
  "${aof_args[@]}" --auto-aof-rewrite-percentage 200 --auto-aof-rewrite-min-size 1gb \
  --maxclients 10000 --timeout 0 --logfile "$dir/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do R ping >/dev/null 2>&1 && break; sleep 0.1; done
R ping >/dev/null

# The place script, straight from orders/OrderScripts.cc (as place_script_aof.sh does).
python3 - "$root/orders/OrderScripts.cc" > "$dir/place.lua" <<'PY'
import sys
s = open(sys.argv[1]).read()
start = s.index('const std::string kPlace = R"lua(') + len('const std::string kPlace = R"lua(')
print(s[start:s.index(')lua";', start)], end='')
PY

# ---- bloomcast, and the catalog every phase uses ------------------------------------------------
port=$(free_port)
"$bloomcast" serve --bind 127.0.0.1 --http-port "$port" --rtmp-port 0 --data-dir "$dir/bloomcast" \
  --redis "unix:$sock" --admin-token "$admin_token" --rate-limits off --renditions source \
  --log-level warn > "$dir/bloomcast.log" 2>&1 &
bloomcast_pid=$!
pids+=("$bloomcast_pid")
wait_healthy "$port" "$bloomcast_pid" "$dir/bloomcast.log"

# A factory, three streams (bloomcast, redis-benchmark, node) with product TEA, and the buyers'
# session tokens (bloomcast signs them; the Node peer verifies the same signature).
read -r stream_b stream_r stream_n < <(python3 - "$port" "$admin_token" "$sessions" "$dir/tokens" "$initial_stock" <<'PY'
import json, sys, urllib.request
port, admin, sessions, tokens_path, stock = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
def call(path, body, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    if token: req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())
factory = call("/api/factories", {"name": "orders bench"}, admin)["id"]
streams = []
for title in ("bloomcast", "redis-benchmark", "node"):
    s = call("/api/streams", {"factory_id": factory, "title": f"orders bench: {title}"}, admin)["id"]
    call(f"/api/streams/{s}/products", {"sku": "TEA", "title": "明前龙井", "price_cents": 1990,
                                         "stock": stock, "limit_per_buyer": 0}, admin)
    streams.append(s)
with open(tokens_path, "w") as f:
    for i in range(sessions):
        f.write(call("/api/sessions", {"name": f"买家{i}"})["token"] + "\n")
print(*streams)
PY
)
echo "run.sh: streams bloomcast=$stream_b redis-benchmark=$stream_r node=$stream_n, $sessions sessions" >&2

# http_phase LABEL PORT STREAM PID: warm-up, then the measured wrk run; appends a PHASE line.
http_phase() {
  local label=$1 port=$2 stream=$3 pid=$4
  local url=http://127.0.0.1:$port
  echo "== $label: wrk -t$wrk_threads -c$conns -d${seconds}s POST /api/orders (warm-up ${warmup_s}s)" >&2
  if [ "$warmup_s" != 0 ]; then
    TOKENS=$dir/tokens STREAM=$stream SKU=TEA NONCE="w$(date +%s%N)" \
      wrk -t"$wrk_threads" -c"$conns" -d"${warmup_s}s" -s "$here/orders.lua" "$url" > /dev/null
  fi
  local seq0 cpu0 sys0 rcpu0 rwait0 t0 seq1 cpu1 sys1 rcpu1 rwait1 t1
  seq0=$(R hget "bc:{s:$stream}:stats" seq)
  cpu0=$(cpu_us "$pid"); sys0=$(sys_us "$pid"); rcpu0=$(cpu_us "$redis_pid"); rwait0=$(wait_us "$redis_pid")
  t0=$(now_us)
  TOKENS=$dir/tokens STREAM=$stream SKU=TEA NONCE="m$(date +%s%N)" \
    with_client_cpu wrk -t"$wrk_threads" -c"$conns" -d"${seconds}s" -s "$here/orders.lua" "$url" \
    > "$dir/$label.out"
  cpu1=$(cpu_us "$pid"); sys1=$(sys_us "$pid"); rcpu1=$(cpu_us "$redis_pid"); rwait1=$(wait_us "$redis_pid")
  t1=$(now_us)
  seq1=$(R hget "bc:{s:$stream}:stats" seq)
  grep -v '^WRK \|^CLIENT ' "$dir/$label.out" >&2
  echo "PHASE label=$label stream=$stream stored=$((${seq1:-0} - ${seq0:-0})) wall_us=$((t1 - t0))" \
    "server_cpu_us=$((cpu1 - cpu0)) server_sys_us=$((sys1 - sys0)) redis_cpu_us=$((rcpu1 - rcpu0))" \
    "redis_wait_us=$((rwait1 - rwait0))" \
    "$(grep '^WRK ' "$dir/$label.out" | cut -d' ' -f2-) $(grep '^CLIENT ' "$dir/$label.out" | cut -d' ' -f2-)" \
    >> "$dir/results"
}

# ---- 1. bloomcast --------------------------------------------------------------------------------
http_phase bloomcast "$port" "$stream_b" "$bloomcast_pid"
# The floor under an order: GET /healthz, which answers after one Redis round trip (a PING),
# with no body, token or script — HTTP and a Redis call, nothing else. Same load shape.
echo "== bloomcast GET /healthz: wrk -t$wrk_threads -c$conns -d${floor_s}s" >&2
f_cpu0=$(cpu_us "$bloomcast_pid"); f_sys0=$(sys_us "$bloomcast_pid")
wrk -t"$wrk_threads" -c"$conns" -d"${floor_s}s" "http://127.0.0.1:$port/healthz" > "$dir/floor.out"
f_cpu1=$(cpu_us "$bloomcast_pid"); f_sys1=$(sys_us "$bloomcast_pid")
f_requests=$(awk '/requests in/ { print $1 }' "$dir/floor.out")
f_rate=$(awk '/^Requests\/sec/ { print $2 }' "$dir/floor.out")
stop_pid "$bloomcast_pid"  # idle, it would still run its expiry sweep against Redis

# ---- 2. the ceiling: redis-benchmark EVALSHA, pipelined ------------------------------------------
echo "== redis-benchmark: -c$conns -P $rb_p -n $rb_n EVALSHA place" >&2
sha=$(R -x script load < "$dir/place.lua")  # -x: the exact bytes, so the same SHA1 as bloomcast's
p="bc:{s:$stream_r}:"
now_ms=$(($(date +%s%N) / 1000000))
seq0=$(R hget "${p}stats" seq); rcpu0=$(cpu_us "$redis_pid"); rwait0=$(wait_us "$redis_pid"); t0=$(now_us)
# A fresh random idempotency key per call (-r); one buyer, as place_script_aof.sh.
with_client_cpu redis-benchmark -s "$sock" -n "$rb_n" -c "$conns" -P "$rb_p" -r 100000000 --csv \
  EVALSHA "$sha" 8 "${p}meta" "${p}p:TEA" "${p}stock" "${p}orders" "${p}stats" "${p}minutes" "${p}lb" \
  "${p}events" TEA 1 0123456789abcdef __rand_int__ "$now_ms" '"b**"' "${p}room" 1000000 > "$dir/rb.out"
rcpu1=$(cpu_us "$redis_pid"); rwait1=$(wait_us "$redis_pid"); t1=$(now_us); seq1=$(R hget "${p}stats" seq)
cat "$dir/rb.out" >&2
rb_kv=$(python3 - "$dir/rb.out" <<'PY'
import csv, sys
head, vals = list(csv.reader(l for l in open(sys.argv[1]) if l.startswith('"')))[:2]
d = dict(zip(head, vals))
us = lambda k: round(float(d[k]) * 1000)
print(f"rps={d['rps']} p50_us={us('p50_latency_ms')} p99_us={us('p99_latency_ms')} max_us={us('max_latency_ms')}")
PY
)
echo "PHASE label=redis-benchmark stream=$stream_r stored=$((${seq1:-0} - ${seq0:-0})) wall_us=$((t1 - t0))" \
  "server_cpu_us=-1 server_sys_us=-1 redis_cpu_us=$((rcpu1 - rcpu0)) redis_wait_us=$((rwait1 - rwait0)) requests=$rb_n non2xx=0 $rb_kv" \
  "$(grep '^CLIENT ' "$dir/rb.out" | cut -d' ' -f2-)" >> "$dir/results"

# ---- 3. Node.js + ioredis ------------------------------------------------------------------------
port=$(free_port)
PORT=$port REDIS_SOCKET=$sock ADMIN_TOKEN=$admin_token PLACE_LUA=$dir/place.lua \
  node "$here/node-peer/server.js" > "$dir/node.log" 2>&1 &
node_pid=$!
pids+=("$node_pid")
wait_healthy "$port" "$node_pid" "$dir/node.log"
http_phase node-ioredis "$port" "$stream_n" "$node_pid"
stop_pid "$node_pid"

# ---- checks: no oversell, every acknowledged order stored ----------------------------------------
for s in "$stream_b" "$stream_r" "$stream_n"; do
  echo "STOCK stream=$s stock=$(R hget "bc:{s:$s}:stock" TEA) units=$(R hget "bc:{s:$s}:stats" units)" \
    "orders=$(R hget "bc:{s:$s}:stats" orders)" >> "$dir/results"
done

# ---- the table -----------------------------------------------------------------------------------
echo
echo "orders: $conns connections, ${seconds}s per HTTP server, AOF $aof, one redis-server on a unix socket" \
  "(load $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
echo "FLOOR requests=$f_requests rate=$f_rate cpu_us=$((f_cpu1 - f_cpu0)) sys_us=$((f_sys1 - f_sys0))" >> "$dir/results"
python3 - "$dir/results" "$initial_stock" "$conns" "$rb_p" <<'PY'
import sys
phases, stocks, floor = [], [], {}
for line in open(sys.argv[1]):
    kind, *items = line.split()
    kv = dict(i.split("=", 1) for i in items)
    if kind == "FLOOR": floor = kv
    else: (phases if kind == "PHASE" else stocks).append(kv)
initial, conns = int(sys.argv[2]), int(sys.argv[3])
b, r, n = phases
def f(p, k): return float(p[k])
for p in (b, n):  # HTTP phases: orders answered 2xx per second of wrk's run
    p["ok"] = int(p["requests"]) - int(p["non2xx"])
    p["rate"] = p["ok"] / (f(p, "duration_us") / 1e6)
r["ok"] = int(r["requests"])
r["rate"] = f(r, "rps")
for p in (b, r, n):
    p["wall_s"] = f(p, "wall_us") / 1e6
def per_order(p, k): return f"{f(p, k) / p['ok']:.1f}" if f(p, k) >= 0 and p["ok"] else "-"
def cores(p, k): return f"{f(p, k) / 1e6 / p['wall_s']:.2f}" if f(p, k) >= 0 else "-"
errors = lambda p: sum(int(p.get(k, 0)) for k in ("non2xx", "connect_errors", "read_errors", "write_errors", "timeouts"))
rows = [
    ("orders/s", lambda p: f"{p['rate']:,.0f}"),
    ("% of the pipelined ceiling", lambda p: f"{100 * p['rate'] / r['rate']:.0f}%"),
    ("latency p50 ms", lambda p: f"{f(p, 'p50_us') / 1000:.2f}"),
    ("latency p99 ms", lambda p: f"{f(p, 'p99_us') / 1000:.2f}"),
    ("latency max ms", lambda p: f"{f(p, 'max_us') / 1000:.1f}"),
    ("errors (non-2xx, socket)", lambda p: str(errors(p))),
    ("server CPU µs / order", lambda p: per_order(p, "server_cpu_us")),
    ("  of which kernel µs / order", lambda p: per_order(p, "server_sys_us")),
    ("server CPU, cores", lambda p: cores(p, "server_cpu_us")),
    ("Redis CPU µs / order", lambda p: per_order(p, "redis_cpu_us")),
    ("Redis CPU, cores", lambda p: cores(p, "redis_cpu_us")),
    ("Redis waiting for a CPU", lambda p: f"{100 * f(p, 'redis_wait_us') / 1e6 / p['wall_s']:.0f}% of the time"),
    ("client CPU, cores", lambda p: cores(p, "cpu_us")),
    ("orders stored (answered)", lambda p: f"{p['stored']} ({p['ok']})"),
]
names = ("bloomcast HTTP", f"redis-bench -P{sys.argv[4]}", "node+ioredis HTTP")
print(f"| {'':28} | " + " | ".join(f"{x:>17}" for x in names) + " |")
print(f"| {'-' * 28} | " + " | ".join("-" * 16 + ":" for _ in names) + " |")
for name, get in rows:
    print(f"| {name:28} | " + " | ".join(f"{get(p):>17}" for p in (b, r, n)) + " |")

fn = int(floor["requests"])
print(f"\nfloor: bloomcast GET /healthz (HTTP + one Redis PING), {conns} connections: "
      f"{float(floor['rate']):,.0f} requests/s, {int(floor['cpu_us']) / fn:.1f} µs CPU per request "
      f"(kernel {int(floor['sys_us']) / fn:.1f})")
ok = True
print()
for s, label in zip(stocks, names):
    stock, units, orders = int(s["stock"] or 0), int(s["units"] or 0), int(s["orders"] or 0)
    fine = stock + units == initial and units == orders and stock >= 0
    ok &= fine
    print(f"stream {s['stream']} ({label}): stock {stock:,} + units sold {units:,} = {stock + units:,}"
          f" (initial {initial:,}), orders {orders:,}: {'no oversell' if fine else 'OVERSOLD OR LOST'}")
for p, label in ((b, names[0]), (n, names[2])):
    # Requests in flight when wrk stopped may be stored without being counted: at most one per connection.
    stored, answered = int(p["stored"]), p["ok"]
    fine = answered <= stored <= answered + conns
    ok &= fine
    print(f"{label}: {answered:,} orders acknowledged, {stored:,} stored: "
          f"{'every acknowledged order stored' if fine else 'MISMATCH'}")
bcpu = f(b, "server_cpu_us") / b["ok"] if b["ok"] else float("inf")
goals = [
    (">= 85% of the ceiling", b["rate"] >= 0.85 * r["rate"]),
    ("<= 10 µs bloomcast CPU / order", bcpu <= 10),
    ("p99 <= 10 ms", f(b, "p99_us") <= 10000),
    ("zero oversell", ok),
]
print("goals: " + ", ".join(f"{g}: {'yes' if v else 'NO'}" for g, v in goals))
PY
