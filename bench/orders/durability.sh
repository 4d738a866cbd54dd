#!/usr/bin/env bash
# Acknowledged orders across kill -9 of redis-server under order load, by appendfsync mode.
#   bench/orders/durability.sh MODE [trials=4]     MODE: always|everysec|no
# Env: PRESSURE=1 writes 256 MiB files with fsync to the same disk meanwhile; SLOW_DISK_BPS=N
# runs redis-server in a cgroup (v1 blkio, root) whose writes to the data disk are throttled to N
# bytes/s: a slow disk. Slow fsyncs are what make Redis 7.0 postpone an everysec AOF write while
# it still replies.
# Each trial: a fresh redis-server (unix socket, AOF MODE), bloomcast (build/bloomcast, started
# once, re-dials by itself) under wrk -c50 for 6 s, redis-server killed -9 at a random 2-4.5 s,
# started again on the same AOF; then the orders wrk saw acknowledged (2xx) are compared with
# the orders Redis has (the stream's `seq`). "lost" must be 0.
set -euo pipefail
mode=${1:?usage: durability.sh always|everysec|no [trials]}
trials=${2:-4}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
bench_init durability
cgroup=
if [ -n "${SLOW_DISK_BPS:-}" ]; then
  cgroup=/sys/fs/cgroup/blkio/bloomcast-durability-$$
  disk=$(lsblk -no MAJ:MIN "$(findmnt -no SOURCE --target "$dir")" | head -1 | tr -d ' ')
  mkdir "$cgroup"
  echo "$disk $SLOW_DISK_BPS" > "$cgroup/blkio.throttle.write_bps_device"
  trap 'bench_cleanup; rmdir "$cgroup" 2>/dev/null || true' EXIT
fi

run_redis() {
  redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir/redis" --save '' \
    --appendonly yes --appendfsync "$mode" --auto-aof-rewrite-percentage 0 \
    --logfile "$dir/redis.log" > /dev/null 2>&1 &
  rpid=$!
  pids+=("$rpid")
  [ -z "$cgroup" ] || echo "$rpid" > "$cgroup/cgroup.procs"
  for _ in $(seq 600); do [ "$(redis-cli -s "$sock" ping 2>/dev/null)" = PONG ] && return 0; sleep 0.1; done
  echo "durability.sh: redis-server did not come up" >&2
  exit 1
}

for t in $(seq "$trials"); do
  rm -rf "$dir/redis"; mkdir -p "$dir/redis"
  run_redis
  if [ "$t" = 1 ]; then start_server "$here/../../build/bloomcast" server; port=$started_port; fi
  stream=
  for _ in $(seq 100); do stream=$(make_catalog "$port" 2>/dev/null) && break; sleep 0.1; done
  [ -n "$stream" ] || { echo "durability.sh: bloomcast did not get its store back" >&2; exit 1; }
  TOKENS=$dir/tokens STREAM=$stream SKU=TEA NONCE="d$t$(date +%s%N)" \
    wrk -t2 -c50 -d6s -s "$here/orders.lua" "http://127.0.0.1:$port" > "$dir/wrk.out" 2>&1 &
  wrk_pid=$!
  if [ -n "${PRESSURE:-}" ]; then
    (while :; do dd if=/dev/zero of="$dir/junk" bs=1M count=256 conv=fsync 2>/dev/null; done) &
    dd_loop=$!
  fi
  sleep "$(python3 -c 'import random; print(round(random.uniform(2.0, 4.5), 2))')"
  kill -9 "$rpid"; wait "$rpid" 2>/dev/null || true
  wait "$wrk_pid" || true
  if [ -n "${PRESSURE:-}" ]; then
    kill "$dd_loop"; wait "$dd_loop" 2>/dev/null || true
    pkill -f "of=$dir/junk" || true; rm -f "$dir/junk"
  fi
  total=$(awk '/requests in/ {print $1}' "$dir/wrk.out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$dir/wrk.out"); non2xx=${non2xx:-0}
  run_redis
  stored=$(redis-cli -s "$sock" hget "bc:{s:$stream}:stats" seq); stored=${stored:-0}
  acked=$((total - non2xx))
  echo "trial $t (appendfsync $mode${PRESSURE:+, disk pressure}${SLOW_DISK_BPS:+, disk at $SLOW_DISK_BPS B/s}):" \
    "acknowledged $acked," \
    "answered 503 or other $non2xx, stored $stored, lost $((acked > stored ? acked - stored : 0))"
  redis-cli -s "$sock" shutdown nosave > /dev/null 2>&1 || true
  wait "$rpid" 2>/dev/null || true
done
