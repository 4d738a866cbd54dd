#!/usr/bin/env bash
# Installs what only the benchmarks need on top of the build and test set (scripts/setup.sh):
# wrk (HTTP load), redis-tools (redis-benchmark), python3 (tables, setup calls), curl. Node.js
# and npm come with the build set; the Node peers' own packages (ws, ioredis) come from npm,
# pinned by each node-peer/package-lock.json, installed by the bench's run.sh.
set -euo pipefail
exec "$(dirname "$0")/../scripts/setup.sh" wrk redis-tools python3 curl
