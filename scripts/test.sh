#!/usr/bin/env bash
# The test command: installs what is missing, builds and runs every test twice — a plain
# optimised build and an ASan+UBSan build — then the fuzzers for a short bounded time.
#   BLOOMCAST_FUZZ_SECONDS  seconds per fuzz target (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}

status=0
run_suite() {
  local name=$1 dir=$2
  echo "== $name =="
  if ! ctest --test-dir "$dir" -j 2 --output-on-failure --timeout 600; then status=1; fi
}

scripts/build.sh plain
run_suite "tests (plain build)" build

scripts/build.sh asan
run_suite "tests (ASan+UBSan)" build-asan

if [ -f tests/fuzz/CMakeLists.txt ]; then
  scripts/build.sh fuzz
  if [ -n "${BLOOMCAST_FUZZ_SECONDS:-}" ]; then
    cmake -S . -B build-fuzz -DBLOOMCAST_FUZZ_SECONDS="$BLOOMCAST_FUZZ_SECONDS" >/dev/null
  fi
  run_suite "fuzzers" build-fuzz
fi

exit $status
