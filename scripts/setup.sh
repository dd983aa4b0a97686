#!/usr/bin/env bash
# Prepares a Debian 12 machine for kabar: installs the missing Debian
# packages (with sudo when not root), builds everything into build/ and
# fetches the language model. Safe to re-run; each step skips what is done.
# Sourced by demo.sh and test.sh; run it alone to just build.
set -euo pipefail

KABAR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KABAR_BUILD="${KABAR_BUILD:-$KABAR_ROOT/build}"

# Build and runtime dependencies, all from Debian 12.
KABAR_PACKAGES=(
  build-essential cmake pkg-config git ca-certificates
  protobuf-compiler protobuf-compiler-grpc libprotobuf-dev libgrpc++-dev
  libabsl-dev libfasttext-dev libsqlite3-dev libssl-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libpq-dev libcpp-httplib-dev
)
# Only the tests need these: a throwaway PostgreSQL server (see postgres.sh),
# the compose file checks, and openssl for deploy/gen-dev-certs.sh (the TLS
# tests make their certificates with it).
KABAR_TEST_PACKAGES=(postgresql python3-yaml docker-compose openssl)

kabar_install_packages() {
  local missing=()
  for package in "${KABAR_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" \
      || missing+=("$package")
  done
  # npm fetches the language model from the npm registry.
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  echo "kabar: installing ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The sanitizer builds (scripts/sanitize.sh, tsan.sh, fuzz.sh) use clang:
# libFuzzer and the sanitizer runtimes.
KABAR_CLANG_VERSION=14
KABAR_SANITIZER_PACKAGES=("clang-$KABAR_CLANG_VERSION" "libclang-rt-$KABAR_CLANG_VERSION-dev")

# ccache, when the machine has it, makes rebuilds of unchanged files free.
kabar_compiler_launcher() {
  if command -v ccache >/dev/null 2>&1; then
    echo "-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
  fi
}

kabar_build() {
  cmake -S "$KABAR_ROOT" -B "$KABAR_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    $(kabar_compiler_launcher) >/dev/null
  cmake --build "$KABAR_BUILD" -j "$(nproc)"
}

# kabar_configure_clang DIR SANITIZER_FLAGS [CMAKE ARGS...]: a clang build
# in DIR with SANITIZER_FLAGS on every compile and link, at -O1 with line
# tables (fast enough to run the tests, readable stack traces). Debian's
# gRPC, Abseil and protobuf are GCC builds against libstdc++, which clang
# on Debian links by default, so they link as they are (uninstrumented).
kabar_configure_clang() {
  local dir="$1" flags="$2"
  shift 2
  cmake -S "$KABAR_ROOT" -B "$dir" \
    -DCMAKE_CXX_COMPILER="clang++-$KABAR_CLANG_VERSION" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$flags -fno-omit-frame-pointer" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    $(kabar_compiler_launcher) "$@" >/dev/null
}

# The one ASan+UBSan build, shared by the fuzzers and the sanitized test
# run: everything carries libFuzzer's coverage instrumentation too (a no-op
# outside a fuzzer), so one configuration, and one compile of each file,
# serves both. Only the targets a script needs are built.
KABAR_ASAN_BUILD="${KABAR_ASAN_BUILD:-$KABAR_ROOT/build-asan}"
kabar_configure_asan() {
  kabar_configure_clang "$KABAR_ASAN_BUILD" \
    "-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
    -DKABAR_FUZZ=ON
}

kabar_fetch_models() {
  "$KABAR_ROOT/models/fetch_models.sh"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  kabar_install_packages
  kabar_build
  kabar_fetch_models
fi
