"""Defect dynamics end to end (issue #18): a short simulated movie of WS2:Mo with drift, analysed by
workflows/dynamics.ini (detect-defects with the shipped detector -> track-defects -> defect-motifs ->
kinetics) at 1 and 2 ranks; detection against the simulation's truth (F1 of V_S and Mo), the measured
drift against the true one, tracks of dopants through drift and through detections removed on
purpose, the dopant complexes against the truth's, the motif sheet; kinetics on a planted case (a
Markov chain of complexes and isolated random walks written as a motifs/1 product); bad inputs fail
with one line and leave nothing behind."""
import os
import sys

import h5py
import numpy as np

from tmdtest import check, finish, leftovers, run, run_ok, scratch

sys.path.insert(0, os.path.dirname(__file__))
from dynamics_truth import detection_scores, found_defects, truth_defects  # noqa: E402

SOURCE = os.environ.get("TMDFLOW_SOURCE_DIR", ".")
WORKFLOW = os.path.join(SOURCE, "workflows", "dynamics.ini")
tmp = scratch()
movie = os.path.join(tmp, "movie.h5")

# A 12-frame movie of 32 x 32 A (0.1 A per pixel) at 1e5 e/A^2 per frame, drifting 0.25, -0.15 A
# per frame, with dopants and vacancies that hop often.
run_ok(["stage", "simulate-movie", "--output", movie, "--frames", "12", "--size", "320,320", "--dopant", "Mo:0.1",
        "--initial-single-vacancy", "0.06", "--initial-double-vacancy", "0.01", "--hop-rate-per-frame", "0.05",
        "--drift-A-per-frame", "0.25,-0.15", "--jitter-A", "0.02", "--frame-time-s", "2", "--seed", "5"])

out1, out2 = os.path.join(tmp, "dyn1.h5"), os.path.join(tmp, "dyn2.h5")
run_ok(["run", WORKFLOW, "--input", movie + ":/movie", "--output", out1, "--set", "dynamics.bootstrap=200"], timeout=300)
run_ok(["run", WORKFLOW, "--input", movie + ":/movie", "--output", out2, "--set", "dynamics.bootstrap=200"], ranks=2, timeout=300)
check(not leftovers(tmp), f"no temporary files: {leftovers(tmp)}")
code, text = run(["validate", out1])
check(code == 0, f"the products validate: {text[-400:]}")

