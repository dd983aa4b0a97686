#!/usr/bin/env bash
# Builds the classify and ingest tests with ThreadSanitizer (clang) into
# build-tsan/ and runs them: the classify tests (thread pool, model hot
# reload, the gRPC service in-process) and the ingest tests.
#
#   scripts/tsan.sh [GTEST FILTER]     e.g. scripts/tsan.sh 'ModelRegistry*'
#
# Debian's Abseil is not built with TSan, so absl::Mutex is invisible to
# it; tests/tsan/absl_sync_annotations.cc (preloaded into every process)
# tells TSan about each lock and unlock. Reports go to
# build-tsan/sanitizer-reports/; the script prints them and exits 1 when
# there are any. scripts/tsan-suppressions.txt holds the suppressions, each
# with the reason; only for code kabar does not own.
#
# Not run here: the multi-process integration tests. TSan-built services
# never act on SIGTERM (TSan defers a signal until the receiving thread
# next enters an intercepted call, and the services' threads all sit in
# waits it does not intercept), so the tests cannot stop them. The same
# tests run under ASan+UBSan (sanitize.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

TSAN_BUILD="${KABAR_TSAN_BUILD:-$KABAR_ROOT/build-tsan}"
REPORTS="$TSAN_BUILD/sanitizer-reports"
TESTS=(
  services/classify/kabar_classify_test
  services/ingest/kabar_ingest_test
)
filter="${1:-*}"

kabar_install_packages "${KABAR_SANITIZER_PACKAGES[@]}"
kabar_fetch_models

kabar_configure_clang "$TSAN_BUILD" "-fsanitize=thread" -DKABAR_TSAN=ON
targets=(kabar_tsan_absl_annotations)
for test in "${TESTS[@]}"; do targets+=("$(basename "$test")"); done
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
  echo "tsan.sh: classify and ingest tests pass under ThreadSanitizer; no reports"
fi
exit "$status"
