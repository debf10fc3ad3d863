"""Progress is global and reported by rank 0 only: at 2 ranks a stage prints one final line
counting every rank's patterns, with a rate; --quiet silences it; bar mode draws on one line."""
import os
import re

from tmdtest import check, finish, run_ok, scratch

tmp = scratch()
out = os.path.join(tmp, "p.h5")
log = run_ok(["--progress=log", "stage", "synthesize-datacube", "--output", out, "--scan", "9,7", "--detector", "16,16"], ranks=2)
finals = [l for l in log.splitlines() if "synthesize" in l and "100%" in l]
check(len(finals) == 1, f"one final progress line for the whole job, found {len(finals)}:\n{log}")
if finals:
    check("63/63 patterns" in finals[0], f"the count is global (9 x 7 = 63 over both ranks): {finals[0]}")
    check(re.search(r"patterns/s", finals[0]) is not None, f"the line has a rate: {finals[0]}")
check("[rank 1]" not in log, f"rank 1 prints nothing:\n{log}")

os.remove(out)
log = run_ok(["--quiet", "stage", "synthesize-datacube", "--output", out, "--scan", "9,7", "--detector", "16,16"], ranks=2)
check(log.strip() == "", f"--quiet prints nothing on success:\n{log}")

os.remove(out)
log = run_ok(["--progress=bar", "stage", "synthesize-datacube", "--output", out, "--scan", "9,7", "--detector", "16,16"])
check("\r" in log and "63/63" in log, f"bar mode redraws one line (carriage returns):\n{log!r}")
finish(tmp)