with h5py.File(movie, "r") as mf, h5py.File(out1, "r") as f1, h5py.File(out2, "r") as f2:
    m = mf["movie"]
    d1, d2 = f1["dynamics"], f2["dynamics"]  # the workflow's last step, kinetics
    # Frames shard over the ranks: the same table at 1 and 2 ranks.
    for key in ("frame", "defect_class", "track_id", "complex"):
        check(np.array_equal(d1[key][()], d2[key][()]), f"{key}: 1 and 2 ranks agree")
    check(np.allclose(d1["x_px"][()], d2["x_px"][()], atol=1e-3) and np.allclose(d1["drift_px"][()], d2["drift_px"][()], atol=1e-6),
          "positions and drift: 1 and 2 ranks agree")
    # The datasets.
    for key in ("frame", "x_px", "y_px", "drift_px", "defect_class", "class_names", "track_id", "transition_matrix", "complex_names",
                "transition_counts", "diffusion_A2_per_frame", "diffusion_A2_per_s"):
        check(key in d1, f"dynamics/1 holds {key}")
    names = [n.decode() if isinstance(n, bytes) else n for n in d1["class_names"][()]]
    check(names == ["V_S", "V_S2", "Mo"], f"class names {names}")
    check(d1["defect_class"].attrs["class_names"] == "V_S,V_S2,Mo", "defect_class carries its class names")

    # Detection against the truth at this dose (the detector reports nothing within 2 A of the edge).
    pixel = float(m.attrs["pixel_size_x_A"])
    scores = detection_scores(truth_defects(m), found_defects(d1), 320, 320, pixel, margin_A=2.0)
    print("detection:", {names[c]: (round(s["f1"], 3), s["tp"], s["fp"], s["fn"]) for c, s in scores.items()})
    check(scores[0]["f1"] >= 0.9, f"V_S F1 {scores[0]}")
    check(scores[2]["f1"] >= 0.95, f"Mo F1 {scores[2]}")
    check(scores[0]["rms_A"] < 0.25 and scores[2]["rms_A"] < 0.25, f"positions within 0.25 A rms: {scores}")

    # The drift found by registration against the truth (pixels, (row, col), from frame 0).
    drift, true_drift = d1["drift_px"][()], m["truth/drift_px"][()]
    err = np.abs(drift - (true_drift - true_drift[0])).max()
    print("drift error (px):", round(float(err), 3), "over", true_drift[-1] - true_drift[0])
    check(err < 0.5, f"drift within half a pixel of the truth: {err}")

    # Dopants sit still: each true dopant is one track (through the drift).
    t = truth_defects(m)
    frame, x, y, cls, track = d1["frame"][()], d1["x_px"][()], d1["y_px"][()], d1["defect_class"][()], d1["track_id"][()]
    tracks_of = {}
    for k in np.nonzero(t["cls"] == 2)[0]:
        sel = np.nonzero((frame == t["frame"][k]) & (cls == 2))[0]
        if len(sel) == 0:
            continue
        dist = np.hypot(x[sel] - t["x"][k], y[sel] - t["y"][k])
        if dist.min() < 9:
            tracks_of.setdefault(int(t["identity"][k]), set()).add(int(track[sel[dist.argmin()]]))
    split = sum(len(v) > 1 for v in tracks_of.values())
    check(len(tracks_of) >= 3 and split == 0, f"one track per dopant: {tracks_of}")

    # Complexes: the matched dopants' complexes against the truth's (dopants away from the edge).
    agree = total = 0
    comp = d1["complex"][()]
    for k in np.nonzero(t["cls"] == 2)[0]:
        sel = np.nonzero((frame == t["frame"][k]) & (cls == 2) & (comp >= 0))[0]
        if len(sel) == 0:
            continue
        dist = np.hypot(x[sel] - t["x"][k], y[sel] - t["y"][k])
        if dist.min() < 9:
            total += 1
            agree += int(comp[sel[dist.argmin()]] == t["complex"][k])
    check(total >= 20 and agree >= 0.85 * total, f"dopant complexes agree with the truth: {agree} of {total}")
    motifs = f1["motifs"]
    check(motifs.attrs["motif_count"] >= 1 and motifs["motif"][()].max() < motifs.attrs["motif_count"], "motif classes per defect")
    check(motifs["motif_mean_patches"].shape[0] == motifs.attrs["motif_count"], "a mean patch per motif")
figures = os.path.join(tmp, "figures")
for png in ("dyn1_defects.png", "dyn1_drift.png", "dyn1_motifs.png", "dyn1_populations.png", "dyn1_transitions.png"):
    check(os.path.exists(os.path.join(figures, png)), f"figure {png}")

# ---- tracking through missed detections: every third detection of two dopants removed ------------
gappy = os.path.join(tmp, "gappy.h5")
with h5py.File(out1, "r") as src, h5py.File(gappy, "w") as dst:
    src.copy("detect", dst, "defects")
    tracked = src["track"]  # the same rows as detect's, with their tracks
    cls, track = tracked["defect_class"][()], tracked["track_id"][()]
    full = [t for t in np.unique(track[cls == 2]) if (track == t).sum() == 12][:2]
    drop = np.zeros(len(cls), bool)
    for t in full:
        drop[np.nonzero(track == t)[0][1::3]] = True
    kept_rows = {t: np.nonzero((track == t)[~drop])[0] for t in full}
    g = dst["defects"]
    for key in ("frame", "x_px", "y_px", "defect_class", "score"):
        v = g[key][()][~drop]
        attrs = dict(g[key].attrs)
        del g[key]
        g[key] = v
        for a, b in attrs.items():
            g[key].attrs[a] = b
check(len(full) == 2, f"two dopants seen in every frame: {full}")
run_ok(["stage", "track-defects", "--input", gappy + ":/defects", "--output", gappy + ":/tracks", "--images", movie + ":/movie",
        "--max-gap", "2"])
