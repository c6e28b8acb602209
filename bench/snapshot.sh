# bench/snapshot.sh: sourced by the benchmarks. snapshot B DIR copies filrec (binary,
# library, Python modules and package, in the build tree's layout) from build folder B
# into DIR and sets FILREC to the copy, so that a rebuild in B during a batch cannot
# change or remove what is being measured. Exits 1 if the copy does not run.
snapshot() {
    mkdir -p "$2/snap/build"
    cp -a "$1/filrec" "$1/libfilrec.so" "$1/python" "$2/snap/build/"
    cp -a python "$2/snap/python"
    FILREC="$2/snap/build/filrec"
    "$FILREC" run --help >/dev/null || { echo "bench: cannot run the copy of $1/filrec" >&2; exit 1; }
}
