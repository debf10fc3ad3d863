"""The models tmdflow ships (models/): `tmdflow models` lists them verified, and each does its task.

res2-bilayer-slip (workflows/train_stacking.ini) reads the interlayer slip of ReS2 bilayers that
simulate-adf makes at the published conditions (0.12 A per pixel, turned at random; the model works at
0.2 A in the canonical frame): with the physics refinement to a few hundredths of an Angstrom; on TED-Gen's own clean simulation of a bilayer (sim_1.0_1.0, another
simulation code) to within 0.1 A.

columns-mx2-v1 (workflows/train_columns.ini) is measured against ground truth on images it never saw,
made by simulate-adf (not make-trainset's patches) at another pixel size (0.1 A; the model works at
0.2 A, so predict resamples): every metal and chalcogen column is found within 0.5 A, few peaks are
spurious. On a real HAADF image of monolayer MoSe2 (motif-learn; pixel size 0.080 A from its lattice
period) the two maps are two interleaved triangular lattices of MoSe2's lattice constant."""
import json
import os

import h5py
import numpy as np

from tmdtest import SHARED, SOURCE, check, finish, run, run_ok, scratch

tmp = scratch()
MODEL = "columns-mx2-v1"


def peaks(m, threshold):
    """Local maxima (5 x 5) above threshold: (rows, cols)."""
    from numpy.lib.stride_tricks import sliding_window_view
    w = sliding_window_view(np.pad(m, 2, mode="constant", constant_values=-np.inf), (5, 5)).max(axis=(2, 3))
    return np.nonzero((m == w) & (m > threshold))


code, out = run(["models"])
check(code == 0 and MODEL in out and "MISMATCH" not in out, f"tmdflow models lists {MODEL}, verified: {out}")

# ---- simulated images with ground truth ---------------------------------------------------------
for material, dose in [("WS2", 1e5), ("MoSe2", 3e4)]:
    sim, npy, stack, pred = (os.path.join(tmp, f"{material}.{e}") for e in ("sim.h5", "npy", "stack.h5", "pred.h5"))
    run_ok(["stage", "simulate-adf", "--output", sim, "--material", material, "--size", "256,256", "--pixel-A", "0.1",
            "--dose-e-per-A2", str(dose), "--single-vacancy", "0.05", "--seed", "4"])
    with h5py.File(sim, "r") as f:
        g = f["adf_root"]
        np.save(npy, g["image/data"][()].astype(np.float32))
        gt = g["ground_truth"]
        px = gt.attrs["pixel_A"]
        cols = gt["structure/columns"]
        cx = (cols["x"][()] - gt.attrs["image_origin_x_A"]) / px
        cy = (cols["y"][()] - gt.attrs["image_origin_y_A"]) / px
        occupancy = cols["occupancy"][()]
        atoms = gt["structure/atoms"]
        sublattice = np.full(len(cx), -1)
        owner = atoms["column"][()]
        sublattice[owner[owner >= 0]] = atoms["sublattice"][()][owner >= 0]
    run_ok(["stage", "ingest", "--input", npy, "--output", stack, "--pixel-size-A", "0.1"])
    run_ok(["stage", "predict", "--input", stack, "--model", MODEL, "--output", pred, "--figures", tmp], ranks=2)
    with h5py.File(pred, "r") as f:
        maps = [f["predictions/maps/map_0"][0], f["predictions/maps/map_1"][0]]
    for channel, name in ((0, "metal"), (1, "chalcogen")):
        ii, jj = peaks(maps[channel], 0.3)
        inner = lambda x, y: (x > 4) & (x < 251) & (y > 4) & (y < 251)
        truth = inner(cx, cy) & (sublattice == channel) & (occupancy > 0)
        tx, ty = cx[truth], cy[truth]
        d = np.hypot(tx[:, None] - jj[None, :], ty[:, None] - ii[None, :])
        recall = (d.min(axis=1) < 5).mean()
        precision = (d[:, inner(jj, ii)].min(axis=0) < 5).mean()
        error = d.min(axis=1)[d.min(axis=1) < 5].mean() * px
        check(recall >= 0.95 and precision >= 0.85 and error < 0.15,
              f"{material} {name} columns: recall {recall:.3f} (>= 0.95), precision {precision:.3f} (>= 0.85), "
              f"mean position error {error:.3f} A (< 0.15) over {truth.sum()} columns")