with h5py.File(gappy, "r") as f:
    new_track = f["tracks/track_id"][()]
    for t, rows in kept_rows.items():
        check(len(rows) == 8 and len(np.unique(new_track[rows])) == 1,
              f"a dopant missed in every third frame keeps its track: {np.unique(new_track[rows])}")

# ---- kinetics on a planted case ------------------------------------------------------------------
# 150 dopants whose complex follows a known chain over 40 frames, and 120 isolated vacancies walking
# on the lattice (a = 3.1532 A, rate 0.03 per direction and frame: D = 1.5 rate a^2), written as a
# motifs/1 product.
rng = np.random.default_rng(7)
P = np.array([[0.90, 0.08, 0.02, 0.00], [0.15, 0.75, 0.08, 0.02], [0.05, 0.15, 0.70, 0.10], [0.00, 0.05, 0.15, 0.80]])
T, a, rate = 40, 3.1532, 0.03
rows = []
for d in range(150):
    s = rng.integers(0, 4)
    x0, y0 = rng.uniform(20, 480), rng.uniform(20, 480)
    for f in range(T):
        rows.append((f, x0, y0, 2, s, 0, d))
        s = rng.choice(4, p=P[s])
for v in range(120):
    x0, y0 = rng.uniform(50, 450), rng.uniform(50, 450)
    for f in range(T):
        rows.append((f, x0, y0, 0, -1, 1, 1000 + v))
        for _ in range(rng.poisson(6 * rate)):
            ang = np.pi / 3 * rng.integers(0, 6)
            x0, y0 = x0 + a * np.cos(ang) / 0.1, y0 + a * np.sin(ang) / 0.1
rows.sort(key=lambda r: (r[0], r[2], r[1]))
R = np.array(rows, dtype=float)
planted = os.path.join(tmp, "planted.h5")
with h5py.File(planted, "w") as f:
    g = f.create_group("motifs")
    for k, v in {"tmdflow_product": "motifs/1", "tmdflow_stage": "defect-motifs", "tmdflow_config_hash": "0123456789abcdef",
                 "tmdflow_complete": 1, "source": "planted", "frames": T, "height": 5000, "width": 5000, "pixel_size_A": 0.1,
                 "frame_time_s": 2.0}.items():
        g.attrs[k] = v
    g["frame"] = R[:, 0].astype(np.int32)
    g["x_px"], g["y_px"] = R[:, 1].astype(np.float32), R[:, 2].astype(np.float32)
    g["defect_class"] = R[:, 3].astype(np.int8)
    g["score"] = np.ones(len(R), np.float32)
    g["class_names"] = np.array([b"V_S", b"V_S2", b"Mo"])
    g["track_id"] = R[:, 6].astype(np.int32)
    g["x_A"], g["y_A"] = R[:, 1] * 0.1, R[:, 2] * 0.1
    g["drift_px"] = np.zeros((T, 2))
    g["complex"] = R[:, 4].astype(np.int8)
    g["missing"] = np.maximum(R[:, 4], 0).astype(np.int8)
    g["isolated"] = R[:, 5].astype(np.int8)
    g["motif"] = -np.ones(len(R), np.int32)
run_ok(["stage", "kinetics", "--input", planted + ":/motifs", "--output", os.path.join(tmp, "kin.h5"), "--bootstrap", "400",
        "--lattice-constant-A", str(a), "--figures", figures])
with h5py.File(os.path.join(tmp, "kin.h5"), "r") as f:
    g = f["dynamics"]
    est, lo, hi, counts = g["transition_matrix"][()], g["transition_lower"][()], g["transition_upper"][()], g["transition_counts"][()]
    print("planted transitions:\n", np.round(est, 3))
    check(counts.sum() == 150 * (T - 1), f"every step of every dopant counted: {counts.sum()}")
    check(np.abs(est - P).max() < 0.05, f"transition matrix within 0.05 of the planted chain: {np.abs(est - P).max()}")
    covered = ((lo <= P) & (P <= hi)).mean()
    check(covered >= 0.8, f"intervals cover the planted probabilities: {covered}")
    D, (Dlo, Dhi) = g["diffusion_A2_per_frame"][()], g["diffusion_interval_A2_per_frame"][()]
    D_true = 1.5 * rate * a * a
    print("planted diffusion:", D, (Dlo, Dhi), "truth", D_true)
    check(abs(D - D_true) < 0.15 * D_true and Dlo < D_true < Dhi, f"diffusion {D} [{Dlo}, {Dhi}] vs {D_true}")
    check(abs(g["diffusion_A2_per_s"][()] - D / 2) < 1e-12, "per second with the frame time")
    check(abs(g["hop_rate_per_frame"][()] - 6 * rate) < 0.3 * 6 * rate, f"hop rate {g['hop_rate_per_frame'][()]} vs {6 * rate}")

