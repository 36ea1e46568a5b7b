#!/usr/bin/env bash
# Builds the torch-free half of qgrid alone (cmake -DQGRID_WITH_TORCH=OFF:
# coordinator, client commands, tasks; what a coordinator-only install or
# deploy/container/coordinator.Dockerfile needs), checks that its `qgrid`
# links no libtorch and says what is missing for a model command, and runs
# the suites that build in that configuration.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${LEAN_BUILD_DIR:-build-coordinator-only}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DQGRID_WITH_TORCH=OFF -DQGRID_BUILD_BENCH=OFF >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
qgrid="$BUILD_DIR/cli/qgrid"
if ldd "$qgrid" | grep -Eq 'libtorch|libc10'; then
  echo "coordinator-only: $qgrid links libtorch:" >&2
  ldd "$qgrid" | grep -E 'libtorch|libc10' >&2
  exit 1
fi
if [ -e "$BUILD_DIR/cli/qgrid-torch" ]; then
  echo "coordinator-only: qgrid-torch was built with QGRID_WITH_TORCH=OFF" >&2
  exit 1
fi
"$qgrid" --help >/dev/null
set +e
msg=$("$qgrid" eval --model m --task arc_easy 2>&1); rc=$?
set -e
if [ "$rc" -ne 1 ] || ! grep -q "needs the libtorch part" <<<"$msg"; then
  echo "coordinator-only: a model command should fail saying qgrid-torch is missing (rc $rc): $msg" >&2
  exit 1
fi
echo "coordinator-only: qgrid links no libtorch ($(ldd "$qgrid" | wc -l) shared libraries)"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" --timeout 300
