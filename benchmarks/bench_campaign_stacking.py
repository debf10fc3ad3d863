#!/usr/bin/python3
"""A stacking campaign reduced to its landscape statistics (issue #16, data_schema/stacking.md
"Campaign statistics"): workflows/campaign_stacking.ini end to end on 150 simulated images.

The campaign (made once, not timed): 150 ReS2 bilayer images of 1470 x 1470 pixels of 0.0681 A (10 nm
fields: 25 windows of 2 nm side by side, 3,750 in all, as TED-Gen's campaign) made by the simulation
engine (simulate-adf at the published conditions: 300 kV, 21.3 mrad, ADF 39-200 mrad, defocus 35 A,
source 0.6 A FWHM; 1e5 e/A^2 counting noise; uint16 .npy files), each with one slip drawn around a
minimum of tmdflow's built-in ReS2 landscape (a minimum chosen with Boltzmann weights at 25 meV per
cell, then a Gaussian of 0.1 A), a random orientation. Timed: the whole workflow (ingest of the
folder -> infer-stacking with 2 nm windows every 2 nm, every window refined -> campaign-stats with the
built-in landscape) at 2 ranks and at 1 rank, and each step's share. Checked: the fraction of windows
per basin against the truth (each window's true basin is that of its image's slip on the product's
own basin map), and the windows whose basin is right.

usage: bench_campaign_stacking.py --bin BUILD/bin --work DIR [--model NAME|DIR] [--images 150] [--ranks 2] [--make-only]
Without --model: the shipped res2-bilayer-slip when models/ has it, else a tiny model trained here
(as tests/e2e/test_infer_stacking.py does; a few minutes, once). Prints RESULT lines.
"""
import argparse
import json
import math
import os
import re
import resource
import subprocess
import sys
import time

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
A1C = np.array([6.352, 0.0])
A2C = np.array([3.12213044, 5.63943415])
PIXEL_A = 0.0681  # 1470 px = 10.0 nm: 5 x 5 windows of 2 nm
COND = ["--voltage-kV", "300", "--convergence-mrad", "21.3", "--inner-mrad", "39", "--outer-mrad", "200"]
PROBE = ["--C1-A", "35", "--source-size-A", "0.255"]


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def sh(args, ranks=1, progress=False):
    """Runs tmdflow; returns (wall seconds, CPU seconds of every process it ran, output)."""
    cmd = ([os.path.join(BIN, "tmdflow-mpiexec"), str(ranks)] if ranks > 1 else []) + [os.path.join(BIN, "tmdflow")] + [str(a) for a in args]
    t0, c0 = time.time(), cpu_seconds()
    env = dict(os.environ) if progress else dict(os.environ, TMDFLOW_PROGRESS="off")
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout[-3000:]}")
    return time.time() - t0, cpu_seconds() - c0, p.stdout


def make_campaign(folder, count, work):
    """150 simulated images with slips around the built-in landscape's minima; truth.json beside them."""
    done = os.path.join(folder, "truth.json")
    if os.path.exists(done):
        return json.load(open(done))
    os.makedirs(folder, exist_ok=True)
    land = os.path.join(work, "landscape_res2.h5")
    sh(["--quiet", "stage", "landscape", "--output", land, "--force", "--material", "ReS2", "--figures", "none"])
    with h5py.File(land, "r") as f:
        minima = np.c_[f["landscape/minima/slip_a"][()], f["landscape/minima/slip_b"][()]]
        energy = f["landscape/minima/energy_meV"][()]
    weight = np.exp(-(energy - energy.min()) / 25.0)
    weight /= weight.sum()
    rng = np.random.default_rng(16)
    truth = []
    tmp = os.path.join(work, "sim_tmp.h5")
    t0 = time.time()
    for k in range(count):
        m = minima[rng.choice(len(minima), p=weight)]
        d = rng.normal(0, 0.1, 2)  # A, Cartesian
        f = m + np.linalg.solve(np.column_stack([A1C, A2C]), d)
        phi = rng.uniform(0, 360)
        sh(["--quiet", "stage", "simulate-adf", "--output", tmp, "--force", "--crystal", "stack", "--material", "ReS2", "--layers", "2",
            "--slip-a", f"{f[0]:.6f}", "--slip-b", f"{f[1]:.6f}", "--phi-deg", f"{phi:.4f}", "--size", "1470,1470", "--pixel-A", str(PIXEL_A),
            "--dose-e-per-A2", "1e5", "--seed", str(1000 + k)] + COND + PROBE)
        with h5py.File(tmp, "r") as h:
            img = h["adf_root/image/data"][0]
        np.save(os.path.join(folder, f"res2_{k:04d}.npy"), np.clip(np.rint(img), 0, 65535).astype(np.uint16))
        truth.append({"file": f"res2_{k:04d}.npy", "slip_a": float(f[0]), "slip_b": float(f[1]), "phi_deg": float(phi)})
        if k % 25 == 24:
            print(f"  made {k + 1} of {count} images ({time.time() - t0:.0f} s)", flush=True)
    os.remove(tmp)
    json.dump(truth, open(done, "w"), indent=1)
    return truth


