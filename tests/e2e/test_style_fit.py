"""Stage style-fit end to end (data_schema/style.md): on a simulated "experiment" whose realism is
known, the fit recovers it (source size within 0.08 A, dose within a factor 1.5 when the background is
given; with everything free, the source size within 0.15 A) and brings the grey-level KL divergence
far below the noise-free simulation's; on a real TED-Gen image (8-bit PNG, pixel size from its lattice
period) it improves KL and Ra over the noise-free and noise-added simulations. The style is taken by
simulate-adf and make-trainset (--style); the product validates and is the same at 1 and 2 ranks; bad
inputs give one error line."""
import os

import h5py
import numpy as np

from tmdtest import SHARED, check, finish, leftovers, run, run_ok, scratch

tmp = scratch()
exp = os.path.join(tmp, "exp.h5")
run_ok(["stage", "simulate-adf", "--output", exp, "--material", "MoS2", "--layers", "2", "--size", "128,128", "--pixel-A", "0.1",
        "--dose-e-per-A2", "2e5", "--source-size-A", "0.5", "--background", "0.004", "--seed", "7", "--frames", "2"])
stack = os.path.join(tmp, "stack.h5")
run_ok(["stage", "ingest", "--input", exp, "--output", stack])


def style_of(path):
    with h5py.File(path, "r") as f:
        g = f["style"]
        p = dict(g["parameters"].attrs)
        m = {k: g["measures"][k][()] for k in ("kl", "roughness", "spectrum_distance", "experiment_roughness")}
        return p, m, dict(g.attrs), dict(g["ranges"].attrs)


# 1. The background given: dose and source size found.
known = os.path.join(tmp, "known.h5")
figs = os.path.join(tmp, "figs")
run_ok(["stage", "style-fit", "--input", stack, "--output", known, "--material", "MoS2", "--fit", "dose,source-size", "--background", "0.004",
        "--fit-px", "0", "--evaluations", "120", "--figures", figs])
p, m, attrs, ranges = style_of(known)
check(abs(p["source_size_A"] - 0.5) < 0.08, f"source size {p['source_size_A']}, expected 0.5 +- 0.08 A")
check(abs(np.log(p["dose_e_per_A2"] / 2e5)) < np.log(1.5), f"dose {p['dose_e_per_A2']}, expected 2e5 within x1.5")
check(m["kl"].shape == (2, 3) and m["experiment_roughness"].shape == (2,), f"measures of 2 frames: {m['kl'].shape}")
kl = m["kl"][0]
check(kl[2] < 0.05 and kl[2] < kl[0] / 10, f"KL noise-free, noise added, style: {kl}")
check(abs(ranges["dose_range_e_per_A2"][0] - p["dose_e_per_A2"] / 2) < 1e-6 * p["dose_e_per_A2"], f"ranges {ranges}")
check(attrs["material"] == "MoS2" and abs(attrs["pixel_A"] - 0.1) < 1e-12, f"attrs {attrs}")
out = run_ok(["validate", known])
check("valid" in out, out)
for name in ("known_style_images.png", "known_style_measures.png"):
    check(os.path.exists(os.path.join(figs, name)), f"figure {name} missing")

# 2. Everything free (the default): the blur is still found, the histogram matched.
free = os.path.join(tmp, "free.h5")
run_ok(["stage", "style-fit", "--input", stack, "--output", free, "--material", "MoS2", "--fit-px", "0", "--evaluations", "200", "--figures", "none"])
p, m, _, _ = style_of(free)
check(abs(p["source_size_A"] - 0.5) < 0.15, f"free fit: source size {p['source_size_A']}, expected 0.5 +- 0.15 A")
check(m["kl"][0][2] < m["kl"][0][0] / 10, f"free fit: KL {m['kl'][0]}")
check(not os.path.exists(os.path.join(tmp, "figures")), "--figures none wrote figures")

# 3. The same product at 2 ranks (every rank fits the same; written collectively).
two = os.path.join(tmp, "two.h5")
run_ok(["stage", "style-fit", "--input", stack, "--output", two, "--material", "MoS2", "--fit", "dose,source-size", "--background", "0.004",
        "--fit-px", "0", "--evaluations", "120", "--figures", "none"], ranks=2)
with h5py.File(known, "r") as a, h5py.File(two, "r") as b:
    check(dict(a["style/parameters"].attrs) == dict(b["style/parameters"].attrs), "1 and 2 ranks fitted different styles")
    check(np.array_equal(a["style/simulation/data"][()], b["style/simulation/data"][()]), "1 and 2 ranks simulated differently")

# 4. The style taken by simulate-adf and make-trainset.
styled = os.path.join(tmp, "styled.h5")
run_ok(["stage", "simulate-adf", "--output", styled, "--material", "MoS2", "--layers", "2", "--size", "64,64", "--style", known,
        "--jitter-A", "0.02"])
