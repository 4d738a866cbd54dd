#!/usr/bin/env bash
# Installs what only the benchmarks need on top of the build and test set (scripts/setup.sh):
# wrk (HTTP load), redis-tools (redis-benchmark), python3 (tables, setup calls), curl, nginx (the
# orders bench's HTTP reference; bench/ingest adds its RTMP module itself), valgrind (callgrind:
# bench/orders/instructions.sh counts instructions per order). Node.js and npm come
# with the build set; the Node peers' own packages (ws, ioredis) come from npm, pinned by each
# node-peer/package-lock.json, installed by the bench's run.sh.
set -euo pipefail
fresh_nginx=$(command -v nginx >/dev/null || echo yes)
"$(dirname "$0")/../scripts/setup.sh" wrk redis-tools python3 curl nginx valgrind
# Debian's package starts nginx on port 80; the benches run their own instances.
if [ -n "$fresh_nginx" ]; then
  systemctl stop nginx 2>/dev/null || service nginx stop 2>/dev/null || pkill -x nginx || true
fi
