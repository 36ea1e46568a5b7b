#!/usr/bin/env bash
# The one-command GPU check (issue 12, item 8): on a GPU machine that has
# nvcc, CMake, ninja, a C++ compiler and a CUDA PyTorch but no Debian
# development packages and no network, build qgrid against that PyTorch
# and run the CUDA tests, the GPU benchmarks and a tiny end-to-end
# quantize + eval on cuda:0; print one summary.
#
#   deploy/gpu-check.sh --prepare   (here, with Debian's archive) fetch the
#       Debian 12 packages the build needs with `apt-get download`, unpack
#       them with `dpkg -x`, trim them, fix their absolute /usr paths, and
#       pack them into .gpu-prefix/prefix.tar.gz with .gpu-prefix/MANIFEST.txt
#       (git ignores .gpu-prefix/). Also leaves the unpacked tree in
#       .gpu-prefix/root for a look.
#   deploy/gpu-check.sh             (there) the check. Unpacks the tarball
#       afresh, configures and builds build-gpu/ (sm_90 only), runs every
#       step under `timeout`, goes on after a failed step, and writes the
#       summary to stdout and, when $OUT is set, to $OUT/gpu-check.txt
#       (step logs: $OUT/gpu-check-logs.tar.gz). Exit 0 when no step failed
#       (a step skipped for want of a GPU is not a failure, and not a pass).
#   deploy/gpu-check.sh --rehearse  (here) the check as above, but with
#       CMake's search kept out of /usr (CMAKE_IGNORE_PREFIX_PATH, ...) and
#       ccache, so that it proves the prefix is complete on a machine that
#       has the Debian packages installed; nice'd. The audit step (no header
#       or library that the prefix provides came from /usr) runs in both.
#
# The `run` invocation of a session that is lent a GPU (the device tool
# sends that session's own checkout: run --prepare there first, and keep
# the tree + carry under 64 MiB; --prepare prints the sizes):
#   run(command="bash deploy/gpu-check.sh",
#       carry=[".gpu-prefix/prefix.tar.gz", ".gpu-prefix/MANIFEST.txt"],
#       timeout_s=600)
# The script keeps itself inside 9 min 30 s (QGRID_GPU_CHECK_BUDGET_S).
#
# Environment: QGRID_GPU_CHECK_TIME_SCALE (--rehearse's step limits, x10),
# QGRID_GPU_CHECK_CONFIGURE_ONLY=1 (stop after configuring),
# QGRID_TORCH_PYTHON (a python3 whose torch has CUDA; default
# /opt/torch/.venv/bin/python3 when present, else python3), BUILD_DIR
# (build-gpu), JOBS (nproc), CUDAARCHS (90), QGRID_GPU_PREFIX (.gpu-prefix).
# The whole script is one brace group: bash parses it before running any
# of it, so editing this file while a check runs cannot derail that run.
{
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
MODE=check
case "${1:-}" in
  "") ;;
  --prepare) MODE=prepare ;;
  --rehearse) MODE=rehearse ;;
  -h|--help) sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "gpu-check.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
PREFIX_DIR=${QGRID_GPU_PREFIX:-$REPO/.gpu-prefix}
TARBALL=$PREFIX_DIR/prefix.tar.gz
MANIFEST=$PREFIX_DIR/MANIFEST.txt
ARCH_TRIPLET=x86_64-linux-gnu
# What travels to the GPU machine, at most (tree + carry; device README).
LIMIT_BYTES=$((64 * 1024 * 1024))

