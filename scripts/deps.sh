#!/bin/sh
# Install the Debian packages (and the browser test's npm packages) filrec needs to
# build and test, if any are missing.
# Idempotent and silent when everything is present. Needs root (or sudo) only to install.
set -eu

pkgs="build-essential pkg-config libzstd-dev libunwind-dev libcjson-dev libdw-dev
gnuplot-nox python3-dev python3-pytest python3-numpy python3-pandas libopenblas0-pthread
heaptrack clang chromium"
# node and npm, for the browser test's playwright-core, unless a node is already there
command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "filrec: installing Debian packages:$missing" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The browser test's playwright-core, pinned by its package-lock.json (as this user).
browser="$(dirname "$0")/../tests/e2e/browser"
if [ ! -d "$browser/node_modules" ]; then
    echo "filrec: installing playwright-core in tests/e2e/browser" >&2
    (cd "$browser" && npm ci --silent --no-audit --no-fund >/dev/null)
fi
