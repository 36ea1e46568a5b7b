#!/usr/bin/env bash
# The conformance suite (tests/conformance/, pytest): qgrid against the
# reference tools themselves (lm-eval, transformers, tokenizers,
# sentencepiece, compressed-tensors, llm-compressor), pinned in
# deploy/python/constraints.txt and installed by deploy/python-env.sh.
#
#   bash deploy/test-conformance.sh [pytest args]
#
# Needs the CPU build (BUILD_DIR, default build/; built when missing). When
# the package index cannot be reached the suite is skipped with a message,
# except under CI (CI=true), where that is a failure. The C++ suite
# (deploy/test.sh) needs none of this.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
start=$(date +%s)
rc=0
bash deploy/python-env.sh --conformance || rc=$?
if [ "$rc" -eq 3 ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "test-conformance: the package index cannot be reached (CI must run the suite)" >&2
    exit 1
  fi
  echo "test-conformance: SKIPPED: the package index cannot be reached, so the reference tools cannot be installed"
  exit 0
fi
[ "$rc" -eq 0 ] || exit "$rc"
if [ ! -x "$BUILD_DIR/cli/qgrid-torch" ]; then
  BUILD_DIR="$BUILD_DIR" bash deploy/build.sh
fi
PYENV=$(bash deploy/python-env.sh --print-prefix)
# Offline: every reference reads local files only (the suite writes its own
# small checkpoints and dataset configs); nothing is fetched from the Hub.
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export TOKENIZERS_PARALLELISM=false OMP_WAIT_POLICY=PASSIVE
export QGRID_BUILD_DIR=$PWD/$BUILD_DIR
"$PYENV/bin/python" -m pytest tests/conformance -q -p no:cacheprovider "$@"
echo "test-conformance: done in $(( $(date +%s) - start )) s (installs included)"
