#!/usr/bin/env bash
# Builds the classify and ingest tests, and the services, with
# ThreadSanitizer (clang) into build-tsan/ and runs them: the classify unit
# tests (thread pool, model hot reload), the ingest unit tests, and the
# pipeline integration tests, whose instrumented kabar-ingest and
# kabar-classify processes batch, spool, retry and reload concurrently.
#
#   scripts/tsan.sh [GTEST FILTER]     e.g. scripts/tsan.sh 'PipelineTest.*'
#
# Debian's Abseil is not built with TSan, so absl::Mutex is invisible to
# it; tests/tsan/absl_sync_annotations.cc (preloaded into every process)
# tells TSan about each lock and unlock. Reports go to
# build-tsan/sanitizer-reports/; the script prints them and exits 1 when
# there are any. scripts/tsan-suppressions.txt holds the suppressions, each
# with the reason; only for code kabar does not own.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

TSAN_BUILD="${KABAR_TSAN_BUILD:-$KABAR_ROOT/build-tsan}"
REPORTS="$TSAN_BUILD/sanitizer-reports"
TESTS=(
  services/classify/kabar_classify_test
  services/ingest/kabar_ingest_test
  tests/kabar_integration_test
)
# PipelineRestartTest stops and restarts idle services with SIGTERM. Under
# TSan a signal is handled only once the thread it lands on calls into libc
# through TSan; a thread parked in Abseil's futex wait (uninstrumented)
# never does, so an idle service may never see its SIGTERM. The restart
# path runs in the plain and ASan suites.
filter="${1:-*-PipelineRestartTest.*}"

kabar_install_packages "${KABAR_SANITIZER_PACKAGES[@]}"
kabar_fetch_models

kabar_configure_clang "$TSAN_BUILD" "-fsanitize=thread" -DKABAR_TSAN=ON
targets=(kabar_tsan_absl_annotations)
for test in "${TESTS[@]}"; do targets+=("$(basename "$test")"); done
# The integration tests depend on the service binaries, built here too.
cmake --build "$TSAN_BUILD" -j "$(nproc)" --target "${targets[@]}"

rm -rf "$REPORTS"
mkdir -p "$REPORTS"
export LD_PRELOAD="$TSAN_BUILD/tsan/libkabar_tsan_absl_annotations.so"
export TSAN_OPTIONS="second_deadlock_stack=1:log_path=$REPORTS/tsan:suppressions=$KABAR_ROOT/scripts/tsan-suppressions.txt"

status=0
cd "$TSAN_BUILD"
for test in "${TESTS[@]}"; do
  echo "== $test"
  "./$test" --gtest_filter="$filter" --gtest_brief=1 || status=1
done

reports=$(find "$REPORTS" -type f | sort)
if [ -n "$reports" ]; then
  echo "tsan.sh: ThreadSanitizer reports:" >&2
  for report in $reports; do
    echo "==== $report" >&2
    head -n 80 "$report" >&2
  done
  status=1
fi
if [ "$status" -eq 0 ]; then
  echo "tsan.sh: classify, ingest and pipeline tests pass under ThreadSanitizer; no reports"
fi
exit "$status"