# Debian 12 packages of the build (deploy/install-deps.sh's libraries),
# their runtime libraries and the few tools a bare image may lack
# (pkg-config for SentencePiece's .pc, protoc, grpc_cpp_plugin). Runtime
# libraries the GPU image has (libc, libstdc++, libgcc) stay out; the rest
# travel so that the versions match the headers (Debian 12's libssl 3.0,
# zlib 1.2.13, liblzma are ABI-stable and harmless next to the image's).
PACKAGES=(
  libabsl-dev libabsl20220623
  libgoogle-glog-dev libgoogle-glog0v6 libgflags-dev libgflags2.2
  libunwind-dev libunwind8
  libgrpc++-dev libgrpc-dev libgrpc++1.51 libgrpc29
  libc-ares-dev libc-ares2 libre2-dev libre2-9 libssl-dev libssl3
  protobuf-compiler-grpc libprotobuf-dev libprotobuf32 libprotoc32
  libprotoc-dev protobuf-compiler
  libsqlite3-dev libsqlite3-0
  libyaml-cpp-dev libyaml-cpp0.7
  libgtest-dev libgmock-dev
  nlohmann-json3-dev libcli11-dev
  zlib1g-dev zlib1g
  libsentencepiece-dev libsentencepiece0
  pkgconf pkgconf-bin libpkgconf3
)

# Replaces the absolute /usr of Debian's files under root/ by paths
# relative to each file: .pc files through pkgconf's ${pcfiledir}, CMake
# files through ${CMAKE_CURRENT_LIST_DIR}. The "/usr-merge" blocks of
# CMake's generated *Targets.cmake (`_realOrig`) compare against the
# original location and are left alone (they never match elsewhere).
fix_paths() {
  local root=$1 f dir rel
  while IFS= read -r f; do
    dir=$(dirname "${f#"$root"/usr/}")
    rel=$(sed 's|[^/][^/]*|..|g' <<<"$dir")
    sed -i -E "s#(^|[=\" ]|-I|-L)/usr(/|\$| )#\\1\${pcfiledir}/$rel\\2#g" "$f"
  done < <(find "$root/usr" -name '*.pc')
  while IFS= read -r f; do
    dir=$(dirname "${f#"$root"/usr/}")
    rel=$(sed 's|[^/][^/]*|..|g' <<<"$dir")
    # Lines of the /usr-merge blocks keep their /usr.
    sed -i -E "/_realOrig|PACKAGE_PREFIX_DIR \"\/usr\"|_IMPORT_PREFIX \"\/usr/!s#\"/usr/#\"\${CMAKE_CURRENT_LIST_DIR}/$rel/#g" "$f"
  done < <(find "$root/usr" -name '*.cmake')
}

# Lines of the prefix's .pc and .cmake files that still name /usr
# (outside the /usr-merge blocks); empty when fix_paths did its job.
leftover_usr_paths() {
  grep -rn --include='*.pc' --include='*.cmake' -E '(^|[^A-Za-z0-9_.])/usr(/|$)' "$1/usr" 2>/dev/null |
    grep -vE '_realOrig|PACKAGE_PREFIX_DIR "/usr"|_IMPORT_PREFIX "/usr|^[^:]*:[0-9]+:[[:space:]]*#'
}

