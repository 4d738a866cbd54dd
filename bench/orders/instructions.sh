#!/usr/bin/env bash
# User-space instructions per order of one bloomcast build, counted by valgrind's callgrind under
# the orders load (orders.lua, 50 connections), with the functions they go to.
#   bench/orders/instructions.sh BINARY [seconds=15] [rows=25]
#   KEEP_DUMP=FILE keeps callgrind's dump (for callgrind_annotate --tree=calling, line by line).
# CPU time per order on this VM drifts by tens of percent within minutes (see ab.sh); an
# instruction count does not: the same build gives the same count to a fraction of a percent,
# so a change to bloomcast's own code shows here in one run. It counts user space only — the
# kernel's part (the sockets), the cache misses and the clock are not in it — so ab.sh stays the
# judge of time; this says where the instructions go. Valgrind runs without SHA-NI and AVX-512,
# so libcrypto's SHA-256 (the session check) and libc's memcpy count more instructions here than
# the CPU runs. The server runs ~50x slower under valgrind: a few thousand orders per second.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=${1:?usage: instructions.sh BINARY [seconds] [rows]}
seconds=${2:-15}
rows=${3:-25}
conns=50
for tool in wrk redis-server redis-cli python3 curl valgrind callgrind_control callgrind_annotate; do
  command -v $tool >/dev/null || { echo "instructions.sh: $tool is missing: run bench/setup.sh" >&2; exit 1; }
done
. "$here/common.sh"

bench_init orders-instructions
start_redis
start_server "$binary" server 120 valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out"
pid=$started_pid port=$started_port
stream=$(make_catalog "$port")
orders_placed() { redis-cli -s "$sock" hget "bc:{s:$stream}:stats" seq; }

TOKENS=$dir/tokens STREAM=$stream SKU=TEA NONCE="w$(date +%s%N)" \
  wrk -t2 -c$conns -d3s -s "$here/orders.lua" "http://127.0.0.1:$port" > /dev/null
# Counting starts after start-up, the catalog and a warm-up: only the order path is counted.
# Orders are counted in Redis (those still in flight when wrk stops are placed before the dump).
callgrind_control -z "$pid" > /dev/null
seq0=$(orders_placed)
TOKENS=$dir/tokens STREAM=$stream SKU=TEA NONCE="m$(date +%s%N)" \
  wrk -t2 -c$conns -d"${seconds}s" -s "$here/orders.lua" "http://127.0.0.1:$port" > "$dir/wrk.out"
sleep 1  # the last answers
seq1=$(orders_placed)
callgrind_control -d "$pid" > /dev/null
dump=$(ls "$dir"/callgrind.out.* | head -1)
for _ in $(seq 100); do [ -s "$dump" ] && break; sleep 0.1; done
[ -n "${KEEP_DUMP:-}" ] && cp "$dump" "$KEEP_DUMP"

python3 - "$((seq1 - seq0))" "$rows" "$dump" "$binary" <<'PY'
import re, subprocess, sys
orders, rows, dump, binary = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
def listing(inclusive):
    out = subprocess.run(["callgrind_annotate", f"--inclusive={inclusive}", "--threshold=100",
                          "--auto=no", dump], capture_output=True, text=True, check=True).stdout
    total, entries = None, []
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
        if not m: continue
        ir, what = int(m.group(1).replace(",", "")), m.group(2)
        if what == "PROGRAM TOTALS": total = ir
        else: entries.append((ir, what))
    return total, entries
def name(what):
    """'file:function(args) [object]' -> 'function' (or 'function (object)' outside the binary)."""
    obj = ""
    m = re.match(r"(.*) \[(.*)\]$", what)
    if m:
        what, obj = m.group(1), m.group(2).rsplit("/", 1)[-1]
    m = re.match(r"([^ :]*[/.][^ :]*|\?\?\?):(.*)$", what)  # the file, when one is named
    fn = m.group(2) if m else what
    fn = re.sub(r"( const| \[clone [^]]*\])+$", "", fn)
    if fn.endswith(")"):  # the argument list: from the '(' that matches the last ')'
        depth = 0
        for i in range(len(fn) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(fn[i], 0)
            if depth == 0:
                fn = fn[:i]
                break
    return fn if obj in ("", binary.rsplit("/", 1)[-1]) else f"{fn} ({obj})"
def merged(entries, combine):
    """One row per function: code inlined from other files comes as rows of their own, which
    add up for a function's own instructions and repeat part of its total for inclusive ones."""
    rows = {}
    for ir, what in entries:
        fn = name(what)
        rows[fn] = combine(rows[fn], ir) if fn in rows else ir
    return sorted(((ir, fn) for fn, ir in rows.items()), reverse=True)
total, own = listing("no")
own = merged(own, lambda a, b: a + b)
_, inclusive = listing("yes")
inclusive = merged(inclusive, max)
print(f"instructions.sh: {binary}: {orders} orders counted; user-space instructions per order: "
      f"{total / orders:,.0f}")
# The frames that were on the stack when counting started (the loop, main) hold everything: left out.
print(f"\nown instructions per order (top {rows}):")
for ir, fn in [e for e in own if e[0] < 0.9 * total][:rows]:
    print(f"{ir / orders:8,.0f}  {ir / total:6.1%}  {fn[:110]}")
print(f"\nwith what they call, per order (bloomcast's functions, top {rows}):")
shown = [e for e in inclusive if e[0] < 0.9 * total and "bloomcast::" in e[1]][:rows]
for ir, fn in shown:
    print(f"{ir / orders:8,.0f}  {ir / total:6.1%}  {fn[:110]}")
PY
