#!/usr/bin/env bash
# A/B of two versions of the place-order script on Redis alone: which one gives more orders/s.
#   bench/orders/script_ab.sh OLD_REV [rounds=10] [requests=60000]
# OLD_REV is a git revision; the new version is the working tree. For each, the script text
# (kPlace in orders/OrderScripts.cc) and its keys (kParts of placeKeys in orders/Keys.h, the
# room channel being an argument) are taken from that version, so versions with other keys
# compare. One redis-server (as run.sh's: unix socket, AOF everysec, no automatic rewrite)
# holds both, each on its own stream; redis-benchmark EVALSHA -c 50 -P 16 (the ceiling's load)
# runs the old and then the new script, ROUNDS times. This VM's speed drifts by tens of percent
# within a minute, so the pairs run seconds apart compare: it prints one line per round, the
# median orders/s of each and the median of the rounds' new/old ratios.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
old_rev=${1:?usage: script_ab.sh OLD_REV [rounds] [requests]}
rounds=${2:-10}
requests=${3:-60000}
for tool in redis-server redis-cli redis-benchmark python3 git; do
  command -v $tool >/dev/null || { echo "script_ab.sh: $tool is missing: run bench/setup.sh" >&2; exit 1; }
done

dir=$(mktemp -d /tmp/bloomcast-script-ab-XXXXXX)
sock=$dir/redis.sock
cleanup() {
  redis-cli -s "$sock" shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$dir/old" "$dir/new"
for f in OrderScripts.cc Keys.h; do
  git -C "$root" show "$old_rev:orders/$f" > "$dir/old/$f"
  cp "$root/orders/$f" "$dir/new/$f"
done
for v in old new; do
  python3 "$here/place_script.py" lua "$dir/$v/OrderScripts.cc" > "$dir/$v.lua"
  python3 "$here/place_script.py" keys "$dir/$v/Keys.h" > "$dir/$v.keys"
done

redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir" --save '' \
  --appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0 \
  --daemonize yes --logfile "$dir/redis.log"
for _ in $(seq 100); do redis-cli -s "$sock" ping >/dev/null 2>&1 && break; sleep 0.1; done
R() { redis-cli -s "$sock" "$@"; }

# One stream per version: 1 old, 2 new; product TEA, stock 10^12.
declare -A sha stream=([old]=1 [new]=2)
for v in old new; do
  p="bc:{s:${stream[$v]}}:"
  R hset "${p}meta" status live factory_id 1 >/dev/null
  R hset "${p}p:TEA" price_cents 1990 limit_per_buyer 0 title_json '"tea"' >/dev/null
  R hset "${p}stock" TEA 1000000000000 >/dev/null
  sha[$v]=$(R -x script load < "$dir/$v.lua")  # -x: the exact bytes
done

# run VERSION: orders/s of one redis-benchmark run.
run() {
  local p="bc:{s:${stream[$1]}}:" keys=() part
  while read -r part; do
    if [ "$part" = "p:" ]; then keys+=("${p}p:TEA"); else keys+=("$p$part"); fi
  done < "$dir/$1.keys"
  redis-benchmark -s "$sock" -n "$requests" -c 50 -P 16 -r 100000000 --csv \
    EVALSHA "${sha[$1]}" "${#keys[@]}" "${keys[@]}" \
    TEA 1 0123456789abcdef __rand_int__ "$(($(date +%s%N) / 1000000))" '"b**"' "${p}room" 1000000 |
    python3 -c 'import csv, sys; print(next(r for r in csv.reader(sys.stdin) if r[0] != "test")[1])'
}

echo "script_ab.sh: $rounds rounds of $requests EVALSHA each, -c 50 -P 16; old=$old_rev ($(wc -l < "$dir/old.keys") keys), new=working tree ($(wc -l < "$dir/new.keys") keys)"
results=()
for ((i = 1; i <= rounds; i++)); do
  old=$(run old)
  new=$(run new)
  echo "round $i: old $old/s  new $new/s"
  results+=("$old $new")
done
# Every call must have placed an order (a few in 1,000 replay a drawn key): a script that
# fails fast would look fast.
for v in old new; do
  stored=$(R hget "bc:{s:${stream[$v]}}:stats" seq)
  echo "$v: ${stored:-0} orders stored of $((rounds * requests)) calls"
  if [ "${stored:-0}" -lt $((rounds * requests * 99 / 100)) ]; then
    echo "script_ab.sh: the $v script did not place its orders (run one call by hand to see why)" >&2
    exit 1
  fi
done
printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
rows = [tuple(map(float, line.split())) for line in sys.stdin]
ratios = [n / o for o, n in rows]
print(f"median orders/s: old {statistics.median(o for o, _ in rows):,.0f}, new {statistics.median(n for _, n in rows):,.0f}; "
      f"new/old per round: median {statistics.median(ratios):.3f}, new higher in {sum(r > 1 for r in ratios)} of {len(ratios)}")'
