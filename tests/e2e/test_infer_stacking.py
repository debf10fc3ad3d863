"""Stage infer-stacking end to end, against ground truth from the simulation engine: a small ReS2
bilayer slip model is trained in the test (make-trainset -> train-stacking), then an image made of two
simulated bilayers with different slips side by side (a planted stacking boundary) is ingested and
mapped: the physics-refined windows on each side give the planted slip, the boundary windows lie on
the seam, the whole-image estimate is the slip of the larger side, the product validates, 2 ranks
give what 1 rank gives, and bad requests (no calibration, a wrong calibration, the wrong material,
a window larger than the image) fail with one line and leave nothing behind."""
import os

import h5py
import numpy as np

from tmdtest import SOURCE, check, finish, leftovers, run, run_ok, scratch

tmp = scratch()
data = os.path.join(tmp, "train.h5")
P = 0.2  # A per pixel (coarser than the published 0.12 A: a test-sized model)
cond = ["--voltage-kV", "300", "--convergence-mrad", "21.3"]
det = ["--inner-mrad", "39", "--outer-mrad", "200"]

# ---- a tiny model: 48-px windows (9.6 A) of noise-free ReS2 bilayers in the canonical frame ----
run_ok(["stage", "make-trainset", "--output", data + ":/trainset", "--material", "ReS2", "--layers", "2", "--count", "600",
        "--patch-px", "48", "--pixel-A", str(P), "--phi-set-deg", "0,180", "--phi-jitter-deg", "1", "--dose-range-e-per-A2", "0,0",
        "--vacancy-range", "0,0", "--contamination-range", "0,0", "--jitter-range-A", "0,0", "--twist-range-deg", "0,0", "--seed", "4"] + cond + det, timeout=300)
models = os.path.join(tmp, "models")
run_ok(["stage", "train-stacking", "--input", data + ":/trainset", "--output", data + ":/log", "--task", "slip",
        "--network-params", "layout=18,width=8,head=32,stem=small", "--epochs", "3", "--batch", "32",
        "--learning-rate", "0.003", "--model-name", "res2-tiny", "--model-dir", os.path.join(models, "res2-tiny"), "--figures", os.path.join(tmp, "figures")],
       timeout=600)
model = os.path.join(models, "res2-tiny")

# ---- the test image: slip A on the left 5/8 of the field, slip B on the right 3/8 --------------
A, B = (0.20, 0.35), (0.40, -0.10)  # fractions of a1, a2
size = 360
halves = []
for k, (sa, sb) in enumerate((A, B)):
    out = os.path.join(tmp, f"sim{k}.h5")
    run_ok(["stage", "simulate-adf", "--output", out, "--crystal", "stack", "--material", "ReS2", "--layers", "2",
            "--slip-a", str(sa), "--slip-b", str(sb), "--phi-deg", "17", "--size", f"{size},{size}", "--pixel-A", str(P),
            "--dose-e-per-A2", "2e5", "--seed", str(11 + k)] + cond + det)
    with h5py.File(out, "r") as f:
        halves.append(f["adf_root/image/data"][0].astype(np.float32))
seam = size * 5 // 8
img = np.concatenate([halves[0][:, :seam], halves[1][:, seam:]], axis=1)
npy = os.path.join(tmp, "seam.npy")
np.save(npy, img)
stack = os.path.join(tmp, "stack.h5")
run_ok(["stage", "ingest", "--input", npy, "--output", stack, "--pixel-size-A", str(P)])

# The truth in the image frame: the builder's slip vector with the bottom cell turned by 17 degrees.
import math
a1c = np.array([6.352, 0.0])
g = math.radians(180 - 118.97)
a2c = 6.446 * np.array([math.cos(g), math.sin(g)])
rot = math.radians(17)
R = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
truth = {k: R @ (s[0] * a1c + s[1] * a2c) for k, s in (("A", A), ("B", B))}


def same_slip(v, t, tol):
    """v, t: 2-vectors in A; equal up to sign and lattice translations of the turned cell."""
    best = 1e9
    for sg in (1, -1):
        for i in range(-2, 3):
            for j in range(-2, 3):
                d = sg * np.asarray(v) - (t + R @ (i * a1c + j * a2c))
                best = min(best, float(np.hypot(*d)))
    return best <= tol, best


