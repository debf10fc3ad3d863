"""Mistakes are found before work starts: every option value of every step of a workflow is checked
before the first step runs; impossible values are refused by each stage; --input given to a
workflow that reads none is an error; the workflows on measured data take any format ingest reads;
a product too large for its file system is refused at once with its planned size; bad --progress,
TMDFLOW_PROGRESS and --output values are usage errors; a long step says it runs within a second."""
import os
import re
import time

import h5py
import numpy as np

from tmdtest import SOURCE, check, finish, run, run_ok, scratch, leftovers

tmp = scratch()
DEMO = os.path.join(SOURCE, "workflows", "demo.ini")
TWIST = os.path.join(SOURCE, "workflows", "twist_polarity.ini")


def expect_error(args, code, words, ranks=1, env=None, max_seconds=None):
    t0 = time.time()
    got, log = run(args, ranks=ranks, env=env)
    took = time.time() - t0
    check(got == code, f"{args}: exit code {got}, expected {code}:\n{log}")
    for w in words:
        check(w in log, f"{args}: message lacks '{w}':\n{log}")
    errors = [l for l in log.splitlines() if "error" in l]
    check(len(errors) == 1, f"{args}: expected one error line, found {len(errors)}:\n{log}")
    check(not leftovers(tmp), f"{args}: temporary files left: {leftovers(tmp)}")
    if max_seconds is not None:
        check(took < max_seconds, f"{args}: took {took:.1f} s to fail (expected < {max_seconds})")
    return log


# 1. A bad value in the last step of a workflow stops it before the first step runs.
out = os.path.join(tmp, "demo", "demo.h5")
for ranks in (1, 2):
    expect_error(["run", DEMO, "--output", out, "--set", "domains.clustering=kmeens"], 3,
                 ["step 'domains' of demo.ini", "clustering", "kmeens", "kmeans or gmm"], ranks, max_seconds=30)
    check(not os.path.exists(out), "no step ran (the simulation would have written the output)")
    expect_error(["run", DEMO, "--output", out, "--set", "domains.nmf-iterations=0"], 3, ["nmf-iterations"], ranks)
    expect_error(["run", DEMO, "--output", out, "--set", "virtual_image.bf-outer-px=wide"], 2, ["bf-outer-px", "wide"], ranks)
    expect_error(["run", DEMO, "--output", out, "--set", "simulate.phi-deg=200,-30,1,2,3,4,5,6"], 3, ["phi-deg", "200", "[0, 120)"], ranks)
    check(not os.path.exists(out), "no step ran")
# --dry-run does the same checks and runs nothing.
expect_error(["run", DEMO, "--output", out, "--dry-run", "--set", "domains.solver=fast"], 3, ["solver", "fast"])
log = run_ok(["run", DEMO, "--output", out, "--dry-run"])
check("4 steps checked" in log and not os.path.exists(out), f"a dry run checks and writes nothing:\n{log}")

# 2. --input to a workflow that reads none.
expect_error(["run", DEMO, "--input", os.path.join(tmp, "scan.mib"), "--output", out], 2,
             ["--input", "demo.ini reads no input", "simulate", "twist_polarity.ini"], 2)

# 3. Impossible values, one stage at a time (exit 3, nothing written).
bad = os.path.join(tmp, "bad.h5")
cube = os.path.join(tmp, "cube.h5")
run_ok(["stage", "synthesize-datacube", "--output", cube, "--scan", "4,3", "--detector", "16,16"])
cases = [
    (["stage", "synthesize-datacube", "--output", bad, "--counts", "-3"], ["counts", "-3"]),
    (["stage", "synthesize-datacube", "--output", bad, "--r-pixel-nm", "-1", "--q-pixel-invA", "0"], ["r-pixel-nm", "-1"]),
    (["stage", "synthesize-datacube", "--output", bad, "--q-pixel-invA", "0"], ["q-pixel-invA", "positive"]),
    (["stage", "simulate-4dstem", "--output", bad, "--domains", "2", "--phi-deg", "200,-30"], ["phi-deg", "200"]),
    (["stage", "simulate-4dstem", "--output", bad, "--slice-thickness-A", "0"], ["slice-thickness-A"]),
    (["stage", "simulate-adf", "--output", bad, "--pixel-A", "-0.1"], ["pixel-A"]),
    (["stage", "simulate-adf", "--output", bad, "--layers", "5"], ["layers", "1 to 3"]),
    (["stage", "simulate-adf", "--output", bad, "--stacking", "ABC"], ["stacking", "ABC"]),
    (["stage", "make-trainset", "--output", bad, "--count", "0"], ["count"]),
    (["stage", "virtual-image", "--input", cube, "--output", bad, "--adf-inner-px", "-5"], ["adf-inner-px", "-5"]),
    (["stage", "virtual-image", "--input", cube, "--output", bad, "--voltage-kV", "0"], ["voltage-kV"]),
    (["stage", "virtual-image", "--input", cube, "--output", bad, "--centre", "5000,5000"], ["centre", "5000,5000", "16 x 16"]),
    (["stage", "diffraction-features", "--input", cube, "--output", bad, "--block-patterns", "-2"], ["block-patterns"]),
    (["stage", "domains", "--input", cube, "--output", bad, "--q-pixel-invA", "-0.5"], ["q-pixel-invA", "-0.5"]),
    (["stage", "ingest", "--input", cube, "--output", bad, "--voltage-kV", "-80"], ["voltage-kV"]),
]
for args, words in cases:
    for ranks in (1, 2) if args[1] == "virtual-image" else (1,):
        expect_error(args, 3, words, ranks)
        check(not os.path.exists(bad), f"{args}: output written")

