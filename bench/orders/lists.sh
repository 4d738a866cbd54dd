#!/usr/bin/env bash
# What a campaign's size costs off the order path: one bloomcast node and one redis-server with
# STREAMS streams (of STREAMS/10 factories, no orders), measured for
#   - the idle node (the expiry task): Redis's and bloomcast's CPU per second over 10 s;
#   - one GET /api/streams and one campaign-wide GET /api/gmv?minutes=60|180|1440, each asked
#     twice (the second may be answered from the node's shared answer): time and CPU;
#   - a flood of each public list (wrk -t1 -c10 for 5 s): answers per second, and what it costs
#     Redis, which the flash sale runs on;
#   - an open dashboard (/ws/dashboard, one tick a second): CPU per second over 10 s.
# There is no peer here (the Node peer serves orders only): run it on two builds to compare.
# CPU is read from /proc in clock ticks (10 ms), so one request's figures are coarse.
#
#   bench/orders/lists.sh [BINARY=build/bloomcast] [STREAMS=2000]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
binary=${1:-$root/build/bloomcast}
streams=${2:-2000}
for tool in wrk redis-server redis-cli python3 curl; do
  command -v "$tool" >/dev/null || { echo "lists.sh: $tool is missing (bench/setup.sh)" >&2; exit 1; }
done
. "$here/common.sh"
bench_init lists
start_redis
redis_pid=${pids[0]}
start_server "$binary" server
pid=$started_pid port=$started_port

python3 - "$port" "$admin_token" "$streams" <<'PY'
import http.client, json, sys
port, admin, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=60)
def call(path, body):
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json", "Authorization": "Bearer " + admin})
    r = c.getresponse(); d = r.read()
    if r.status not in (200, 201): sys.exit(f"lists.sh: {path}: {r.status} {d[:200]!r}")
    return json.loads(d)
factories = [call("/api/factories", {"name": f"厂{i}"})["id"] for i in range(max(1, n // 10))]
for i in range(n):
    call("/api/streams", {"factory_id": factories[i % len(factories)], "title": f"直播{i}"})
PY

# "REDIS_MS BLOOMCAST_MS" of CPU since the "REDIS BLOOMCAST" µs pair given.
cpu_pair() { echo "$(cpu_us "$redis_pid") $(cpu_us "$pid")"; }
cpu_ms_since() {
  local now
  read -r -a now <<< "$(cpu_pair)"
  read -r -a then <<< "$1"
  echo "$(((now[0] + now[1] - then[0] - then[1]) / 1000)) $(((now[2] + now[3] - then[2] - then[3]) / 1000))"
}

echo "lists.sh: $(basename "$binary"), $streams streams, $((streams / 10)) factories, no orders"
before=$(cpu_pair); sleep 10; read -r r b <<< "$(cpu_ms_since "$before")"
echo "idle: Redis $((r / 10)) ms CPU a second, bloomcast $((b / 10)) ms"

for path in /api/streams "/api/gmv?minutes=60" "/api/gmv?minutes=180" "/api/gmv?minutes=1440"; do
  for ask in first second; do
    before=$(cpu_pair)
    took=$(curl -s -o "$dir/body" -w "%{time_total}" "http://127.0.0.1:$port$path")
    read -r r b <<< "$(cpu_ms_since "$before")"
    echo "GET $path ($ask): ${took} s, $(stat -c %s "$dir/body") bytes, bloomcast $b ms CPU, Redis $r ms"
  done
done

for path in /api/streams "/api/gmv?minutes=1" "/api/gmv?minutes=180"; do
  before=$(cpu_pair)
  rate=$(wrk -t1 -c10 -d5s "http://127.0.0.1:$port$path" | awk '/Requests\/sec/ { printf "%d", $2 }')
  read -r r b <<< "$(cpu_ms_since "$before")"
  echo "wrk -t1 -c10 -d5s GET $path: $rate answers/s; Redis $((r / 5)) ms CPU a second, bloomcast $((b / 5)) ms"
done

# A dashboard: the WebSocket handshake by hand, then its frames read and dropped.
python3 - "$port" "$admin_token" > "$dir/dashboard.out" 2>&1 <<'PY' &
import base64, os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET /ws/dashboard?token={sys.argv[2]} HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
total, started = 0, time.time()
while time.time() - started < 14:
    data = s.recv(1 << 20)
    if not data: break
    total += len(data)
print(f"{total} bytes in {time.time() - started:.0f} s")
PY
watcher=$!
sleep 2
before=$(cpu_pair); sleep 10; read -r r b <<< "$(cpu_ms_since "$before")"
wait "$watcher" || true
echo "dashboard open: Redis $((r / 10)) ms CPU a second, bloomcast $((b / 10)) ms ($(cat "$dir/dashboard.out") read)"
