#!/usr/bin/env bash
# Configures (once) and builds one build directory.
#   scripts/build.sh [plain|asan|fuzz] [extra cmake --build args...]
# plain -> build/ (the executable lands at build/bloomcast), asan -> build-asan/,
# fuzz -> build-fuzz/ (clang 16, libFuzzer targets only: clang 16 is the first clang that
# compiles libstdc++ 12's <expected>, which the config and JSON body parsers return).
# A build directory configured with other flags (say, an older fuzz build on clang 14) is
# configured afresh.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-plain}
shift || true
jobs=${BLOOMCAST_JOBS:-2}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)

case "$kind" in
  plain) dir=build;      flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan)  dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DBLOOMCAST_SANITIZE=ON) ;;
  fuzz)  dir=build-fuzz; flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLOOMCAST_FUZZ=ON
                                -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16) ;;
  *) echo "usage: $0 [plain|asan|fuzz]" >&2; exit 2 ;;
esac

stamp="$dir/.bloomcast-configure"  # the flags it was configured with
if [ ! -f "$dir/CMakeCache.txt" ] || [ "$(cat "$stamp" 2>/dev/null)" != "${flags[*]}" ]; then
  cmake --fresh -S . -B "$dir" "${generator[@]}" "${flags[@]}" >/dev/null
  echo "${flags[*]}" > "$stamp"
fi
cmake --build "$dir" -j "$jobs" "$@"
