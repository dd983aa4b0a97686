#!/usr/bin/env bash
# Builds kabar's libFuzzer targets (tests/fuzz/) with clang into build-asan/
# (the ASan+UBSan build scripts/sanitize.sh shares, see setup.sh)
# and runs each one for a fixed time, printing its executions and findings.
#
#   scripts/fuzz.sh [--smoke] [--seconds=N] [FUZZER...] [-- LIBFUZZER FLAGS...]
#
#   --smoke      20 s per fuzzer: what CI runs
#   --seconds=N  N s per fuzzer (default 30)
#   FUZZER       run only these (e.g. article_parser_fuzzer); default: every
#                fuzzer the build produced, so a new kabar_fuzzer() target in
#                tests/fuzz/CMakeLists.txt is picked up without edits here
#   -- FLAGS     passed to every fuzzer, e.g. -- -fork=2 -ignore_crashes=1
#
# Seeds come from tests/fuzz/seeds/<name>/ (<name> = fuzzer without
# "_fuzzer") and, for the article parser and the text normalizer, from the
# bad-input corpus tests/data/bad/; tests/fuzz/<name>.dict is used as the
# dictionary when present. Inputs that found new coverage accumulate in
# build-asan/corpus/<fuzzer>/ (kept between runs, never committed);
# findings (crash-*, leak-*, timeout-*, oom-*) go to
# build-asan/findings/<fuzzer>/ and make the script exit 1. Reproduce one
# with: build-asan/fuzz/<fuzzer> build-asan/findings/<fuzzer>/crash-...
#
# Needs clang-14 and libclang-rt-14-dev (libFuzzer and the sanitizer
# runtimes), installed here when missing. Debian's gRPC, Abseil and
# protobuf are not instrumented: coverage and sanitizers cover kabar's own
# code. tests/fuzz/README.md describes the targets and a longer run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

FUZZ_BUILD="$KABAR_ASAN_BUILD"
seconds=30
fuzzers=()
extra_flags=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) seconds=20 ;;
    --seconds=*) seconds="${1#--seconds=}" ;;
    --) shift; extra_flags=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) fuzzers+=("$1") ;;
  esac
  shift
done
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "fuzz.sh: --seconds must be a positive whole number" >&2
  exit 2
fi

kabar_install_packages "${KABAR_SANITIZER_PACKAGES[@]}"
kabar_configure_asan
cmake --build "$FUZZ_BUILD" -j "$(nproc)" --target kabar_fuzzers

if [ ${#fuzzers[@]} -eq 0 ]; then
  for binary in "$FUZZ_BUILD"/fuzz/*_fuzzer; do
    [ -x "$binary" ] && fuzzers+=("$(basename "$binary")")
  done
fi
if [ ${#fuzzers[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzzers were built" >&2
  exit 1
fi

export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:symbolize=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

status=0
for fuzzer in "${fuzzers[@]}"; do
  binary="$FUZZ_BUILD/fuzz/$fuzzer"
  if [ ! -x "$binary" ]; then
    echo "fuzz.sh: no fuzzer $fuzzer in $FUZZ_BUILD/fuzz" >&2
    status=1
    continue
  fi
  name="${fuzzer%_fuzzer}"
  corpus="$FUZZ_BUILD/corpus/$fuzzer"
  findings="$FUZZ_BUILD/findings/$fuzzer"
  log="$FUZZ_BUILD/logs/$fuzzer.log"
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"

  seeds=()
  [ -d "$KABAR_ROOT/tests/fuzz/seeds/$name" ] && seeds+=("$KABAR_ROOT/tests/fuzz/seeds/$name")
  case "$name" in
    article_parser|text_normalizer) seeds+=("$KABAR_ROOT/tests/data/bad") ;;
  esac
  flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
         -print_final_stats=1 -artifact_prefix="$findings/")
  [ -f "$KABAR_ROOT/tests/fuzz/$name.dict" ] && flags+=(-dict="$KABAR_ROOT/tests/fuzz/$name.dict")

  echo "== $fuzzer: ${seconds}s (log: $log)"
  marker="$FUZZ_BUILD/logs/$fuzzer.started"
  touch "$marker"
  code=0
  # The new-coverage corpus comes first: libFuzzer writes only there.
  "$binary" "${flags[@]}" "${extra_flags[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1 || code=$?
  new_findings=$(find "$findings" -type f -newer "$marker")

  stat_of() { sed -n "s/^stat::$1: *//p" "$log" | tail -n 1 || true; }
  executions=$(stat_of number_of_executed_units)
  rate=$(stat_of average_exec_per_sec)
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
  echo "   executions: ${executions:-?} (${rate:-?}/s), coverage: ${coverage:-?} edges," \
       "corpus: $(find "$corpus" -type f | wc -l) files"
  if [ "$code" -ne 0 ] || [ -n "$new_findings" ]; then
    status=1
    echo "   FINDINGS (exit code $code):"
    [ -n "$new_findings" ] && printf '     %s\n' $new_findings
    grep -m 5 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant violated' \
      "$log" | sed 's/^/     /' || true
  else
    echo "   findings: none"
  fi
done
exit "$status"
