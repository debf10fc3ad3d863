#!/bin/sh
# make bench: every benchmark, each printing its ratio to a baseline measured in the same run.
# usage: benchmarks/run.sh [BUILD_DIR]   (data go to $TMDFLOW_BENCH_DIR, default BUILD_DIR/bench-data)
set -eu
BUILD="${1:-build}"
BIN="$BUILD/bin"
DIR="${TMDFLOW_BENCH_DIR:-$BUILD/bench-data}"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
mkdir -p "$DIR"
export TMDFLOW_PROGRESS=off
result() { sed -n 's/^RESULT .*vi_GBps_total=\([0-9.]*\).*/\1/p' "$1"; }
now() { date +%s.%N; }

echo "== virtual-image: one pass, 128 x 128 scan of 128 x 128 patterns, in the page cache =="
for dt in uint16 float32; do
  f="$DIR/cube128_$dt.h5"
  [ -f "$f" ] || "$BIN/tmdflow" --quiet stage synthesize-datacube --output "$f" --scan 128,128 --detector 128,128 \
                   --dtype "$dt" --counts 20000
  "$BIN/tmdflow_bench_virtual_image" "$f" 3 | tee "$DIR/vi_${dt}_1.txt"
  "$BIN/tmdflow-mpiexec" 2 "$BIN/tmdflow_bench_virtual_image" "$f" 3 | tee "$DIR/vi_${dt}_2.txt"
  awk -v a="$(result "$DIR/vi_${dt}_1.txt")" -v b="$(result "$DIR/vi_${dt}_2.txt")" -v t="$dt" \
    'BEGIN { printf "  %s: 2 ranks vs 1 rank: %.2f GB/s vs %.2f GB/s = speed-up %.2f\n\n", t, b, a, b / a }'
done

echo "== ingest: Merlin .mib (64 x 128 frames of 256 x 256 U16, 1.08 GB) =="
mib="$DIR/bench.mib"
[ -f "$mib" ] || "$PY" benchmarks/make_mib.py "$mib" 64 128
bytes=$(stat -c %s "$mib")
cat "$mib" > /dev/null  # into the page cache
t0=$(now); cat "$mib" > /dev/null; t1=$(now)
read_gbps=$(awk -v b="$bytes" -v a="$t0" -v c="$t1" 'BEGIN { printf "%.3f", b / (c - a) / 1e9 }')
echo "  baseline, plain read of the file from the page cache (cat): $read_gbps GB/s"
# Ingest reads and writes every byte: a plain copy of the file is its natural floor.
rm -f "$DIR/copy.mib"
t0=$(now); cp "$mib" "$DIR/copy.mib"; t1=$(now)
rm -f "$DIR/copy.mib"
copy_gbps=$(awk -v b="$bytes" -v a="$t0" -v c="$t1" 'BEGIN { printf "%.3f", b / (c - a) / 1e9 }')
echo "  baseline, plain copy of the file (cp, read + write): $copy_gbps GB/s"
for ranks in 1 2; do
  rm -f "$DIR/ingest.h5"
  t0=$(now)
  "$BIN/tmdflow-mpiexec" "$ranks" "$BIN/tmdflow" --quiet stage ingest --input "$mib" --output "$DIR/ingest.h5"
  t1=$(now)
  awk -v b="$bytes" -v a="$t0" -v c="$t1" -v r="$read_gbps" -v p="$copy_gbps" -v n="$ranks" \
    'BEGIN { g = b / (c - a) / 1e9; printf "  ingest, %d rank(s), whole command incl. start-up: %.3f GB/s = %.2f x plain read, %.2f x plain copy\n", n, g, g / r, g / p }'
done
rm -f "$DIR/ingest.h5"
echo

echo "== patch inference: small CNN over sliding windows, runner vs the model alone =="
"$BIN/tmdflow_bench_patch_inference" 512 512 32 8 256 2 "$DIR"
"$BIN/tmdflow-mpiexec" 2 "$BIN/tmdflow_bench_patch_inference" 512 512 32 8 256 2 "$DIR"
