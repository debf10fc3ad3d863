#!/usr/bin/env python3
"""Twist domains end to end: tmdflow (diffraction-features + domains) vs scikit-learn on the same data.

usage: bench_domains.py --cube CUBE.h5[:/group] [--bin BUILD/bin] [--work DIR] [--ranks 2] [--jobs 2] [--repeats 3]
                        [--foreign-load N]

CUBE is a simulated datacube of a MoS2 monolayer (stage simulate-4dstem, with ground_truth/).
Both sides are timed end to end (wall clock) with the datacube in the page cache:

  tmdflow   `tmdflow stage diffraction-features` then `tmdflow stage domains`, on --ranks ranks
            (median of --repeats runs: the figure varies run to run by up to 2x on a shared machine);
  baseline  the same analysis in numpy/scipy/scikit-learn, on --jobs processes for the features:
            - geometry as tmdflow: mean of 512 evenly spread patterns, central disc (flood fill above
              half maximum), {100} and {110} ring radii from the radial profile of the mean pattern;
            - centre of mass of the central beam in shrinking windows for 1024 evenly spread
              patterns, a smooth descan field (polynomial of degree 2 over the scan, one outlier
              rejection) giving every pattern's centre;
            - polar sampling of both rings about that centre (scipy.ndimage.map_coordinates, order 1,
              360 azimuth bins, radial step 0.5 px over +-(disc radius + 1.5) px, area-weighted),
              background = mean of the bins below the profile mean, clipped at 0;
            - six-fold fold (360 -> 60 bins per ring, summed), each ring normalised to sum 1;
            - sklearn.decomposition.NMF(K, init='nndsvda', max_iter = tmdflow's NMF iterations), K = tmdflow's components;
            - loadings normalised per pattern, sklearn.cluster.AgglomerativeClustering(M, 'ward'),
              M = the number of domains tmdflow found.
The baseline's features equal tmdflow's to float rounding (the script prints the largest difference).

With --foreign-load N (issue #20, a shared machine) both sides are timed again while N foreign busy
processes (one per core: N = the core count) run, and each side's slowdown factor (loaded / quiet) is
printed; tmdflow also with TMDFLOW_WAIT=spin (ranks that busy-wait in collectives, MPI_Wait) to show
what its polite waits (par::wait) are worth.
The baseline has no polarity step (so it samples only the two rings the clustering uses; tmdflow also
samples the {200} ring for the polarity evidence): inversion domains (same twist, opposite polarity) share features
and may merge. "Comparable domains" is therefore checked on twist classes: tmdflow's labels merged by
domain_table/twist_class vs the baseline's Ward tree cut at the same number of classes
(PASS when the adjusted Rand index >= 0.9).
"""
import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

import h5py
import numpy as np
from scipy import ndimage

ARI_PASS = 0.9  # the goals on time and ratio are checked by benchmarks/run.sh


def split_path(spec, default_group):
    if ":" in spec:
        f, g = spec.rsplit(":", 1)
        return f, g
    return spec, default_group


# ---------------------------------------------------------------------------------------------
# Baseline features (mirrors src/tmdflow/analysis/diffraction.cpp and the stage's geometry steps)
# ---------------------------------------------------------------------------------------------

