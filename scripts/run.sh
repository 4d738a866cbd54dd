#!/usr/bin/env bash
# The run command: installs what is missing, builds, and runs bloomcast with its own Redis.
# Extra arguments go to `bloomcast serve` (e.g. --http-port 9090).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh plain --target bloomcast
exec build/bloomcast serve "$@"
