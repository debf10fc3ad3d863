"""The models tmdflow ships (models/): `tmdflow models` lists them verified, and each does its task.

columns-mx2-v1 (workflows/train_columns.ini) is measured against ground truth on images it never saw,
made by simulate-adf (not make-trainset's patches) at another pixel size (0.1 A; the model works at
0.2 A, so predict resamples): every metal and chalcogen column is found within 0.5 A, few peaks are
spurious. On a real HAADF image of monolayer MoSe2 (motif-learn; pixel size 0.080 A from its lattice
period) the two maps are two interleaved triangular lattices of MoSe2's lattice constant."""
import os

import h5py
import numpy as np

from tmdtest import SHARED, check, finish, run, run_ok, scratch

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
finish(tmp)
