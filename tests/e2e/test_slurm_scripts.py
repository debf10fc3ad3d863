"""slurm/*.sbatch: a usage line; outside Slurm a dry check that prints the srun command and runs
`tmdflow run --dry-run` (creates nothing, fails on a missing input or a bad option); inside a job
(simulated: SLURM_* variables and an `srun` that starts the ranks with tmdflow-mpiexec) the
workflow runs and writes its product. All under `set -u` with no Slurm variable defined."""
import os
import stat
import subprocess

import h5py

from tmdtest import LAUNCH, SOURCE, TMDFLOW, check, finish, run_ok, scratch

tmp = scratch()
sbatch = os.path.join(SOURCE, "slurm", "tmdflow.sbatch")
array = os.path.join(SOURCE, "slurm", "array.sbatch")
twist = os.path.join(SOURCE, "workflows", "twist_polarity.ini")
demo = os.path.join(SOURCE, "workflows", "demo.ini")
base_env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
base_env["TMDFLOW"] = TMDFLOW


def script(path, args, env=None, cwd=tmp):
    p = subprocess.run(["bash", path] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       cwd=cwd, env=env or base_env, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def expect(path, args, code, words, env=None, cwd=tmp):
    got, out = script(path, args, env, cwd)
    name = os.path.basename(path)
    check(got == code, f"{name} {args}: exit {got}, expected {code}:\n{out}")
    for w in words:
        check(w in out, f"{name} {args}: output lacks '{w}':\n{out}")
    check("unbound variable" not in out, f"{name} {args}: an unbound variable:\n{out}")
    return out


cube = os.path.join(tmp, "cube.h5")
cube_b = os.path.join(tmp, "cube_b.h5")
for c in (cube, cube_b):
    run_ok(["--quiet", "stage", "synthesize-datacube", "--output", c, "--scan", "5,4", "--detector", "12,12"])

# Usage: on request (exit 0) and when arguments are missing (exit 2).
for path in (sbatch, array):
    expect(path, ["--help"], 0, ["usage: sbatch", "--dry-run"])
    expect(path, [], 2, ["usage: sbatch", "found 0 argument(s)"])
    expect(path, ["only-one"], 2, ["usage: sbatch"])

# Dry check outside Slurm: the srun command and the plan; nothing written.
out_dir = os.path.join(tmp, "out")
expect(sbatch, [twist, cube, os.path.join(out_dir, "t.h5"), "--set", "domains.clusters=12"], 0,
       ["not in a Slurm job", "srun --cpu-bind=cores", "--input " + cube, "3 steps checked", "ingest (stage ingest): passed over", "--clusters=12"])
expect(sbatch, ["--dry-run", demo, "-", os.path.join(out_dir, "d.h5")], 0, ["4 steps checked", "simulate-4dstem"])
check(not os.path.exists(out_dir), "the dry check created the output folder")
# ... and its failures, with tmdflow's codes.
expect(sbatch, [twist, os.path.join(tmp, "missing.h5"), os.path.join(out_dir, "t.h5")], 5,
       ["missing.h5", "no such file", "ingest"])
expect(sbatch, [twist, cube, os.path.join(out_dir, "t.h5"), "--set", "features.bogus=1"], 2, ["bogus"])
no_tmdflow = dict(base_env, PATH="/usr/bin:/bin")
del no_tmdflow["TMDFLOW"]
expect(sbatch, [twist, cube, "x.h5"], 2, ["no executable", "make build"], env=no_tmdflow)

files = os.path.join(tmp, "files.txt")
with open(files, "w") as f:
    f.write(f"{cube}\n{cube_b}\n")
expect(array, [twist, files, out_dir], 0, ["--array=1-2", "srun --cpu-bind=cores", os.path.join(out_dir, "cube", "cube.h5"),
                                           "3 steps checked"])
check(not os.path.exists(out_dir), "the array dry check created the output folder")
bad = os.path.join(tmp, "bad.txt")
with open(bad, "w") as f:
    f.write(f"{cube}\n{os.path.join(tmp, 'gone.h5')}\n")
expect(array, [twist, bad, out_dir], 5, ["gone.h5", "line 2", "1 of 2"])
expect(array, [twist, os.path.join(tmp, "nolist.txt"), out_dir], 2, ["nolist.txt", "no such file"])

# Inside a job: a stand-in srun that drops srun's options and starts the ranks with tmdflow-mpiexec.
bin_dir = os.path.join(tmp, "bin")
os.mkdir(bin_dir)
srun = os.path.join(bin_dir, "srun")
log = os.path.join(tmp, "srun.log")
with open(srun, "w") as f:
    f.write(f'#!/bin/sh\necho "$@" >> "{log}"\nwhile [ "${{1#--}}" != "$1" ]; do shift; done\n'
            f'exec "{LAUNCH}" 2 "$@"\n')
os.chmod(srun, os.stat(srun).st_mode | stat.S_IXUSR)
job_env = dict(base_env, PATH=bin_dir + os.pathsep + base_env["PATH"], SLURM_JOB_ID="42", SLURM_NTASKS="2",
               SLURM_JOB_NUM_NODES="1", SLURM_SUBMIT_DIR=tmp)
wf = os.path.join(tmp, "vi.ini")
with open(wf, "w") as f:
    f.write("[workflow]\ninput =\noutput = unused.h5\n\n[vi]\nstage = virtual-image\ncentre = 6,6\n")
product = os.path.join(out_dir, "vi.h5")
expect(sbatch, [wf, cube, product], 0, ["2 ranks on 1 node(s)"], env=job_env)
check(os.path.exists(log) and "--cpu-bind=cores" in open(log).read(), "srun was not called with --cpu-bind=cores")
with h5py.File(product, "r") as f:
    check(f["vi"].attrs.get("tmdflow_complete") == 1, "the job's product is not complete")
# --dry-run inside a job checks only.
expect(sbatch, ["--dry-run", wf, cube, os.path.join(out_dir, "dry.h5")], 0, ["(--dry-run)", "1 step checked"], env=job_env)
check(not os.path.exists(os.path.join(out_dir, "dry.h5")), "--dry-run in a job wrote a product")

# An array task runs its own line only.
expect(array, [wf, files, out_dir], 0, ["array task 2"], env=dict(job_env, SLURM_ARRAY_TASK_ID="2"))
check(os.path.exists(os.path.join(out_dir, "cube_b", "cube_b.h5")), "array task 2 did not write cube_b/cube_b.h5")
check(not os.path.exists(os.path.join(out_dir, "cube")), "array task 2 wrote task 1's output")
expect(array, [wf, files, out_dir], 2, ["not an array task"], env=job_env)
expect(array, [wf, files, out_dir], 2, ["line 3", "missing or empty"], env=dict(job_env, SLURM_ARRAY_TASK_ID="3"))

finish(tmp)
