#!/usr/bin/env bash
# Orders through the HTTP API: bloomcast vs the Redis ceiling of its own place script vs a
# Node.js + ioredis server of the same API, in one run, against one redis-server.
#   bench/orders/run.sh [seconds=10] [connections=50]
# Env: ROUNDS=5 (rounds of phase 1), AOF=everysec|always|no|off (appendfsync of the shared
# redis-server, off: no AOF; everysec is the issue's reference, always what the embedded Redis
# ships with), RB_N=200000 (redis-benchmark requests), RB_P=16 (its pipeline), WRK_THREADS=2,
# SESSIONS=200 (buyers in rotation), WARMUP_S=2 (unmeasured wrk run before each HTTP run), FLOOR_S=6 (each floor run),
# SKIP_BUILD=1, KEEP=1 (keep the temp dir and logs).
#
# Phases, one after the other (each alone on the machine):
#   1. ROUNDS times: bloomcast serve --redis unix:SOCK --rate-limits off under wrk -c CONNECTIONS
#      with orders.lua (a fresh idempotency key per request, session tokens in rotation); then,
#      with bloomcast paused, redis-benchmark EVALSHA of the same place script (as
#      place_script_aof.sh) twice: -c CONNECTIONS -P 16, the most orders/s this Redis gives the
#      script on this machine, the ceiling the goal is measured against; and -c 1 -P
#      CONNECTIONS, the same script with as many orders in flight as the HTTP load can have.
#   2. The floors, the same wrk load on: bloomcast's GET /healthz (one Redis PING per request,
#      what an order's CPU stands on); nginx answering a constant body (HTTP alone).
#   3. node-peer/server.js (ioredis, same script via EVALSHA), the same wrk load.
# Each kind of phase gets its own stream (product TEA, stock 10^9) so the checks are per phase. CPU per
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
rounds=${ROUNDS:-5}
initial_stock=1000000000
admin_token=bench-admin-token

# ---- build and install (outside the measurement) -----------------------------------------------
if [ -z "${SKIP_BUILD:-}" ]; then
  BLOOMCAST_JOBS=${BLOOMCAST_JOBS:-1} "$root/scripts/build.sh" plain --target bloomcast
fi
bloomcast=$root/build/bloomcast
[ -x "$bloomcast" ] || { echo "run.sh: $bloomcast is missing" >&2; exit 1; }
for tool in wrk redis-server redis-cli redis-benchmark node npm python3 curl nginx; do
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
  kill -CONT "$1" 2>/dev/null || true  # a paused process would not see the TERM
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
# But one: no automatic AOF rewrite. The embedded Redis rewrites every ~256 MB of AOF (~350k
# orders); a run of 5 rounds writes ~2.5 GB, and each rewrite forks a child that takes a core
# for 4-10 s, landing in whichever phase is running. Appending to the AOF, the per-order cost,
# is unchanged.
mkdir -p "$dir/redis"
aof_args=(--appendonly yes --appendfsync "$aof")
[ "$aof" = off ] && aof_args=(--appendonly no)
redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir/redis" --save '' \
  "${aof_args[@]}" --auto-aof-rewrite-percentage 0 \
  --maxclients 10000 --timeout 0 --logfile "$dir/redis.log" &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 100); do R ping >/dev/null 2>&1 && break; sleep 0.1; done
R ping >/dev/null

# The place script, straight from orders/OrderScripts.cc (as place_script_aof.sh does).
python3 "$here/place_script.py" lua "$root/orders/OrderScripts.cc" > "$dir/place.lua"

# ---- bloomcast, and the catalog every phase uses ------------------------------------------------
port=$(free_port)
"$bloomcast" serve --bind 127.0.0.1 --http-port "$port" --rtmp-port 0 --data-dir "$dir/bloomcast" \
  --redis "unix:$sock" --admin-token "$admin_token" --rate-limits off --renditions source \
  --log-level warn > "$dir/bloomcast.log" 2>&1 &
bloomcast_pid=$!
pids+=("$bloomcast_pid")
wait_healthy "$port" "$bloomcast_pid" "$dir/bloomcast.log"

