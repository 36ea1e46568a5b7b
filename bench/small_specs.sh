#!/usr/bin/env bash
# Runs every CPU-sized reproduction spec (specs/small/*.yaml) end to end with
# `qgrid run` on the committed tiny model (assets/qgrid-tiny) and, where a
# spec names it, ../shared/models/stories260K, on ../shared/data, and prints
# one line per spec: wall time, jobs done / expected, failed+dead. The
# result tables go to $OUT (default: a temporary folder), one file per spec.
#
#   bash bench/small_specs.sh [BUILD_DIR] [SPEC...]
#
# The test suite runs only specs/small/table5_tiny.yaml end to end
# (tests/cli/small_specs_test.cc); the others take minutes each on a loaded
# 2-core machine, so they run here. Exit status 1 when any spec has a failed
# job or a count other than its `# expect: ... jobs=N` line.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift $(( $# > 0 ? 1 : 0 ))
qgrid=$build/cli/qgrid
shared=${QGRID_SHARED_DIR:-$root/../shared}
out=${OUT:-$(mktemp -d -t qgrid-small-specs-XXXXXX)}
if [[ ! -x $qgrid ]]; then
  echo "no $qgrid: build first (deploy/build.sh)" >&2
  exit 2
fi
if [[ ! -d $shared/data ]]; then
  echo "needs $shared/data (real public data beside the repository); absent" >&2
  exit 2
fi
specs=("$@")
if [[ ${#specs[@]} -eq 0 ]]; then
  specs=("$root"/specs/small/*.yaml)
fi
status=0
printf '%-42s %9s %11s %6s\n' spec wall_s jobs_done failed+dead
for spec in "${specs[@]}"; do
  name=$(basename "$spec" .yaml)
  want=$(sed -n 's/^# expect:.* jobs=\([0-9]*\).*/\1/p' "$spec")
  start=$(date +%s.%N)
  "$qgrid" run "$spec" --model-root "$root/assets" \
    --model-root "$shared/models" --data-dir "$shared/data" \
    --data-dir "$root/specs/paper" > "$out/$name.txt" 2> "$out/$name.log"
  rc=$?
  end=$(date +%s.%N)
  # The final status line: "... total N: done D, running R, pending P,
  # failed F, dead X, cancelled C".
  line=$(grep -E ' total [0-9]+: done ' "$out/$name.txt" | tail -1)
  done=$(sed -n 's/.* done \([0-9]*\),.*/\1/p' <<< "$line")
  failed=$(sed -n 's/.* failed \([0-9]*\), dead \([0-9]*\),.*/\1+\2/p' <<< "$line")
  done=${done:-0}
  failed=${failed:-?}
  printf '%-42s %9.1f %5s/%-5s %6s\n' "$name" "$(echo "$end - $start" | bc)" \
    "$done" "$want" "$failed"
  if [[ $rc -ne 0 || $done != "$want" ]]; then
    status=1
    echo "  $name: exit $rc; log $out/$name.log" >&2
  fi
done
echo "tables and logs: $out"
exit $status
