#!/usr/bin/env bash
# Builds kabar with AddressSanitizer and UndefinedBehaviorSanitizer (clang)
# into build-asan/ and runs the unit and integration tests under them. The
# integration tests start the instrumented service binaries, so the
# services are checked too, including LeakSanitizer at their exit.
# build-asan/ is the configuration scripts/fuzz.sh uses as well (see
# kabar_configure_asan in setup.sh): one compile serves both.
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
# ThreadSanitizer runs separately: scripts/tsan.sh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

ASAN_BUILD="$KABAR_ASAN_BUILD"
REPORTS="$ASAN_BUILD/sanitizer-reports"

kabar_install_packages "${KABAR_SANITIZER_PACKAGES[@]}"
kabar_fetch_models

kabar_configure_asan
# Every target: the tests, the binaries the integration tests start, and
# the fuzzers (built anyway for scripts/fuzz.sh).
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
