#!/bin/sh
# Image ingest of a 150-file TIFF campaign (1024 x 1024 uint16, uncompressed, 300 MiB) vs a plain
# read of the same bytes (cat of every file from the page cache), at 1 and 2 ranks. Goal: >= 0.5.
# usage: benchmarks/bench_ingest_images.sh BIN_DIR DATA_DIR [FILES]
set -eu
BIN=$1
DIR=$2
N=${3:-150}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
now() { date +%s.%N; }
camp="$DIR/tiff_campaign_$N"
if [ ! -f "$camp/done" ]; then
  mkdir -p "$camp"
  "$PY" - "$camp" "$N" <<'PYEOF'
import os, sys
sys.path.insert(0, os.path.join(os.getcwd(), "tests", "e2e"))
import numpy as np
import imagefiles
out, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(1)
base = rng.integers(0, 60000, size=(1024, 1024), dtype=np.uint16)
for k in range(n):
    with open(os.path.join(out, f"haadf_{k:04d}.tif"), "wb") as f:
        f.write(imagefiles.tiff_bytes(np.roll(base, k, axis=1)))
open(os.path.join(out, "done"), "w").close()
PYEOF
fi
bytes=$(cat "$camp"/*.tif | wc -c)
cat "$camp"/*.tif > /dev/null  # into the page cache
t0=$(now); cat "$camp"/*.tif > /dev/null; t1=$(now)
read_gbps=$(awk -v b="$bytes" -v a="$t0" -v c="$t1" 'BEGIN { printf "%.3f", b / (c - a) / 1e9 }')
echo "  baseline, plain read of the $N files from the page cache (cat): $read_gbps GB/s"
for ranks in 1 2; do
  rm -f "$DIR/images.h5"
  t0=$(now)
  "$BIN/tmdflow-mpiexec" "$ranks" "$BIN/tmdflow" --quiet stage ingest --input "$camp/*.tif" --output "$DIR/images.h5" \
      --pixel-size-A 0.2
  t1=$(now)
  awk -v b="$bytes" -v a="$t0" -v c="$t1" -v r="$read_gbps" -v n="$ranks" \
    'BEGIN { g = b / (c - a) / 1e9; printf "  ingest of the campaign, %d rank(s), whole command incl. start-up: %.3f GB/s = %.2f x plain read (goal >= 0.5)\n", n, g, g / r }'
done
rm -f "$DIR/images.h5"
