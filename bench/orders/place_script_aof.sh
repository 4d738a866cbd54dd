#!/bin/bash
# The Redis-side ceiling of the place-order script: redis-benchmark EVALSHA, 50 clients,
# pipeline 16, unix socket, AOF as the embedded Redis runs it (no automatic rewrite: see
# bench/orders/README.md).
#   [N=requests] [C=clients] [P=pipeline] bench/orders/place_script_aof.sh always|everysec|no|off
# (no: AOF on, fsync left to the kernel; off: no AOF at all)
# Needs redis-server, redis-cli and redis-benchmark (Debian redis-tools). Uses a temp dir.
set -euo pipefail
mode=${1:-everysec}
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/bloomcast-bench-XXXXXX)
trap 'redis-cli -s $dir/r.sock shutdown nosave >/dev/null 2>&1 || true; rm -rf $dir' EXIT
# The script text, straight from orders/OrderScripts.cc.
python3 "$here/place_script.py" lua "$here/../../orders/OrderScripts.cc" > $dir/place.lua
aof=(--appendonly yes --appendfsync $mode)
[ "$mode" = off ] && aof=(--appendonly no)
redis-server --port 0 --unixsocket $dir/r.sock --dir $dir --save '' "${aof[@]}" \
  --auto-aof-rewrite-percentage 0 --daemonize yes --logfile $dir/log --pidfile $dir/pid
for i in $(seq 50); do redis-cli -s $dir/r.sock ping >/dev/null 2>&1 && break; sleep 0.1; done
R="redis-cli -s $dir/r.sock"
sha=$($R -x script load < $dir/place.lua)  # -x: the bytes as they are (no newline stripped)
$R hset 'bc:{s:1}:meta' status live factory_id 1 >/dev/null
$R hset 'bc:{s:1}:p:TEA' price_cents 1990 limit_per_buyer 0 title_json '"tea"' >/dev/null
$R hset 'bc:{s:1}:stock' TEA 1000000000000 >/dev/null
redis-benchmark -s $dir/r.sock -n ${N:-200000} -c ${C:-50} -P ${P:-16} -r 100000000 -q \
  EVALSHA $sha 7 'bc:{s:1}:meta' 'bc:{s:1}:p:TEA' 'bc:{s:1}:stock' 'bc:{s:1}:orders' 'bc:{s:1}:stats' \
  'bc:{s:1}:lb' 'bc:{s:1}:events' \
  TEA 1 0123456789abcdef __rand_int__ 1714564800123 '"b**"' 'bc:{s:1}:room' 1000000
echo "orders stored: $($R hget 'bc:{s:1}:stats' seq)"
