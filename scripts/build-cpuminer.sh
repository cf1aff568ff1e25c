#!/usr/bin/env bash
# Builds cpuminer 2.5.1 (pooler's `minerd`, GPL-2.0) from its source tarball, outside this
# repository, to mine bbchain over Stratum and to compare hashrates (docs/BENCHMARKS.md).
#
#   scripts/build-cpuminer.sh [SOURCE.tar.gz]
#
# The tarball comes from the argument or $CPUMINER_SRC (pooler's cpuminer, e.g. a release from
# https://github.com/pooler/cpuminer). The binary goes to $CPUMINER_DIR/minerd, by default
# ${XDG_CACHE_HOME:-$HOME/.cache}/bbchain/cpuminer/minerd; the script prints its path last.
# Missing Debian build dependencies are installed with apt-get (sudo when not root).
# cpuminer's source is never copied into this repository.
set -euo pipefail

src="${1:-${CPUMINER_SRC:-}}"
if [[ -z "$src" ]]; then
    echo "build-cpuminer: give the cpuminer source tarball as the argument or in CPUMINER_SRC" >&2
    exit 2
fi
if [[ ! -f "$src" ]]; then
    echo "build-cpuminer: no such file: $src" >&2
    exit 2
fi
src="$(cd "$(dirname "$src")" && pwd)/$(basename "$src")"
out="${CPUMINER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bbchain/cpuminer}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
case "$(mkdir -p "$out" && cd "$out" && pwd)/" in
    "$repo"/*)
        echo "build-cpuminer: $out is inside the repository; pick a directory outside it" >&2
        exit 2
        ;;
esac

# Debian packages the build needs: autotools (the tarball is a git tree, no configure script),
# a C compiler, and libcurl's headers (Stratum and getwork both go through libcurl).
# jansson is built from the copy in the tarball when libjansson-dev is missing.
deps=(build-essential autoconf automake pkg-config libcurl4-openssl-dev)
missing=()
for dep in "${deps[@]}"; do
    dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q "install ok installed" || missing+=("$dep")
done
if ((${#missing[@]})); then
    echo "build-cpuminer: installing ${missing[*]}" >&2
    sudo=()
    [[ "$(id -u)" == 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
fi

build="$(mktemp -d "${TMPDIR:-/tmp}/cpuminer-build.XXXXXX")"
trap 'rm -rf "$build"' EXIT
tar -xzf "$src" -C "$build"
dir="$(find "$build" -mindepth 1 -maxdepth 2 -name configure.ac -printf '%h\n' | head -n 1)"
if [[ -z "$dir" ]]; then
    echo "build-cpuminer: no configure.ac in $src: is it cpuminer's source?" >&2
    exit 1
fi
cd "$dir"
[[ -x configure ]] || ./autogen.sh
# -O3 as its README says; the sha256d kernels are assembler (SSE2/AVX/AVX2), chosen at run time.
./configure CFLAGS="-O3 -fcommon" >"$build/configure.log" 2>&1 || {
    tail -n 30 "$build/configure.log" >&2
    exit 1
}
make -j"$(nproc)" >"$build/make.log" 2>&1 || {
    tail -n 30 "$build/make.log" >&2
    exit 1
}
install -m 0755 minerd "$out/minerd"
"$out/minerd" --version 2>&1 | head -n 1 >&2
echo "$out/minerd"
