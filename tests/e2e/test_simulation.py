"""Simulation stages end to end: simulate-4dstem, simulate-adf and make-trainset give bit-identical
products on 1 and 2 ranks for the same seed (and different ones for another seed); the datacube's
calibration and ground truth are consistent with the options; noisy products hold counts of the
requested dose; bad options fail with one clear line and leave no file."""
import os

import h5py
import numpy as np

from tmdtest import check, finish, leftovers, run, run_ok, scratch

tmp = scratch()


def arrays(path, group):
    """Every dataset under group (name -> numpy array)."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.dtype.kind != "O":
                out[name] = obj[()]
        f[group].visititems(visit)
    return out


def same(a, b):
    if a.keys() != b.keys():
        return False
    return all(a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes() for k in a)


# ---- simulate-4dstem: 1 vs 2 ranks (5 rows: uneven shards) ------------------------------------
cube_args = ["--scan", "5,4", "--step-nm", "1.5", "--domains", "3", "--detector-px", "64", "--window-px", "96",
             "--detector-max-mrad", "40", "--convergence-mrad", "4", "--electrons", "2000", "--dtype", "uint16", "--descan", "0.1,0,0,-0.05",
             "--psf-px", "0.7"]
c1 = os.path.join(tmp, "c1.h5")
c2 = os.path.join(tmp, "c2.h5")
c3 = os.path.join(tmp, "c3.h5")
run_ok(["stage", "simulate-4dstem", "--output", c1, "--seed", "7"] + cube_args)
run_ok(["stage", "simulate-4dstem", "--output", c2, "--seed", "7"] + cube_args, ranks=2)
run_ok(["stage", "simulate-4dstem", "--output", c3, "--seed", "8"] + cube_args)
a1, a2, a3 = (arrays(p, "datacube_root") for p in (c1, c2, c3))
check(same(a1, a2), "simulate-4dstem: same seed gives bit-identical products on 1 and 2 ranks")
check(a1["datacube/data"].tobytes() != a3["datacube/data"].tobytes(), "simulate-4dstem: another seed gives other data")
cube = a1["datacube/data"]
check(cube.shape == (5, 4, 64, 64) and cube.dtype == np.uint16, f"datacube shape/dtype {cube.shape} {cube.dtype}")
totals = cube.reshape(20, -1).sum(axis=1)
check(abs(totals.mean() - 2000) < 4 * np.sqrt(2000 / 20) + 40, f"mean counts per pattern {totals.mean():.0f} for 2000 e-")
with h5py.File(c1, "r") as f:
    r = f["datacube_root"]
    q = r["metadatabundle/calibration/Q_pixel_size"][()]
    lam = 0.041757  # 80 kV (Angstrom)
    check(abs(q - (80.0 / 64) * 1e-3 / lam) < 1e-3 * q, f"Q pixel size {q} matches 2*40 mrad / 64 px at 80 kV")
    check(abs(r["metadatabundle/calibration/R_pixel_size"][()] - 1.5) < 1e-12, "R pixel size is the step in nm")
    gt = r["ground_truth"]
    label, orient, pol = gt["label"][()], gt["orientation_deg"][()], gt["polarity"][()]
    phi = dict(zip(gt["structure/domains/id"][()], gt["structure/domains/phi_deg"][()]))
    check(label.shape == (5, 4), "ground-truth label on the scan grid")
    check(all(abs(orient[i, j] - phi[label[i, j]]) < 1e-4 for i in range(5) for j in range(4)),
          "orientation map equals the phi of each position's domain")
    check(np.array_equal(pol, np.where(np.mod(orient, 120) < 60, 1, -1)), "polarity = +1 where phi mod 120 < 60")
    check(np.allclose(gt["twist_deg"][()], np.mod(orient, 60), atol=1e-4), "twist = phi mod 60")
    # Ground-truth domain of each probe: nearest seed (Voronoi), checked independently.
    o, step = gt.attrs["scan_origin_A"], gt.attrs["scan_step_A"]
    cx, cy = gt["structure/domains/centre_x"][()], gt["structure/domains/centre_y"][()]
    ids = gt["structure/domains/id"][()]
    ok = True
    for i in range(5):
        for j in range(4):
            x, y = o + j * step, o + i * step
            ok &= ids[np.argmin((cx - x) ** 2 + (cy - y) ** 2)] == label[i, j]
    check(ok, "labels are the nearest domain seed of each probe position")
    check(len(gt["structure/atoms/Z"]) > 1000, "atoms of the structure recorded")

code, out = run(["validate", c1])
check(code == 0, f"validate simulated datacube: {out}")

# ---- simulate-adf: frames sharded over ranks -------------------------------------------------
adf_args = ["--material", "MoS2", "--layers", "2", "--slip-a", "0.25", "--twist-deg", "0.5", "--size", "96,80",
            "--pixel-A", "0.12", "--frames", "3", "--dose-e-per-A2", "5e4", "--jitter-A", "0.05",
            "--single-vacancy", "0.05", "--contamination", "0.02"]
s1 = os.path.join(tmp, "s1.h5")
s2 = os.path.join(tmp, "s2.h5")
run_ok(["stage", "simulate-adf", "--output", s1, "--seed", "3"] + adf_args)
run_ok(["stage", "simulate-adf", "--output", s2, "--seed", "3"] + adf_args, ranks=2)
b1, b2 = arrays(s1, "adf_root"), arrays(s2, "adf_root")
check(same(b1, b2), "simulate-adf: same seed gives bit-identical products on 1 and 2 ranks")
img = b1["image/data"]
check(img.shape == (3, 96, 80), f"image stack shape {img.shape}")
check(not np.array_equal(img[0], img[1]), "frames carry independent noise")
check(np.all(img == np.round(img)) and img.min() >= 0, "noisy images hold detected-electron counts")
cols_defect = b1["ground_truth/structure/columns/defect"]
check(np.any(cols_defect == 1), "single vacancies labelled in the columns table")
check(np.any(b1["ground_truth/structure/atoms/Z"] == 6), "contamination atoms recorded")
code, out = run(["validate", s1])
check(code == 0, f"validate adf images: {out}")

# ---- make-trainset: 1 vs 2 ranks --------------------------------------------------------------
t1 = os.path.join(tmp, "t1.h5")
t2 = os.path.join(tmp, "t2.h5")
targs = ["--count", "13", "--patch-px", "32", "--seed", "5"]
run_ok(["stage", "make-trainset", "--output", t1] + targs)
run_ok(["stage", "make-trainset", "--output", t2] + targs, ranks=2)
d1, d2 = arrays(t1, "trainset"), arrays(t2, "trainset")
check(same(d1, d2), "make-trainset: same seed gives bit-identical products on 1 and 2 ranks")
check(d1["patches/data"].shape == (13, 32, 32), "13 patches of 32x32")
sa = d1["labels/slip_a"]
check(len(sa) == 13 and sa.min() >= 0 and sa.max() < 1 and len(set(sa)) == 13, "slip labels drawn per patch in [0, 1)")
check(all(np.std(p) > 0 for p in d1["patches/data"]), "every patch has contrast")
code, out = run(["validate", t1])
check(code == 0, f"validate trainset: {out}")

# ---- make-trainset in the canonical frame: orientation from a set, scale jitter, Cartesian labels --
k1 = os.path.join(tmp, "k1.h5")
k2 = os.path.join(tmp, "k2.h5")
kargs = ["--count", "9", "--patch-px", "32", "--layers", "3", "--stacking", "3R", "--phi-set-deg", "30,90",
         "--phi-jitter-deg", "1.5", "--scale-jitter", "0.02", "--dose-range-e-per-A2", "0,0", "--seed", "6"]
run_ok(["stage", "make-trainset", "--output", k1] + kargs)
run_ok(["stage", "make-trainset", "--output", k2] + kargs, ranks=2)
g1, g2 = arrays(k1, "trainset"), arrays(k2, "trainset")
check(same(g1, g2), "make-trainset in the canonical frame: bit-identical on 1 and 2 ranks")
phi, scale = g1["labels/phi_deg"], g1["labels/scale"]
check(np.all(np.minimum(abs(phi - 30), abs(phi - 90)) <= 1.5), f"orientations within 1.5 deg of 30 or 90: {phi}")
check(np.all(abs(scale - 1) <= 0.02) and len(set(scale)) == 9, "scales drawn per patch within 1 +- 0.02")
a1 = np.stack([g1["labels/a1_x_A"], g1["labels/a1_y_A"]], 1)
a2 = np.stack([g1["labels/a2_x_A"], g1["labels/a2_y_A"]], 1)
check(np.allclose(np.hypot(*a1.T), 3.1604 * scale) and np.allclose(np.hypot(*a2.T), 3.1604 * scale), "|a1| = |a2| = scale x a")
# Interface slips as fractions of (a1, a2): interface 0 is (slip_a, slip_b), interface 1 the difference of the layers'.
for suffix, fa, fb in [("", g1["labels/slip_a"], g1["labels/slip_b"]),
                       ("_1", g1["labels/slip_a2"] - g1["labels/slip_a"], g1["labels/slip_b2"] - g1["labels/slip_b"])]:
    xy = np.stack([g1["labels/slip_x_A" + suffix], g1["labels/slip_y_A" + suffix]], 1)
    check(np.allclose(xy, fa[:, None] * a1 + fb[:, None] * a2), f"slip_x_A{suffix}, slip_y_A{suffix} = fractions x (a1, a2)")
with h5py.File(k1, "r") as f:
    at = f["trainset"].attrs
    check(list(at["phi_set_deg"]) == [30, 90] and at["scale_jitter"] == 0.02, "the canonical-frame options recorded")
code, out = run(["validate", k1])
check(code == 0, f"validate canonical trainset: {out}")

# ---- make-trainset of 1T'' trilayers at the published ReS2 conditions, with PSNR, holes and drift ----
r1 = os.path.join(tmp, "r1.h5")
r2 = os.path.join(tmp, "r2.h5")
rargs = ["--count", "7", "--patch-px", "40", "--material", "ReS2", "--layers", "3", "--pixel-A", "0.12", "--voltage-kV", "300",
         "--convergence-mrad", "21.3", "--inner-mrad", "39", "--outer-mrad", "200", "--defocus-range-A", "30,40",
         "--source-size-range-A", "0.25,0.26", "--phi-set-deg", "0,180", "--phi-jitter-deg", "1.5", "--scale-jitter", "0.02",
         "--twist-range-deg", "0,0", "--vacancy-range", "0,0.1", "--psnr-range-dB", "7,25", "--holes-range", "0.05,0.1",
         "--drift-range-A", "0,0.5", "--seed", "8"]
run_ok(["stage", "make-trainset", "--output", r1] + rargs)
run_ok(["stage", "make-trainset", "--output", r2] + rargs, ranks=2)
q1, q2 = arrays(r1, "trainset"), arrays(r2, "trainset")
check(same(q1, q2), "make-trainset of ReS2 trilayers with PSNR, holes and drift: bit-identical on 1 and 2 ranks")
rot, psnr = q1["labels/rotation_deg"], q1["labels/psnr_dB"]
check(np.all(np.minimum(abs(rot), abs(rot - 180)) <= 1.5), f"1T'' rotations within 1.5 deg of 0 or 180: {rot}")
check(np.all((psnr > 6) & (psnr < 26)), f"measured PSNRs in the requested 7-25 dB (+-1): {psnr}")
check(np.all((q1["labels/holes"] > 0.03) & (q1["labels/holes"] < 0.12)), f"hole fractions drawn: {q1['labels/holes']}")
check(np.all(np.hypot(q1["labels/drift_x_A"], q1["labels/drift_y_A"]) <= 0.5), "drift lengths within the range")
check(np.any(q1["labels/slip_x_A_1"] != 0), "trilayers carry interface-1 slips")
with h5py.File(r1, "r") as f:
    check(f["trainset"].attrs["stacking"] == "AA", "1T'' sets record the AA registry")
code, out = run(["validate", r1])
check(code == 0, f"validate 1T'' trainset: {out}")
# The published MoS2 conditions (60 kV, 31.5 mrad, ADF 49.5-198 mrad, 0.06 A/px) are accepted too.
run_ok(["stage", "make-trainset", "--output", os.path.join(tmp, "mos2.h5"), "--count", "2", "--patch-px", "32", "--pixel-A", "0.06",
        "--voltage-kV", "60", "--convergence-mrad", "31.5", "--inner-mrad", "49.5", "--outer-mrad", "198",
        "--phi-set-deg", "30,90", "--twist-range-deg", "0,10"])

# ---- simulate-adf of a ReS2 bilayer: both layers in the ground truth, AA registry by default ------
a1 = os.path.join(tmp, "res2.h5")
run_ok(["stage", "simulate-adf", "--output", a1, "--material", "ReS2", "--layers", "2", "--slip-a", "0.3", "--slip-b", "0.1",
        "--size", "48,48", "--pixel-A", "0.12", "--voltage-kV", "300", "--convergence-mrad", "21.3", "--inner-mrad", "39",
        "--phi-deg", "0", "--single-vacancy", "0.1"])
with h5py.File(a1, "r") as f:
    st = f["adf_root/ground_truth/structure"]
    desc = st.attrs["description"]
    check(desc.startswith("ReS2 bilayer AA rotation=0 slip=(0.3,0.1)"), f"description of a 1T'' bilayer: {desc!r}")
    check(set(st["atoms/layer"][()]) == {0, 1}, "atoms of both layers recorded")
    check(np.any(st["columns/defect"][()] == 1), "vacancies in a 1T'' stack")

# ---- make-trainset --heatmap-sigma-A: column heat maps on the columns the image shows ----------
h1 = os.path.join(tmp, "h1.h5")
h2 = os.path.join(tmp, "h2.h5")
hargs = ["--count", "6", "--patch-px", "48", "--layers", "1", "--vacancy-range", "0.05,0.1", "--dose-range-e-per-A2", "0,0",
         "--jitter-range-A", "0.05,0.1", "--contamination-range", "0,0", "--heatmap-sigma-A", "0.4", "--seed", "9"]
run_ok(["stage", "make-trainset", "--output", h1] + hargs)
run_ok(["stage", "make-trainset", "--output", h2] + hargs, ranks=2)
e1, e2 = arrays(h1, "trainset"), arrays(h2, "trainset")
check(same(e1, e2), "make-trainset with heat maps: bit-identical on 1 and 2 ranks")
img, heat = e1["patches/data"], e1["targets/data"]
check(heat.shape == (6, 2, 48, 48), f"targets (N, 2, P, P), found {heat.shape}")
check(abs(heat.max() - 1) < 0.05, f"a full column peaks at 1, found max {heat.max()}")
# Every clear metal peak of the heat map is a local maximum of the noise-free image within 1 px
# (the map follows the jittered scan), and the image correlates with the maps.
hits = total = 0
for k in range(6):
    m = heat[k, 0]
    for i in range(2, 46):
        for j in range(2, 46):
            if m[i, j] > 0.9 and m[i, j] == m[i - 1:i + 2, j - 1:j + 2].max():
                total += 1
                w = img[k, i - 2:i + 3, j - 2:j + 3]
                ii, jj = np.unravel_index(np.argmax(w), w.shape)
                hits += abs(ii - 2) <= 1 and abs(jj - 2) <= 1
    c = np.corrcoef(img[k].ravel(), (heat[k, 0] + 0.5 * heat[k, 1]).ravel())[0, 1]
    check(c > 0.7, f"patch {k}: image and heat maps correlate ({c:.2f})")
check(total > 30 and hits >= 0.95 * total, f"metal heat-map peaks on image maxima: {hits}/{total}")
# Vacancies: some chalcogen columns are half full (peak 0.5) next to full ones (peak 1).
s_peaks = heat[:, 1][heat[:, 1] == np.maximum.reduce([np.roll(heat[:, 1], d, a) for d in (-1, 0, 1) for a in (1, 2)])]
check(((s_peaks > 0.4) & (s_peaks < 0.6)).any() and (s_peaks > 0.9).any(), "chalcogen maps weight columns by occupancy")
code, out = run(["validate", h1])
check(code == 0, f"validate trainset with targets: {out}")

# ---- make-trainset --material A,B: the compound drawn per patch, named by material_index -------
m1 = os.path.join(tmp, "m1.h5")
run_ok(["stage", "make-trainset", "--output", m1, "--count", "24", "--patch-px", "32", "--layers", "1", "--material", "MoS2,WSe2",
        "--dose-range-e-per-A2", "0,0", "--vacancy-range", "0,0", "--contamination-range", "0,0"], ranks=2)
md = arrays(m1, "trainset")
mi = md["labels/material_index"]
with h5py.File(m1, "r") as f:
    names = f["trainset"].attrs["materials"]
check(names == "MoS2,WSe2", f"materials attribute lists the compounds, found {names!r}")
check(set(mi) == {0.0, 1.0}, f"both compounds drawn, found {sorted(set(mi))}")
# W (Z = 74) and Se (34) scatter far more than Mo (42) and S (16): WSe2 patches are brighter.
mean = md["patches/data"].mean(axis=(1, 2))
check(mean[mi == 1].min() > mean[mi == 0].max(), "every WSe2 patch is brighter than every MoS2 patch")

# ---- errors: one line, non-zero, no file left -------------------------------------------------
bad = os.path.join(tmp, "bad.h5")
for args, needle in [
    (["stage", "simulate-4dstem", "--output", bad, "--detector-px", "128", "--window-px", "128"], "window-px"),
    (["stage", "simulate-4dstem", "--output", bad, "--material", "Unobtainium"], "material"),
    (["stage", "simulate-adf", "--output", bad, "--pixel-A", "0.5"], "pixel-A"),
    (["stage", "simulate-adf", "--output", bad, "--alloy-metal", "W:1.5"], "alloy-metal"),
    (["stage", "simulate-adf", "--output", bad, "--crystal", "1T''", "--material", "ReS2", "--alloy-metal", "W:0.1"], "alloy-metal"),
    (["stage", "simulate-adf", "--output", bad, "--crystal", "polycrystal", "--twist-deg", "2"], "twist-deg"),
    (["stage", "make-trainset", "--output", bad, "--slip-range", "1,0"], "slip-range"),
    (["stage", "make-trainset", "--output", bad, "--heatmap-sigma-A", "-1"], "heatmap-sigma-A"),
    (["stage", "make-trainset", "--output", bad, "--scale-jitter", "0.9"], "scale-jitter"),
    (["stage", "make-trainset", "--output", bad, "--material", "MoS2,ReS2"], "material"),
    (["stage", "make-trainset", "--output", bad, "--material", "ReS2", "--stacking", "2H"], "stacking"),
    (["stage", "make-trainset", "--output", bad, "--psnr-range-dB", "7,20", "--psnr-noise", "white"], "psnr-noise"),
    (["stage", "simulate-adf", "--output", bad, "--material", "ReS2", "--layers", "2", "--stacking", "3R"], "stacking"),
    (["stage", "make-trainset", "--output", bad, "--phi-set-deg", "30,x"], "phi-set-deg"),
]:
    code, out = run(args, ranks=2)
    lines = [l for l in out.splitlines() if "error" in l.lower()]
    check(code != 0 and needle in out, f"{args[1]} with bad {needle}: exit {code}, output {out!r}")
    check(len(lines) == 1, f"{args[1]} with bad {needle}: exactly one error line, found {lines}")
    check(not os.path.exists(bad), f"no output file after a bad {needle}")
check(not leftovers(tmp), "no temporary files left")
finish(tmp)
