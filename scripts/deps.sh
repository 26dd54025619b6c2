#!/usr/bin/env bash
# Install what building, testing and the demo need on Debian 12, when missing.
set -euo pipefail

packages=(
    build-essential make gcc
    postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-common
    libcurl4-openssl-dev libssl-dev libipc-run-perl
    python3 openssl ca-certificates
    clang libclang-rt-14-dev
    chromium
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "installing: ${missing[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The Debian package starts a cluster of its own; tests and the demo use
# throwaway clusters and do not need it.
