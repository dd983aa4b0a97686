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

kabar_build() {
  cmake -S "$KABAR_ROOT" -B "$KABAR_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$KABAR_BUILD" -j "$(nproc)"
}

kabar_fetch_models() {
  "$KABAR_ROOT/models/fetch_models.sh"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  kabar_install_packages
  kabar_build
  kabar_fetch_models
fi
