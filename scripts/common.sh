# Shared helpers for the scripts in this folder; source it, don't run it.
# shellcheck shell=bash

# The repository root (the parent of this folder).
ZMLX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# zmlx_configure BUILD_DIR [CMAKE_ARGS...]
# Configure BUILD_DIR from the repository root. A fresh folder gets Ninja when
# it is installed, else Unix Makefiles; an existing one keeps the generator it
# was made with (CMake refuses to switch generators in place).
zmlx_configure() {
  local dir=$1; shift
  local gen=()
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    if command -v ninja >/dev/null 2>&1; then
      gen=(-G Ninja)
    else
      gen=(-G "Unix Makefiles")
    fi
  fi
  cmake -S "$ZMLX_ROOT" -B "$dir" "${gen[@]}" "$@"
}

# zmlx_build BUILD_DIR [JOBS]
zmlx_build() {
  cmake --build "$1" --parallel "${2:-${ZMLX_JOBS:-2}}"
}

# Seconds since the epoch, for stage timings.
zmlx_now() { date +%s; }
