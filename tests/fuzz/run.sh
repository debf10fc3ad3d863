#!/bin/sh
# Runs the libFuzzer targets of a sanitized build (make fuzz, make fuzz-smoke):
#   tests/fuzz/run.sh BUILD RUNS [TARGET...]     TARGET: mib raw npy hdf5 workflow tiff png mrc (default: all)
# FUZZ_MAX_SECONDS=S (optional) also ends each target's mutation run after S seconds, whichever of
# RUNS inputs or S seconds comes first (make fuzz-smoke: 20 s; fuzz_hdf5 builds a file per input).
# Each target first replays tests/fuzz/regressions/TARGET/ (inputs that once failed), then mutates
# a seed corpus (tests/fuzz/make_seeds.py, made in a temporary folder) for RUNS inputs. A crash, a
# sanitizer report, a leak, an input running over 10 s (a hang) or over the memory limits fails
# the run; the failing input is kept in BUILD/fuzz-artifacts/: add it to
# tests/fuzz/regressions/TARGET/ with the fix (and a unit test where one fits).
set -eu
if [ $# -lt 2 ]; then
  echo "usage: tests/fuzz/run.sh BUILD RUNS [TARGET...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
runs=$2
shift 2
targets=${*:-mib raw npy hdf5 workflow tiff png mrc dm velox tia}
src=$(cd "$(dirname "$0")/../.." && pwd)
shared=$(sed -n 's/^TMDFLOW_SHARED_DATA:PATH=//p' "$build/CMakeCache.txt")
python=/usr/bin/python3
[ -x "$python" ] || python=python3

# Inputs are written to files for every run: keep them in memory (tmpfs) where there is one.
base=${TMPDIR:-/tmp}
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
work=$(mktemp -d "$base/tmdflow-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$python" "$src/tests/fuzz/make_seeds.py" "$work/seeds" "$shared"
artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"

export TMDFLOW_FUZZ_SCRATCH="$work"
# No recovery from a report; leaks of third-party libraries only are suppressed.
export ASAN_OPTIONS="detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$src/tests/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
limits="-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024"
budget=""
[ -n "${FUZZ_MAX_SECONDS:-}" ] && budget="-max_total_time=$FUZZ_MAX_SECONDS"

status=0
for t in $targets; do
  bin="$build/bin/fuzz_$t"
  if [ ! -x "$bin" ]; then
    echo "tests/fuzz/run.sh: no $bin (build the target 'fuzzers' first)" >&2
    exit 2
  fi
  dict=""
  [ -f "$src/tests/fuzz/dict/$t.dict" ] && dict="-dict=$src/tests/fuzz/dict/$t.dict"
  # Merlin, DigitalMicrograph and TIA seeds hold whole (small) files; the other inputs are
  # headers, texts or choices.
  max_len=4096
  case $t in mib | dm | tia) max_len=16384 ;; esac

  regressions="$src/tests/fuzz/regressions/$t"
  if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
    # shellcheck disable=SC2086
    if ! "$bin" $limits "$regressions"/* > "$work/$t.replay.log" 2>&1; then
      echo "fuzz_$t: FAILED replaying $regressions:"
      tail -n 60 "$work/$t.replay.log"
      status=1
      continue
    fi
  fi

  mkdir -p "$work/corpus/$t"
  start=$(date +%s)
  # shellcheck disable=SC2086
  if "$bin" -runs="$runs" $budget $limits -max_len=$max_len $dict -artifact_prefix="$artifacts/$t-" -print_final_stats=1 \
       "$work/corpus/$t" "$work/seeds/$t" > "$work/$t.log" 2>&1; then
    executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
    coverage=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1)
    echo "fuzz_$t: ${executed:-?} inputs in $(($(date +%s) - start)) s, no crash, hang or leak (${coverage:-cov: ?} edges)"
  else
    echo "fuzz_$t: FAILED after $(($(date +%s) - start)) s:"
    grep -E "ERROR|SUMMARY|runtime error|tmdflow fuzz|Test unit written" "$work/$t.log" | head -n 20 || true
    tail -n 60 "$work/$t.log"
    status=1
  fi
done
exit $status