def evenly_spread(n, want):
    want = max(1, min(n, want))
    if want == 1:
        return np.array([n // 2], dtype=np.int64)
    k = np.arange(want, dtype=np.int64)
    return (k * (n - 1)) // (want - 1)


def read_patterns(dset, index, ry):
    out = np.empty((len(index),) + dset.shape[2:], dtype=np.float32)
    for k, idx in enumerate(index):
        out[k] = dset[int(idx) // ry, int(idx) % ry]
    return out


def central_disc(mean):
    """Connected region above half maximum around the brightest pixel: weighted centroid, radius."""
    rows, cols = mean.shape
    mx, mn = float(mean.max()), float(mean.min())
    if not mx > mn:
        return 0.5 * (cols - 1), 0.5 * (rows - 1), 1.0
    thr = mn + 0.5 * (mx - mn)
    lab, _ = ndimage.label(mean >= thr)  # 4-connected, as the flood fill
    region = lab == lab.flat[int(np.argmax(mean))]
    w = (mean - thr) * region
    ii, jj = np.indices(mean.shape)
    sw = w.sum()
    cx = (w * jj).sum() / sw if sw > 0 else 0.5 * (cols - 1)
    cy = (w * ii).sum() / sw if sw > 0 else 0.5 * (rows - 1)
    return cx, cy, max(1.0, np.sqrt(region.sum() / np.pi))


def ring_geometry(mean):
    rows, cols = mean.shape
    cx, cy, disc = central_disc(mean)
    edge = min(cx, cy, cols - 1 - cx, rows - 1 - cy)
    nr = int(edge) + 1
    ii, jj = np.indices(mean.shape)
    r = np.floor(np.hypot(jj - cx, ii - cy) + 0.5).astype(np.int64).ravel()
    inside = r < nr
    s = np.bincount(r[inside], weights=mean.ravel()[inside].astype(np.float64), minlength=nr)
    c = np.bincount(r[inside], minlength=nr)
    p = np.where(c > 0, s / np.maximum(c, 1), 0.0)

    def peak(lo, hi):
        best, bv = -1, 0.0
        for rr in range(max(lo, 1), min(hi, nr - 2) + 1):
            base = p[max(0, rr - 6):min(nr - 1, rr + 6) + 1].min()
            if p[rr] - base > bv:
                bv, best = p[rr] - base, rr
        if best < 0:
            return -1.0
        a, b, cc = p[best - 1], p[best], p[best + 1]
        den = a - 2 * b + cc
        return best + (0.5 * (a - cc) / den if den < 0 else 0.0)

    r1 = peak(int(np.ceil(2 * disc)) + 2, nr)
    if r1 <= 0:
        raise SystemExit("baseline: no {100} ring in the mean pattern")
    r2 = peak(int(np.floor(np.sqrt(3) * r1 * 0.92)), int(np.ceil(np.sqrt(3) * r1 * 1.08)))
    halfwidth = disc + 1.5
    if r2 <= 0 or r2 + halfwidth > edge:
        raise SystemExit("baseline: the {110} ring does not fit on the detector")
    return dict(cx=cx, cy=cy, disc=disc, rings=(r1, r2), halfwidth=halfwidth)


def measure_centres(patterns, x0, y0, coarse, fine):
    """Centre of mass in shrinking circular windows (coarse, then fine twice), a batch at once."""
    n, rows, cols = patterns.shape
    # Every window lies within coarse + fine of the start: crop to that box (same sums, ~10x less work).
    reach = coarse + fine + 2
    i0, i1 = max(0, int(np.floor(y0 - reach))), min(rows, int(np.ceil(y0 + reach)) + 1)
    j0, j1 = max(0, int(np.floor(x0 - reach))), min(cols, int(np.ceil(x0 + reach)) + 1)
    patterns = patterns[:, i0:i1, j0:j1]
    ii, jj = np.indices(patterns.shape[1:], dtype=np.float64)
    ii += i0
    jj += j0
    cx = np.full(n, x0)
    cy = np.full(n, y0)
    for rad in (coarse, fine, fine):
        m = ((jj[None] - cx[:, None, None]) ** 2 + (ii[None] - cy[:, None, None]) ** 2) < rad * rad
        w = patterns * m
        s = w.sum(axis=(1, 2), dtype=np.float64)
        ok = s > 0
        nx = (w * jj[None]).sum(axis=(1, 2), dtype=np.float64)
        ny = (w * ii[None]).sum(axis=(1, 2), dtype=np.float64)
        cx = np.where(ok, nx / np.where(ok, s, 1), cx)
        cy = np.where(ok, ny / np.where(ok, s, 1), cy)
    return cx, cy


def monomials(order, u, v):
    return np.stack([u ** p * v ** (deg - p) for deg in range(order + 1) for p in range(deg, -1, -1)], axis=-1)


def scaled(k, n):
    return 2.0 * k / (n - 1) - 1.0 if n > 1 else np.zeros_like(k, dtype=np.float64)


def descan_field(index, cx, cy, rx, ry, order):
    a = monomials(order, scaled(index % ry, ry), scaled(index // ry, rx))
    keep = np.ones(len(index), dtype=bool)
    for rnd in range(2):
        coef_x = np.linalg.lstsq(a[keep], cx[keep], rcond=None)[0]
        coef_y = np.linalg.lstsq(a[keep], cy[keep], rcond=None)[0]
        if rnd == 1:
            break
        res = np.hypot(a @ coef_x - cx, a @ coef_y - cy)
        keep = res <= 4 * np.sort(res)[len(res) // 2] + 1e-6
    ii, jj = np.divmod(np.arange(rx * ry), ry)
    m = monomials(order, scaled(jj, ry), scaled(ii, rx))
    return m @ coef_x, m @ coef_y


_worker = {}


def _init_worker(path, dset_path, geo):
    f = h5py.File(path, "r")
    _worker.update(file=f, dset=f[dset_path], geo=geo)


def _ring_profiles(task):
    """Background-free {100} and {110} profiles of scan rows [i0, i1): (n, 2, bins) electrons."""
    i0, i1 = task
    g = _worker["geo"]
    block = _worker["dset"][i0:i1]
    ry = block.shape[1]
    pats = block.reshape((-1,) + block.shape[2:]).astype(np.float32)
    n = pats.shape[0]
    cx = g["centre_x"][i0 * ry:i1 * ry]
    cy = g["centre_y"][i0 * ry:i1 * ry]
    dx, dy, rad = g["dx"], g["dy"], g["rad"]  # (2, bins, radial samples)
    nring, bins, nsamp = dx.shape
    out = np.empty((n, nring * bins * nsamp), dtype=np.float32)
    # One C call per pattern: ~5x faster than one 3-D call for the whole block. Every sample lies
    # inside the detector (ring_geometry checks it), where mode "nearest" is bilinear interpolation
    # as with zero padding, and ~30% faster than "grid-constant".
    for k in range(n):
        out[k] = ndimage.map_coordinates(pats[k], [cy[k] + dy.ravel(), cx[k] + dx.ravel()], order=1,
                                         mode="nearest", prefilter=False)
    # Each sample stands for the area step * r * dtheta: profiles are in electrons.
    prof = (out.reshape(n, nring, bins, nsamp) * rad[None]).sum(axis=3) * (g["step"] * 2 * np.pi / bins)
    mean = prof.mean(axis=2, keepdims=True)
    below = prof <= mean
    bg = (prof * below).sum(axis=2, keepdims=True) / np.maximum(below.sum(axis=2, keepdims=True), 1)
    return np.clip(prof - bg, 0, None).astype(np.float32)


def baseline_features(cube_file, cube_group, jobs, rows_per_task):
    f = h5py.File(cube_file, "r")
    dset_path = cube_group.rstrip("/") + "/datacube/data"
    dset = f[dset_path]
    rx, ry, qr, qc = dset.shape
    n = rx * ry
    mean = read_patterns(dset, evenly_spread(n, 512), ry).mean(axis=0, dtype=np.float64)
    geo = ring_geometry(mean)
    idx = evenly_spread(n, 1024)
    mcx, mcy = measure_centres(read_patterns(dset, idx, ry), geo["cx"], geo["cy"], 0.5 * geo["rings"][0], 2.5 * geo["disc"])
    order = max(0, min(2, int(np.sqrt(len(idx))) - 1))
    centre_x, centre_y = descan_field(idx, mcx, mcy, rx, ry, order)
    f.close()

    bins, step = 360, 0.5
    nsamp = int(np.floor(2 * geo["halfwidth"] / step)) + 1
    rad = np.array(geo["rings"])[:, None] - geo["halfwidth"] + step * np.arange(nsamp)[None, :]  # (2, nsamp)
    th = 2 * np.pi * (np.arange(bins) + 0.5) / bins
    shared = dict(centre_x=centre_x, centre_y=centre_y, step=step,
                  rad=np.broadcast_to(rad[:, None, :], (2, bins, nsamp)).astype(np.float32),
                  dx=rad[:, None, :] * np.cos(th)[None, :, None], dy=rad[:, None, :] * np.sin(th)[None, :, None])
    tasks = [(i, min(rx, i + rows_per_task)) for i in range(0, rx, rows_per_task)]
    if jobs > 1:
        with mp.get_context("fork").Pool(jobs, _init_worker, (cube_file, dset_path, shared)) as pool:
            parts = list(pool.imap(_ring_profiles, tasks))
    else:
        _init_worker(cube_file, dset_path, shared)
        parts = [_ring_profiles(t) for t in tasks]
        _worker["file"].close()
    return fold_normalise(np.concatenate(parts)), geo, (rx, ry)


def fold_normalise(prof):
    """(n, 2, bins) profiles -> (n, 2 * bins / 6): folded modulo 60 degrees, each ring summing to 1."""
    n, nring, bins = prof.shape
    folded = prof.reshape(n, nring, 6, bins // 6).sum(axis=2)
    s = folded.sum(axis=2, keepdims=True)
    return np.where(s > 0, folded / np.where(s > 0, s, 1), 0).reshape(n, -1).astype(np.float32)


# ---------------------------------------------------------------------------------------------

def run_timed(cmd, env):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env)
    t = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit("failed (%d): %s" % (r.returncode, " ".join(cmd)))
    return t


def warm_page_cache(path):
    with open(path, "rb") as fh:
        while fh.read(64 << 20):
            pass


def twist_error(o, gt):
    return np.abs(np.mod(np.mod(o, 60) - np.mod(gt, 60) + 30, 60) - 30)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cube", required=True, help="FILE.h5[:/group] of a simulated datacube (default group /datacube_root)")
    ap.add_argument("--bin", default="build/bin", help="folder of tmdflow and tmdflow-mpiexec")
    ap.add_argument("--work", default=None, help="folder for the tmdflow products (default: a temporary one, removed)")
    ap.add_argument("--ranks", type=int, default=2, help="MPI ranks of the tmdflow stages")
    ap.add_argument("--jobs", type=int, default=None, help="processes of the baseline's feature pass (default: --ranks)")
    ap.add_argument("--repeats", type=int, default=3, help="tmdflow runs; the median end-to-end run is reported")
    ap.add_argument("--rows-per-task", type=int, default=4, help="scan rows per baseline feature task")
    ap.add_argument("--foreign-load", type=int, default=0, help="also time both sides beside N busy processes (0: not)")
    a = ap.parse_args()
    jobs = a.jobs or a.ranks
    cube_file, cube_group = split_path(a.cube, "/datacube_root")
    work = a.work or tempfile.mkdtemp(prefix="tmdflow-bench-domains-")
    os.makedirs(work, exist_ok=True)
    feats, doms = os.path.join(work, "features.h5"), os.path.join(work, "domains.h5")
    env = dict(os.environ, TMDFLOW_PROGRESS="off")
    launch = [os.path.join(a.bin, "tmdflow-mpiexec"), str(a.ranks), os.path.join(a.bin, "tmdflow"), "--quiet", "stage"]

    with h5py.File(cube_file, "r") as f:
        rx, ry = f[cube_group.rstrip("/") + "/datacube/data"].shape[:2]
        gt = f[cube_group.rstrip("/") + "/ground_truth"]
        gt_label = gt["label"][()].ravel()
        gt_orient = gt["orientation_deg"][()].ravel().astype(np.float64)
        gt_pol = gt["polarity"][()].ravel()
    warm_page_cache(cube_file)

    # ---- tmdflow: the median of --repeats end-to-end runs (cheap next to the baseline, and noisy) ----
    def time_tmdflow(run_env):
        runs = []
        for _ in range(max(1, a.repeats)):
            for p in (feats, doms):
                if os.path.exists(p):
                    os.remove(p)
            tf = run_timed(launch + ["diffraction-features", "--input", "%s:%s" % (cube_file, cube_group), "--output", feats], run_env)
            td = run_timed(launch + ["domains", "--input", feats, "--output", doms], run_env)
            runs.append((tf + td, tf, td))
        return runs

    runs = time_tmdflow(env)
    t_tmd, t_feat, t_dom = sorted(runs)[len(runs) // 2]
    with h5py.File(doms, "r") as f:
        d = f["domains"]
        t_label = d["label/data"][()].ravel()
        t_orient = d["orientation_deg/data"][()].ravel().astype(np.float64)
        t_pol = d["polarity/data"][()].ravel()
        k = d["nmf/components"].shape[0]
        iterations = len(d["nmf/relative_error"])  # the baseline runs as many NMF iterations
        m = len(d["domain_table/patterns"])
        twist_class = d["domain_table/twist_class"][()]
    with h5py.File(feats, "r") as f:  # tmdflow's own folded features, to check that the baseline computes the same
        x_tmd = fold_normalise(f["diffraction_features/ring_profiles/data"][:, :, :2].reshape(rx * ry, 2, -1))  # {100}, {110}
    t_twist = np.where(t_label >= 0, twist_class[np.clip(t_label, 0, None)], -1)
    nt = len(np.unique(twist_class))

    # ---- baseline (imports are part of a fresh script's cost: done here, untimed, to be fair) ----
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.decomposition import NMF
    from sklearn.metrics import adjusted_rand_score as ari
    from sklearn.exceptions import ConvergenceWarning

    def time_baseline():
        t0 = time.perf_counter()
        x, geo, _ = baseline_features(cube_file, cube_group, jobs, a.rows_per_task)
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            nmf = NMF(n_components=k, init="nndsvda", max_iter=iterations, random_state=0)
            w = nmf.fit_transform(x)
        t2 = time.perf_counter()
        s = w.sum(axis=1, keepdims=True)
        wn = np.where(s > 0, w / np.where(s > 0, s, 1), 0)
        cache = tempfile.mkdtemp(prefix="tmdflow-bench-ward-")
        try:
            # memory= keeps the Ward tree so that the second cut (twist classes, untimed) does not rebuild it;
            # without a connectivity matrix scikit-learn always builds the full tree.
            b_label = AgglomerativeClustering(n_clusters=m, linkage="ward", memory=cache).fit_predict(wn)
            t3 = time.perf_counter()
            b_twist = AgglomerativeClustering(n_clusters=nt, linkage="ward", memory=cache).fit_predict(wn)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        return (t0, t1, t2, t3), x, geo, b_label, b_twist

    (t0, t1, t2, t3), x, geo, b_label, b_twist = time_baseline()
    t_base = t3 - t0

    # ---- a shared machine: the same again beside --foreign-load busy processes ----
    loaded = None
    if a.foreign_load > 0:
        busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(a.foreign_load)]
        try:
            time.sleep(0.5)
            poll_runs = time_tmdflow(env)
            spin_runs = time_tmdflow(dict(env, TMDFLOW_WAIT="spin"))
            (l0, _, _, l3), _, _, _, _ = time_baseline()
        finally:
            for b in busy:
                b.kill()
                b.wait()
        loaded = (sorted(poll_runs)[len(poll_runs) // 2][0], sorted(spin_runs)[len(spin_runs) // 2][0], l3 - l0)
    if a.work is None:
        shutil.rmtree(work, ignore_errors=True)

    # ---- agreement ----
    _, gt_twist = np.unique(np.round(np.mod(gt_orient, 60), 3), return_inverse=True)
    det = t_pol != 0
    pol_acc = float(np.mean(t_pol[det] == gt_pol[det])) if det.any() else float("nan")
    tw_err = twist_error(t_orient[det], gt_orient[det])
    med_err = float(np.median(tw_err)) if det.any() else float("nan")
    ari_tb = ari(t_label, b_label)
    ari_tg = ari(gt_label, t_label)
    ari_bg = ari(gt_label, b_label)
    ari_twist = ari(t_twist, b_twist)
    ari_tgt = ari(gt_twist, t_twist)
    ari_bgt = ari(gt_twist, b_twist)
    ratio = t_base / t_tmd

    n = rx * ry
    print("  %d patterns (%d x %d scan), NMF components K = %d, domains M = %d, twist classes = %d, ground truth: %d domains"
          % (n, rx, ry, k, m, nt, len(np.unique(gt_label))))
    print("  baseline rings at %.2f and %.2f px (disc %.2f px), %d feature process(es)" % (geo["rings"][0], geo["rings"][1], geo["disc"], jobs))
    print("  baseline features vs tmdflow's (folded, normalised): max |difference| %.1e (values up to %.3f)"
          % (float(np.abs(x - x_tmd).max()), float(x_tmd.max())))
    print("  %-64s %9s" % ("time (wall clock, datacube in the page cache)", "seconds"))
    print("  %-64s %9.2f" % ("tmdflow, %d ranks: diffraction-features" % a.ranks, t_feat))
    print("  %-64s %9.2f" % ("tmdflow, %d ranks: domains" % a.ranks, t_dom))
    print("  %-64s %9.2f" % ("tmdflow, end to end (median of %d: %s)" % (len(runs), " ".join("%.2f" % r[0] for r in runs)), t_tmd))
    print("  %-64s %9.2f" % ("baseline: features (h5py + numpy/scipy, %d processes)" % jobs, t1 - t0))
    print("  %-64s %9.2f" % ("baseline: sklearn NMF (K = %d, nndsvda, %d iterations)" % (k, iterations), t2 - t1))
    print("  %-64s %9.2f" % ("baseline: sklearn AgglomerativeClustering (ward, M = %d)" % m, t3 - t2))
    print("  %-64s %9.2f" % ("baseline, end to end", t_base))
    print("  %-64s %9.2f" % ("ratio baseline / tmdflow", ratio))
    print("  %-64s %9s" % ("agreement", "value"))
    print("  %-64s %9.3f" % ("ARI tmdflow labels vs baseline labels (M clusters)", ari_tb))
    print("  %-64s %9.3f" % ("ARI tmdflow labels vs ground truth", ari_tg))
    print("  %-64s %9.3f" % ("ARI baseline labels vs ground truth", ari_bg))
    print("  %-64s %9.3f" % ("ARI tmdflow twist classes vs baseline cut at %d" % nt, ari_twist))
    print("  %-64s %9.3f" % ("ARI tmdflow twist classes vs ground-truth twists", ari_tgt))
    print("  %-64s %9.3f" % ("ARI baseline cut at %d vs ground-truth twists" % nt, ari_bgt))
    print("  %-64s %9.4f" % ("tmdflow polarity accuracy (%d of %d patterns determined)" % (det.sum(), n), pol_acc))
    print("  %-64s %9.3f" % ("tmdflow median twist error [degrees]", med_err))
    print("  comparable domains: ARI(tmdflow twist classes, baseline cut at %d) = %.3f >= %.1f: %s"
          % (nt, ari_twist, ARI_PASS, "PASS" if ari_twist >= ARI_PASS else "FAIL"))
    print("RESULT domains patterns=%d tmdflow_s=%.3f baseline_s=%.3f baseline_features_s=%.3f baseline_nmf_s=%.3f "
          "baseline_ward_s=%.3f ratio=%.3f ari_labels=%.4f ari_twist=%.4f ari_tmdflow_gt=%.4f ari_baseline_gt=%.4f "
          "polarity_accuracy=%.4f median_twist_error_deg=%.4f"
          % (n, t_tmd, t_base, t1 - t0, t2 - t1, t3 - t2, ratio, ari_tb, ari_twist, ari_tg, ari_bg, pol_acc, med_err))
    if loaded:
        lt, ls, lb = loaded
        print("  shared machine: %d foreign busy processes (%d cores)          loaded s   slowdown" % (a.foreign_load, os.cpu_count() or 0))
        print("  %-58s %9.2f %9.2fx" % ("tmdflow, %d ranks (polite waits, the default)" % a.ranks, lt, lt / t_tmd))
        print("  %-58s %9.2f %9.2fx" % ("tmdflow, %d ranks, TMDFLOW_WAIT=spin" % a.ranks, ls, ls / t_tmd))
        print("  %-58s %9.2f %9.2fx" % ("baseline", lb, lb / t_base))
        print("  %-58s %9.2f" % ("ratio baseline / tmdflow under load", lb / lt))
        print("RESULT domains_shared foreign_load=%d tmdflow_loaded_s=%.3f tmdflow_spin_loaded_s=%.3f baseline_loaded_s=%.3f "
              "tmdflow_slowdown=%.3f tmdflow_spin_slowdown=%.3f baseline_slowdown=%.3f loaded_ratio=%.3f"
              % (a.foreign_load, lt, ls, lb, lt / t_tmd, ls / t_tmd, lb / t_base, lb / lt))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
