#!/usr/bin/env bash
# HLS ladder benchmark: bloomcast's StreamPipeline against one ffmpeg CLI process producing the
# same ladder from the same file (source copy + 480p 1200k + 360p 700k, x264 veryfast
# zerolatency, 2 s fMP4 HLS, bilinear scaling, AAC copied).
#
#   bench/transcode/run.sh            BENCH_SECONDS=30 (length of the generated 720p30 clip)
#                                     LADDERS="2 3 4 5" (concurrent live ladders to try; "" skips)
#
# Prints, for the file as fast as possible: wall and CPU time of each, single-threaded and with
# libav's default threading for ffmpeg; then bloomcast paced at real time (a live publisher):
# CPU per live stream and the largest lag.
set -euo pipefail
cd "$(dirname "$0")/../.."
LENGTH=${BENCH_SECONDS:-30}
scripts/build.sh plain --target bloomcast_hls_ladder_bench >/dev/null
BENCH=build/bench/bloomcast_hls_ladder_bench
WORK=$(mktemp -d /tmp/bloomcast-bench-transcode-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# A 720p30 clip as an encoder would publish it: 3 Mbit/s, 2 s GOP, B-frames, AAC 128k.
ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc2=size=1280x720:rate=30 \
  -f lavfi -i sine=frequency=440:sample_rate=48000 -t "$LENGTH" -c:v libx264 -preset veryfast \
  -b:v 3000k -g 60 -keyint_min 60 -sc_threshold 0 -bf 2 -pix_fmt yuv420p -c:a aac -b:a 128k \
  -f flv "$WORK/src.flv"

ffmpeg_ladder() {  # $1: threads option ("" = libav's default)
  rm -rf "$WORK/ff" && mkdir -p "$WORK/ff/s" "$WORK/ff/480p" "$WORK/ff/360p"
  local hls=(-f hls -hls_time 2 -hls_segment_type fmp4 -hls_playlist_type event)
  local x264=(-c:v libx264 $1 -preset veryfast -tune zerolatency -g 60)
  /usr/bin/time -f "ffmpeg CLI: %e s wall, %U+%S s CPU" ffmpeg -hide_banner -loglevel error -y $1 -i "$WORK/src.flv" \
    -filter_complex "[0:v]split=2[a][b];[a]scale=854:480:flags=bilinear[v1];[b]scale=640:360:flags=bilinear[v2]" \
    -map 0:v -map 0:a -c copy "${hls[@]}" "$WORK/ff/s/index.m3u8" \
    -map "[v1]" -map 0:a "${x264[@]}" -b:v 1200k -maxrate 1320k -bufsize 2400k -c:a copy "${hls[@]}" "$WORK/ff/480p/index.m3u8" \
    -map "[v2]" -map 0:a "${x264[@]}" -b:v 700k -maxrate 770k -bufsize 1400k -c:a copy "${hls[@]}" "$WORK/ff/360p/index.m3u8"
}

echo "== load: $(uptime)"
echo "== ${LENGTH} s of 720p30, as fast as possible, one thread per codec"
"$BENCH" "$WORK/src.flv" "$WORK/bc1" source 480p 360p 2>/dev/null | grep -v "\] \[info\]"
ffmpeg_ladder "-threads 1"
echo "== as fast as possible, threads: bloomcast 2 decoder + 2 per encoder; ffmpeg libav defaults"
"$BENCH" "$WORK/src.flv" "$WORK/bc2" --decoder-threads 2 --encoder-threads 2 source 480p 360p 2>/dev/null | grep -v "\] \[info\]"
ffmpeg_ladder ""
echo "== live (paced at real time), bloomcast defaults"
"$BENCH" "$WORK/src.flv" "$WORK/bc3" --live source 480p 360p 2>/dev/null | grep -v "\] \[info\]"

# How many live ladders keep real time at once: K publishers' pipelines, each in its own process
# (as K streams on one node), paced at real time. A ladder keeps up when it ends with all three
# renditions, no dropped frames and a largest lag under one segment (2 s).
for k in ${LADDERS-2 3 4 5}; do
  echo "== $k live ladders at once (source + 480p + 360p each, paced at real time)"
  for i in $(seq "$k"); do
    "$BENCH" "$WORK/src.flv" "$WORK/bcl$k-$i" --live source 480p 360p 2>/dev/null | grep -v "\] \[info\]" > "$WORK/l$k-$i" &
  done
  wait
  cat "$WORK"/l"$k"-*
  kept=$( (grep -c 'renditions at the end source,480p,360p, dropped frames 0, largest lag seen \([0-9]\{1,3\}\|1[0-9]\{3\}\) ms' "$WORK"/l"$k"-* || true) | awk -F: '{s+=$2} END {print s}')
  echo "ladders in real time: $kept of $k"
done

