#!/usr/bin/env python3
"""Campaign costs (docs/CAMPAIGNS.md), on a real one-node Slurm (slurm/ci/up.sh):

1. Per-task overhead: N tiny inputs (copies of one synthesize-datacube scan, a one-step virtual-image
   workflow) through (a) a serial shell loop, one `tmdflow run` per file -- the baseline; (b)
   `tmdflow campaign run` on 1 rank (one process, the inputs in a loop); (c) slurm/campaign.sh as a
   job array, one input per task, --max-running 2 (the node's 2 CPUs), and (d) 10 inputs per task.
   Overhead per task = (wall x slots - serial loop) / N: what each array task costs beyond the
   loop's own work, in CPU-slot seconds.
2. Resubmission after a cancel at 50 %: the array cancelled once N/2 inputs are done, then
   slurm/campaign.sh again: how many inputs the second round does (goal: exactly the missing ones,
   none twice).
3. Reduce scaling: campaigns of K domains/1 products (copies of one real twist_polarity product,
   each recorded done in a ledger), `tmdflow campaign reduce` timed and its peak memory (max RSS):
   linear in K means constant time per input; flat memory means products are never held.

usage: benchmarks/bench_campaign.py [--bin BUILD/bin] [--work DIR] [--inputs 200] [--reduce-sizes 500,1000,2000,4000]
                                    [--skip-slurm] [--serial-array]   (--serial-array adds (e): one task at a time)
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests", "e2e"))
os.environ.setdefault("TMDFLOW_SOURCE_DIR", SOURCE)


def sh(cmd, env=None, cwd=None):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stdout.decode()}")
    return p.stdout.decode()


def done_records(camp):
    path = os.path.join(camp, "ledger.jsonl")
    if not os.path.exists(path):
        return []
    return [json.loads(l)["key"] for l in open(path) if '"state":"done"' in l]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(SOURCE, "build", "bin"))
    ap.add_argument("--work", default=None)
    ap.add_argument("--inputs", type=int, default=200)
    ap.add_argument("--reduce-sizes", default="500,1000,2000,4000")
    ap.add_argument("--skip-slurm", action="store_true")
    ap.add_argument("--serial-array", action="store_true")
    a = ap.parse_args()
    tmdflow = os.path.abspath(os.path.join(a.bin, "tmdflow"))
    work = a.work or tempfile.mkdtemp(prefix="tmdflow-bench-campaign-")
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ, TMDFLOW=tmdflow, TMDFLOW_PROGRESS="off")
    n = a.inputs

    # --- the inputs ---
    archive = os.path.join(work, "archive")
    shutil.rmtree(archive, ignore_errors=True)
    os.makedirs(archive)
    first = os.path.join(archive, "scan_0000.h5")
    sh([tmdflow, "--quiet", "stage", "synthesize-datacube", "--output", first, "--scan", "8,8", "--detector", "16,16"], env)
    for i in range(1, n):
        shutil.copy(first, os.path.join(archive, f"scan_{i:04d}.h5"))
    wf = os.path.join(work, "vi.ini")
    open(wf, "w").write("[workflow]\ninput =\noutput = unused.h5\n\n[vi]\nstage = virtual-image\ncentre = 8,8\n")
    files = sorted(os.listdir(archive))

    print(f"== 1. per-task overhead: {n} inputs (8 x 8 scans of 16 x 16 patterns), one virtual-image step ==")
    loop_out = os.path.join(work, "loop")
    shutil.rmtree(loop_out, ignore_errors=True)
    t0 = time.time()
    for f in files:
        stem = f[:-3]
        sh([tmdflow, "--quiet", "run", wf, "--input", os.path.join(archive, f), "--output", os.path.join(loop_out, stem, stem + ".h5")], env)
    t_loop = time.time() - t0
    print(f"  baseline, serial loop of `tmdflow run` (one process per file): {t_loop:.2f} s = {t_loop / n * 1000:.0f} ms per input")

    local = os.path.join(work, "local")
    shutil.rmtree(local, ignore_errors=True)
    sh([tmdflow, "--quiet", "campaign", "plan", local, "--workflow", wf, "--inputs", archive], env)
    t0 = time.time()
    sh([tmdflow, "--quiet", "campaign", "run", local], env)
    t_local = time.time() - t0
    print(f"  tmdflow campaign run, 1 rank, locally: {t_local:.2f} s = {t_local / n * 1000:.0f} ms per input "
          f"({t_loop / t_local:.1f}x the loop)")
    results = {"inputs": n, "loop_s": t_loop, "local_s": t_local}

    if not a.skip_slurm:
        from slurmtest import SlurmCluster
        with SlurmCluster() as slurm:
            senv = dict(slurm.env, TMDFLOW=tmdflow, TMDFLOW_PROGRESS="off")
            submit = os.path.join(SOURCE, "slurm", "campaign.sh")

            def campaign(name, per_task, slots, cancel_at=None):
                camp = os.path.join(work, name)
                shutil.rmtree(camp, ignore_errors=True)
                t0 = time.time()
                sh(["bash", submit, camp, "--workflow", wf, "--inputs", archive, "--per-task", str(per_task),
                    "--max-running", str(slots)], senv, cwd=work)
                fields = open(os.path.join(camp, "slurm_jobs.txt")).read().split()
                array, reduce_job = fields[fields.index("array") + 1], fields[fields.index("reduce") + 1]
                if cancel_at:
                    slurm.wait_until(lambda: len(done_records(camp)) >= cancel_at, "half of the campaign", timeout=1200, poll=0.05)
                    slurm.cmd(["scancel", array])
                    slurm.wait_until(lambda: not slurm.queued(array) and not slurm.queued(reduce_job), "the cancel", timeout=120)
                    return camp, time.time() - t0
                slurm.wait(reduce_job, timeout=1800)
                wall = time.time() - t0
                overhead = (wall * slots - t_loop) / n
                print(f"  job array via slurm/campaign.sh, {per_task} input(s) per task, {slots} at a time: {wall:.2f} s "
                      f"(submit to reduce done); overhead per task {overhead * per_task:.2f} slot-s, per input {overhead:.3f} slot-s")
                results[f"array_{per_task}_{slots}_s"] = wall
                results[f"overhead_per_task_{per_task}_{slots}_s"] = overhead * per_task
                return camp, wall

            campaign("array1", 1, 2)
            campaign("array10", 10, 2)
            if a.serial_array:
                campaign("array1_serial", 1, 1)

            print(f"== 2. resubmission after a cancel at 50 % ({n} inputs, 1 per task, 2 at a time) ==")
            camp, t_first = campaign("cancel", 1, 2, cancel_at=n // 2)
            before = done_records(camp)
            t0 = time.time()
            out = sh(["bash", submit, camp, "--max-running", "2"], senv, cwd=work)
            fields = open(os.path.join(camp, "slurm_jobs.txt")).read().splitlines()[-1].split()
            slurm.wait(fields[fields.index("reduce") + 1], timeout=1800)
            after = done_records(camp)
            redone = len(after) - len(before)
            twice = len(after) - len(set(after))
            plan_line = [l for l in out.splitlines() if l.startswith("plan ")][0]
            print(f"  cancelled with {len(before)}/{n} done ({t_first:.1f} s); resubmission: '{plan_line}'; "
                  f"it did {redone} inputs in {time.time() - t0:.1f} s; inputs done twice: {twice}; "
                  f"all done: {sorted(set(after)) == sorted(files)}")
            results.update(cancel_done_before=len(before), resubmission_did=redone, done_twice=twice)

    print("== 3. reduce scaling: K domains/1 products (copies of one twist_polarity product) ==")
    sim = os.path.join(work, "sim.h5")
    product = os.path.join(work, "product", "sim.h5")
    if not os.path.exists(product):
        sh([tmdflow, "--quiet", "stage", "simulate-4dstem", "--output", sim, "--scan", "32,32", "--domains", "6",
            "--detector-px", "64", "--electrons", "20000", "--dtype", "uint16", "--seed", "5"], env)
        sh([tmdflow, "--quiet", "run", os.path.join(SOURCE, "workflows", "twist_polarity.ini"), "--input", sim, "--output", product], env)
    size_mb = os.path.getsize(product) / 1e6
    for k in [int(x) for x in a.reduce_sizes.split(",")]:
        camp = os.path.join(work, f"reduce{k}")
        inputs = camp + "_inputs"  # outside the campaign folder (whose files are never inputs)
        shutil.rmtree(camp, ignore_errors=True)
        shutil.rmtree(inputs, ignore_errors=True)
        os.makedirs(inputs)
        for i in range(k):
            open(os.path.join(inputs, f"s{i:05d}.h5"), "w").write("x")
        sh([tmdflow, "--quiet", "campaign", "plan", camp, "--workflow", os.path.join(SOURCE, "workflows", "twist_polarity.ini"),
            "--inputs", inputs], env)
        config = json.load(open(os.path.join(camp, "plan.json")))["config"]
        with open(os.path.join(camp, "ledger.jsonl"), "w") as led:
            for i in range(k):
                key = f"s{i:05d}.h5"
                path = os.path.join(inputs, key)
                st = os.stat(path)
                rel = f"products/s{i:05d}/s{i:05d}.h5"
                os.makedirs(os.path.dirname(os.path.join(camp, rel)))
                os.link(product, os.path.join(camp, rel))  # hard links: K products, one file's worth of disk
                led.write(json.dumps({"key": key, "input": path, "state": "done", "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                      "config": config, "product": rel}) + "\n")
        # The reduce alone in a fresh parent, so that its peak memory is its own.
        probe = ("import resource, subprocess, sys, time; t = time.time(); p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
                 "print(p.returncode, time.time() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
        out = sh([sys.executable, "-c", probe, tmdflow, "--quiet", "campaign", "reduce", camp], env)
        code, wall, rss_kb = out.split()[-3:]
        if code != "0":
            raise SystemExit(f"tmdflow campaign reduce {camp} exited {code}:\n{out}")
        wall, rss = float(wall), float(rss_kb) / 1024
        print(f"  K = {k:5d}: reduce {wall:.2f} s = {wall / k * 1000:.1f} ms per product ({size_mb:.1f} MB each); peak RSS {rss:.0f} MB")
        results[f"reduce_{k}_rss_MB"] = rss
        results[f"reduce_{k}_s"] = wall
        shutil.rmtree(camp)
        shutil.rmtree(inputs)
    print("RESULT " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in results.items()))


if __name__ == "__main__":
    main()