out1 = os.path.join(tmp, "stacking.h5")
args = ["stage", "infer-stacking", "--input", stack, "--output", out1, "--model", model, "--material", "ReS2", "--layers", "2",
        "--window-nm", "2.0", "--stride-nm", "0.6", "--refine", "all", "--figures", os.path.join(tmp, "figures")]
run_ok(args, timeout=600)
run_ok(["validate", out1])
with h5py.File(out1, "r") as f:
    s = f["stacking"]
    rows, cols = s["maps/center_row_px"][()], s["maps/center_col_px"][()]
    mx, my = s["maps/slip_x_A"][0, 0], s["maps/slip_y_A"][0, 0]
    boundary = s["maps/boundary"][0]
    conf = s["maps/confidence"][0]
    whole = (s["slip_x_A"][0, 0], s["slip_y_A"][0, 0])
    a1_A = s["a1_A"][0]
    scale = s["lattice_scale"][0]
check(abs(scale - 1) < 0.02, f"the lattice constant matches the calibration: scale {scale}")
check(abs(np.hypot(*a1_A) - 6.352) < 0.1, f"|a1| found = {np.hypot(*a1_A):.3f} A (6.352)")
half_window = 2.0 * 10 / P / 2
left = [j for j, c in enumerate(cols) if c + half_window < seam - 2]
right = [j for j, c in enumerate(cols) if c - half_window > seam + 2]
check(left and right, f"windows on both sides of the seam: {cols}")
for side, js, key in (("left", left, "A"), ("right", right, "B")):
    errs = [same_slip((mx[i, j], my[i, j]), truth[key], 1.0)[1] for i in range(len(rows)) for j in js]
    check(np.median(errs) < 0.08, f"{side}: refined windows give the planted slip: median error {np.median(errs):.3f} A, {np.round(errs, 3)}")
ok, err = same_slip(whole, truth["A"], 0.08)
check(ok, f"the whole-image slip is the larger side's: {whole} vs {truth['A']} (error {err:.3f} A)")
seam_cols = [j for j, c in enumerate(cols) if abs(c - seam) < half_window]
far = [j for j in left + right if min(abs(cols[j] - seam), 1e9) > 2 * half_window]
check(boundary[:, seam_cols].mean() > 0.5, f"boundary windows lie on the seam: {boundary[:, seam_cols].mean():.2f}")
check(boundary[:, far].mean() < 0.2, f"and not far from it: {boundary[:, far].mean():.2f}")
check(np.median(conf[:, left + right]) > 0.3, f"confident away from the seam: {np.median(conf[:, left + right]):.2f}")
for name in ("stacking_stacking_maps.png", "stacking_stacking_model.png"):
    check(os.path.exists(os.path.join(tmp, "figures", name)), f"figure {name} written")

# Into the file that holds its input (as a workflow's ingest and stacking steps share one output file).
run_ok(["stage", "infer-stacking", "--input", stack + ":/image_stack", "--output", stack + ":/stacking", "--model", model, "--material", "ReS2",
        "--layers", "2", "--window-nm", "2.0", "--stride-nm", "1.2", "--refine", "off", "--figures", os.path.join(tmp, "figures")], timeout=600)
check("valid" in run_ok(["validate", stack]), "the image stack and the stacking product share a file")

# 2 ranks: the same product.
out2 = os.path.join(tmp, "stacking2.h5")
args2 = [a if a != out1 else out2 for a in args]
args2[args2.index("--figures") + 1] = "none"  # no figures, and no folder named "none"
run_ok(args2, ranks=2, timeout=600, cwd=tmp)
check(not os.path.exists(os.path.join(tmp, "none")) and not os.path.exists(os.path.join(tmp, "figures", "stacking2_stacking_maps.png")),
      "--figures none writes no figure")
with h5py.File(out1, "r") as f1, h5py.File(out2, "r") as f2:
    # The network runs with other thread counts per rank (float sums in another order), so the fits
    # start from starts equal to ~1e-6: they end within a few thousandths of an Angstrom.
    for key in ("maps/slip_x_A", "maps/slip_y_A", "slip_x_A", "slip_y_A"):
        d = np.nanmax(np.abs(f1["stacking"][key][()] - f2["stacking"][key][()]))
        check(d < 5e-3, f"{key}: 2 ranks == 1 rank (largest difference {d:.2g} A)")
    check((f1["stacking/maps/boundary"][()] == f2["stacking/maps/boundary"][()]).mean() > 0.95, "boundaries: 2 ranks == 1 rank")

