#!/usr/bin/env bash
# The one Python environment of qgrid's optional parts, in build-deps/pyenv
# (ignored by git). The CPU product needs none of it (deploy/install-deps.sh
# installs Debian packages only).
#
#   bash deploy/python-env.sh --cuda         PyTorch's CUDA-enabled torch
#                                            wheel: its libtorch builds
#                                            build-cuda/ (deploy/build.sh --cuda)
#   bash deploy/python-env.sh --conformance  the reference tools of
#                                            tests/conformance/ (lm-eval,
#                                            transformers, tokenizers, ...)
#   bash deploy/python-env.sh --print-prefix prints the venv's path
#
# Every version is pinned in deploy/python/constraints.txt; each set names its
# packages in deploy/python/<set>.txt. Both sets share one torch (PyTorch's
# CUDA wheels run on CPU too), so the environment is installed once.
# QGRID_PYENV overrides the location (not PYENV_DIR: pyenv owns that name). Exits 3 when the package index cannot be
# reached, so callers can skip with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
QGRID_PYENV=${QGRID_PYENV:-build-deps/pyenv}
PYTHON=${PYTHON:-python3}

sets=()
for a in "$@"; do
  case "$a" in
    --cuda) sets+=(torch-cuda) ;;
    --conformance) sets+=(conformance) ;;
    --print-prefix) echo "$QGRID_PYENV"; exit 0 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "python-env.sh: unknown argument '$a' (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#sets[@]} -gt 0 ] || { echo "python-env.sh: name a set: --cuda and/or --conformance" >&2; exit 2; }

if [ ! -x "$QGRID_PYENV/bin/python" ]; then
  echo "python-env: creating $QGRID_PYENV"
  "$PYTHON" -m venv "$QGRID_PYENV"
fi
PIP=("$QGRID_PYENV/bin/python" -m pip --disable-pip-version-check)
for s in "${sets[@]}"; do
  stamp="$QGRID_PYENV/.installed-$s"
  # Reinstall only when the pins changed.
  want=$(cat deploy/python/constraints.txt "deploy/python/$s.txt" | sha256sum | cut -c1-16)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "python-env: $s up to date"
    continue
  fi
  echo "python-env: installing $s (deploy/python/$s.txt)"
  start=$(date +%s)
  if ! "${PIP[@]}" install -q -c deploy/python/constraints.txt -r "deploy/python/$s.txt"; then
    if ! "${PIP[@]}" download -q --no-deps -d /tmp/.qgrid-pip-probe pip >/dev/null 2>&1; then
      echo "python-env: the package index cannot be reached; $s not installed" >&2
      exit 3
    fi
    echo "python-env: pip failed installing $s" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
  echo "python-env: $s installed in $(( $(date +%s) - start )) s"
done
