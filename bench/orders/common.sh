# Shared by ab.sh and instructions.sh (sourced, not run): a scratch directory whose servers are
# stopped on exit, one redis-server as run.sh's (unix socket, AOF everysec, no automatic
# rewrite), bloomcast servers on it, and the catalog every orders load needs.
#   bench_init NAME: makes $dir (removed on exit) and $sock; servers go in the pids array.
#   start_redis
#   start_server BINARY NAME [WAIT_S] [WRAPPER...]: sets started_pid and started_port once GET
#     /healthz answers (within WAIT_S, default 20); WRAPPER (say, valgrind and its options) runs
#     the binary.
#   start_old_and_new OLD NEW: both builds (start_server), as old_pid/old_port, new_pid/new_port.
#   make_catalog PORT: one stream with product TEA (stock 10^9) and 200 buyers' tokens in
#     $dir/tokens; prints the stream's id.
admin_token=bench-admin-token

bench_init() {
  dir=$(mktemp -d "/tmp/bloomcast-$1-XXXXXX")
  sock=$dir/redis.sock
  pids=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  for pid in "${pids[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}

# "UTIME STIME" of a process, in µs.
cpu_us() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%d %d\n", $12 * 1000000 / hz, $13 * 1000000 / hz }' \
    "/proc/$1/stat"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_redis() {
  mkdir -p "$dir/redis"
  redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 --dir "$dir/redis" --save '' \
    --appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0 --logfile "$dir/redis.log" &
  pids+=($!)
  for _ in $(seq 100); do redis-cli -s "$sock" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "$(basename "$0"): redis-server did not come up" >&2
  exit 1
}

start_server() {
  local binary=$1 name=$2 wait_s=${3:-20} port pid
  shift $(($# < 3 ? $# : 3))
  port=$(free_port)
  "$@" "$binary" serve --bind 127.0.0.1 --http-port "$port" --rtmp-port 0 --data-dir "$dir/$name" \
    --redis "unix:$sock" --admin-token "$admin_token" --rate-limits off --renditions source \
    --log-level warn > "$dir/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq $((wait_s * 10))); do
    if curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; then
      started_pid=$pid
      started_port=$port
      return 0
    fi
    sleep 0.1
  done
  echo "$(basename "$0"): $binary did not come up; its log:" >&2
  tail -20 "$dir/$name.log" >&2
  exit 1
}

# Two builds on one redis-server, for comparisons: sets old_pid old_port new_pid new_port.
start_old_and_new() {
  start_server "$1" old
  old_pid=$started_pid old_port=$started_port
  start_server "$2" new
  new_pid=$started_pid new_port=$started_port
}

make_catalog() {
  python3 - "$1" "$admin_token" "$dir/tokens" <<'PY'
import json, sys, urllib.request
port, admin, tokens_path = sys.argv[1:]
def call(path, body, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    if token: req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())
factory = call("/api/factories", {"name": "orders bench"}, admin)["id"]
s = call("/api/streams", {"factory_id": factory, "title": "orders bench"}, admin)["id"]
call(f"/api/streams/{s}/products", {"sku": "TEA", "title": "明前龙井", "price_cents": 1990,
                                     "stock": 10**9, "limit_per_buyer": 0}, admin)
with open(tokens_path, "w") as f:
    for i in range(200):
        f.write(call("/api/sessions", {"name": f"买家{i}"})["token"] + "\n")
print(s)
PY
}
