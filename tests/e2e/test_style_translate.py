"""Stages style-train and style-translate end to end (data_schema/style.md "Learned translation"):
the workflow workflows/style_train.ini at test size on the TED-Gen experiments (three real 8-bit
PNGs) writes a translator model and style_translator/1, which validates: the data selection keeps
between --select-min and --select-max simulations, the measures compare the four simulations of the
style-fit's structure, and the translation moved the metal columns by less than 0.2 A at this size.
style-translate turns a noise-free trainset into one with the same labels and attributes, each
patch standardised, the same at 1 and 2 ranks (the noise is keyed by the patch), and train-stacking
trains on it. Bad inputs fail with one line and leave nothing behind."""
import json
import os

import h5py
import numpy as np

from tmdtest import SHARED, SOURCE, check, finish, leftovers, run, run_ok, scratch

tmp = scratch()
out = os.path.join(tmp, "st.h5")
model = os.path.join(tmp, "translator")
data = os.path.join(SHARED, "stem-images")
run_ok(["run", os.path.join(SOURCE, "workflows", "style_train.ini"), "--set", f"workflow.output={out}", "--set", f"workflow.data={data}",
        "--set", "workflow.count=6", "--set", "workflow.steps=4", "--set", "workflow.crop_px=64", "--set", f"translator.model-dir={model}",
        "--set", "translator.select-min=2", "--set", "translator.select-max=4", "--set", "translator.batch=2",
        "--set", "style.evaluations=100", "--set", "style.fit-px=128"], ranks=2, timeout=600)
check(os.path.exists(os.path.join(model, "model.pt")) and os.path.exists(os.path.join(model, "manifest.json")), "no model written")
with open(os.path.join(model, "manifest.json")) as mf:
    check(json.load(mf)["architecture"]["params"].get("tone") == "64", "style-train's translator has no tone curve of 64 segments")
with h5py.File(out, "r") as f:
    g = f["style_translator"]
    sel = g["selection/selected"][()]
    check(len(sel) == 6 and 2 <= sel.sum() <= 4, f"selection {sel}")
    check(g["selection/pca"].shape == (9, 2), f"pca of 6 simulations and 3 experiments: {g['selection/pca'].shape}")
    check(len(g["training/step"][()]) >= 1, "no training curve")
    m = g["measures"]
    names = [s.decode() if isinstance(s, bytes) else s for s in m["simulations"][()]]
    check(names == ["noise_free", "noise_added", "style_fit", "translated"], f"simulations {names}")
    kl = m["kl"][()]
    check(kl.shape == (4,) and np.all(np.isfinite(kl)) and np.all(kl >= 0), f"KL {kl}")
    check(kl[0] > kl[2], f"style-fit below noise-free: {kl}")
    check(m.attrs["columns_matched"] >= 0.9 * m.attrs["columns"] > 0, f"columns {m.attrs['columns_matched']} of {m.attrs['columns']}")
    check(m.attrs["atom_shift_mean_A"] < 0.2, f"atom shift {m.attrs['atom_shift_mean_A']} A")
    kp = m["kl_at_pixel"][()]
    check(kp.shape == (4,) and np.all(np.isfinite(kp)) and np.all(kp >= 0), f"KL at the translator's pixel size {kp}")
    check(kp[0] > kp[2], f"at the translator's pixel size, style-fit below noise-free: {kp}")
    check(np.isfinite(m.attrs["kl_network_alone"]) and m.attrs["kl_network_alone"] >= 0, "no KL of the network alone (tone curve)")
    sh = m["atom_shift_by_simulation_A"][()]
    check(sh.shape == (4,) and sh[0] == 0 and np.all(np.isfinite(sh)) and sh[3] == m.attrs["atom_shift_mean_A"], f"shifts {sh}")
    check(0 <= m.attrs["atom_shift_averaged_mean_A"] < 0.2, f"averaged shift {m.attrs['atom_shift_averaged_mean_A']}")
    check(0 <= m.attrs["atom_shift_median_A"] <= m.attrs["atom_shift_p95_A"], f"median shift {m.attrs['atom_shift_median_A']}")
    check(0 <= m.attrs["atom_shift_resampled_mean_A"] < 0.2, f"resampled shift {m.attrs['atom_shift_resampled_mean_A']}")
    check(g.attrs["pixel_A"] == 0.1, f"pixel {g.attrs['pixel_A']}")