# ---- a real image: motif-learn's MoSe2 monolayer ------------------------------------------------
real = os.path.join(SHARED, "stem-images", "motif_MoSe2_monolayer_80K_small_region.tif")
stack, pred = os.path.join(tmp, "real.h5"), os.path.join(tmp, "real_pred.h5")
run_ok(["stage", "ingest", "--input", real, "--output", stack, "--pixel-size-A", "0.080"])
run_ok(["stage", "predict", "--input", stack, "--model", MODEL, "--output", pred, "--figures", tmp], ranks=2)
with h5py.File(pred, "r") as f:
    maps = [f["predictions/maps/map_0"][0], f["predictions/maps/map_1"][0]]
found = [np.stack(peaks(m, 0.3), axis=1) * 0.080 for m in maps]  # (row, col) in A
check(len(found[0]) > 100 and 0.8 < len(found[1]) / len(found[0]) < 1.25,
      f"as many chalcogen as metal columns: {len(found[1])} vs {len(found[0])}")
for k, name in ((0, "metal"), (1, "chalcogen")):
    d = np.hypot(*(found[k][:, None, :] - found[k][None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    nn = np.median(d.min(axis=1))
    check(abs(nn - 3.29) < 0.2, f"{name} columns on a lattice of MoSe2's a = 3.29 A: nearest neighbours {nn:.2f} A")
cross = np.hypot(*(found[0][:, None, :] - found[1][None, :, :]).transpose(2, 0, 1)).min(axis=1)
check(abs(np.median(cross) - 3.29 / np.sqrt(3)) < 0.2, f"each metal column a/sqrt(3) from a chalcogen column: {np.median(cross):.2f} A")
# ---- res2-bilayer-slip: slips of simulated ReS2 bilayers and of a TED-Gen simulation ------------
import math
A1C, G = np.array([6.352, 0.0]), math.radians(180 - 118.97)
A2C = 6.446 * np.array([math.cos(G), math.sin(G)])


def slip_error(v, t, rot):
    R = np.array([[math.cos(rot), -math.sin(rot)], [math.sin(rot), math.cos(rot)]])
    a1, a2 = R @ A1C, R @ A2C
    return min(float(np.hypot(*(np.asarray(v) - sg * t - i * a1 - j * a2))) for sg in (1, -1) for i in range(-2, 3) for j in range(-2, 3))


cases = [((0.15, 0.30), 23.0), ((0.42, 0.71), 131.0), ((0.05, 0.55), 250.0)]
truths = []
folder = os.path.join(tmp, "res2")
os.makedirs(folder)
for k, ((fa, fb), rot) in enumerate(cases):
    sim = os.path.join(tmp, f"res2_{k}.h5")
    run_ok(["stage", "simulate-adf", "--output", sim, "--crystal", "stack", "--material", "ReS2", "--layers", "2", "--slip-a", str(fa),
            "--slip-b", str(fb), "--phi-deg", str(rot), "--size", "300,300", "--pixel-A", "0.12", "--voltage-kV", "300",
            "--convergence-mrad", "21.3", "--inner-mrad", "39", "--outer-mrad", "200", "--C1-A", "35", "--source-size-A", "0.255",
            "--dose-e-per-A2", "1e5", "--seed", str(20 + k)])
    with h5py.File(sim, "r") as f:
        np.save(os.path.join(folder, f"case{k}.npy"), f["adf_root/image/data"][0].astype(np.float32))
    r = math.radians(rot)
    truths.append((np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]]) @ (fa * A1C + fb * A2C), r))
stack = os.path.join(tmp, "res2_stack.h5")
run_ok(["stage", "ingest", "--input", folder, "--output", stack, "--pixel-size-A", "0.12"])
out = os.path.join(tmp, "res2_slip.h5")
run_ok(["stage", "infer-stacking", "--input", stack, "--output", out, "--model", "res2-bilayer-slip", "--material", "ReS2",
        "--stride-nm", "1", "--figures", os.path.join(tmp, "figures")], timeout=600)
with h5py.File(out, "r") as f:
    s = f["stacking"]
    refined = [slip_error((s["slip_x_A"][k, 0], s["slip_y_A"][k, 0]), t, r) for k, (t, r) in enumerate(truths)]
    network = [slip_error((s["network/slip_x_A"][k, 0], s["network/slip_y_A"][k, 0]), t, r) for k, (t, r) in enumerate(truths)]
# The network alone (network/slip_*) is reported, not checked: v1 was trained on patches whose lattice
# origin sits at the patch centre, so it is weak on windows cut anywhere (data_schema/stacking.md);
# the refinement's search over the cell makes the answer right regardless.
print(f"res2-bilayer-slip alone: slip errors {np.round(network, 3)} A")
check(max(refined) < 0.06, f"with the physics refinement: {np.round(refined, 3)} A (< 0.06)")