# 4. Bad global and output values (usage errors, 2): nothing created.
expect_error(["--progress=fancy", "stages"], 2, ["--progress", "fancy", "bar, log, off"], 2)
expect_error(["stages"], 2, ["TMDFLOW_PROGRESS", "banana"], 2, env={"TMDFLOW_PROGRESS": "banana"})
for spec in ("x.h5:", "x.h5:group"):
    expect_error(["stage", "synthesize-datacube", "--output", os.path.join(tmp, spec)], 2, ["FILE.h5:/group"], 2)
check(not [f for f in os.listdir(tmp) if f.startswith("x.h5")], f"no file named like the bad output: {os.listdir(tmp)}")

# 5. A product larger than its file system: its planned size, refused at once (not after hours of
# allocation), and nothing written; --force would start anyway.
huge = os.path.join(tmp, "huge.h5")
log = expect_error(["stage", "synthesize-datacube", "--output", huge, "--scan", "100000,100000"], 5,
                   ["planned product size 163.84 TB", "free", "refusing to start", "--force"], 2, max_seconds=20)
check(not os.path.exists(huge), "nothing written for a product that does not fit")

# 6. A long step says it is running within a second (log mode), and prints its planned size first.
long_out = os.path.join(tmp, "long.h5")
got, log = run(["stage", "synthesize-datacube", "--output", long_out, "--scan", "150,150", "--detector", "64,64"],
               env={"TMDFLOW_PROGRESS": "log"})
lines = log.splitlines()
check(got == 0 and lines and "planned product size" in lines[0], f"the first line is the planned size:\n{log}")
progress = [l for l in lines if "synthesize" in l and "patterns/s" in l]
# The final line gives the step's duration; a step longer than a second has printed a line before it.
m = re.search(r", ([0-9.]+)s$", progress[-1]) if progress else None
check(m is not None, f"the final progress line gives the duration:\n{log}")
if m and float(m.group(1)) > 1.2:
    check(len(progress) >= 2 and "100%" not in progress[0], f"a {m.group(1)} s step prints a progress line before its last:\n{log}")
os.remove(long_out)

# 7. The workflow on measured data takes any format ingest reads: a NumPy .npy scan is ingested
# first, then analysed; a datacube in HDF5 is read where it is (the ingest step is passed over).
sim = os.path.join(tmp, "sim.h5")
run_ok(["stage", "simulate-4dstem", "--output", sim, "--domains", "2", "--phi-deg", "10,40", "--scan", "12,12",
        "--detector-px", "64", "--electrons", "20000", "--dtype", "uint16"])
with h5py.File(sim, "r") as f:
    data = np.array(f["datacube_root/datacube/data"])
npy = os.path.join(tmp, "scan.npy")
np.save(npy, data)
twist_out = os.path.join(tmp, "twist", "t.h5")
with h5py.File(sim, "r") as f:
    q = float(f["datacube_root/datacube/dim2"][1] - f["datacube_root/datacube/dim2"][0])
log = run_ok(["run", TWIST, "--input", npy, "--output", twist_out, "--set", "workflow.voltage_kV=80", "--set",
              "workflow.convergence_mrad=1.5", "--set", f"workflow.q_pixel_invA={q}"], ranks=2)
check("step 1/3 'ingest' (ingest)" in log and "3 of 3 steps run" in log, f"a .npy scan is ingested, then analysed:\n{log}")
with h5py.File(twist_out, "r") as f:
    check(np.array_equal(np.array(f["datacube_root/datacube/data"]), data), "the ingested datacube equals the .npy")
    check(f["domains"].attrs["tmdflow_complete"] == 1, "the domains product is complete")
log = run_ok(["run", TWIST, "--input", sim, "--output", os.path.join(tmp, "twist2.h5"), "--set", "workflow.voltage_kV=80"])
check("'ingest' (ingest): passed over" in log and "2 of 3 steps run" in log, f"an HDF5 datacube is read where it is:\n{log}")
with h5py.File(os.path.join(tmp, "twist2.h5"), "r") as f:
    check("datacube_root" not in f, "no copy of an HDF5 datacube")

finish(tmp)
