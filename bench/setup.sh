#!/usr/bin/env bash
# Installs what only the benchmarks need (scripts/setup.sh keeps the build and test set lean):
# wrk (HTTP load), redis-tools (redis-benchmark), python3 (tables, setup calls), curl, and
# Node.js + npm when no node is on the PATH. The Node peers' own packages (ws, ioredis) come
# from npm, pinned by each node-peer/package-lock.json, installed by the bench's run.sh.
# Idempotent: asks dpkg first and calls apt only for what is missing.
set -euo pipefail

PACKAGES=(wrk redis-tools python3 curl)
command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "bench/setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
