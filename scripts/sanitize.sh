#!/usr/bin/env bash
# Builds kabar with AddressSanitizer and UndefinedBehaviorSanitizer (GCC)
# into build-asan/ and runs the unit and integration tests under them. The
# integration tests start the instrumented service binaries, so the
# services are checked too, including LeakSanitizer at their exit.
#
#   scripts/sanitize.sh [CTEST ARGS...]     e.g. scripts/sanitize.sh -R Pipeline
#
# Every process stops at its first report (halt_on_error), which fails its
# test. Reports are also written to build-asan/sanitizer-reports/ (the
# services' own logs live in temporary directories that the tests delete);
# the script prints them and exits 1 when there are any, even if ctest
# passed. No suppressions file is used: none has been needed. Should
# third-party code (Debian's gRPC, Abseil, protobuf, fastText, SQLite;
# none of it is instrumented) ever need one, add it as
# scripts/sanitizer-suppressions/{lsan,ubsan}.supp with a comment per entry
# and point LSAN_OPTIONS/UBSAN_OPTIONS' suppressions= at it below.
#
# ThreadSanitizer is not run here. TSan needs every library that takes part
# in synchronization to be instrumented, and Debian's Abseil (libabsl) is
# not: absl::Mutex, which kabar uses everywhere, then looks unsynchronized
# to TSan, and it reports races on data that the mutex correctly guards.
# Doing it soundly means building Abseil (and ideally gRPC) from source with
# -fsanitize=thread, which Debian packages do not offer.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

ASAN_BUILD="${KABAR_ASAN_BUILD:-$KABAR_ROOT/build-asan}"
REPORTS="$ASAN_BUILD/sanitizer-reports"

kabar_install_packages
kabar_fetch_models

sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
cmake -S "$KABAR_ROOT" -B "$ASAN_BUILD" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$sanitize -fno-omit-frame-pointer" \
  -DCMAKE_EXE_LINKER_FLAGS="$sanitize" \
  -DCMAKE_SHARED_LINKER_FLAGS="$sanitize" >/dev/null
cmake --build "$ASAN_BUILD" -j "$(nproc)"

rm -rf "$REPORTS"
mkdir -p "$REPORTS"
# detect_stack_use_after_return is left off: it makes gRPC's many threads
# much slower, for a class of bug the other checks already bound.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_invalid_pointer_pairs=0:log_path=$REPORTS/asan"
export LSAN_OPTIONS="log_path=$REPORTS/lsan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$REPORTS/ubsan"

cd "$ASAN_BUILD"
status=0
ctest --output-on-failure --timeout 900 -j "$(nproc)" -L 'unit|integration' "$@" || status=$?

reports=$(find "$REPORTS" -type f | sort)
if [ -n "$reports" ]; then
  echo "sanitize.sh: sanitizer reports:" >&2
  for report in $reports; do
    echo "==== $report" >&2
    head -n 60 "$report" >&2
  done
  status=1
fi
if [ "$status" -eq 0 ]; then
  echo "sanitize.sh: unit and integration tests pass under ASan+UBSan; no reports"
fi
exit "$status"
