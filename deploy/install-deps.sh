#!/usr/bin/env bash
# install-deps.sh -- installs the Debian 12 packages ember needs to build
# and test, when any is missing.  Idempotent: says nothing and touches
# nothing when everything is present.  Needs root (or sudo) only to install.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config clang libclang-rt-14-dev
    openmpi-bin libopenmpi-dev
    protobuf-c-compiler libprotobuf-c-dev
    libhwloc-dev libcurl4-openssl-dev libssl-dev libjansson-dev
    libcmocka-dev libisal-dev zlib1g-dev liblz4-dev libzstd-dev
    libmrmpi-dev # bench/wordcount.sh's MR-MPI baseline
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
