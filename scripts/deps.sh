#!/bin/sh
# Install the Debian packages filrec needs to build and test, if any are missing.
# Idempotent and silent when everything is present. Needs root (or sudo) only to install.
set -eu

pkgs="build-essential pkg-config libzstd-dev libunwind-dev libcjson-dev libdw-dev
gnuplot-nox python3-dev python3-pytest python3-numpy python3-pandas libopenblas0-pthread
heaptrack clang"

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "filrec: installing Debian packages:$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
