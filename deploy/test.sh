#!/usr/bin/env bash
# test.sh -- the README's second command: install what is missing, build
# with clang, -Werror, AddressSanitizer + UndefinedBehaviorSanitizer and the
# libFuzzer target, and run every test.  Its exit status is ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."

./deploy/install-deps.sh
cmake -S . -B build-test -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DEMBER_WERROR=ON -DEMBER_SANITIZE=ON -DEMBER_FUZZ=ON >/dev/null
cmake --build build-test -j"$(nproc)"

[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd build-test
exec ctest --output-on-failure -j"$(nproc)" --timeout 300