def tiny_model(work):
    """A small ReS2 bilayer slip model (the network of tests/e2e/test_infer_stacking.py) on patches of
    the campaign's conditions, made once: a stand-in until the shipped model exists."""
    folder = os.path.join(work, "models", "res2-tiny")
    if os.path.exists(os.path.join(folder, "manifest.json")):
        return folder
    data = os.path.join(work, "tiny_train.h5")
    sh(["--quiet", "stage", "make-trainset", "--output", data + ":/trainset", "--force", "--material", "ReS2", "--layers", "2", "--count", "1500",
        "--patch-px", "64", "--pixel-A", "0.2", "--phi-set-deg", "0,180", "--phi-jitter-deg", "1.5", "--scale-jitter", "0.02",
        "--dose-range-e-per-A2", "3e4,3e5", "--defocus-range-A", "30,40", "--source-size-range-A", "0.2,0.3", "--vacancy-range", "0,0",
        "--contamination-range", "0,0", "--jitter-range-A", "0,0", "--twist-range-deg", "0,0", "--seed", "4"] + COND, ranks=2)
    sh(["--quiet", "stage", "train-stacking", "--input", data + ":/trainset", "--output", data + ":/log", "--task", "slip",
        "--network-params", "layout=18,width=8,head=32", "--epochs", "8", "--batch", "32", "--learning-rate", "0.003",
        "--model-name", "res2-tiny", "--model-dir", folder, "--figures", os.path.join(work, "figures")], ranks=2)
    return folder


def seconds(text):
    """'4m23s' or '2.7s' -> seconds."""
    m = re.fullmatch(r"(?:(\d+)m)?([0-9.]+)s", text)
    return 60 * int(m.group(1) or 0) + float(m.group(2))


def step_times(log):
    return {m.group(1): seconds(m.group(2)) for m in re.finditer(r"step '([\w-]+)' of [\w.]+: wrote \S+ in (\S+)\n", log)}


def main():
    global BIN
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--work", default="build/bench-data/campaign")
    ap.add_argument("--model", default="")
    ap.add_argument("--images", type=int, default=150)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--make-only", action="store_true", help="make the campaign (and the tiny model when needed), run nothing")
    a = ap.parse_args()
    BIN = os.path.abspath(a.bin)
    os.makedirs(a.work, exist_ok=True)
    folder = os.path.join(a.work, f"res2_campaign_{a.images}")
    truth = make_campaign(folder, a.images, a.work)
    model = a.model or ("res2-bilayer-slip" if os.path.exists(os.path.join(ROOT, "models", "res2-bilayer-slip", "manifest.json")) else tiny_model(a.work))
    if a.make_only:
        return
    print(f"  campaign: {len(truth)} images of 1470 x 1470 at {PIXEL_A} A; model {model}")
    wf = os.path.join(ROOT, "workflows", "campaign_stacking.ini")
    results = {}
    for ranks in sorted({a.ranks, 1}, reverse=True):
        out = os.path.join(a.work, f"campaign_{ranks}.h5")
        load = os.getloadavg()[0]
        t, cpu, log = sh(["run", wf, "--input", folder, "--output", out, "--force", "--set", f"workflow.model={model}",
                          "--set", f"workflow.pixel_size_A={PIXEL_A}"], ranks=ranks, progress=True)
        steps = step_times(log)
        results[ranks] = (t, steps, out)
        shares = ", ".join(f"{k} {v:.1f} s ({100 * v / t:.0f} %)" for k, v in steps.items())
        passes = "; ".join(l.split("tmdflow: ", 1)[-1] for l in log.splitlines()
                           if re.search(r"(infer-stacking|refinement|campaign-stats) 100%|were searched", l))
        print(f"RESULT campaign_workflow ranks={ranks} images={len(truth)} seconds_whole={t:.1f} cpu_seconds={cpu:.1f} "
              f"load_before={load:.1f} steps: {shares}; passes: {passes} (goal: <= 120 s on 2 cores)", flush=True)
    if len(results) == 2:
        t1, t2 = results[1][0], results[a.ranks][0]
        s1, s2 = results[1][1], results[a.ranks][1]
        per = ", ".join(f"{k} {s1[k] / s2[k]:.2f}" for k in s2 if k in s1 and s2[k] > 0)
        print(f"RESULT campaign_scaling ranks={a.ranks} vs 1: {t1:.1f} s vs {t2:.1f} s = speed-up {t1 / t2:.2f}; per step: {per}")

    # The statistics against the truth.
    with h5py.File(results[a.ranks][2], "r") as f:
        g = f["campaign"]
        bmap = g["basins/map"][()]
        fraction = g["basins/fraction"][()]
        window_basin = g["maps/basin"][()]
        kept, low, missing = g.attrs["windows_kept"], g.attrs["windows_low_confidence"], g.attrs["windows_missing"]
        names = [n.decode() if isinstance(n, bytes) else n for n in g["images/source_file"][()]]
    ng = bmap.shape[0]
    by_file = {t["file"]: t for t in truth}
    true_basin = []
    for n in names:
        t = by_file[os.path.basename(n)]
        true_basin.append(bmap[int(round(t["slip_b"] * ng)) % ng, int(round(t["slip_a"] * ng)) % ng])
    true_basin = np.array(true_basin)
    expected = np.zeros(len(fraction))
    right = 0
    for n in range(len(names)):
        w = window_basin[n]
        expected[true_basin[n]] += (w >= 0).sum()
        right += (w == true_basin[n]).sum()
    expected /= max(1, expected.sum())
    print(f"RESULT campaign_accuracy windows={window_basin.size} kept={kept} low_confidence={low} missing={missing} "
          f"basin_right={right / max(1, kept):.3f} fractions={np.round(fraction, 3).tolist()} truth={np.round(expected, 3).tolist()} "
          f"largest_difference={np.abs(fraction - expected).max():.3f}")


if __name__ == "__main__":
    main()