check("valid" in run_ok(["validate", out]), "style_translator/1 does not validate")
figs = os.path.join(tmp, "figures")
for name in ("st_style_training.png", "st_style_translations.png", "st_style_measures.png"):
    check(os.path.exists(os.path.join(figs, name)), f"figure {name} missing")

# ---- style-translate: a noise-free trainset of ReS2 bilayers at 0.2 A ----
ts = os.path.join(tmp, "ts.h5")
run_ok(["stage", "make-trainset", "--output", ts + ":/trainset", "--material", "ReS2", "--layers", "2", "--count", "24", "--patch-px", "48",
        "--pixel-A", "0.2", "--phi-set-deg", "0,180", "--dose-range-e-per-A2", "0,0", "--jitter-range-A", "0,0", "--voltage-kV", "300",
        "--convergence-mrad", "21.3", "--inner-mrad", "39", "--outer-mrad", "200", "--seed", "5"])
one, two = os.path.join(tmp, "one.h5"), os.path.join(tmp, "two.h5")
run_ok(["stage", "style-translate", "--input", ts + ":/trainset", "--output", one + ":/trainset", "--model", model, "--batch", "5"])
run_ok(["stage", "style-translate", "--input", ts + ":/trainset", "--output", two + ":/trainset", "--model", model, "--batch", "7"], ranks=2)
with h5py.File(ts, "r") as a, h5py.File(one, "r") as b, h5py.File(two, "r") as c:
    A, B, C = a["trainset"], b["trainset"], c["trainset"]
    check(sorted(A["labels"].keys()) == sorted(B["labels"].keys()), "labels differ")
    for k in A["labels"]:
        check(np.array_equal(A["labels"][k][()], B["labels"][k][()]), f"label {k} changed")
    for k in ("material", "pixel_A", "layers", "stacking", "translate"):
        check(A.attrs[k] == B.attrs[k], f"attribute {k}: {A.attrs[k]} vs {B.attrs[k]}")
    p, q = B["patches/data"][()], C["patches/data"][()]
    check(p.shape == (24, 48, 48), f"patches {p.shape}")
    check(np.allclose(p.mean(axis=(1, 2)), 0, atol=1e-3) and np.allclose(p.std(axis=(1, 2)), 1, atol=1e-2), "patches not standardised")
    check(np.allclose(p, q, atol=2e-3), f"1 vs 2 ranks differ by {np.abs(p - q).max()}")
    x = A["patches/data"][()]
    x = (x - x.mean(axis=(1, 2), keepdims=True)) / x.std(axis=(1, 2), keepdims=True)
    check(np.mean([np.corrcoef(x[k].ravel(), p[k].ravel())[0, 1] for k in range(24)]) > 0.5, "translation lost the lattice")
check("valid" in run_ok(["validate", one]), "translated trainset does not validate")
run_ok(["stage", "train-stacking", "--input", one + ":/trainset", "--output", one + ":/log", "--task", "slip", "--network-params",
        "layout=18,width=4,head=8,norm=group,groups=2", "--epochs", "1", "--batch", "8", "--model-name", "tiny",
        "--model-dir", os.path.join(tmp, "tiny"), "--figures", "none"], timeout=300)

# ---- bad inputs: one line, nothing left behind ----
bad = os.path.join(tmp, "bad.h5")
code, text = run(["stage", "style-translate", "--input", ts + ":/trainset", "--output", bad, "--model", os.path.join(tmp, "tiny")])
check(code != 0 and "style-translator" in text and not os.path.exists(bad), f"a slip model as translator: {code} {text}")
code, text = run(["stage", "style-train", "--input", ts + ":/trainset", "--output", bad, "--experiments",
                  os.path.join(tmp, "experiment_sample1.h5"), "--crop-px", "256", "--model-dir", os.path.join(tmp, "m2")])
check(code != 0 and "ts.h5" in text and "crop-px" in text and not os.path.exists(bad), f"patches smaller than the crop: {code} {text}")
code, text = run(["stage", "style-train", "--input", out + ":/candidates", "--output", bad, "--experiments", ts + ":/trainset",
                  "--crop-px", "64", "--model-dir", os.path.join(tmp, "m3")])
check(code != 0 and "ts.h5" in text and not os.path.exists(bad), f"a trainset as experiment: {code} {text}")
check(not leftovers(tmp), f"leftovers {leftovers(tmp)}")
finish(tmp)