# A factory, four streams (bloomcast, the two redis-benchmark runs, node) with product TEA, and the buyers'
# session tokens (bloomcast signs them; the Node peer verifies the same signature).
read -r stream_b stream_r stream_f stream_n < <(python3 - "$port" "$admin_token" "$sessions" "$dir/tokens" "$initial_stock" <<'PY'
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
for title in ("bloomcast", "redis-benchmark", "redis-benchmark in flight", "node"):
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
echo "run.sh: streams bloomcast=$stream_b redis-benchmark=$stream_r,$stream_f node=$stream_n, $sessions sessions" >&2

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

# rb_phase LABEL CLIENTS PIPELINE STREAM: appends a PHASE line. A fresh random idempotency key per
# call (-r); one buyer, as place_script_aof.sh.
sha=$(R -x script load < "$dir/place.lua")  # -x: the exact bytes, so the same SHA1 as bloomcast's
rb_phase() {
  local label=$1 clients=$2 pipeline=$3 stream=$4
  local p="bc:{s:$stream}:" now_ms seq0 rcpu0 rwait0 t0 seq1 rcpu1 rwait1 t1 rb_kv
  echo "== $label: redis-benchmark -c$clients -P $pipeline -n $rb_n EVALSHA place" >&2
  now_ms=$(($(date +%s%N) / 1000000))
  seq0=$(R hget "${p}stats" seq); rcpu0=$(cpu_us "$redis_pid"); rwait0=$(wait_us "$redis_pid"); t0=$(now_us)
  with_client_cpu redis-benchmark -s "$sock" -n "$rb_n" -c "$clients" -P "$pipeline" -r 100000000 --csv \
    EVALSHA "$sha" 7 "${p}meta" "${p}p:TEA" "${p}stock" "${p}orders" "${p}stats" "${p}lb" \
    "${p}events" TEA 1 0123456789abcdef __rand_int__ "$now_ms" '"b**"' "${p}room" 1000000 > "$dir/$label.out"
  rcpu1=$(cpu_us "$redis_pid"); rwait1=$(wait_us "$redis_pid"); t1=$(now_us); seq1=$(R hget "${p}stats" seq)
  cat "$dir/$label.out" >&2
  rb_kv=$(python3 - "$dir/$label.out" <<'PY'
import csv, sys
head, vals = list(csv.reader(l for l in open(sys.argv[1]) if l.startswith('"')))[:2]
d = dict(zip(head, vals))
us = lambda k: round(float(d[k]) * 1000)
print(f"rps={d['rps']} p50_us={us('p50_latency_ms')} p99_us={us('p99_latency_ms')} max_us={us('max_latency_ms')}")
PY
)
  echo "PHASE label=$label stream=$stream stored=$((${seq1:-0} - ${seq0:-0})) wall_us=$((t1 - t0))" \
    "server_cpu_us=-1 server_sys_us=-1 redis_cpu_us=$((rcpu1 - rcpu0)) redis_wait_us=$((rwait1 - rwait0)) requests=$rb_n non2xx=0 $rb_kv" \
    "$(grep '^CLIENT ' "$dir/$label.out" | cut -d' ' -f2-)" >> "$dir/results"
}

# ---- 1. bloomcast and the ceilings, alternated ROUNDS times ---------------------------------------
# The VM's speed drifts by tens of percent within minutes, so each round measures bloomcast and,
# right after it, the two ceilings; the table is the median round's.
for ((round = 1; round <= rounds; round++)); do
  kill -CONT "$bloomcast_pid"
  http_phase "bloomcast-$round" "$port" "$stream_b" "$bloomcast_pid"
  # Paused while redis-benchmark runs, so its periodic work (the expiry sweep) stays out of the
  # ceilings; its connections stay open.
  kill -STOP "$bloomcast_pid"
  # a. The ceiling the goal is measured against: CONNECTIONS clients, 16 deep each.
  rb_phase "redis-benchmark-$round" "$conns" "$rb_p" "$stream_r"
  # b. The same script with as many orders in flight as the HTTP phases can have (one per wrk
  # connection), over one connection as bloomcast sends them: what Redis gives that load shape.
  rb_phase "redis-benchmark-inflight-$round" 1 "$conns" "$stream_f"
done
kill -CONT "$bloomcast_pid"

# ---- 2. the floors -------------------------------------------------------------------------------
# The floor under an order: GET /healthz, which answers after one Redis round trip (a PING),
# with no body, token or script — HTTP and a Redis call, nothing else. Same load shape.
# floor_run LABEL URL PID: the same wrk load for FLOOR_S seconds; appends a FLOOR line with the
# CPU of process PID over the run.
floor_run() {
  local label=$1 url=$2 pid=$3 cpu0 sys0 cpu1 sys1
  echo "== $label: wrk -t$wrk_threads -c$conns -d${floor_s}s $url" >&2
  cpu0=$(cpu_us "$pid"); sys0=$(sys_us "$pid")
  wrk -t"$wrk_threads" -c"$conns" -d"${floor_s}s" "$url" > "$dir/$label.out"
  cpu1=$(cpu_us "$pid"); sys1=$(sys_us "$pid")
  echo "FLOOR label=$label requests=$(awk '/requests in/ { print $1 }' "$dir/$label.out")" \
    "rate=$(awk '/^Requests\/sec/ { print $2 }' "$dir/$label.out") cpu_us=$((cpu1 - cpu0))" \
    "sys_us=$((sys1 - sys0))" >> "$dir/results"
}
floor_run floor-healthz "http://127.0.0.1:$port/healthz" "$bloomcast_pid"
stop_pid "$bloomcast_pid"  # idle, it would still run its expiry sweep against Redis
# And what HTTP alone costs on this machine: nginx (one worker, no access log) answering a
# constant 11-byte JSON body from its config — no Redis, no parsing beyond the request head.
nginx_port=$(free_port)
mkdir -p "$dir/nginx"
cat > "$dir/nginx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
error_log $dir/nginx/error.log warn;
pid $dir/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $dir/nginx/body;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
}
CONF
nginx -c "$dir/nginx/nginx.conf" -p "$dir/nginx" > "$dir/nginx/stdout" 2>&1 &
nginx_pid=$!
pids+=("$nginx_pid")
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/" && break; sleep 0.1; done
floor_run floor-nginx "http://127.0.0.1:$nginx_port/" "$(pgrep -P "$nginx_pid" | head -1)"
stop_pid "$nginx_pid"

