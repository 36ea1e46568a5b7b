#!/usr/bin/env bash
# Installs everything qgrid needs on Debian 12, from Debian's archive only.
# Idempotent: safe to run again; `apt-get update` runs once per invocation.
#
#   deploy/install-deps.sh                    everything (build, tests, demo)
#   deploy/install-deps.sh --coordinator-only what `cmake -DQGRID_WITH_TORCH=OFF`
#                                             needs: no libtorch, no
#                                             SentencePiece, no demo texts
set -euo pipefail
COORDINATOR_ONLY=0
for a in "$@"; do
  case "$a" in
    --coordinator-only) COORDINATOR_ONLY=1 ;;
    -h|--help) sed -n 2,9p "$0"; exit 0 ;;
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
  )
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
