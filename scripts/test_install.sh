#!/usr/bin/env bash
# Install a ZMLX build into a temporary prefix and build a consumer program
# (tests/install/consumer.c) against the installed copy, twice: with
# pkg-config and with CMake's find_package. Both must build and run.
#   bash scripts/test_install.sh [BUILD_DIR]     (default: build)
# The build folder is configured (Release) if it does not exist yet and
# brought up to date. ZMLX_KEEP_TMP=1 keeps the temporary folder.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ZMLX_ROOT"

build=${1:-build}
case "$build" in /*) ;; *) build="$ZMLX_ROOT/$build" ;; esac

say() { echo "test_install: $*"; }
die() { echo "test_install: FAIL: $*" >&2; exit 1; }

if [ ! -f "$build/CMakeCache.txt" ]; then
  zmlx_configure "$build" -DCMAKE_BUILD_TYPE=Release
fi
if grep -q '^ZMLX_SANITIZE:BOOL=ON' "$build/CMakeCache.txt"; then
  die "$build is a sanitizer build; install a plain one (scripts/test.sh uses build/)"
fi
zmlx_build "$build"
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:[A-Z]*=//p' "$build/CMakeCache.txt")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zmlx-install.XXXXXX")
if [ "${ZMLX_KEEP_TMP:-0}" = 1 ]; then
  say "keeping $tmp"
else
  trap 'rm -rf "$tmp"' EXIT
fi
prefix=$tmp/prefix
# The consumers must not touch the user's kernel cache.
export ZMLX_CACHE_DIR=$tmp/cache

say "installing $build into $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
  { cat "$tmp/install.log"; die "cmake --install failed"; }

# ---- What was installed -------------------------------------------------
pc=$(find "$prefix" -name zmlx.pc -path '*/pkgconfig/*' | head -n 1)
cfg=$(find "$prefix" -name zmlxConfig.cmake | head -n 1)
[ -n "$pc" ] || die "no zmlx.pc under $prefix"
[ -n "$cfg" ] || die "no zmlxConfig.cmake under $prefix"
[ -f "$(dirname "$cfg")/zmlxConfigVersion.cmake" ] || die "no zmlxConfigVersion.cmake"
[ -f "$(dirname "$cfg")/zmlxTargets.cmake" ] || die "no zmlxTargets.cmake"
[ -x "$prefix/bin/zmlx" ] || die "no $prefix/bin/zmlx"
for h in "$ZMLX_ROOT"/include/zmlx/*.h; do
  [ -f "$prefix/include/zmlx/$(basename "$h")" ] || die "header $(basename "$h") not installed"
done

export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
libdir=$(pkg-config --variable=libdir zmlx) || die "pkg-config cannot read $pc"
for f in libzmlx.so libzmlx.a; do
  [ -e "$libdir/$f" ] || die "$libdir/$f missing (libdir from zmlx.pc)"
done
pcver=$(pkg-config --modversion zmlx)
[ "$pcver" = "$version" ] || die "zmlx.pc says version $pcver, the project is $version"
say "installed zmlx $version; $(cd "$prefix" && find . -type f | wc -l) files"

# ---- Consumer 1: pkg-config ---------------------------------------------
# Built from inside $tmp so nothing from the source tree is on the path;
# -Wpedantic -Werror also checks that the public headers are clean C11.
cp tests/install/consumer.c "$tmp/"
cflags=$(pkg-config --cflags zmlx)
libs=$(pkg-config --libs zmlx)
say "pkg-config: cflags '$cflags' libs '$libs'"
# shellcheck disable=SC2086  # pkg-config output is a list of words
(cd "$tmp" && ${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror consumer.c \
  $cflags $libs -Wl,-rpath,"$libdir" -o consumer_pc) ||
  die "the pkg-config consumer did not build"
out=$("$tmp/consumer_pc") || die "the pkg-config consumer failed: $out"
echo "$out"
case "$out" in "consumer ok"*) ;; *) die "unexpected output from consumer_pc" ;; esac

# ---- Consumer 2: CMake find_package ---------------------------------------
gen=()
if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi
cmake -S tests/install -B "$tmp/cmake-build" "${gen[@]}" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON >"$tmp/cmake.log" 2>&1 ||
  { cat "$tmp/cmake.log"; die "the find_package consumer did not configure"; }
found=$(sed -n 's/^zmlx_DIR:PATH=//p' "$tmp/cmake-build/CMakeCache.txt")
case "$found" in
  "$prefix"/*) say "find_package found $found" ;;
  *) die "find_package found zmlx at '$found', not under $prefix" ;;
esac
cmake --build "$tmp/cmake-build" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; die "the find_package consumer did not build"; }
for exe in consumer consumer_static; do
  out=$("$tmp/cmake-build/$exe") || die "$exe (find_package) failed: $out"
  echo "$out"
  case "$out" in "consumer ok"*) ;; *) die "unexpected output from $exe" ;; esac
done

say "PASS (pkg-config, find_package shared and static)"
