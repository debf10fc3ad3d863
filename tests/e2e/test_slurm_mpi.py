"""A real Slurm (slurm/ci/up.sh): slurm/tmdflow.sbatch submitted with sbatch runs a workflow as one
2-rank MPI job through srun (--mpi=pmix from SLURM_MPI_TYPE, as slurm/README.md says); a job
cancelled with scancel while its second step writes leaves no partial product (no temporary file,
the first step's product intact, no group of the second) and its resubmission resumes (the first
step skipped, the second done)."""
import os
import time

import h5py

from slurmtest import SlurmCluster
from tmdtest import SOURCE, check, finish, leftovers, run_ok, scratch

tmp = scratch()
sbatch_script = os.path.join(SOURCE, "slurm", "tmdflow.sbatch")
cube = os.path.join(tmp, "cube.h5")
run_ok(["--quiet", "stage", "synthesize-datacube", "--output", cube, "--scan", "8,6", "--detector", "12,12"])

vi = os.path.join(tmp, "vi.ini")
with open(vi, "w") as f:
    f.write("[workflow]\ninput =\noutput = unused.h5\n\n[vi]\nstage = virtual-image\ncentre = 6,6\n")
# Two steps into one file: a virtual image of the input, then a synthesized datacube (its block
# writes are where the test stalls rank 1 so that the job is cancelled in the middle of a write).
two = os.path.join(tmp, "two.ini")
with open(two, "w") as f:
    f.write("[workflow]\ninput =\noutput = unused.h5\n\n[vi]\nstage = virtual-image\ncentre = 6,6\n\n"
            "[synth]\nstage = synthesize-datacube\nscan = 16,12\ndetector = 16,16\n")

out = os.path.join(tmp, "out")


def log_of(name):
    path = os.path.join(tmp, name)
    return open(path).read() if os.path.exists(path) else ""


with SlurmCluster() as slurm:
    # 1. One workflow, two MPI ranks under srun.
    t0 = time.time()
    job = slurm.sbatch(["--ntasks=2", "--ntasks-per-node=2", "--time=00:05:00", "--output", os.path.join(tmp, "vi.log"),
                        sbatch_script, vi, cube, os.path.join(out, "vi.h5")], cwd=tmp)
    rec = slurm.wait(job)
    log = log_of("vi.log")
    print(f"2-rank job {job}: submitted to done in {time.time() - t0:.2f} s")
    check(rec.get(job) == ("COMPLETED", "0:0"), f"the 2-rank job ended {rec}:\n{log}")
    check("2 ranks on 1 node(s)" in log, f"the job did not run 2 ranks:\n{log}")
    # Two ranks that failed to find each other would each be a rank 0 of its own and both write.
    check(log.count("wrote ") == 1, f"expected one 'wrote' line (one communicator of 2 ranks):\n{log}")
    with h5py.File(os.path.join(out, "vi.h5"), "r") as f:
        check(f["vi"].attrs.get("tmdflow_complete") == 1, "the job's product is not complete")
        check(f["vi"].attrs.get("tmdflow_stage") == "virtual-image", "wrong product")

    # 2. scancel in the middle of the second step.
    product = os.path.join(out, "two.h5")
    job = slurm.sbatch(["--ntasks=2", "--ntasks-per-node=2", "--output", os.path.join(tmp, "two.log"),
                        sbatch_script, two, cube, product], cwd=tmp, env={"TMDFLOW_INJECT_FAULT": "block-write:1:stall"})
    slurm.wait_until(lambda: "stalling" in log_of("two.log"), "rank 1 to stall in step 'synth'", timeout=60)
    t0 = time.time()
    slurm.cmd(["scancel", job])
    rec = slurm.wait(job, timeout=60)
    log = log_of("two.log")
    print(f"cancelled job {job}: gone {time.time() - t0:.2f} s after scancel")
    check(rec.get(job, ("?",))[0] == "CANCELLED", f"the cancelled job ended {rec}:\n{log}")
    check("[rank 1]" in log, f"rank 1 of a 2-rank communicator never spoke:\n{log}")
    check(not leftovers(out), f"temporary files left after scancel: {leftovers(out)}")
    with h5py.File(product, "r") as f:
        check("vi" in f and f["vi"].attrs.get("tmdflow_complete") == 1, "the first step's product is not complete after scancel")
        check("synth" not in f, f"a partial 'synth' product was left after scancel: {list(f)}")

    # 3. The resubmission resumes: step 'vi' is skipped, step 'synth' done.
    job = slurm.sbatch(["--ntasks=2", "--ntasks-per-node=2", "--output", os.path.join(tmp, "two_again.log"),
                        sbatch_script, two, cube, product], cwd=tmp)
    rec = slurm.wait(job)
    log = log_of("two_again.log")
    check(rec.get(job) == ("COMPLETED", "0:0"), f"the resubmitted job ended {rec}:\n{log}")
    check("step 'vi': skipped" in log, f"the resubmission redid the complete step:\n{log}")
    check("1 of 2 steps run" in log, f"the resubmission did not run exactly the missing step:\n{log}")
    with h5py.File(product, "r") as f:
        check(f["synth"].attrs.get("tmdflow_complete") == 1, "the resubmission did not complete 'synth'")
        check(f["synth/datacube/data"].shape == (16, 12, 16, 16), f"synth shape {f['synth/datacube/data'].shape}")

finish(tmp)
