#!/usr/bin/env bash
# Sets up and builds kabar, then runs the whole test suite with ctest:
# unit tests and the multi-process integration tests.
#
#   ./scripts/test.sh [CTEST ARGS...]    e.g. ./scripts/test.sh -L unit
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

kabar_install_packages "${KABAR_TEST_PACKAGES[@]}"
kabar_build
kabar_fetch_models

# A throwaway PostgreSQL cluster on a free loopback port: the store
# conformance tests run against it as well as against SQLite.
pg_dir="$(mktemp -d -t kabar-pg.XXXXXX)"
trap '"$KABAR_ROOT/scripts/postgres.sh" stop "$pg_dir" >/dev/null 2>&1 || true; rm -rf "$pg_dir"' EXIT
pg_url="$("$KABAR_ROOT/scripts/postgres.sh" start "$pg_dir")"
export KABAR_TEST_POSTGRES_URL="$pg_url"

cd "$KABAR_BUILD"
ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@"
