#!/usr/bin/env bash
# Installs everything qgrid needs on Debian 12, from Debian's archive only.
# Idempotent: safe to run again; `apt-get update` runs once per invocation.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive

PKGS=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config clang-format git
  # libraries (see ../shared/design/architecture.md, "Key decisions")
  libtorch-dev libopenblas0-pthread
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libsqlite3-dev sqlite3
  libabsl-dev libgoogle-glog-dev libgtest-dev libgmock-dev
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libsentencepiece-dev zlib1g-dev
  # public text for the embedded demo model and data (issue: embedded default)
  bible-kjv-text fortunes fortunes-min fortunes-zh wordnet-base dict-gcide
)

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