# res2-bilayer-slip-v2 (patches translated at random and re-centred on their lattice anchor; infer-stacking
# re-centres every window the same way): the network alone reads windows cut anywhere, no refinement.
out = os.path.join(tmp, "res2_slip_v2.h5")
run_ok(["stage", "infer-stacking", "--input", stack, "--output", out, "--model", "res2-bilayer-slip-v2", "--material", "ReS2",
        "--stride-nm", "1", "--refine", "off", "--figures", "none"], timeout=600)
with h5py.File(out, "r") as f:
    s = f["stacking"]
    alone = [slip_error((s["slip_x_A"][k, 0], s["slip_y_A"][k, 0]), t, r) for k, (t, r) in enumerate(truths)]
check(max(alone) < 0.08, f"res2-bilayer-slip-v2 alone, windows cut anywhere: {np.round(alone, 3)} A (< 0.08; v1 alone: {np.round(network, 3)})")

stem = "1.0_1.0_0_0_35.0_0.6_1266"
tg = os.path.join(tmp, "tedgen.h5")
run_ok(["stage", "ingest", "--input", os.path.join(SHARED, "stem-images", "tedgen_drit", f"sim_{stem}.png"), "--output", tg,
        "--pixel-size-A", "0.034089"])
out = os.path.join(tmp, "tedgen_slip.h5")
run_ok(["stage", "infer-stacking", "--input", tg, "--output", out, "--model", "res2-bilayer-slip", "--material", "ReS2",
        "--stride-nm", "0.5", "--figures", os.path.join(tmp, "figures")], timeout=600)
with h5py.File(out, "r") as f:
    xy = (f["stacking/slip_x_A"][0, 0], f["stacking/slip_y_A"][0, 0])
e = slip_error(xy, np.array([1.0, 1.0]), 0.0)
check(e < 0.1, f"TED-Gen's simulation with slip (1.0, 1.0) A: found ({xy[0]:.3f}, {xy[1]:.3f}), error {e:.3f} A (< 0.1)")


# ---- the other stacking models: whole simulated images, the refined slip against the truth --------
def basis(material, phi, model):
    """build_stack's bottom a1, a2 in the image frame (MX2: phi modulo 120, a1 at phi - 30; 1T'': the
    canonical cell of the model's manifest turned by phi)."""
    if material in ("ReS2", "ReSe2"):
        out = json.load(open(os.path.join(SOURCE, "models", model, "manifest.json")))["output"]
        out = json.loads(out) if isinstance(out, str) else out
        r = math.radians(phi)
        R = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
        return R @ np.array(out["a1c_A"]), R @ np.array(out["a2c_A"])
    a, p = 3.1604, phi % 120
    return (a * np.array([math.cos(math.radians(p - 30)), math.sin(math.radians(p - 30))]),
            a * np.array([math.cos(math.radians(p + 30)), math.sin(math.radians(p + 30))]))


def stacking_case(model, material, layers, stacking, cond, pixel, cases, tolerance):
    """Each case (slip_a, slip_b, phi): one simulated image (every upper layer slipped by the same
    fractions, so a trilayer's interfaces are (D, 0)); the refined whole-image slips must be the truth
    up to the stack's equivalents: +-D (bilayers), the six orders of a trilayer's layers and the
    finder's 180-degree turn (1T'') -- data_schema/stacking.md, 'Label symmetry'."""
    folder = os.path.join(tmp, model)
    os.makedirs(folder)
    truths = []
    for k, (fa, fb, phi) in enumerate(cases):
        sim = os.path.join(tmp, f"{model}_{k}.h5")
        run_ok(["stage", "simulate-adf", "--output", sim, "--crystal", "stack", "--material", material, "--layers", str(layers),
                "--stacking", stacking, "--slip-a", str(fa), "--slip-b", str(fb), "--phi-deg", str(phi), "--size", "300,300",
                "--pixel-A", str(pixel), "--dose-e-per-A2", "1e5", "--seed", str(40 + k)] + cond)
        with h5py.File(sim, "r") as f:
            np.save(os.path.join(folder, f"case{k}.npy"), f["adf_root/image/data"][0].astype(np.float32))
        a1, a2 = basis(material, phi, model)
        truths.append((fa * a1 + fb * a2, a1, a2))
    stack = os.path.join(tmp, f"{model}_stack.h5")
    run_ok(["stage", "ingest", "--input", folder, "--output", stack, "--pixel-size-A", str(pixel)])
    out = os.path.join(tmp, f"{model}_slip.h5")
    run_ok(["stage", "infer-stacking", "--input", stack, "--output", out, "--model", model, "--material", material,
            "--layers", str(layers), "--stride-nm", "1", "--figures", "none"], timeout=600)
    with h5py.File(out, "r") as f:
        x, y = f["stacking/slip_x_A"][()], f["stacking/slip_y_A"][()]
    errors = []
    for k, (t, a1, a2) in enumerate(truths):
        found = [np.array([x[k, i], y[k, i]]) for i in range(layers - 1)]
        z = np.zeros(2)
        third = (a1 + a2) / 3  # 3R: D and t - D (or -t - D, the other bottom polarity)
        members = ([(t,), (third - t,), (-third - t,)] if stacking == "3R" else [(t,), (-t,)]) if layers == 2 else \
            [(t, z), (-t, t), (z, -t), (-t, z), (t, -t), (z, t)]

        def off(v, u):
            return min(float(np.hypot(*(v - u - i * a1 - j * a2))) for i in range(-3, 4) for j in range(-3, 4))

        errors.append(min(max(off(found[i], m[i]) for i in range(layers - 1)) for m in members))
    check(max(errors) < tolerance, f"{model}: refined whole-image slips within {tolerance} A of the truth: {np.round(errors, 3)} A")


