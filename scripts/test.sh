#!/usr/bin/env bash
# Sets up and builds kabar, then runs the whole test suite with ctest:
# unit tests and the multi-process integration tests.
#
#   ./scripts/test.sh [CTEST ARGS...]    e.g. ./scripts/test.sh -L unit
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

kabar_install_packages
kabar_build
kabar_fetch_models

cd "$KABAR_BUILD"
ctest --output-on-failure --timeout 600 -j "$(nproc)" "$@"
