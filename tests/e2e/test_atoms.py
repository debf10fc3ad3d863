"""Atoms and point defects of an alloy monolayer end to end (issue #17): a simulated Mo/W/S/Se alloy
image with metal vacancies and single and double chalcogen vacancies, analysed by workflows/atoms.ini
(segment-atoms with the shipped site network -> classify-sites) at 1 and 2 ranks: atom detection and
site classes against the simulation's truth, the sublattice constraint never worse than the network
alone, composition maps against the truth's composition, stacks sharded over ranks with the same
answer, the figures; make-atoms-trainset the same on 1 and 2 ranks; bad inputs fail with one line and
leave nothing behind."""
import os
import sys

import h5py
import numpy as np

from tmdtest import check, finish, leftovers, run, run_ok, scratch

sys.path.insert(0, os.path.dirname(__file__))
from atoms_truth import NAMES, movie_unstable_columns, scores, truth_sites  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

SOURCE = os.environ.get("TMDFLOW_SOURCE_DIR", ".")
WORKFLOW = os.path.join(SOURCE, "workflows", "atoms.ini")
tmp = scratch()
image = os.path.join(tmp, "alloy.h5")

# Mo0.6W0.4 S2(0.7) Se2(0.3), 2 % V_M, 6 % single and 2 % double chalcogen vacancies; 38 x 38 A at
# 0.1 A per pixel, 80 kV, 30 mrad, HAADF 60-200 mrad, 1e5 e/A^2, a little jitter; two frames.
run_ok(["stage", "simulate-adf", "--output", image, "--size", "384,384", "--pixel-A", "0.1", "--alloy-metal", "W:0.4",
        "--alloy-chalcogen", "Se:0.3", "--metal-vacancy", "0.02", "--single-vacancy", "0.06", "--double-vacancy", "0.02",
        "--dose-e-per-A2", "1e5", "--jitter-A", "0.02", "--frames", "2", "--phi-deg", "17", "--seed", "11"])

out1, out2 = os.path.join(tmp, "atoms1.h5"), os.path.join(tmp, "atoms2.h5")
run_ok(["run", WORKFLOW, "--input", image + ":/adf_root", "--output", out1], timeout=300)
run_ok(["run", WORKFLOW, "--input", image + ":/adf_root", "--output", out2], ranks=2, timeout=300)
check(not leftovers(tmp), f"no temporary files: {leftovers(tmp)}")
code, text = run(["validate", out1])
check(code == 0 and "atoms/1" in text and "atom_columns/1" in text, f"the products validate: {text[-400:]}")

truth = truth_sites(image)
with h5py.File(out1, "r") as f1, h5py.File(out2, "r") as f2:
    a1, a2 = f1["atoms"], f2["atoms"]
    for key in ("frame", "site_class", "site_class_unconstrained", "sublattice", "found"):
        check(np.array_equal(a1[key][()], a2[key][()]), f"{key}: 1 and 2 ranks agree")
    check(np.allclose(a1["x_px"][()], a2["x_px"][()], atol=1e-3) and np.allclose(a1["probability"][()], a2["probability"][()], atol=1e-4),
          "positions and probabilities: 1 and 2 ranks agree")
    names = [n.decode() if isinstance(n, bytes) else n for n in a1["class_names"][()]]
    check(names == NAMES, f"class names {names}")
    prob = a1["probability"][()]
    check(np.allclose(prob.sum(axis=1), 1, atol=1e-4), "probabilities sum to 1")
    sub = a1["sublattice"][()]
    check(np.all(prob[sub == 0][:, 3:] == 0) and np.all(prob[sub == 1][:, :3] == 0), "no probability off a site's sublattice")
    for frame in (0, 1):
        s = scores(truth, a1, frame=frame)
        print(f"frame {frame}: detection", {k: round(v, 4) if isinstance(v, float) else v for k, v in s["detection"].items()},
              "accuracy", round(s["accuracy"], 4), "unconstrained", round(s["accuracy_unconstrained"], 4))
        print({k: (v["true"], v["called"], round(v["recall"], 3), round(v["precision"], 3)) for k, v in s["per_class"].items()})
        check(s["detection"]["f1"] >= 0.97, f"frame {frame}: atom detection F1 {s['detection']}")
        check(s["accuracy"] >= 0.95, f"frame {frame}: site accuracy {s['accuracy']}")
        check(s["accuracy"] >= s["accuracy_unconstrained"], f"frame {frame}: the constraint is no worse than the network alone")
        vm = s["per_class"]["V_M"]
        check(vm["recall"] >= 0.8 and vm["precision"] >= 0.8, f"frame {frame}: metal vacancies {vm}")
    # Composition of the whole image against the truth's.
    tx, ty, tc = truth[:3]
    counts = a1["counts"][()][0]
    w_true = np.sum(tc == 1) / np.sum(np.isin(tc, [0, 1]))
    w_found = counts[1] / (counts[0] + counts[1])
    check(abs(w_found - w_true) < 0.03, f"x: found {w_found:.3f}, true {w_true:.3f}")
    xmap = a1["composition/x"][()]
    check(xmap.shape[0] == 2 and np.nanmean(xmap[0]) > 0.2 and np.nanmean(xmap[0]) < 0.6, f"composition map x {np.nanmean(xmap[0])}")
    d = a1["defects"]
    check(len(d["site_class"][()]) == int(counts[[2, 6, 7, 8]].sum() + a1["counts"][()][1][[2, 6, 7, 8]].sum()), "the defect table lists the defect sites")
