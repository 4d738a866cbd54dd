#!/usr/bin/env bash
# Installs every Debian package bloomcast needs to build, run and test, plus any packages named
# as arguments (bench/setup.sh passes the benchmarks' tools).
# Idempotent and fast when all is present: it asks dpkg first and calls apt only for what is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ninja-build clang-16 libclang-rt-16-dev
  libavformat-dev libavcodec-dev libswscale-dev libswresample-dev libavutil-dev ffmpeg
  libwebsockets-dev libuv1-dev libhiredis-dev redis-server
  nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev libssl-dev
  curl procps libcurl4-openssl-dev libwebsockets-evlib-uv
  chromium fonts-noto-cjk fonts-noto-color-emoji
)
# The pages (web/) are built with npm (hls.js, uPlot, playwright-core for the browser tests).
# A node that did not come from Debian (NodeSource bundles npm) is left alone.
if ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi
PACKAGES+=("$@")

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
