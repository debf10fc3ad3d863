"""Ground truth of simulate-adf alloy monolayers for the atoms analysis (issue #17): every site's
class in the nine-class vocabulary of data_schema/atoms.md and its pixel position, and the scores of
an atoms/1 product against it (atom-detection F1, site accuracy with and without the sublattice
constraint, recall and precision per class). Used by tests/e2e/test_atoms.py and
benchmarks/bench_atoms.py."""
import h5py
import numpy as np
from scipy.spatial import cKDTree

NAMES = ["Mo", "W", "V_M", "S2", "SSe", "Se2", "S", "Se", "V_X2"]
EMPTY = (2, 8)


def site_class(sub, z0, z1, metal=(42, 74), chalcogen=(16, 34)):
    if sub == 0:
        return {0: 2, metal[0]: 0, metal[1]: 1}.get(int(z0), -1)
    zs = [int(z) for z in (z0, z1) if z]
    x, y = zs.count(chalcogen[0]), zs.count(chalcogen[1])
    if x + y != len(zs):
        return -1
    if not zs:
        return 8
    if len(zs) == 1:
        return 6 if x else 7
    return 3 if x == 2 else 5 if y == 2 else 4


def truth_sites(path, group="adf_root", margin_A=1.0):
    """(x_px, y_px, class) of the sites of a simulate-adf product farther than margin_A from the edge."""
    with h5py.File(path, "r") as f:
        g = f[group]
        gt = g["ground_truth"]
        c = gt["structure/columns"]
        px = float(gt.attrs["pixel_A"])
        h, w = g["image/data"].shape[1:]
        x = (c["x"][()] - gt.attrs["image_origin_x_A"]) / px
        y = (c["y"][()] - gt.attrs["image_origin_y_A"]) / px
        cls = np.array([site_class(s, a, b) for s, a, b in zip(c["sublattice"][()], c["Z0"][()], c["Z1"][()])])
    m = margin_A / px
    keep = (x > m) & (y > m) & (x < w - 1 - m) & (y < h - 1 - m) & (cls >= 0)
    return x[keep], y[keep], cls[keep], px, (m, h, w)


def match(ax, ay, bx, by, tol):
    """One-to-one pairs (i in a, j in b) closer than tol, nearest first."""
    if len(ax) == 0 or len(bx) == 0:
        return []
    d, j = cKDTree(np.c_[bx, by]).query(np.c_[ax, ay])
    used, pairs = set(), []
    for i in np.argsort(d):
        if d[i] < tol and j[i] not in used:
            used.add(j[i])
            pairs.append((int(i), int(j[i])))
    return pairs


def scores(truth, atoms, tol_A=0.6, frame=0):
    """Scores of an atoms/1 group against truth_sites(...); reported sites count within the truth's
    region only (the same margin from the edges)."""
    tx, ty, tc, px, (m, h, w) = truth
    fr = atoms["frame"][()]
    ax, ay = atoms["x_px"][()], atoms["y_px"][()]
    sel = (fr == frame) & (ax > m) & (ay > m) & (ax < w - 1 - m) & (ay < h - 1 - m)
    x, y = atoms["x_px"][()][sel], atoms["y_px"][()][sel]
    pc, uc, found = atoms["site_class"][()][sel], atoms["site_class_unconstrained"][()][sel], atoms["found"][()][sel].astype(bool)
    tol = tol_A / px
    out = {}
    # Atom detection: true atom columns against the found sites the network calls atom columns.
    occ_t = ~np.isin(tc, EMPTY)
    occ_p = found & ~np.isin(uc, EMPTY)
    tp = len(match(x[occ_p], y[occ_p], tx[occ_t], ty[occ_t], tol))
    p, r = tp / max(1, occ_p.sum()), tp / max(1, occ_t.sum())
    out["detection"] = {"f1": 2 * p * r / max(1e-12, p + r), "precision": p, "recall": r, "true": int(occ_t.sum()), "found": int(occ_p.sum())}
    # Sites: every true site against every reported one; an unmatched true site counts as wrong.
    pairs = match(x, y, tx, ty, tol)
    pi = np.array([a for a, _ in pairs], int)
    ti = np.array([b for _, b in pairs], int)
    predicted = np.full(len(tc), -1)
    unconstrained = np.full(len(tc), -1)
    network = np.full(len(tc), -1)
    predicted[ti], unconstrained[ti] = pc[pi], uc[pi]
    network[ti] = atoms["site_class_network"][()][sel][pi]
    out["accuracy"] = float(np.mean(predicted == tc))
    out["accuracy_unconstrained"] = float(np.mean(unconstrained == tc))
    out["accuracy_network"] = float(np.mean(network == tc))  # constrained, no intensity model
    out["sites"] = int(len(tc))
    per = {}
    for k in range(9):
        true_k = int((tc == k).sum())
        right = int(((predicted == k) & (tc == k)).sum())
        called = int((pc == k).sum())  # every reported site called k (matched or not)
        per[NAMES[k]] = {"true": true_k, "called": called, "recall": right / true_k if true_k else float("nan"),
                         "precision": right / called if called else float("nan")}
    out["per_class"] = per
    confusion = np.zeros((9, 10), int)
    for t, q in zip(tc, predicted):
        confusion[t, q if q >= 0 else 9] += 1
    out["confusion"] = confusion
    return out


def movie_unstable_columns(path, group="movie"):
    """Chalcogen columns of a simulate-movie movie whose content changes (a hop's origin or target,
    a sputtered atom): (x_px, y_px) in frame 0's pixels, and every chalcogen column's position."""
    with h5py.File(path, "r") as f:
        t = f[group]["truth"]
        d = t["defects"]
        pixel = float(f[group].attrs["pixel_size_x_A"])
        first = d["frame"][()] == 0
        ox = float(np.median(d["x_A"][()][first] / pixel - d["x_px"][()][first]))
        oy = float(np.median(d["y_A"][()][first] / pixel - d["y_px"][()][first]))
        c = t["structure/columns"]
        cx, cy, sub = c["x"][()] / pixel - ox, c["y"][()] / pixel - oy, c["sublattice"][()]
        e = t["events"]
        changed = np.unique(np.concatenate([e["from_column"][()], e["to_column"][()]]))
        changed = changed[changed >= 0]
    return cx[changed], cy[changed], cx[sub == 1], cy[sub == 1]
