#!/bin/sh
# Image ingest of a 150-file TIFF campaign (1024 x 1024 uint16, uncompressed, 315 MB) against a
# plain read of the same bytes: read(2) of every file into memory, from the page cache. Goal:
# ingest throughput >= 0.5 x plain read.
#
# Printed, each the best of REPEAT runs (the cores may be shared):
#   - plain read: read(2) of each file into one reused buffer;
#   - copy: the same reads, each followed by write(2) of the bytes into one file beside the
#     product (same filesystem): the least any ingest must do, so the ceiling of the ratio;
#   - ingest, whole command (start-up, planning, reading, writing, commit), at 1 rank (`tmdflow`
#     as a user starts it) and 2 ranks (tmdflow-mpiexec 2);
#   - ingest, streaming: the same command's time less that of ingesting one file of the campaign
#     (start-up and commit), i.e. the rate at which files go in once the command runs.
# usage: benchmarks/bench_ingest_images.sh BIN_DIR DATA_DIR [FILES] [REPEAT]
set -eu
BIN=$1
DIR=$2
N=${3:-150}
REPEAT=${4:-3}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
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
"$PY" - "$BIN" "$DIR" "$camp" "$REPEAT" <<'PYEOF'
import glob, os, subprocess, sys, time
bin_dir, out_dir, camp, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
files = sorted(glob.glob(os.path.join(camp, "*.tif")))
total = sum(os.path.getsize(f) for f in files)
buf = bytearray(max(os.path.getsize(f) for f in files))
view = memoryview(buf)

def best(fn):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)

def read_all(sink=None):
    for f in files:
        fd = os.open(f, os.O_RDONLY)
        try:
            n = 0
            while True:
                got = os.readv(fd, [view[n:]])
                if got == 0:
                    break
                n += got
        finally:
            os.close(fd)
        if sink is not None:
            os.write(sink, view[:n])

def copy_all():
    path = os.path.join(out_dir, "bench_copy.bin")
    if os.path.exists(path):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        read_all(fd)
    finally:
        os.close(fd)
        os.unlink(path)

def ingest(ranks, pattern):
    out = os.path.join(out_dir, "bench_images.h5")
    def run():
        if os.path.exists(out):
            os.unlink(out)
        launch = [os.path.join(bin_dir, "tmdflow")] if ranks == 1 else [os.path.join(bin_dir, "tmdflow-mpiexec"), str(ranks), os.path.join(bin_dir, "tmdflow")]
        subprocess.run(launch + ["--quiet", "stage", "ingest", "--input", pattern, "--output", out, "--pixel-size-A", "0.2"], check=True)
    t = best(run)
    os.unlink(out)
    return t

read_all()  # into the page cache
t_read = best(read_all)
t_copy = best(copy_all)
gb = lambda t, b=total: b / t / 1e9
print(f"  campaign: {len(files)} TIFF files, {total / 1e6:.1f} MB (best of {repeat} runs each)")
print(f"  plain read, read(2) of every file from the page cache: {t_read:.3f} s = {gb(t_read):.3f} GB/s")
print(f"  copy, read(2) + write(2) of every file into one file beside the product: {t_copy:.3f} s = {gb(t_copy):.3f} GB/s "
      f"= {t_read / t_copy:.2f} x plain read (the ceiling of an ingest)")
for ranks in (1, 2):
    t_all = ingest(ranks, os.path.join(camp, "*.tif"))
    t_one = ingest(ranks, files[0])
    stream = (total - os.path.getsize(files[0])) / max(t_all - t_one, 1e-9)
    how = "tmdflow" if ranks == 1 else "tmdflow-mpiexec 2"
    print(f"  ingest, {ranks} rank(s) ({how}), whole command: {t_all:.3f} s = {gb(t_all):.3f} GB/s = {t_read / t_all:.2f} x plain read "
          f"(goal >= 0.5), {t_copy / t_all:.2f} x copy")
    print(f"  ingest, {ranks} rank(s), streaming (less the {t_one:.3f} s of ingesting one file): {stream / 1e9:.3f} GB/s = "
          f"{stream / 1e9 / gb(t_read):.2f} x plain read, {stream / 1e9 / gb(t_copy):.2f} x copy")
PYEOF
