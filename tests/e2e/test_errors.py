"""Error paths of the command line and the runtime: one clear line naming file, dataset, expected
and found; the documented exit code; no partial output; no rank left hanging (2 ranks)."""
import os

import h5py
import numpy as np

from tmdtest import check, finish, run, run_ok, scratch, leftovers

tmp = scratch()
cube = os.path.join(tmp, "cube.h5")
run_ok(["stage", "synthesize-datacube", "--output", cube, "--scan", "5,4", "--detector", "12,12"])
out = os.path.join(tmp, "out.h5")


def expect_error(args, code, words, ranks=1, timeout=90, env_note=""):
    got, log = run(args, ranks=ranks, timeout=timeout)
    lines = [l for l in log.splitlines() if "error" in l]
    check(got == code, f"{args}{env_note}: exit code {got}, expected {code}:\n{log}")
    for w in words:
        check(w in log, f"{args}{env_note}: message lacks '{w}':\n{log}")
    check(len(lines) == 1, f"{args}{env_note}: expected exactly one error line, found {len(lines)}:\n{log}")
    check(not os.path.exists(out), f"{args}{env_note}: output file left behind")
    check(not leftovers(tmp), f"{args}{env_note}: temporary files left: {leftovers(tmp)}")


for ranks in (1, 2):
    # Missing input file (I/O error, 5).
    expect_error(["stage", "virtual-image", "--input", os.path.join(tmp, "nope.h5"), "--output", out], 5,
                 ["nope.h5", "no such file"], ranks)
    # Bad option value and unknown option (usage, 2).
    expect_error(["stage", "virtual-image", "--input", cube, "--output", out, "--bf-outer-px", "wide"], 2,
                 ["bf-outer-px", "wide"], ranks)
    expect_error(["stage", "virtual-image", "--input", cube, "--output", out, "--colour", "red"], 2, ["colour"], ranks)
    expect_error(["stage", "no-such-stage", "--output", out], 2, ["no-such-stage", "virtual-image"], ranks)

# Wrong shape: a 2-D dataset where a datacube is expected (input error, 4).
flat = os.path.join(tmp, "flat.h5")
with h5py.File(flat, "w") as f:
    f["image"] = np.zeros((8, 8), np.float32)
expect_error(["stage", "virtual-image", "--input", flat + ":/image", "--output", out], 4,
             ["flat.h5", "/image", "4", "(8, 8)"], 2)
# A mask of the wrong shape (input error, 4).
masks = os.path.join(tmp, "masks.h5")
with h5py.File(masks, "w") as f:
    f["m"] = np.ones((5, 7), np.float32)
expect_error(["stage", "virtual-image", "--input", cube, "--output", out, "--masks", masks + ":/m"], 4,
             ["masks.h5", "/m", "12", "(5, 7)"], 2)
os.remove(masks)
os.remove(flat)
# Inconsistent options (configuration, 3).
expect_error(["stage", "virtual-image", "--input", cube, "--output", out, "--centre", "6,6", "--adf-inner-px", "5",
              "--adf-outer-px", "3", "--detectors", "adf"], 3, ["outer", "inner"], 2)

# A read failure on rank 1 only: every rank stops with that rank's message, no output.
os.environ["TMDFLOW_INJECT_FAULT"] = "pattern-read:1"
expect_error(["stage", "virtual-image", "--input", cube, "--output", out, "--centre", "6,6"], 5,
             ["injected fault", "rank 1"], 2, env_note=" [read fault on rank 1]")
# A failure on rank 1 while rank 0 is inside a collective: the job is ended, not left hanging.
os.environ["TMDFLOW_INJECT_FAULT"] = "stage-run:1"
os.environ["TMDFLOW_AGREE_TIMEOUT"] = "3"
got, log = run(["stage", "virtual-image", "--input", cube, "--output", out], ranks=2, timeout=90)
check(got != 0 and "injected fault" in log, f"failure outside a collective ends the job: {got}\n{log}")
check(not os.path.exists(out) and not leftovers(tmp), "no output after an aborted job")
del os.environ["TMDFLOW_INJECT_FAULT"]

# Existing products are not damaged by a failed stage writing beside them.
run_ok(["stage", "virtual-image", "--input", cube, "--output", cube + ":/vi"])
code, log = run(["stage", "virtual-image", "--input", cube, "--output", cube + ":/vi2", "--colour", "x"])
with h5py.File(cube, "r") as f:
    check("vi" in f and "vi2" not in f and int(f["vi"].attrs["tmdflow_complete"]) == 1,
          "a failed stage leaves the file's other products as they were")
    check(not any(k.startswith(".tmdflow_tmp") for k in f.keys()), "no temporary group left")

finish(tmp)
