#!/bin/sh
# Build the Python support module _filrec for one interpreter:
#   scripts/pyext.sh PYTHON BUILD_DIR [CC]  ->  BUILD_DIR/python/cpython-X.Y.Z/_filrec<ext>
# Prints the module's path. Fails (exit 1) with a message if PYTHON has no headers.
set -eu
py=$1 out=$2 cc=${3:-cc}
info=$("$py" -c 'import sys, sysconfig as s
print(sys.implementation.name + "-" + ".".join(map(str, sys.version_info[:3])))
print(s.get_config_var("EXT_SUFFIX"))
print(s.get_paths()["include"])') || { echo "filrec: cannot run '$py'" >&2; exit 1; }
tag=$(echo "$info" | sed -n 1p) ext=$(echo "$info" | sed -n 2p) inc=$(echo "$info" | sed -n 3p)
[ -f "$inc/Python.h" ] || { echo "filrec: no Python.h for '$py' in $inc (install its -dev package)" >&2; exit 1; }
mkdir -p "$out/python/$tag"
target="$out/python/$tag/_filrec$ext"
src=$(dirname "$0")/../record/python/pymod.c
if [ ! -f "$target" ] || [ "$src" -nt "$target" ] || [ "$(dirname "$0")/../record/filrec.h" -nt "$target" ]; then
    $cc -shared -fPIC -O2 -g -std=gnu11 -Wall -Wextra -Wno-missing-field-initializers \
        -Wno-unused-parameter -fvisibility=hidden -I"$inc" "$src" -o "$target" -ldl -lpthread
fi
echo "$target"
