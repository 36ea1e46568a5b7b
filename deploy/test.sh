#!/usr/bin/env bash
# Builds qgrid and runs the whole test suite (CTest over GoogleTest).
# Tests that need ../shared (real public models and data) skip without it.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache caches compiles that use the precompiled ATen header only with this
# sloppiness (ccache manual, "Precompiled headers"); without it ccache
# reports "could not use precompiled header" for 4 compiles in 5.
export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
# Paths relative to the checkout and no working directory in the hash, so
# that another clone or worktree of the repository (CI's fresh clone, a
# helper's worktree) hits the same cache entries; only the debug info's
# compilation directory of a hit then names the first clone.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" --timeout 900 "$@"