# ---- 3. Node.js + ioredis (once: it is the reference, not the goal) ------------------------------------------------------------------------
port=$(free_port)
PORT=$port REDIS_SOCKET=$sock ADMIN_TOKEN=$admin_token PLACE_LUA=$dir/place.lua \
  node "$here/node-peer/server.js" > "$dir/node.log" 2>&1 &
node_pid=$!
pids+=("$node_pid")
wait_healthy "$port" "$node_pid" "$dir/node.log"
http_phase node-ioredis "$port" "$stream_n" "$node_pid"
stop_pid "$node_pid"

# ---- checks: no oversell, every acknowledged order stored ----------------------------------------
for s in "$stream_b" "$stream_r" "$stream_f" "$stream_n"; do
  echo "STOCK stream=$s stock=$(R hget "bc:{s:$s}:stock" TEA) units=$(R hget "bc:{s:$s}:stats" units)" \
    "orders=$(R hget "bc:{s:$s}:stats" orders)" >> "$dir/results"
done

# ---- the table -----------------------------------------------------------------------------------
echo
echo "orders: $conns connections, ${seconds}s per HTTP server, AOF $aof, one redis-server on a unix socket" \
  "(load $(cut -d' ' -f1-3 /proc/loadavg) at the end)"
python3 - "$dir/results" "$initial_stock" "$conns" "$rb_p" <<'PY'
import statistics, sys
phases, stocks, floors = {}, [], {}
for line in open(sys.argv[1]):
    kind, *items = line.split()
    kv = dict(i.split("=", 1) for i in items)
    if kind == "FLOOR": floors[kv["label"]] = kv
    elif kind == "PHASE": phases[kv["label"]] = kv
    else: stocks.append(kv)
initial, conns = int(sys.argv[2]), int(sys.argv[3])
def f(p, k): return float(p[k])
for label, p in phases.items():
    if label.startswith("redis-benchmark"):
        p["ok"] = int(p["requests"])
        p["rate"] = f(p, "rps")
    else:  # HTTP phases: orders answered 2xx per second of wrk's run
        p["ok"] = int(p["requests"]) - int(p["non2xx"])
        p["rate"] = p["ok"] / (f(p, "duration_us") / 1e6)
    p["wall_s"] = f(p, "wall_us") / 1e6
rounds = []  # (bloomcast, the -P ceiling, the in-flight ceiling) per round
while f"bloomcast-{len(rounds) + 1}" in phases:
    i = len(rounds) + 1
    rounds.append((phases[f"bloomcast-{i}"], phases[f"redis-benchmark-{i}"], phases[f"redis-benchmark-inflight-{i}"]))
