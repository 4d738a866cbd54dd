#!/usr/bin/env bash
# Configures (once) and builds one build directory.
#   scripts/build.sh [plain|asan|fuzz] [extra cmake --build args...]
# plain -> build/ (the executable lands at build/bloomcast), asan -> build-asan/,
# fuzz -> build-fuzz/ (clang, libFuzzer targets only).
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
                                -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++) ;;
  *) echo "usage: $0 [plain|asan|fuzz]" >&2; exit 2 ;;
esac

if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S . -B "$dir" "${generator[@]}" "${flags[@]}" >/dev/null
fi
cmake --build "$dir" -j "$jobs" "$@"
