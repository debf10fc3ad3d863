"""A real Slurm (slurm/ci/up.sh): campaigns through slurm/campaign.sh. (1) Eight scans as a job array
one task at a time, cancelled with scancel once half are done: no partial product, the reduce
(afterok) is cancelled with it, and the resubmission redoes only the missing inputs -- no input is
done twice, the first half's products stay untouched -- and then reduces. (2) The twist-domain
analysis over three scans, one broken: its array task fails with the input named, the reduce does
not run; repaired and resubmitted, only that input is redone and the reduce merges all three."""
import csv
import json
import os
import shutil
import time

from slurmtest import SlurmCluster
from tmdtest import SOURCE, check, finish, run, run_ok, scratch

tmp = scratch()
submit = os.path.join(SOURCE, "slurm", "campaign.sh")


def ledger(camp):
    path = os.path.join(camp, "ledger.jsonl")
    return [json.loads(line) for line in open(path)] if os.path.exists(path) else []


def jobs(camp):
    """(array job, reduce job) of the last submission (slurm_jobs.txt)."""
    fields = open(os.path.join(camp, "slurm_jobs.txt")).read().splitlines()[-1].split()
    return fields[fields.index("array") + 1], fields[fields.index("reduce") + 1]


def temporaries(folder):
    return [os.path.join(d, f) for d, _, files in os.walk(folder) for f in files if ".tmp-" in f]


archive = os.path.join(tmp, "archive")
os.mkdir(archive)
for i in range(8):
    run_ok(["--quiet", "stage", "synthesize-datacube", "--output", os.path.join(archive, f"scan_{i}.h5"), "--scan", "6,5",
            "--detector", "12,12"])
vi = os.path.join(tmp, "vi.ini")
open(vi, "w").write("[workflow]\ninput =\noutput = unused.h5\n\n[vi]\nstage = virtual-image\ncentre = 6,6\n")

scans = os.path.join(tmp, "scans")
os.mkdir(scans)
for seed in (1, 2):
    run_ok(["--quiet", "stage", "simulate-4dstem", "--output", os.path.join(scans, f"sim{seed}.h5"), "--scan", "16,16",
            "--domains", "3", "--detector-px", "64", "--electrons", "20000", "--dtype", "uint16", "--seed", str(seed)])
broken = os.path.join(scans, "sim3.h5")
open(broken, "w").write("a transfer that stopped half-way\n")

with SlurmCluster() as slurm:
    sh = lambda args: slurm.cmd(["bash", submit] + args, cwd=tmp, timeout=60)[1]

    # (1) Cancel at half, resubmit.
    camp = os.path.join(tmp, "half")
    out = sh([camp, "--workflow", vi, "--inputs", archive, "--max-running", "1"])
    check("8 input(s) to do in 8 task(s)" in out, f"first submission:\n{out}")
    array, reduce_job = jobs(camp)
    slurm.wait_until(lambda: sum(r["state"] == "done" for r in ledger(camp)) >= 4, "half of the campaign", timeout=60)
    slurm.cmd(["scancel", array])
    t0 = time.time()
    slurm.wait_until(lambda: not slurm.queued(array) and not slurm.queued(reduce_job), "the cancelled array and its reduce to leave",
                     timeout=60)
    print(f"cancelled at {sum(r['state'] == 'done' for r in ledger(camp))}/8 done; queue empty {time.time() - t0:.1f} s later")
    check(slurm.records(reduce_job).get(reduce_job, ("?",))[0] == "CANCELLED",
          f"the reduce after a cancelled array: {slurm.records(reduce_job)}")
    check(not temporaries(camp), f"temporary files after scancel: {temporaries(camp)}")
    done_first = {r["key"]: r for r in ledger(camp) if r["state"] == "done"}
    check(4 <= len(done_first) < 8, f"{len(done_first)} inputs done before the cancel took effect")
    mtimes = {k: os.stat(os.path.join(camp, r["product"])).st_mtime_ns for k, r in done_first.items()}

    out = sh([camp, "--max-running", "2"])
    missing = 8 - len(done_first)
    check(f"{len(done_first)} done, 0 failed, 0 stale, {missing} missing" in out and f"{missing} input(s) to do" in out,
          f"resubmission after the cancel:\n{out}")
    array, reduce_job = jobs(camp)
    rec = slurm.wait(reduce_job, timeout=90)
    check(rec.get(reduce_job) == ("COMPLETED", "0:0"), f"the reduce of the resubmission: {rec}")
    done = [r["key"] for r in ledger(camp) if r["state"] == "done"]
    check(sorted(done) == sorted(f"scan_{i}.h5" for i in range(8)), f"each input done exactly once: {sorted(done)}")
    for k, r in done_first.items():
        check(os.stat(os.path.join(camp, r["product"])).st_mtime_ns == mtimes[k], f"{k}: its product was rewritten")
    with open(os.path.join(camp, "campaign", "inputs.csv")) as f:
        states = [row["state"] for row in csv.DictReader(f)]
    check(states == ["done"] * 8, f"campaign/inputs.csv after the resubmission: {states}")

    # (2) A failing input, repaired and resubmitted; the domain statistics at the end.
    camp = os.path.join(tmp, "domains")
    out = sh([camp, "--workflow", os.path.join(SOURCE, "workflows", "twist_polarity.ini"), "--inputs", scans,
              "--max-running", "2"])
    array, reduce_job = jobs(camp)
    slurm.wait_until(lambda: not slurm.queued(array) and not slurm.queued(reduce_job), "the array and its reduce to end", timeout=90)
    rec = slurm.records(array)
    check(rec.get(f"{array}_3", ("?", "?"))[0] == "FAILED" and rec.get(f"{array}_3", ("?", "?"))[1] == "4:0",
          f"the broken input's task: {rec}")
    check(rec.get(f"{array}_1") == ("COMPLETED", "0:0") and rec.get(f"{array}_2") == ("COMPLETED", "0:0"), f"the good tasks: {rec}")
    check(slurm.records(reduce_job).get(reduce_job, ("?",))[0] == "CANCELLED", "the reduce ran after a failed task")
    log = open(os.path.join(camp, "logs", f"task-{array}_3.log")).read()
    check(f"failed (exit 4): input {broken}" in log and "campaign.sbatch: task 3" in log, f"the failed task's log:\n{log}")
    code, out = run(["campaign", "status", camp])
    check(code == 4 and "failed: sim3.h5" in out, f"status after the failure: exit {code}:\n{out}")

    shutil.copy(os.path.join(scans, "sim1.h5"), broken)  # the transfer redone
    out = sh([camp])
    check("2 done, 1 failed" in out and "1 input(s) to do" in out, f"resubmission after the repair:\n{out}")
    array, reduce_job = jobs(camp)
    rec = slurm.wait(reduce_job, timeout=90)
    check(rec.get(reduce_job) == ("COMPLETED", "0:0"), f"the reduce after the repair: {rec}")
    check([r["key"] for r in ledger(camp)].count("sim1.h5") == 1, "sim1.h5 was redone")
    with open(os.path.join(camp, "campaign", "domains_inputs.csv")) as f:
        table = list(csv.DictReader(f))
    check([row["key"] for row in table] == ["sim1.h5", "sim2.h5", "sim3.h5"], f"domains_inputs.csv: {table}")
    check(all(int(row["domains"]) >= 1 for row in table), f"domains found: {table}")

finish(tmp)