n = phases["node-ioredis"]
share = lambda rd: rd[0]["rate"] / rd[1]["rate"]
median_round = sorted(rounds, key=share)[(len(rounds) - 1) // 2]
b, r, fl = median_round
def per_order(p, k): return f"{f(p, k) / p['ok']:.1f}" if f(p, k) >= 0 and p["ok"] else "-"
def cores(p, k): return f"{f(p, k) / 1e6 / p['wall_s']:.2f}" if f(p, k) >= 0 else "-"
errors = lambda p: sum(int(p.get(k, 0)) for k in ("non2xx", "connect_errors", "read_errors", "write_errors", "timeouts"))
rows = [
    ("orders/s", lambda p: f"{p['rate']:,.0f}"),
    ("% of the pipelined ceiling", lambda p: f"{100 * p['rate'] / r['rate']:.0f}%"),
    (f"% of Redis at {conns} in flight", lambda p: f"{100 * p['rate'] / fl['rate']:.0f}%"),
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
names = ("bloomcast HTTP", f"redis-bench -P{sys.argv[4]}", f"redis-bench -c1 -P{conns}", "node+ioredis HTTP")
print(f"The median round of {len(rounds)} (by bloomcast's share of the ceiling), and the Node peer's run:")
print(f"| {'':28} | " + " | ".join(f"{x:>17}" for x in names) + " |")
print(f"| {'-' * 28} | " + " | ".join("-" * 16 + ":" for _ in names) + " |")
for name, get in rows:
    print(f"| {name:28} | " + " | ".join(f"{get(p):>17}" for p in (b, r, fl, n)) + " |")

print("\nEvery round (bloomcast, then the ceilings right after it):")
print("| round | bloomcast orders/s | µs / order | p99 ms | ceiling -P16 | share | Redis at "
      f"{conns} in flight | share |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for i, (rb_, rr, rf) in enumerate(rounds, 1):
    print(f"| {i} | {rb_['rate']:,.0f} | {f(rb_, 'server_cpu_us') / rb_['ok']:.1f} | {f(rb_, 'p99_us') / 1000:.2f} | "
          f"{rr['rate']:,.0f} | {100 * rb_['rate'] / rr['rate']:.0f}% | {rf['rate']:,.0f} | "
          f"{100 * rb_['rate'] / rf['rate']:.0f}% |")

print()
for label, what in (("floor-healthz", "bloomcast GET /healthz (HTTP + one Redis PING)"),
                    ("floor-nginx", "nginx return 200 (HTTP alone, 1 worker)")):
    fr = floors[label]
    fn = int(fr["requests"])
    print(f"floor: {what}, {conns} connections: {float(fr['rate']):,.0f} requests/s, "
          f"{int(fr['cpu_us']) / fn:.1f} µs CPU per request (kernel {int(fr['sys_us']) / fn:.1f})")
# The VM's speed moves every figure above by tens of percent between runs; nginx answering a
# constant in the same run is the yardstick that moves with it.
bcpu = statistics.median(f(rd[0], "server_cpu_us") / rd[0]["ok"] for rd in rounds)
nginx_us = int(floors["floor-nginx"]["cpu_us"]) / int(floors["floor-nginx"]["requests"])
print(f"yardstick: bloomcast's CPU per order, {bcpu:.1f} µs (median of the rounds), is "
      f"{bcpu / nginx_us:.2f}x what nginx spends on a constant answer in this run ({nginx_us:.1f} µs)")
ok = True
print()
for s, label in zip(stocks, names):
    stock, units, orders = int(s["stock"] or 0), int(s["units"] or 0), int(s["orders"] or 0)
    fine = stock + units == initial and units == orders and stock >= 0
    ok &= fine
    print(f"stream {s['stream']} ({label}): stock {stock:,} + units sold {units:,} = {stock + units:,}"
          f" (initial {initial:,}), orders {orders:,}: {'no oversell' if fine else 'OVERSOLD OR LOST'}")
for p, label in [(rd[0], f"{names[0]} round {i}") for i, rd in enumerate(rounds, 1)] + [(n, names[3])]:
    # Requests in flight when wrk stopped may be stored without being counted: at most one per connection.
    stored, answered = int(p["stored"]), p["ok"]
    fine = answered <= stored <= answered + conns
    ok &= fine
    print(f"{label}: {answered:,} orders acknowledged, {stored:,} stored: "
          f"{'every acknowledged order stored' if fine else 'MISMATCH'}")
goals = [
    (">= 85% of the ceiling (median round)", share(median_round) >= 0.85),
    ("<= 10 µs bloomcast CPU / order (median)", bcpu <= 10),
    ("p99 <= 10 ms (every round)", all(f(rd[0], "p99_us") <= 10000 for rd in rounds)),
    ("zero oversell", ok),
]
print("goals: " + ", ".join(f"{g}: {'yes' if v else 'NO'}" for g, v in goals))
PY
