#!/usr/bin/env bash
# A flash sale in a full room, on two builds: orders as in run.sh (wrk, orders.lua, 50
# connections) while the room's VIEWERS poll the stream and its products as live.js does
# (viewers.lua: VIEWERS/5 stream reads and VIEWERS/15 products reads a second, from 20
# connections), against one redis-server. Each round runs, for each build (the other paused,
# the order alternating), SECONDS each: the orders alone, the viewers alone, and both.
# Printed per run: orders/s and their p99, the viewers' answers/s and p99, and the CPU per second
# of Redis (which the flash sale runs on) and of bloomcast; then each build's medians.
#
#   bench/orders/room.sh OLD_BINARY NEW_BINARY [ROUNDS=3] [SECONDS=8] [VIEWERS=10000]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
old=${1:?usage: room.sh OLD_BINARY NEW_BINARY [rounds] [seconds] [viewers]}
new=${2:?usage: room.sh OLD_BINARY NEW_BINARY [rounds] [seconds] [viewers]}
rounds=${3:-3}
seconds=${4:-8}
viewers=${5:-10000}
poll_conns=20
# Per connection: one request every poll_conns / rate seconds (the answer's own time is small).
rate=$((viewers / 5 + viewers / 15))
delay_ms=$((poll_conns * 1000 / rate))
for tool in wrk redis-server redis-cli python3 curl; do
  command -v $tool >/dev/null || { echo "room.sh: $tool is missing: run bench/setup.sh" >&2; exit 1; }
done
. "$here/common.sh"

bench_init orders-room
start_redis
redis_pid=${pids[0]}
start_old_and_new "$old" "$new"
stream=$(make_catalog "$old_port")

orders() {  # PORT SECONDS OUT
  TOKENS=$dir/tokens STREAM=$stream SKU=TEA NONCE="r$(date +%s%N)" \
    wrk -t1 -c50 -d"$2s" -s "$here/orders.lua" "http://127.0.0.1:$1" > "$3"
}

run() {
  # WHAT: orders, viewers or both
  local label=$1 pid=$2 port=$3 what=$4 cpu0 cpu1 poller=
  kill -CONT "$pid"
  orders "$port" 2 /dev/null
  cpu0="$(cpu_us "$redis_pid") $(cpu_us "$pid")"
  if [ "$what" != orders ]; then
    STREAM=$stream DELAY_MS=$delay_ms wrk -t1 -c$poll_conns -d"${seconds}s" -s "$here/viewers.lua" \
      "http://127.0.0.1:$port" > "$dir/viewers.out" &
    poller=$!
  fi
  if [ "$what" != viewers ]; then orders "$port" "$seconds" "$dir/orders.out"; fi
  if [ -n "$poller" ]; then wait "$poller"; fi
  cpu1="$(cpu_us "$redis_pid") $(cpu_us "$pid")"
  kill -STOP "$pid"
  python3 - "$label" "$what" "$dir" "$cpu0" "$cpu1" "$seconds" <<'PY'
import sys
label, what, d, cpu0, cpu1, seconds = sys.argv[1:7]
seconds = float(seconds)
def wrk(path):
    return dict(kv.split("=") for kv in next(l for l in open(path) if l.startswith("WRK ")).split()[1:])
c0, c1 = [list(map(int, c.split())) for c in (cpu0, cpu1)]
redis_ms = (c1[0] + c1[1] - c0[0] - c0[1]) / 1000 / seconds
server_ms = (c1[2] + c1[3] - c0[2] - c0[3]) / 1000 / seconds
line, orders, p99, viewers = f"{label} {what:7}:", 0, 0, 0
if what != "viewers":
    o = wrk(f"{d}/orders.out")
    orders, p99 = (int(o["requests"]) - int(o["non2xx"])) / seconds, int(o["p99_us"])
    line += f" {orders:7.0f} orders/s, p99 {p99 / 1000:5.1f} ms, non-2xx {o['non2xx']};"
if what != "orders":
    v = wrk(f"{d}/viewers.out")
    viewers = int(v["requests"]) / seconds
    line += f" viewers {viewers:6.0f} answers/s, p99 {int(v['p99_us']) / 1000:5.1f} ms, non-2xx {v['non2xx']};"
line += f" CPU a second: Redis {redis_ms:4.0f} ms, bloomcast {server_ms:4.0f} ms"
print(line)
open(f"{d}/results", "a").write(f"{label} {what} {orders} {p99} {viewers} {redis_ms} {server_ms}\n")
PY
}

kill -STOP "$new_pid"
echo "room.sh: $rounds rounds of ${seconds}s runs; $viewers viewers polling: ~$rate requests/s" \
     "($poll_conns connections, ${delay_ms} ms apart); old=$old new=$new"
for ((i = 1; i <= rounds; i++)); do
  if ((i % 2)); then order=(old new); else order=(new old); fi
  for label in "${order[@]}"; do
    if [ "$label" = old ]; then pid=$old_pid port=$old_port; else pid=$new_pid port=$new_port; fi
    for what in orders viewers both; do run "$label" "$pid" "$port" $what; done
  done
done
python3 - "$dir/results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for label in ("old", "new"):
    m = lambda what, i: statistics.median(float(r[i]) for r in rows if r[0] == label and r[1] == what)
    print(f"median {label}: orders alone {m('orders', 2):.0f}/s, with the viewers {m('both', 2):.0f}/s "
          f"(p99 {m('both', 3) / 1000:.1f} ms); viewers alone: {m('viewers', 4):.0f} answers/s at "
          f"{m('viewers', 5):.0f} ms Redis CPU a second and {m('viewers', 6):.0f} ms bloomcast; "
          f"with the orders {m('both', 4):.0f} answers/s")
PY
