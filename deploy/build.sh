#!/usr/bin/env bash
# Configures and builds qgrid (Ninja, ccache when present).
#
#   deploy/build.sh          build/ on Debian's CPU libtorch (libtorch-dev)
#   deploy/build.sh --cuda   build-cuda/ on the CUDA-enabled libtorch of the
#                            pip torch wheel in $QGRID_PYENV (default
#                            build-deps/pyenv; deploy/python-env.sh --cuda
#                            installs it) and nvcc, with the CUDA kernels of
#                            quant/kernels/ for $CUDAARCHS (CMake's variable
#                            for CMAKE_CUDA_ARCHITECTURES; default "80;90")
#
# BUILD_DIR and JOBS override the folder and the parallelism; extra
# arguments after the options go to CMake's configure step (-D...).
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
CUDA=0
CMAKE_ARGS=()
for a in "$@"; do
  case "$a" in
    --cuda) CUDA=1 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -D*) CMAKE_ARGS+=("$a") ;;
    *) echo "build.sh: unknown argument '$a' (see --help)" >&2; exit 2 ;;
  esac
done
if [ "$CUDA" -eq 1 ]; then
  BUILD_DIR=${BUILD_DIR:-build-cuda}
  QGRID_PYENV=${QGRID_PYENV:-build-deps/pyenv}
  PY="$QGRID_PYENV/bin/python"
  if ! TORCH_PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null); then
    echo "build.sh --cuda: no torch in $QGRID_PYENV; run deploy/python-env.sh --cuda (or deploy/install-deps.sh --cuda)" >&2
    exit 2
  fi
  CMAKE_ARGS=(-DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DQGRID_REQUIRE_CUDA=ON
    -DCMAKE_CUDA_ARCHITECTURES="${CUDAARCHS:-80;90}" "${CMAKE_ARGS[@]}")
else
  BUILD_DIR=${BUILD_DIR:-build}
fi
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${CMAKE_ARGS[@]+"${CMAKE_ARGS[@]}"} >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"
