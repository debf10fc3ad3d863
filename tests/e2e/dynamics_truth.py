"""Comparisons of the defect-dynamics products with a simulated movie's ground truth (movie/1 truth/):
detection F1 per class, shared by tests/e2e/test_dynamics.py and benchmarks/bench_dynamics.py."""
import numpy as np


def truth_defects(movie, frame=None):
    """The true defects in the field: dict of arrays frame, x_px, y_px, cls (0 V_S, 1 V_S2, 2 dopant)."""
    d = movie["truth/defects"]
    keep = d["in_field"][()] == 1
    if frame is not None:
        keep &= d["frame"][()] == frame
    return {"frame": d["frame"][()][keep], "x": d["x_px"][()][keep].astype(float), "y": d["y_px"][()][keep].astype(float),
            "cls": d["defect_class"][()][keep].astype(int), "complex": d["complex"][()][keep].astype(int),
            "identity": d["identity"][()][keep]}


def found_defects(group):
    """The defects of a defects/1 .. dynamics/1 product as the same dict."""
    return {"frame": group["frame"][()], "x": group["x_px"][()].astype(float), "y": group["y_px"][()].astype(float),
            "cls": group["defect_class"][()].astype(int)}


def _match(tx, ty, fx, fy, radius):
    """Greedy matching by distance (closest pairs first) within `radius`: (pairs, distances)."""
    if len(tx) == 0 or len(fx) == 0:
        return [], []
    d = np.hypot(tx[:, None] - fx[None, :], ty[:, None] - fy[None, :])
    i, j = np.nonzero(d < radius)
    order = np.argsort(d[i, j], kind="stable")
    used_t, used_f, pairs, dist = set(), set(), [], []
    for k in order:
        a, b = int(i[k]), int(j[k])
        if a in used_t or b in used_f:
            continue
        used_t.add(a), used_f.add(b)
        pairs.append((a, b)), dist.append(float(d[a, b]))
    return pairs, dist


def detection_scores(truth, found, height, width, pixel_A, radius_A=0.9, margin_A=1.0, classes=3):
    """Per class: true positives, false positives, false negatives, F1, and the rms position error
    (A) of the matches; defects (true or found) closer than margin_A to an edge are not counted. A
    found defect matches a true one of the same class within radius_A in the same frame."""
    m = margin_A / pixel_A

    def inside(x, y):
        return (x >= m - 0.5) & (x <= width - 0.5 - m) & (y >= m - 0.5) & (y <= height - 0.5 - m)

    out = {}
    for c in range(classes):
        tp = fp = fn = 0
        errors = []
        for f in np.unique(np.concatenate([truth["frame"], found["frame"]])):
            t = (truth["frame"] == f) & (truth["cls"] == c) & inside(truth["x"], truth["y"])
            g = (found["frame"] == f) & (found["cls"] == c) & inside(found["x"], found["y"])
            pairs, dist = _match(truth["x"][t], truth["y"][t], found["x"][g], found["y"][g], radius_A / pixel_A)
            tp += len(pairs)
            fp += int(g.sum()) - len(pairs)
            fn += int(t.sum()) - len(pairs)
            errors += dist
        f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
        rms = float(np.sqrt(np.mean(np.square(errors)))) * pixel_A if errors else float("nan")
        out[c] = {"tp": tp, "fp": fp, "fn": fn, "f1": f1, "rms_A": rms}
    return out