STACK_COND = {"ReS2": ["--voltage-kV", "300", "--convergence-mrad", "21.3", "--inner-mrad", "39", "--outer-mrad", "200", "--C1-A", "35",
                       "--source-size-A", "0.255"],
              "MoS2": ["--voltage-kV", "60", "--convergence-mrad", "31.5", "--inner-mrad", "49.5", "--outer-mrad", "198",
                       "--source-size-A", "0.3"]}
stacking_case("res2-trilayer-slip", "ReS2", 3, "AA", STACK_COND["ReS2"], 0.12, [(0.3, 0.6, 35.0), (0.7, 0.2, 200.0)], 0.2)
stacking_case("rese2-bilayer-slip", "ReSe2", 2, "AA", STACK_COND["ReS2"], 0.12, [(0.25, 0.7, 12.0), (0.8, 0.45, 222.0)], 0.06)
stacking_case("mos2-2h-slip", "MoS2", 2, "2H", STACK_COND["MoS2"], 0.1, [(0.2, 0.45, 17.0), (0.65, 0.1, 250.0)], 0.05)
stacking_case("mos2-3r-slip", "MoS2", 2, "3R", STACK_COND["MoS2"], 0.1, [(0.35, 0.8, 64.0), (0.9, 0.3, 101.0)], 0.05)
# mos2-twist: twisted MoS2 bilayers (any local registry), the whole-image twist after the refinement,
# folded as the product reports it (theta ~ -theta ~ theta + 120, in [0, 60]), and told from 60 - theta.
folder = os.path.join(tmp, "twist")
os.makedirs(folder)
# (theta, phi, slip a, slip b); the third was answered at 60 - theta when the refinement tried only
# theta and 60 - theta, not their negatives (bench_stacking.py --only twist, case 19).
twist_cases = [(7.27, 40, 0.3, 0.6), (26.12, 70, 0.3, 0.6), (47.9447, 43.561, 0.7872, 0.0151)]
twists = [c[0] for c in twist_cases]
for k, (theta, phi, sa, sb) in enumerate(twist_cases):
    sim = os.path.join(tmp, f"twist_{k}.h5")
    run_ok(["stage", "simulate-adf", "--output", sim, "--crystal", "stack", "--material", "MoS2", "--layers", "2", "--stacking", "AA",
            "--twist-deg", str(theta), "--slip-a", str(sa), "--slip-b", str(sb), "--phi-deg", str(phi), "--size", "320,320",
            "--pixel-A", "0.1", "--dose-e-per-A2", "1e5", "--seed", str(60 + k)] + STACK_COND["MoS2"])
    with h5py.File(sim, "r") as f:
        np.save(os.path.join(folder, f"case{k}.npy"), f["adf_root/image/data"][0].astype(np.float32))
stack = os.path.join(tmp, "twist_stack.h5")
run_ok(["stage", "ingest", "--input", folder, "--output", stack, "--pixel-size-A", "0.1"])
out = os.path.join(tmp, "twist_out.h5")
run_ok(["stage", "infer-stacking", "--input", stack, "--output", out, "--model", "mos2-twist", "--material", "MoS2", "--layers", "2",
        "--task", "twist", "--stride-nm", "1", "--figures", "none"], timeout=600)
with h5py.File(out, "r") as f:
    found = f["stacking/twist_deg"][()].reshape(-1)
for theta, got in zip(twists, found):
    check(abs(got - theta) < 0.3, f"mos2-twist: twist {theta} deg found as {got:.3f} deg (within 0.3; 60 - theta would be {60 - theta:.2f})")

finish(tmp)