with h5py.File(styled, "r") as f:
    g = f["adf_root"]
    check(g.attrs["style"].endswith(":/style"), f"simulate-adf: style attribute {g.attrs.get('style')}")
    check(abs(g["ground_truth"].attrs["pixel_A"] - 0.1) < 1e-12, "simulate-adf: the style's pixel size not taken")
ts = os.path.join(tmp, "ts.h5")
run_ok(["stage", "make-trainset", "--output", ts, "--count", "6", "--patch-px", "32", "--style", known, "--vacancy-range", "0,0"])
with h5py.File(ts, "r") as f:
    g = f["trainset"]
    lo, hi = g.attrs["dose_range_e_per_A2"]
    check(abs(lo * 4 - hi) < 1e-6 * hi, f"make-trainset: dose range {lo, hi}, expected x/2 around the fit")
    d = g["labels/dose"][()]
    check(np.all((d >= lo * 0.999) & (d <= hi * 1.001)), f"make-trainset: doses {d} outside {lo, hi}")
    b = g["labels/background"][()]
    check(np.all(b > 0.002) and np.all(b < 0.006), f"make-trainset: backgrounds {b}")

# 5. A real experiment: TED-Gen's bilayer ReS2 (8-bit PNG; 0.0435 A per pixel from its 5.57 A lattice spacings).
png = os.path.join(SHARED, "stem-images", "tedgen_ReS2_bilayer_slip_sample1.png")
ted = os.path.join(tmp, "ted.h5")
run_ok(["stage", "ingest", "--input", png, "--output", ted, "--pixel-size-A", "0.0435"])
ted_style = os.path.join(tmp, "ted_style.h5")
run_ok(["stage", "style-fit", "--input", ted, "--output", ted_style, "--material", "ReS2", "--voltage-kV", "300", "--convergence-mrad", "21.3",
        "--inner-mrad", "39", "--outer-mrad", "200", "--C1-A", "-35", "--slip-a", "0.163", "--slip-b", "0.289", "--phi-deg", "0",
        "--fit-px", "192", "--evaluations", "150", "--figures", "none"], timeout=300)
p, m, attrs, _ = style_of(ted_style)
kl, ra = m["kl"][0], m["roughness"][0]
ra_exp = m["experiment_roughness"][0]
check(kl[2] < kl[0] / 10 and kl[2] < kl[1], f"TED-Gen: KL noise-free, noise added, style {kl}")
check(kl[2] < 0.08, f"TED-Gen: KL of the style {kl[2]}")
check(abs(ra[2] - ra_exp) < abs(ra[0] - ra_exp), f"TED-Gen: Ra experiment {ra_exp}, simulations {ra}")
print(f"TED-Gen sample1: KL noise-free {kl[0]:.3f}, noise added {kl[1]:.3f}, style {kl[2]:.4f}; "
      f"Ra experiment {ra_exp:.3f}, simulations {np.round(ra, 3)}")

# 6. Bad inputs: one line, the documented code, nothing left behind.
bad = os.path.join(tmp, "bad.h5")


def expect_error(args, code, words):
    got, log = run(args)
    lines = [l for l in log.splitlines() if "error" in l]
    check(got == code, f"{args}: exit code {got}, expected {code}:\n{log}")
    for w in words:
        check(w in log, f"{args}: message lacks '{w}':\n{log}")
    check(len(lines) == 1, f"{args}: expected one error line, found {len(lines)}:\n{log}")
    check(not os.path.exists(bad), f"{args}: output left behind")


uncal = os.path.join(tmp, "uncal.h5")
run_ok(["stage", "ingest", "--input", png, "--output", uncal])
expect_error(["stage", "style-fit", "--input", uncal, "--output", bad, "--material", "ReS2"], 3, ["pixel-A", "calibrat"])
expect_error(["stage", "style-fit", "--input", stack, "--output", bad, "--fit", "dose,colour"], 3, ["fit", "colour"])
expect_error(["stage", "style-fit", "--input", stack, "--output", bad, "--weights", "1,1"], 3, ["weights", "four"])
expect_error(["stage", "style-fit", "--input", stack, "--output", bad, "--pixel-A", "0.6"], 3, ["pixel-A", "0.6"])
expect_error(["stage", "style-fit", "--input", stack, "--output", bad, "--material", "Unobtainium"], 3, ["Unobtainium"])
expect_error(["stage", "style-fit", "--input", exp, "--output", bad], 4, ["image_stack"])
expect_error(["stage", "simulate-adf", "--output", bad, "--style", stack], 4, ["style/1"])
expect_error(["stage", "make-trainset", "--output", bad, "--count", "2", "--style", os.path.join(tmp, "none.h5")], 4, ["none.h5", "style"])
check(not leftovers(tmp), f"temporary files left: {leftovers(tmp)}")
finish(tmp)