prepare() {
  set -e
  command -v apt-get >/dev/null && command -v dpkg >/dev/null ||
    { echo "gpu-check --prepare: needs apt-get and dpkg (Debian 12)" >&2; exit 1; }
  apt-cache show libabsl-dev >/dev/null 2>&1 || apt-get update -qq
  rm -rf "$PREFIX_DIR/root" "$PREFIX_DIR/debs" "$TARBALL" "$MANIFEST"
  mkdir -p "$PREFIX_DIR/debs" "$PREFIX_DIR/root"
  (cd "$PREFIX_DIR/debs" && apt-get download -qq "${PACKAGES[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
  local n
  n=$(ls "$PREFIX_DIR/debs"/*.deb | wc -l)
  [ "$n" -eq "${#PACKAGES[@]}" ] ||
    { echo "gpu-check --prepare: downloaded $n of ${#PACKAGES[@]} packages" >&2; exit 1; }
  for d in "$PREFIX_DIR/debs"/*.deb; do dpkg -x "$d" "$PREFIX_DIR/root"; done
  local root=$PREFIX_DIR/root
  # Trim: documentation, and the static libraries that no CMake config
  # file names (CMake checks that every file an imported target names
  # exists: gflags' config names its .a files; Debian ships gtest/gmock
  # only as .a). qgrid links everything else as .so.
  rm -rf "$root"/usr/share/{doc,doc-base,man,info,lintian,aclocal} "$root"/usr/src
  local keep
  keep=$(grep -rhoE 'lib[A-Za-z0-9_+-]+\.a\b' --include='*.cmake' "$root" | sort -u)
  find "$root" -name '*.a' | while read -r a; do
    grep -qxF "$(basename "$a")" <<<"$keep" || rm -f "$a"
  done
  fix_paths "$root"
  local left
  left=$(leftover_usr_paths "$root" || true)
  [ -z "$left" ] || { echo "gpu-check --prepare: absolute /usr paths left:" >&2; echo "$left" >&2; exit 1; }
  # What the prefix's binaries need from the GPU machine's C libraries.
  local glibc glibcxx
  glibc=$(find "$root" -type f \( -name '*.so*' -o -path '*/bin/*' \) -exec objdump -T {} + 2>/dev/null |
    grep -oE 'GLIBC_[0-9]+\.[0-9]+' | sort -uV | tail -1)
  glibcxx=$(find "$root" -type f \( -name '*.so*' -o -path '*/bin/*' \) -exec objdump -T {} + 2>/dev/null |
    grep -oE 'GLIBCXX_[0-9]+\.[0-9]+(\.[0-9]+)?' | sort -uV | tail -1)
  tar -C "$PREFIX_DIR" -czf "$TARBALL" root
  {
    echo "# qgrid GPU-check prefix (deploy/gpu-check.sh --prepare), $(date -u +%FT%TZ)"
    echo "# Debian $(cat /etc/debian_version 2>/dev/null), ${#PACKAGES[@]} packages, unpacked into root/ (tarball prefix.tar.gz)"
    echo "# needs-glibc $glibc"
    echo "# needs-libstdc++ $glibcxx"
    echo "# unpacked-bytes $(du -sb "$root" | cut -f1)"
    echo "# tarball-bytes $(stat -c %s "$TARBALL")"
    echo "## packages"
    for d in "$PREFIX_DIR/debs"/*.deb; do dpkg-deb -W --showformat='${Package} ${Version}\n' "$d"; done
    echo "## files (bytes path)"
    (cd "$PREFIX_DIR" && find root \( -type f -o -type l \) -printf '%s %p\n' | sort -k2)
  } >"$MANIFEST"
  rm -rf "$PREFIX_DIR/debs"
  # The tarball holds what the manifest lists, and the pieces the check
  # needs are there.
  local in_tar in_manifest f
  in_tar=$(tar -tzf "$TARBALL" | grep -vc '/$')
  in_manifest=$(grep -c '^[0-9]* root/' "$MANIFEST")
  [ "$in_tar" -eq "$in_manifest" ] ||
    { echo "gpu-check --prepare: tarball has $in_tar files, manifest $in_manifest" >&2; exit 1; }
  for f in usr/bin/protoc usr/bin/grpc_cpp_plugin usr/bin/pkgconf usr/include/absl/status/status.h \
    usr/include/grpcpp/grpcpp.h usr/lib/$ARCH_TRIPLET/libgtest.a usr/lib/$ARCH_TRIPLET/cmake/grpc/gRPCConfig.cmake \
    usr/lib/$ARCH_TRIPLET/pkgconfig/sentencepiece.pc; do
    [ -e "$root/$f" ] || { echo "gpu-check --prepare: missing $f" >&2; exit 1; }
  done
  local tree carry
  tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  carry=$(( $(stat -c %s "$TARBALL") + $(stat -c %s "$MANIFEST") ))
  echo "gpu-check --prepare: $n packages; root/ $(du -sh "$root" | cut -f1) unpacked, $(grep -c '^[0-9]* root/' "$MANIFEST") files"
  echo "  travels: working tree $((tree / 1024)) KiB + carry $((carry / 1024)) KiB = $(((tree + carry) / 1024)) KiB of $((LIMIT_BYTES / 1024)) KiB"
  echo "  needs on the GPU machine: $glibc, $glibcxx"
  [ $((tree + carry)) -le $LIMIT_BYTES ] || { echo "gpu-check --prepare: over the 64 MiB limit" >&2; exit 1; }
}

if [ "$MODE" = prepare ]; then prepare; exit $?; fi

# ---- the check ------------------------------------------------------------
START=$(date +%s)
# Step limits are sized for 16 cores; the rehearsal on 2 nice'd cores
# scales them (and the budget) by QGRID_GPU_CHECK_TIME_SCALE (default 10).
TSCALE=1
[ "$MODE" = rehearse ] && TSCALE=${QGRID_GPU_CHECK_TIME_SCALE:-10}
BUDGET=${QGRID_GPU_CHECK_BUDGET_S:-$((570 * TSCALE))}
BUILD_DIR=${BUILD_DIR:-build-gpu}
JOBS=${JOBS:-$(nproc)}
export CUDAARCHS=${CUDAARCHS:-90}
LOGS=$REPO/$BUILD_DIR/gpu-check-logs
WORK=$REPO/$BUILD_DIR/gpu-check-work
NICE=()
[ "$MODE" = rehearse ] && NICE=(nice -n 10)
SUMMARY=()
FAILED=0
HAVE_GPU=0

elapsed() { echo $(($(date +%s) - START)); }
note() { SUMMARY+=("$*"); }
# step NAME TIMEOUT_S CMD...: runs CMD under timeout (cut to what is left of
# the budget), its output in $LOGS/NAME.log; records PASS/FAIL/TIMEOUT and
# the seconds. Returns CMD's status.
step() {
  local name=$1 limit=$(($2 * TSCALE)) t0 rc left
  shift 2
  left=$((BUDGET - $(elapsed) - 10))
  [ "$left" -lt "$limit" ] && limit=$left
  if [ "$limit" -le 5 ]; then
    note "$(printf '%-8s %-22s %5s s  not run: the %s s budget is spent' SKIP "$name" 0 "$BUDGET")"
    FAILED=1
    return 124
  fi
  t0=$(date +%s)
  # A shell function of this script runs in a child bash (timeout execs).
  if declare -F "$1" >/dev/null; then
    export -f "$1"
    set -- bash -c '"$@"' _ "$@"
  fi
  timeout --kill-after=10 "$limit" "$@" >"$LOGS/$name.log" 2>&1
  rc=$?
  local dt=$(($(date +%s) - t0)) verdict=PASS extra=""
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    verdict=TIMEOUT; extra="after ${limit} s (log: $name.log)"; FAILED=1
  elif [ $rc -ne 0 ]; then
    verdict=FAIL; extra="exit $rc: $(grep -v '^\s*$' "$LOGS/$name.log" | tail -3 | tr '\n' ' ' | cut -c1-300)"; FAILED=1
  fi
  note "$(printf '%-8s %-22s %5d s  %s' "$verdict" "$name" "$dt" "$extra")"
  return $rc
}
# Like step, for a GoogleTest binary: PASS only when tests ran and passed;
# SKIP when every test skipped itself ("skipped: no GPU" without one).
gtest_step() {
  local name=$1 limit=$2 rc
  shift 2
  step "$name" "$limit" "$@"
  rc=$?
  local log=$LOGS/$name.log ran passed skipped failed
  ran=$(grep -oE '^\[==========\] [0-9]+ tests? from .* ran' "$log" | grep -oE '[0-9]+' | head -1)
  passed=$(grep -oE '^\[  PASSED  \] [0-9]+' "$log" | grep -oE '[0-9]+$')
  skipped=$(grep -oE '^\[  SKIPPED \] [0-9]+ tests?,' "$log" | grep -oE '[0-9]+')
  failed=$(grep -E '^\[  FAILED  \] [A-Za-z]' "$log" | sed 's/^\[  FAILED  \] //' | tr '\n' ' ')
  local counts="ran ${ran:-0}, passed ${passed:-0}, skipped ${skipped:-0}"
  local last=$((${#SUMMARY[@]} - 1))
  if [ $rc -eq 0 ] && [ "${ran:-0}" -gt 0 ] && [ "${skipped:-0}" -eq "${ran:-0}" ]; then
    local why="skipped"
    [ "$HAVE_GPU" -eq 0 ] && why="skipped: no GPU"
    SUMMARY[$last]=$(sed -E "s/^PASS    /SKIP    /; s/ s  .*$/ s  $why ($counts)/" <<<"${SUMMARY[$last]} ")
  elif [ $rc -eq 0 ] && [ "${ran:-0}" -eq 0 ]; then
    SUMMARY[$last]=$(sed -E "s/^PASS    /FAIL    /; s/ s  .*$/ s  no test ran/" <<<"${SUMMARY[$last]} ")
    FAILED=1
  else
    SUMMARY[$last]="${SUMMARY[$last]}${counts}${failed:+; failed: $failed}"
  fi
  return $rc
}

mkdir -p "$LOGS" "$WORK"
rm -f "$LOGS"/*.log

# -- the machine
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  HAVE_GPU=1
  GPU_LINE=$(nvidia-smi --query-gpu=name,memory.total,memory.free,driver_version,compute_cap --format=csv,noheader 2>/dev/null | head -1)
else
  GPU_LINE="none (nvidia-smi absent or sees no GPU)"
fi
if [ -z "${QGRID_TORCH_PYTHON:-}" ]; then
  if [ -x /opt/torch/.venv/bin/python3 ]; then QGRID_TORCH_PYTHON=/opt/torch/.venv/bin/python3; else QGRID_TORCH_PYTHON=python3; fi
fi
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
TORCH_INFO=$("$QGRID_TORCH_PYTHON" -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -1)
TORCH_CMAKE=$("$QGRID_TORCH_PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null)
NVCC_V=$(nvcc --version 2>/dev/null | grep -oE 'release [0-9.]+' || echo "no nvcc")
CXX_BIN=${CXX:-$(command -v g++ || command -v c++ || true)}
CXX_V=$("${CXX_BIN:-false}" --version 2>/dev/null | head -1 || echo "no C++ compiler")
GLIBC_V=$(getconf GNU_LIBC_VERSION 2>/dev/null || echo unknown)
CMAKE_BIN=$(command -v cmake || true)
NINJA_BIN=$(command -v ninja || true)
if [ -z "$NINJA_BIN" ] && [ -n "$TORCH_CMAKE" ]; then
  # pip's ninja next to the torch python
  NINJA_BIN=$(ls "$(dirname "$QGRID_TORCH_PYTHON")/ninja" 2>/dev/null || true)
fi

# -- the prefix
ROOT=$PREFIX_DIR/root
unpack() {
  [ -f "$TARBALL" ] || { echo "no $TARBALL: run deploy/gpu-check.sh --prepare here and carry it" >&2; return 1; }
  rm -rf "$ROOT" && tar -C "$PREFIX_DIR" -xzf "$TARBALL" && [ -d "$ROOT/usr/include/absl" ]
  local needs have
  needs=$(sed -n 's/^# needs-glibc GLIBC_//p' "$MANIFEST" 2>/dev/null)
  have=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
  echo "prefix needs glibc $needs, machine has $have"
  [ -z "$needs" ] || [ "$(printf '%s\n%s\n' "$needs" "$have" | sort -V | head -1)" = "$needs" ]
}
export ROOT TARBALL MANIFEST PREFIX_DIR
step prefix 60 unpack
PLIB=$ROOT/usr/lib/$ARCH_TRIPLET
export ROOT PLIB ARCH_TRIPLET TARBALL MANIFEST PREFIX_DIR BUILD_DIR NINJA_BIN
export LD_LIBRARY_PATH=$PLIB:$ROOT/lib/$ARCH_TRIPLET${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PATH=$ROOT/usr/bin:$PATH
# pkg-config sees only the prefix (SentencePiece is found through its .pc).
export PKG_CONFIG_LIBDIR=$PLIB/pkgconfig:$ROOT/usr/share/pkgconfig
unset PKG_CONFIG_PATH

# -- configure and build
CMAKE_ARGS=(
  -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DCMAKE_PREFIX_PATH="$ROOT/usr;$TORCH_CMAKE"
  -DPKG_CONFIG_EXECUTABLE="$ROOT/usr/bin/pkgconf"
  -DProtobuf_PROTOC_EXECUTABLE="$ROOT/usr/bin/protoc"
  -DGRPC_CPP_PLUGIN="$ROOT/usr/bin/grpc_cpp_plugin"
  -DCMAKE_CUDA_ARCHITECTURES="$CUDAARCHS" -DQGRID_REQUIRE_CUDA=ON
  # Debian's config files declare policies from CMake 2.6/2.8; CMake 4
  # refuses those without this (older CMake ignores it).
  -DCMAKE_POLICY_VERSION_MINIMUM=3.5
)
[ -n "$NINJA_BIN" ] && CMAKE_ARGS+=(-DCMAKE_MAKE_PROGRAM="$NINJA_BIN")
[ -n "$CXX_BIN" ] && CMAKE_ARGS+=(-DCMAKE_CXX_COMPILER="$CXX_BIN" -DCMAKE_CUDA_HOST_COMPILER="$CXX_BIN")
if [ "$MODE" = rehearse ]; then
  # Keep CMake's searches out of this machine's /usr, where Debian's dev
  # packages are installed (the GPU machine has none): only the prefix,
  # torch and /usr/local/cuda remain. The compiler's own /usr/include
  # cannot be hidden; the audit step checks that no header the prefix
  # provides was read from there.
  CMAKE_ARGS+=(-DCMAKE_IGNORE_PREFIX_PATH="/usr;/"
    "-DCMAKE_IGNORE_PATH=/usr/include;/usr/lib;/usr/lib/$ARCH_TRIPLET;/usr/share;/usr/lib/cmake;/usr/lib/$ARCH_TRIPLET/cmake;/usr/share/cmake")
  # The ignored /usr prefix hides the binutils too: name them.
  for t in ar ranlib nm objdump objcopy strip readelf addr2line ld; do
    T=$(tr a-z A-Z <<<"$t")
    command -v "$t" >/dev/null && CMAKE_ARGS+=("-DCMAKE_$T=$(command -v "$t")")
  done
  command -v ccache >/dev/null && CMAKE_ARGS+=(-DCCACHE_PROGRAM="$(command -v ccache)")
else
  CMAKE_ARGS+=(-DCCACHE_PROGRAM=CCACHE_PROGRAM-NOTFOUND)
fi
step configure 180 "${NICE[@]}" "${CMAKE_BIN:-cmake}" "${CMAKE_ARGS[@]}"
CONFIGURED=$?
# The CUDA kernel tests and the bench first (what the check is for), then
# the rest of the quant suite's needs and the CLI.
# QGRID_GPU_CHECK_CONFIGURE_ONLY=1 stops after configuring (and the audit
# of build.ninja's paths): a quick look at a new prefix.
if [ $CONFIGURED -eq 0 ] && [ -z "${QGRID_GPU_CHECK_CONFIGURE_ONLY:-}" ]; then
  step build-kernels 420 "${NICE[@]}" "${CMAKE_BIN:-cmake}" --build "$BUILD_DIR" -j "$JOBS" --target quant_tests bench_quant_gemv
  step build-cli 300 "${NICE[@]}" "${CMAKE_BIN:-cmake}" --build "$BUILD_DIR" -j "$JOBS" --target qgrid qgrid-torch model_tests
fi

# -- audit: nothing the prefix provides came from /usr
audit() {
  local bad=0 entries lib
  [ -f "$BUILD_DIR/build.ninja" ] || { echo "no $BUILD_DIR/build.ninja"; return 1; }
  # Header roots the prefix provides (absl, grpcpp, google, zlib.h, ...).
  entries=$( (ls "$ROOT/usr/include"; ls "$ROOT/usr/include/$ARCH_TRIPLET" 2>/dev/null | sed "s|^|$ARCH_TRIPLET/|") |
    grep -vx "$ARCH_TRIPLET" | sed 's/[.+]/\\&/g' | paste -sd'|')
  local hdr
  hdr=$("${NINJA_BIN:-ninja}" -C "$BUILD_DIR" -t deps 2>/dev/null | grep -E "^[[:space:]]+/usr/include/($entries)(/|\$)" | sort -u)
  echo "headers read: $("${NINJA_BIN:-ninja}" -C "$BUILD_DIR" -t deps 2>/dev/null | grep -c "$ROOT/usr/include") from the prefix (with repeats)"
  if [ -n "$hdr" ]; then echo "headers the prefix provides read from /usr/include:"; echo "$hdr" | head -20; bad=1; fi
  # Link and compile lines of build.ninja: no /usr path of a prefix library.
  local libs
  libs=$(ls "$PLIB" | grep -E '\.so' | sed -E 's/\.so.*//' | sort -u | sed 's/[.+]/\\&/g' | paste -sd'|')
  local lnk
  lnk=$(grep -oP "(?<![\w./+-])/usr/lib/$ARCH_TRIPLET/($libs)\.(so|a)[^ ]*|-I/usr/include|-isystem /usr/include[^ ]*" "$BUILD_DIR/build.ninja" | sort -u)
  if [ -n "$lnk" ]; then echo "build.ninja names /usr's copies:"; echo "$lnk" | head -20; bad=1; fi
  # Every built binary resolves every library, the prefix's from the prefix.
  local b
  for b in "$BUILD_DIR"/tests/quant_tests "$BUILD_DIR"/tests/model_tests "$BUILD_DIR"/bench/bench_quant_gemv "$BUILD_DIR"/cli/qgrid "$BUILD_DIR"/cli/qgrid-torch; do
    [ -x "$b" ] || { echo "not built: $b"; bad=1; continue; }
    local out
    out=$(ldd "$b")
    if grep -q "not found" <<<"$out"; then echo "$b: $(grep 'not found' <<<"$out" | tr -s ' \t' ' ')"; bad=1; fi
    while read -r name _ path _; do
      lib=$(basename "$name")
      if [ -e "$PLIB/$lib" ] || [ -e "$ROOT/lib/$ARCH_TRIPLET/$lib" ]; then
        case "$path" in "$ROOT"/*) ;; *) echo "$b: $lib resolves to $path, not the prefix"; bad=1 ;; esac
      fi
    done < <(grep '=>' <<<"$out")
    echo "$b: $(grep -c "$ROOT" <<<"$out") libraries from the prefix, $(grep -c '=>' <<<"$out") in all"
  done
  return $bad
}
step audit 60 audit
[ -n "${QGRID_GPU_CHECK_CONFIGURE_ONLY:-}" ] && { printf '%s\n' "${SUMMARY[@]}"; cat "$LOGS/audit.log"; exit $FAILED; }

# -- CUDA tests, benches, end to end
B=$BUILD_DIR
if [ -x "$B/tests/quant_tests" ]; then
  gtest_step cuda-kernel-tests 120 "$B/tests/quant_tests" --gtest_color=no '--gtest_filter=*Cuda*'
fi
if [ -x "$B/tests/model_tests" ]; then
  gtest_step model-device-tests 60 "$B/tests/model_tests" --gtest_color=no '--gtest_filter=CheckDevice.*:CatchTorch.*:DescribeDevice.*:*Cuda*'
fi
if [ -x "$B/bench/bench_quant_gemv" ]; then
  step bench-quant-gemv 120 "$B/bench/bench_quant_gemv"
  last=$((${#SUMMARY[@]} - 1))
  if grep -q "skipped: no CUDA device" "$LOGS/bench-quant-gemv.log"; then
    SUMMARY[$last]=$(sed -E 's/^PASS    /SKIP    /; s/ s  .*$/ s  skipped: no GPU/' <<<"${SUMMARY[$last]} ")
  fi
fi
QG=$B/cli/qgrid
if [ -x "$QG" ] && [ -x "$B/cli/qgrid-torch" ]; then
  # GPTQ 4-bit on cuda:0, calibrated on the repository's own prose (no data
  # set on the machine), exported in the GPTQ layout; then the perplexity
  # of the hand-made fixture with that checkpoint on cuda:0 (PackedLinear's
  # kernel path) and on the CPU, side by side. Without a GPU the same
  # commands run on the CPU only (so the rehearsal proves them) and the
  # cuda:0 part is reported skipped.
  QDEV=cpu
  [ "$HAVE_GPU" -eq 1 ] && QDEV=cuda:0
  rm -rf "$WORK/tiny-gptq"
  step "e2e-quantize-${QDEV%%:*}" 120 "$QG" quantize --model assets/qgrid-tiny --method gptq --bits 4 \
    --group-size 64 --calib ARCHITECTURE.md --calib-samples 16 --calib-seq-len 128 \
    --device "$QDEV" --format gptq --out "$WORK/tiny-gptq"
  EVAL_DEVS=(cpu)
  [ "$HAVE_GPU" -eq 1 ] && EVAL_DEVS=(cuda:0 cpu)
  for dev in "${EVAL_DEVS[@]}"; do
    step "e2e-eval-${dev%%:*}" 120 "$QG" eval --model "$WORK/tiny-gptq" \
      --task tests/eval/fixtures/handmade_prose_ppl.yaml --data-dir tests/eval/fixtures \
      --device "$dev" --json
  done
  ppl() { grep -oE '"perplexity,none": *[0-9.]+' "$LOGS/$1.log" 2>/dev/null | head -1 | grep -oE '[0-9.]+$'; }
  if [ "$HAVE_GPU" -eq 1 ]; then
    note "         e2e perplexity of the GPTQ checkpoint: cuda:0 $(ppl e2e-eval-cuda) vs cpu $(ppl e2e-eval-cpu)"
  else
    note "         e2e perplexity of the GPTQ checkpoint (cpu): $(ppl e2e-eval-cpu)"
    note "$(printf '%-8s %-22s %5d s  %s' SKIP e2e-on-cuda 0 'skipped: no GPU')"
  fi
fi

# The whole quant suite last (CPU-heavy; what time is left, at most 4 min).
if [ -x "$B/tests/quant_tests" ]; then
  gtest_step quant-tests 240 env OMP_WAIT_POLICY=PASSIVE "$B/tests/quant_tests" --gtest_color=no
fi

# -- summary
{
  echo "== qgrid GPU check ($MODE) $(date -u +%FT%TZ), $(elapsed) s of $BUDGET s"
  echo "gpu:    $GPU_LINE"
  echo "torch:  $TORCH_INFO ($QGRID_TORCH_PYTHON)"
  echo "tools:  nvcc $NVCC_V; $CXX_V; $(${CMAKE_BIN:-cmake} --version 2>/dev/null | head -1); ninja $("${NINJA_BIN:-ninja}" --version 2>/dev/null); $GLIBC_V; $(nproc) cores; CUDAARCHS=$CUDAARCHS"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
  printf '%s\n' "${SUMMARY[@]}"
  if [ -f "$LOGS/audit.log" ]; then echo "-- audit"; sed 's/^/  /' "$LOGS/audit.log" | head -30; fi
  if [ -f "$LOGS/bench-quant-gemv.log" ]; then echo "-- bench_quant_gemv"; sed 's/^/  /' "$LOGS/bench-quant-gemv.log" | head -40; fi
  echo "== $( [ $FAILED -eq 0 ] && echo 'no step failed' || echo 'SOME STEPS FAILED') (logs: $LOGS)"
} | tee "$LOGS/summary.txt"
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
  cp "$LOGS/summary.txt" "$OUT/gpu-check.txt"
  tar -C "$BUILD_DIR" -czf "$OUT/gpu-check-logs.tar.gz" gpu-check-logs 2>/dev/null
fi
exit $FAILED
}
