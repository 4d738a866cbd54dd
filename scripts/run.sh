#!/usr/bin/env bash
# The run command: installs what is missing, builds, and runs bloomcast with its own Redis and
# a live demo show (a generated test picture published to itself); prints the URLs.
# Extra arguments go to `bloomcast demo` (the flags of `bloomcast serve`, e.g. --http-port 9090).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh plain --target bloomcast
exec build/bloomcast demo "$@"