figures = os.path.join(tmp, "figures")
for png in ("atoms1_sites.png", "atoms1_composition.png"):
    check(os.path.exists(os.path.join(figures, png)), f"figure {png}")

# A single image has no instability (the last step writes NaN and flags nothing).
with h5py.File(out1, "r") as f:
    g = f["instability"]
    check(np.all(np.isnan(g["unstable"][()])) and not np.any(g["unstable_site"][()]), "a single image: no instability")
    check(np.array_equal(g["site_class"][()], f["atoms/site_class"][()]), "site-instability keeps classify-sites' rows")

# A WS2:Mo movie with vacancy hops and drift (simulate-movie, its events the truth): the workflow
# tracks every site, and the sites whose content changed are the unstable ones.
movie = os.path.join(tmp, "movie.h5")
run_ok(["stage", "simulate-movie", "--output", movie, "--frames", "12", "--size", "320,320", "--dopant", "Mo:0.1",
        "--initial-single-vacancy", "0.06", "--initial-double-vacancy", "0.01", "--hop-rate-per-frame", "0.05",
        "--drift-A-per-frame", "0.25,-0.15", "--jitter-A", "0.02", "--seed", "5"])
outm = os.path.join(tmp, "movie_atoms.h5")
run_ok(["run", WORKFLOW, "--input", movie + ":/movie", "--output", outm], ranks=2, timeout=300)
ux, uy, _, _ = movie_unstable_columns(movie)
with h5py.File(outm, "r") as f, h5py.File(movie, "r") as mf:
    g = f["instability"]
    fr, x, y, tr = g["frame"][()], g["x_px"][()], g["y_px"][()], g["track_id"][()]
    d = g["drift_px"][()]
    true_drift = mf["movie/truth/drift_px"][()]
    check(np.abs(d - true_drift).max() < 0.5, f"drift within half a pixel: {np.abs(d - true_drift).max():.2f}")
    T = tr.max() + 1
    n = np.bincount(tr, minlength=T)
    check(T < 1.3 * np.bincount(fr).mean(), f"one track per lattice site: {T} tracks, {np.bincount(fr).mean():.0f} sites per frame")
    mx, my = np.bincount(tr, x - d[fr, 1], T) / n, np.bincount(tr, y - d[fr, 0], T) / n
    u = np.full(T, np.nan)
    u[tr] = g["unstable"][()]
    flagged = np.zeros(T, bool)
    flagged[tr] = g["unstable_site"][()].astype(bool)
    dist = cKDTree(np.c_[ux, uy]).query(np.c_[mx, my])[0]
    ok = ~np.isnan(u)
    changed, far = ok & (dist < 5), ok & (dist >= 25)
    print("instability: changed sites flagged", (flagged & changed).sum(), "of", changed.sum(), "; far sites flagged", (flagged & far).sum(), "of", far.sum())
    check(changed.sum() >= 8 and (flagged & changed).sum() >= 0.6 * changed.sum(), "most sites whose content changed are unstable")
    check((flagged & far).sum() <= 0.03 * far.sum(), "few sites far from any change are unstable")
    check(g["instability/density"].shape[0] > 0 and np.nanmax(g["instability/density"][()]) > 0, "a density of unstable sites")
    check(g["instability/latent"].shape == (len(fr), 8), "the latent vectors of every site")
check(os.path.exists(os.path.join(tmp, "figures", "movie_atoms_instability.png")), "instability figure")

# make-atoms-trainset: the same patches and sites on 1 and 2 ranks.
t1, t2 = os.path.join(tmp, "t1.h5"), os.path.join(tmp, "t2.h5")
run_ok(["stage", "make-atoms-trainset", "--output", t1, "--count", "10", "--patch-px", "48"])
run_ok(["stage", "make-atoms-trainset", "--output", t2, "--count", "10", "--patch-px", "48"], ranks=2)
with h5py.File(t1, "r") as f1, h5py.File(t2, "r") as f2:
    g1, g2 = f1["trainset"], f2["trainset"]
    check(np.array_equal(g1["patches/data"][()], g2["patches/data"][()]), "patches: 1 and 2 ranks agree")
    check(np.array_equal(g1["targets/data"][()], g2["targets/data"][()]), "targets: 1 and 2 ranks agree")
    for key in ("patch", "x_px", "y_px", "site_class"):
        check(np.array_equal(g1["sites"][key][()], g2["sites"][key][()]), f"sites/{key}: 1 and 2 ranks agree")
    check(np.array_equal(np.bincount(g1["sites/patch"][()], minlength=10), g1["labels/sites"][()].astype(int)), "labels/sites counts the rows of sites/")

