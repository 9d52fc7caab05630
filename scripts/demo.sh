#!/usr/bin/env bash
# Build ZMLX (Release) into build/ and run the demo and `zmlx doctor`.
# On a fresh Debian machine it first installs what the build lacks.
#   bash scripts/demo.sh
# ZMLX_JOBS sets the build parallelism (default: all cores).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ZMLX_ROOT"

bash scripts/deps.sh

zmlx_configure build -DCMAKE_BUILD_TYPE=Release -DZMLX_BUILD_EXAMPLES=ON
zmlx_build build "${ZMLX_JOBS:-$(nproc 2>/dev/null || echo 2)}"

if [ ! -x build/example_demo ]; then
  echo "demo.sh: build/example_demo was not built (is examples/demo.c there?)" >&2
  exit 1
fi

echo
echo "==== build/example_demo"
./build/example_demo
echo
echo "==== build/zmlx doctor"
./build/zmlx doctor
