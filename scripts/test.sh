#!/usr/bin/env bash
# Sets up and builds kabar, then runs every test: what CI runs (.ci/run).
#
#   ./scripts/test.sh                   everything, in four stages:
#     1. suite     build/ and the whole ctest suite (unit and integration,
#                  the store suite on SQLite and a throwaway PostgreSQL)
#     2. asan      the unit and integration tests again, built with
#                  AddressSanitizer + UndefinedBehaviorSanitizer (sanitize.sh)
#     3. fuzz      each libFuzzer target for 20 s (fuzz.sh --smoke), from the
#                  same clang build as stage 2
#     4. tsan      the classify, ingest and pipeline tests built with
#                  ThreadSanitizer (tsan.sh)
#   ./scripts/test.sh --fast [CTEST ARGS...]
#   ./scripts/test.sh CTEST ARGS...     stage 1 only, e.g. -L unit: for local
#                  iteration. Stages 2-4 each also run alone via their script.
#
# Every stage runs even when an earlier one failed; the script prints each
# stage's result and time and exits 1 if any failed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

fast=0
if [ "${1:-}" = "--fast" ]; then
  fast=1
  shift
fi
[ $# -gt 0 ] && fast=1

packages=("${KABAR_TEST_PACKAGES[@]}")
[ "$fast" -eq 0 ] && packages+=("${KABAR_SANITIZER_PACKAGES[@]}")
kabar_install_packages "${packages[@]}"
kabar_build
kabar_fetch_models

# A throwaway PostgreSQL cluster on a free loopback port: the store
# conformance tests run against it as well as against SQLite.
pg_dir="$(mktemp -d -t kabar-pg.XXXXXX)"
trap '"$KABAR_ROOT/scripts/postgres.sh" stop "$pg_dir" >/dev/null 2>&1 || true; rm -rf "$pg_dir"' EXIT
pg_url="$("$KABAR_ROOT/scripts/postgres.sh" start "$pg_dir")"
export KABAR_TEST_POSTGRES_URL="$pg_url"

results=()
failed=0
# stage NAME COMMAND...: runs it, keeps its result and time.
stage() {
  local name="$1" start=$SECONDS code=0
  shift
  echo "==== stage $name: $*"
  ( "$@" ) || code=$?
  local result="passed"
  if [ "$code" -ne 0 ]; then
    result="FAILED (exit $code)"
    failed=1
  fi
  results+=("$(printf '%-6s %-22s %4d s' "$name" "$result" $((SECONDS - start)))")
}

stage suite bash -c 'cd "$1" && shift && ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@"' \
  _ "$KABAR_BUILD" "$@"
if [ "$fast" -eq 0 ]; then
  stage asan "$KABAR_ROOT/scripts/sanitize.sh"
  stage fuzz "$KABAR_ROOT/scripts/fuzz.sh" --smoke
  stage tsan "$KABAR_ROOT/scripts/tsan.sh"
fi

echo "==== test.sh summary"
printf '  %s\n' "${results[@]}"
exit "$failed"
