#!/usr/bin/env bash
# Installs everything qgrid needs on Debian 12, from Debian's archive only
# (--cuda adds one pip wheel).
# Idempotent: safe to run again; `apt-get update` runs once per invocation.
#
#   deploy/install-deps.sh                    everything (build, tests, demo)
#   deploy/install-deps.sh --coordinator-only what `cmake -DQGRID_WITH_TORCH=OFF`
#                                             needs: no libtorch, no
#                                             SentencePiece, no demo texts
#   deploy/install-deps.sh --cuda             also what `deploy/build.sh --cuda`
#                                             needs: python3-venv and the
#                                             pinned CUDA-enabled torch wheel
#                                             (deploy/python-env.sh --cuda,
#                                             from PyPI); the CUDA toolkit
#                                             (nvcc) must be installed already
set -euo pipefail
COORDINATOR_ONLY=0
CUDA=0
for a in "$@"; do
  case "$a" in
    --coordinator-only) COORDINATOR_ONLY=1 ;;
    --cuda) CUDA=1 ;;
    -h|--help) sed -n 2,15p "$0" | sed "s/^# \{0,1\}//"; exit 0 ;;
    *) echo "install-deps: unknown option $a (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive

PKGS=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang-format git
  # libraries of the torch-free front end (coordinator, client commands)
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsqlite3-dev sqlite3
  libabsl-dev libgoogle-glog-dev libgtest-dev libgmock-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev zlib1g-dev
)
if [ "$COORDINATOR_ONLY" -eq 0 ]; then
  PKGS+=(
    # libtorch and the model-side libraries (ARCHITECTURE.md)
    libtorch-dev libopenblas0-pthread libsentencepiece-dev
    # public text for the embedded demo model and data
    bible-kjv-text fortunes fortunes-min fortunes-zh wordnet-base dict-gcide
    # headless rendering of `qgrid report` (tests/integration/report_render_test.cc)
    chromium
  )
fi

if [ "$CUDA" -eq 1 ]; then
  [ "$COORDINATOR_ONLY" -eq 0 ] || { echo "install-deps: --cuda and --coordinator-only exclude each other" >&2; exit 2; }
  PKGS+=(python3 python3-venv)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all ${#PKGS[@]} packages already installed"
fi

if [ "$CUDA" -eq 1 ]; then
  if ! command -v nvcc >/dev/null 2>&1 && [ ! -x /usr/local/cuda/bin/nvcc ]; then
    echo "install-deps: --cuda: no nvcc on PATH or in /usr/local/cuda; install the CUDA 13.0 toolkit (NVIDIA's packages, not Debian's)" >&2
    exit 1
  fi
  bash "$(dirname "$0")/python-env.sh" --cuda
fi
