"""A real Slurm (slurm/ci/up.sh): the time-limit path of slurm/tmdflow.sbatch. The job's warning
signal (USR1, which Slurm sends --signal=B:USR1@300 before the limit; sent here with scancel) makes
the script stop the 2 ranks cleanly in the middle of a step (SIGTERM through Slurm: exit 143, the
partial product removed) and requeue the job; the restarted job resumes (the complete step skipped,
the interrupted one done) and completes."""
import os
import stat

import h5py

from slurmtest import SlurmCluster
from tmdtest import SOURCE, TMDFLOW, check, finish, leftovers, run_ok, scratch

tmp = scratch()
cube = os.path.join(tmp, "cube.h5")
run_ok(["--quiet", "stage", "synthesize-datacube", "--output", cube, "--scan", "8,6", "--detector", "12,12"])
two = os.path.join(tmp, "two.ini")
with open(two, "w") as f:
    f.write("[workflow]\ninput =\noutput = unused.h5\n\n[vi]\nstage = virtual-image\ncentre = 6,6\n\n"
            "[synth]\nstage = synthesize-datacube\nscan = 16,12\ndetector = 16,16\n")
# The executable the job runs: tmdflow, with rank 1 stalled in the second step's writes on the
# first start only (a restarted job sees SLURM_RESTART_COUNT=1), so that the warning lands mid-step.
wrapper = os.path.join(tmp, "tmdflow-first-start-stalls")
with open(wrapper, "w") as f:
    f.write(f'#!/bin/sh\n[ "${{SLURM_RESTART_COUNT:-0}}" = 0 ] && export TMDFLOW_INJECT_FAULT=block-write:1:stall\n'
            f'exec "{os.path.abspath(TMDFLOW)}" "$@"\n')
os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
log_path = os.path.join(tmp, "job.log")
product = os.path.join(tmp, "out", "two.h5")


def log():
    return open(log_path).read() if os.path.exists(log_path) else ""


with SlurmCluster() as slurm:
    job = slurm.sbatch(["--ntasks=2", "--ntasks-per-node=2", "--output", log_path,
                        os.path.join(SOURCE, "slurm", "tmdflow.sbatch"), two, cube, product], cwd=tmp, env={"TMDFLOW": wrapper})
    slurm.wait_until(lambda: "stalling" in log(), "rank 1 to stall in step 'synth'", timeout=60)
    slurm.cmd(["scancel", "--signal=USR1", "--batch", job])
    slurm.wait_until(lambda: "requeueing job" in log(), "the script to requeue the job", timeout=60)
    # Between the stop and the restart: the step that was being written left nothing.
    check(not leftovers(os.path.dirname(product)), f"temporary files after the clean stop: {leftovers(os.path.dirname(product))}")
    with h5py.File(product, "r") as f:
        check("vi" in f and "synth" not in f, f"after the clean stop the file holds {list(f)}")
    rec = slurm.wait(job, timeout=90)
    text = log()
    check(rec.get(job) == ("COMPLETED", "0:0"), f"the requeued job ended {rec}:\n{text}")
    check("Exited with exit code 143" in text and "interrupted (SIGTERM)" in text, f"the ranks did not stop cleanly:\n{text}")
    check("restart 1: complete steps are skipped" in text and "step 'vi': skipped" in text, f"the restart did not resume:\n{text}")
    _, show = slurm.cmd(["scontrol", "show", "job", job])
    check("Restarts=1" in show, f"expected one restart:\n{show}")
    with h5py.File(product, "r") as f:
        check(f["synth"].attrs.get("tmdflow_complete") == 1 and f["vi"].attrs.get("tmdflow_complete") == 1, "products incomplete")

finish(tmp)
