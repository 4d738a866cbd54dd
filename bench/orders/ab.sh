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
for tool in wrk redis-server redis-cli python3 curl; do
  command -v $tool >/dev/null || { echo "ab.sh: $tool is missing: run bench/setup.sh" >&2; exit 1; }
done
. "$here/common.sh"

bench_init orders-ab
start_redis
start_old_and_new "$old" "$new"

# The stream and the buyers' tokens, made through the old build (both share Redis and the admin
# token, so both know the stream and accept the tokens).
stream=$(make_catalog "$old_port")

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