# ---- a stacking campaign: workflows/stacking.ini over a folder through `tmdflow campaign`, reduced
# onto the landscape by the campaign's stacking reduction (campaign_stacking/1) ------------------
folder = os.path.join(tmp, "archive")
os.makedirs(folder)
np.save(os.path.join(folder, "seam.npy"), img)
np.save(os.path.join(folder, "left.npy"), halves[0][:, :240])
camp = os.path.join(tmp, "campaign")
run_ok(["campaign", "plan", camp, "--workflow", os.path.join(SOURCE, "workflows", "stacking.ini"), "--inputs", folder,
        "--set", f"workflow.model={model}", "--set", f"workflow.pixel_size_A={P}", "--set", "workflow.window_nm=2.0",
        "--set", "workflow.stride_nm=1.2", "--set", "workflow.refine=off"])
run_ok(["campaign", "run", camp], timeout=600)
run_ok(["campaign", "reduce", camp, "--require-all"])
reduced = os.path.join(camp, "campaign", "campaign.h5")
run_ok(["validate", reduced])
with h5py.File(reduced, "r") as f:
    s = f["stacking"]
    keys = [k.decode() if isinstance(k, bytes) else k for k in s["images/input_key"][()]]
    check(sorted(keys) == ["left.npy", "seam.npy"], f"one image per input: {keys}")
    windows = int(s.attrs["windows_kept"] + s.attrs["windows_low_confidence"] + s.attrs["windows_missing"])
    per_input, confident = 0, 0
    for k in keys:
        product = [os.path.join(r, n) for r, _, ns in os.walk(os.path.join(camp, "products")) for n in ns if n == k.split(".")[0] + ".h5"]
        check(len(product) == 1, f"{k}: its product {product}")
        with h5py.File(product[0], "r") as p:
            per_input += p["stacking/maps/slip_a"][0, 0].size
            c = p["stacking/maps/confidence"][()]
            confident += int(np.sum(np.isfinite(c) & (c >= s.attrs["min_confidence"]) & np.isfinite(p["stacking/maps/slip_a"][0, 0])))
    check(windows == per_input, f"every window of the inputs' products is counted once: {windows} vs {per_input}")
    # The tiny model's windows (3 epochs, refinement off) may all fall below the confidence bar on
    # some CPUs: the count of kept windows must be the products' own, and the basins must hold them.
    check(s.attrs["windows_kept"] == confident, f"kept windows {s.attrs['windows_kept']}, the products' windows of confidence >= the bar {confident}")
    fractions_ok = abs(s["basins/fraction"][()].sum() - 1) < 1e-9 if confident else not np.any(s["basins/fraction"][()] > 0)
    check(abs(s["basins/count"][()].sum() - s.attrs["windows_kept"]) < 1e-9 and fractions_ok,
          f"every kept window is in a basin: {s['basins/count'][()]}, kept {s.attrs['windows_kept']}")
check(os.path.exists(os.path.join(camp, "campaign", "figures", "stacking_campaign_landscape.png")), "the campaign's landscape figure")

# ---- bad requests --------------------------------------------------------------------------
before = set(os.listdir(tmp))
raw = os.path.join(tmp, "raw.h5")
run_ok(["stage", "ingest", "--input", npy, "--output", raw])  # no calibration
for extra, inp, words in (
    ([], raw, "calibrat"),
    (["--material", "MoS2"], stack, "ReS2"),
    (["--window-nm", "8"], stack, "larger than the images"),
):
    bad = os.path.join(tmp, "bad.h5")
    code, out = run(["stage", "infer-stacking", "--input", inp, "--output", bad, "--model", model] + extra)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    check(code != 0 and words in out, f"{extra or 'uncalibrated'}: fails naming '{words}': exit {code}, {last}")
    check(not os.path.exists(bad), "no partial output")
wrong = os.path.join(tmp, "wrong.h5")
run_ok(["stage", "ingest", "--input", npy, "--output", wrong, "--pixel-size-A", "0.3"])  # 50 % off
code, out = run(["stage", "infer-stacking", "--input", wrong, "--output", os.path.join(tmp, "bad.h5"), "--model", model])
check(code != 0 and "pixel" in out, f"a wrong calibration is refused, naming the pixel size: exit {code}, {out.strip()[-300:]}")
finish(tmp)
