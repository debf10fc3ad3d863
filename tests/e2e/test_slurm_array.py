"""A real Slurm (slurm/ci/up.sh): slurm/array.sbatch as a job array over a folder of inputs, at most
two tasks at a time (%2); each task writes its own product; the task whose input is broken fails
(Slurm records FAILED with tmdflow's exit code), its log names the input, and it leaves nothing
behind, while the other tasks complete."""
import glob
import os
import time

import h5py

from slurmtest import SlurmCluster
from tmdtest import SOURCE, check, finish, leftovers, run_ok, scratch

tmp = scratch()
array = os.path.join(SOURCE, "slurm", "array.sbatch")
inputs = os.path.join(tmp, "archive")
os.mkdir(inputs)
names = ["scan_a", "scan_b", "scan_c", "scan_e"]
for i, name in enumerate(names):
    run_ok(["--quiet", "stage", "synthesize-datacube", "--output", os.path.join(inputs, name + ".h5"), "--scan", f"{4 + i},5",
            "--detector", "12,12"])
broken = os.path.join(inputs, "scan_d.h5")  # sorts fourth: task 4 of 5
with open(broken, "wb") as f:
    f.write(b"not an HDF5 file, whatever its name says\n" * 10)
files = os.path.join(tmp, "files.txt")
listed = sorted(glob.glob(os.path.join(inputs, "*.h5")))
with open(files, "w") as f:
    f.write("\n".join(listed) + "\n")
check(listed.index(broken) == 3, f"the broken input is not task 4: {listed}")

wf = os.path.join(tmp, "vi.ini")
with open(wf, "w") as f:
    f.write("[workflow]\ninput =\noutput = unused.h5\n\n[vi]\nstage = virtual-image\ncentre = 6,6\n")
out = os.path.join(tmp, "out")

with SlurmCluster() as slurm:
    t0 = time.time()
    job = slurm.sbatch([f"--array=1-{len(listed)}%2", "--ntasks=1", "--ntasks-per-node=1", "--output", os.path.join(tmp, "task-%A_%a.log"),
                        array, wf, files, out], cwd=tmp)
    rec = slurm.wait(job, timeout=90)
    print(f"array job {job} ({len(listed)} tasks, %2): submitted to done in {time.time() - t0:.2f} s")
    logs = {i: open(os.path.join(tmp, f"task-{job}_{i}.log")).read() for i in range(1, len(listed) + 1)
            if os.path.exists(os.path.join(tmp, f"task-{job}_{i}.log"))}
    for i, path in enumerate(listed, start=1):
        name = os.path.splitext(os.path.basename(path))[0]
        state = rec.get(f"{job}_{i}")
        product = os.path.join(out, name, name + ".h5")
        if path == broken:
            check(state is not None and state[0] == "FAILED" and state[1] in ("4:0", "5:0"),
                  f"task {i} (broken input) ended {state}, expected FAILED with tmdflow's exit code 4 or 5")
            log = logs.get(i, "")
            check(f"task {i} of job {job} failed" in log and f"input {broken}" in log,
                  f"task {i}'s log does not name its input:\n{log}")
            check(broken in log.split("array.sbatch:")[0], f"tmdflow's own error does not name the file:\n{log}")
            check(not os.path.exists(product), f"the failed task left {product}")
        else:
            check(state == ("COMPLETED", "0:0"), f"task {i} ({name}) ended {state}:\n{logs.get(i, '')}")
            with h5py.File(product, "r") as f:
                check(f["vi"].attrs.get("tmdflow_complete") == 1, f"{product} is not complete")
                # Each task read its own input: the image has that input's scan shape.
                check(f["vi/bf/data"].shape == (4 + names.index(name), 5), f"{product}: bf image {f['vi/bf/data'].shape}")
            check(name in logs.get(i, ""), f"task {i}'s log does not mention {name}")
    for d in [out] + [os.path.join(out, n) for n in os.listdir(out)]:
        check(not leftovers(d), f"temporary files left in {d}: {leftovers(d)}")

finish(tmp)
