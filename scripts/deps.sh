#!/bin/sh
# Install what filrec needs to build and test: the Debian packages that are missing,
# then .venv, a virtual environment of Debian's python3 holding tests/requirements.txt
# (PyPI, pinned). Idempotent and silent when everything is present; the venv is made
# again when the requirements change. Needs root (or sudo) only for apt-get.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)

pkgs="build-essential pkg-config libzstd-dev libunwind-dev libcjson-dev libdw-dev
gnuplot-nox python3-dev python3-venv python3-numpy python3-pandas libopenblas0-pthread
heaptrack clang libclang-rt-dev chromium gdb python3-pip python3-setuptools python3-wheel
g++ gfortran binutils"

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

# The test venv: its copy of the requirements says what it holds.
venv="$root/.venv" req="$root/tests/requirements.txt"
if ! cmp -s "$req" "$venv/requirements.txt" 2>/dev/null; then
    echo "filrec: installing tests/requirements.txt into .venv (PyPI)" >&2
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    log="$venv/pip.log"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req" >"$log" 2>&1 ||
        { cat "$log" >&2; echo "filrec: pip install failed (log: $log)" >&2; exit 1; }
    cp "$req" "$venv/requirements.txt"
fi