# --style: a style-fit product sets the realism ranges and the microscope of the options not given.
exp, stack, style = os.path.join(tmp, "exp.h5"), os.path.join(tmp, "exp_stack.h5"), os.path.join(tmp, "style.h5")
run_ok(["stage", "simulate-adf", "--output", exp, "--material", "MoS2", "--size", "128,128", "--pixel-A", "0.1", "--voltage-kV", "80",
        "--dose-e-per-A2", "2e5", "--source-size-A", "0.4", "--background", "0.004", "--seed", "3"])
run_ok(["stage", "ingest", "--input", exp, "--output", stack])
run_ok(["stage", "style-fit", "--input", stack, "--output", style, "--material", "MoS2", "--layers", "1", "--fit", "dose,source-size",
        "--background", "0.004", "--fit-px", "0", "--evaluations", "40", "--figures", "none"], timeout=300)
t3 = os.path.join(tmp, "t3.h5")
run_ok(["stage", "make-atoms-trainset", "--output", t3, "--count", "6", "--patch-px", "48", "--style", style, "--jitter-range-A", "0,0.01"])
with h5py.File(t3, "r") as f, h5py.File(style, "r") as sf:
    g = f["trainset"]
    fitted = sf["style/parameters"].attrs
    check(g.attrs["style"].endswith(":/style"), f"the style is recorded: {g.attrs.get('style')}")
    check(np.allclose(g.attrs["voltage_range_kV"], [80, 80]), f"the style's voltage: {g.attrs['voltage_range_kV']}")
    dose = float(fitted["dose_e_per_A2"])
    lo, hi = g.attrs["dose_range_e_per_A2"]
    check(lo < dose < hi, f"the dose range {lo}..{hi} is around the fitted dose {dose}")
    check(np.allclose(g.attrs["jitter_range_A"], [0, 0.01]), "an option given wins over the style")
    bg = g["labels/background"][()]
    check(np.all(bg > 0) and np.all(np.abs(bg - 0.004) <= 0.25 * 0.004 + 1e-9), f"background drawn around the style's: {bg}")

# Bad inputs: one line naming the file and what was expected, non-zero exit, nothing left behind.
bad = os.path.join(tmp, "bad.h5")
code, text = run(["stage", "classify-sites", "--input", image + ":/adf_root", "--output", bad])
check(code != 0 and "atom_columns/1" in text and not os.path.exists(bad), f"classify-sites on an image: {text[-300:]}")
code, text = run(["stage", "segment-atoms", "--input", image + ":/adf_root", "--output", bad, "--voltage-kV", "300"])
check(code != 0 and "voltage-kV" in text and "atoms-mowsse-v1" in text and not os.path.exists(bad), f"a model outside its conditions: {text[-300:]}")
code, text = run(["stage", "segment-atoms", "--input", out1 + ":/atoms", "--output", bad])
check(code != 0 and "image_stack/1" in text and not os.path.exists(bad), f"segment-atoms on a table: {text[-300:]}")
code, text = run(["stage", "segment-atoms", "--input", image + ":/adf_root", "--output", bad, "--model", "defects-ws2mo-v1"])
check(code != 0 and "9 classes" in text and not os.path.exists(bad), f"segment-atoms with a defect detector: {text[-300:]}")
with h5py.File(bad + ".columns.h5", "w") as f:
    g = f.create_group("columns")
    for k, v in {"tmdflow_product": "atom_columns/1", "tmdflow_stage": "segment-atoms", "tmdflow_config_hash": "0123456789abcdef",
                 "tmdflow_complete": 1, "source": image, "frames": 1, "height": 100, "width": 100, "pixel_size_A": 0.1}.items():
        g.attrs[k] = v
    g["frame"], g["x_px"], g["y_px"] = np.zeros(5, np.int32), np.arange(5, dtype=np.float32), np.arange(5, dtype=np.float32)
    g["class_scores"] = np.zeros((5, 4), np.float32)
    g["class_names"] = np.array([n.encode() for n in NAMES])
code, text = run(["stage", "classify-sites", "--input", bad + ".columns.h5:/columns", "--output", bad])
check(code != 0 and "class_scores" in text and not os.path.exists(bad), f"classify-sites on a short table: {text[-300:]}")
code, text = run(["stage", "site-instability", "--input", out1 + ":/columns", "--output", bad])
check(code != 0 and "atoms/1" in text and not os.path.exists(bad), f"site-instability on the columns: {text[-300:]}")
code, text = run(["stage", "site-instability", "--input", outm + ":/atoms", "--output", bad, "--images", image + ":/adf_root"])
check(code != 0 and "expected 12 images of 320 x 320" in text and not os.path.exists(bad), f"site-instability with other images: {text[-300:]}")
code, text = run(["stage", "site-instability", "--input", outm + ":/atoms", "--output", bad, "--patch-px", "10"])
check(code != 0 and "patch-px" in text and not os.path.exists(bad), f"site-instability with a bad patch: {text[-300:]}")
check(not leftovers(tmp), f"no temporary files after the errors: {leftovers(tmp)}")
finish(tmp)
