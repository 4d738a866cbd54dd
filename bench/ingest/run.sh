#!/usr/bin/env bash
# Ingest benchmark: N concurrent 2.5 Mbit/s 720p30 RTMP publishers (ffmpeg -re -stream_loop -1
# -c copy of one generated clip) into bloomcast (--renditions source: ingest + source HLS, no
# re-encode) and, in the same run, into nginx with Debian's libnginx-mod-rtmp (ingest + HLS).
#
#   bench/ingest/run.sh [N...]           default: 1 10 50
#   BENCH_SECONDS=30 (measure window per N)
#
# For each server and N it prints: CPU used by the server over the window (% of one core, from
# /proc/PID/stat utime+stime of the server's processes), RSS, and whether every stream kept real
# time (HLS segments written in the window vs. window / 2 s), plus the first-segment latency of
# one stream (publish start -> a playlist lists its first segment).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS_WINDOW=${BENCH_SECONDS:-30}
COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(1 10 50)

# Bench-only packages, kept out of the test command's setup.
need=()
for p in nginx libnginx-mod-rtmp; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  systemctl stop nginx 2>/dev/null || service nginx stop 2>/dev/null || pkill -x nginx || true
fi
scripts/build.sh plain --target bloomcast >/dev/null

WORK=$(mktemp -d /tmp/bloomcast-bench-ingest-XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done
  pkill -f "$WORK" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# One 20 s clip, 1280x720 30 fps, 2.5 Mbit/s CBR-ish, GOP 2 s, AAC.
CLIP=$WORK/clip.flv
ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=1280x720:rate=30 \
  -f lavfi -i sine=frequency=440:sample_rate=44100 -t 20 -c:v libx264 -preset veryfast \
  -b:v 2500k -maxrate 2500k -bufsize 5000k -g 60 -keyint_min 60 -sc_threshold 0 -pix_fmt yuv420p \
  -c:a aac -b:a 128k -f flv "$CLIP"

# CPU ticks (utime+stime) of a list of pids, summed.
ticks() { local t=0; for p in "$@"; do [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
rss_kib() { local t=0; for p in "$@"; do [ -r /proc/$p/status ] && t=$((t + $(awk '/VmRSS/{print $2}' /proc/$p/status))); done; echo $t; }
HZ=$(getconf CLK_TCK)

publish() {  # url logfile
  ffmpeg -hide_banner -loglevel error -nostdin -re -stream_loop -1 -i "$CLIP" -c copy -f flv "$1" >"$2" 2>&1 &
  PIDS+=($!)
}

count_segments() {  # dir pattern
  find "$1" -name "$2" 2>/dev/null | wc -l
}

# measure NAME HLS_ROOT SEGMENT_GLOB PIDS...: waits for warm-up, measures the window.
measure() {
  local name=$1 n=$2 hls=$3 glob=$4; shift 4
  local pids=("$@")
  sleep 6  # warm-up: every publisher connected and past its first segment
  local seg0 t0 seg1 t1 rss
  seg0=$(count_segments "$hls" "$glob"); t0=$(ticks "${pids[@]}")
  sleep "$SECONDS_WINDOW"
  seg1=$(count_segments "$hls" "$glob"); t1=$(ticks "${pids[@]}"); rss=$(rss_kib "${pids[@]}")
  local cpu expected got
  cpu=$(python3 -c "print(f'{($t1-$t0)/$HZ/$SECONDS_WINDOW*100:.1f}')")
  expected=$((n * SECONDS_WINDOW / 2))
  got=$((seg1 - seg0))
  printf "%-10s %4d  %8s%%  %8d KiB  %5d / %-5d segments  %s\n" "$name" "$n" "$cpu" "$rss" "$got" "$expected" \
    "$([ $got -ge $((expected * 9 / 10)) ] && echo real-time || echo FALLING-BEHIND)"
}

# Milliseconds from `start_ns` until a playlist under `dir` lists its first segment (what a
# player can fetch; both servers create a segment file before it is complete).
first_segment_ms() {  # dir start_ns
  local start=$2
  for _ in $(seq 1 400); do
    if grep -rqs "#EXTINF" --include=index.m3u8 "$1"; then
      echo $(( ($(date +%s%N) - start) / 1000000 )); return
    fi
    sleep 0.025
  done
  echo "none"
}

echo "server     pubs       cpu           rss     HLS segments in ${SECONDS_WINDOW}s"
for N in "${COUNTS[@]}"; do
  # ---- bloomcast ----
  D=$WORK/bc-$N; mkdir -p "$D"
  HP=$(free_port); RP=$(free_port); ADMIN=bench-admin-token-$RANDOM$RANDOM
  build/bloomcast serve --bind 127.0.0.1 --http-port "$HP" --rtmp-port "$RP" --data-dir "$D" \
    --renditions source --admin-token "$ADMIN" --log-level warn >"$D/log" 2>&1 &
  BC=$!; PIDS+=($BC)
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$HP/healthz" >/dev/null && break; sleep 0.1; done
  FID=$(curl -sf -H "Authorization: Bearer $ADMIN" -d '{"name":"bench"}' "http://127.0.0.1:$HP/api/factories" | python3 -c 'import json,sys;print(json.load(sys.stdin)["id"])')
  # Every stream is created before the first publisher starts, so that the publishers start
  # as close together as nginx's and the first-segment clock measures the server alone.
  KEYS=()
  for i in $(seq 1 "$N"); do
    KEYS+=("$(curl -sf -H "Authorization: Bearer $ADMIN" -d "{\"title\":\"s$i\",\"factory_id\":\"$FID\"}" "http://127.0.0.1:$HP/api/streams" | python3 -c 'import json,sys;print(json.load(sys.stdin)["stream_key"])')")
  done
  START=$(date +%s%N)
  for i in $(seq 1 "$N"); do
    publish "rtmp://127.0.0.1:$RP/live/${KEYS[$((i - 1))]}" "$D/pub$i.log"
  done
  FIRST=$(first_segment_ms "$D/hls" "$START")
  REDIS=$(cat "$D/redis/redis.pid")
  measure bloomcast "$N" "$D/hls" "seg_*.m4s" "$BC"
  echo "           first segment ${FIRST} ms after publishing began; embedded redis pid $REDIS not counted"
  pkill -f "$CLIP" || true; kill "$BC"; wait "$BC" 2>/dev/null || true

  # ---- nginx-rtmp ----
  D=$WORK/nginx-$N; mkdir -p "$D/hls" "$D/logs"
  RP=$(free_port)
  cat >"$D/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
user root;
worker_processes 1;
daemon off;
pid $D/nginx.pid;
error_log $D/logs/error.log warn;
events { worker_connections 4096; }
rtmp {
  server {
    listen 127.0.0.1:$RP;
    application live {
      live on;
      hls on;
      hls_path $D/hls;
      hls_fragment 2s;
      hls_playlist_length 20s;
      hls_nested on;
    }
  }
}
CONF
  nginx -c "$D/nginx.conf" -p "$D" >"$D/logs/stdout" 2>&1 &
  NG=$!; PIDS+=($NG)
  sleep 1
  WORKERS=$(pgrep -P "$NG" || true)
  START=$(date +%s%N)
  for i in $(seq 1 "$N"); do publish "rtmp://127.0.0.1:$RP/live/s$i" "$D/pub$i.log"; done
  FIRST=$(first_segment_ms "$D/hls" "$START")
  # nginx-rtmp deletes old fragments (playlist length 20 s), so count the fragment sequence:
  # the highest index written per stream.
  sleep 6
  s0=$(for d in "$D"/hls/*/; do ls "$d" | sed -n 's/^\([0-9]*\)\.ts$/\1/p' | sort -n | tail -1; done | awk '{s+=$1} END {print s+0}')
  t0=$(ticks "$NG" $WORKERS)
  sleep "$SECONDS_WINDOW"
  s1=$(for d in "$D"/hls/*/; do ls "$d" | sed -n 's/^\([0-9]*\)\.ts$/\1/p' | sort -n | tail -1; done | awk '{s+=$1} END {print s+0}')
  t1=$(ticks "$NG" $WORKERS); rss=$(rss_kib "$NG" $WORKERS)
  cpu=$(python3 -c "print(f'{($t1-$t0)/$HZ/$SECONDS_WINDOW*100:.1f}')")
  expected=$((N * SECONDS_WINDOW / 2)); got=$((s1 - s0))
  printf "%-10s %4d  %8s%%  %8d KiB  %5d / %-5d segments  %s\n" nginx-rtmp "$N" "$cpu" "$rss" "$got" "$expected" \
    "$([ $got -ge $((expected * 9 / 10)) ] && echo real-time || echo FALLING-BEHIND)"
  echo "           first segment ${FIRST} ms after publishing began"
  pkill -f "$CLIP" || true; kill "$NG"; wait "$NG" 2>/dev/null || true
done