# ---- the detector's training data: the same set on 1 and 2 ranks, in the layout train reads ------
ts1, ts2 = os.path.join(tmp, "ts1.h5"), os.path.join(tmp, "ts2.h5")
run_ok(["stage", "make-defect-trainset", "--output", ts1, "--count", "6", "--patch-px", "32", "--seed", "3"])
run_ok(["stage", "make-defect-trainset", "--output", ts2, "--count", "6", "--patch-px", "32", "--seed", "3"], ranks=2)
with h5py.File(ts1, "r") as a, h5py.File(ts2, "r") as b:
    check(np.array_equal(a["trainset/patches/data"][()], b["trainset/patches/data"][()]) and
          np.array_equal(a["trainset/targets/data"][()], b["trainset/targets/data"][()]), "trainset: 1 and 2 ranks give the same patches")
    check(a["trainset/targets/data"].shape == (6, 3, 32, 32), f"targets {a['trainset/targets/data'].shape}")
    check(a["trainset/targets/data"][()].max() > 0.5, "some heat map peaks")
code, text = run(["validate", ts1])
check(code == 0, f"the trainset validates: {text[-300:]}")

# ---- bad inputs: one line, exit code, nothing left behind ----------------------------------------
bad = os.path.join(tmp, "bad.h5")
code, text = run(["stage", "kinetics", "--input", out1 + ":/detect", "--output", bad])
check(code == 4 and "motifs/1" in text and not os.path.exists(bad), f"kinetics of defects/1: {code} {text[-300:]}")
code, text = run(["stage", "track-defects", "--input", movie + ":/movie", "--output", bad])
check(code == 4 and "defects/1" in text and not os.path.exists(bad), f"track-defects of a movie: {code} {text[-300:]}")
code, text = run(["stage", "track-defects", "--input", out1 + ":/detect", "--output", bad, "--max-gap", "-1"])
check(code == 3 and "max-gap" in text and not os.path.exists(bad), f"a negative gap: {code} {text[-300:]}")
code, text = run(["stage", "detect-defects", "--input", movie + ":/movie", "--output", bad, "--model", os.path.join(tmp, "nothing")])
check(code != 0 and "nothing" in text and not os.path.exists(bad), f"a missing model: {code} {text[-300:]}")
code, text = run(["stage", "detect-defects", "--input", movie + ":/movie", "--output", bad, "--voltage-kV", "300"])
check(code == 3 and "voltage-kV" in text and not os.path.exists(bad), f"outside the model's conditions: {code} {text[-300:]}")
uncal = os.path.join(tmp, "uncal.npy")
np.save(uncal, np.zeros((2, 64, 64), np.float32))
run_ok(["stage", "ingest", "--input", uncal, "--output", os.path.join(tmp, "uncal.h5") + ":/image_stack"])
code, text = run(["stage", "detect-defects", "--input", os.path.join(tmp, "uncal.h5") + ":/image_stack", "--output", bad])
check(code != 0 and "calibrat" in text and not os.path.exists(bad), f"an uncalibrated movie: {code} {text[-300:]}")
for stage, group in (("defect-motifs", "/track"), ("track-defects", "/detect")):  # a movie that is not the table's (2 x 64 x 64)
    code, text = run(["stage", stage, "--input", out1 + ":" + group, "--output", bad, "--images", os.path.join(tmp, "uncal.h5") + ":/image_stack"])
    check(code == 4 and "expected the defect table's 12 x 320 x 320 frames, found 2 x 64 x 64" in text and not os.path.exists(bad),
          f"{stage} with another movie: {code} {text[-300:]}")
check(not leftovers(tmp), f"no temporary files: {leftovers(tmp)}")
finish(tmp)
