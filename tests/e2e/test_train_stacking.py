"""Stage train-stacking end to end: a tiny ResNet learns the interlayer slip of MoS2 2H bilayers from
a tiny canonical-frame trainset (both polarities of the bottom layer, +-1.5 deg and +-2 % of lattice
jitter) made in the test, at 1 and 2 ranks; on held-out patches its error, against the nearest label
that gives the same image, is well below that of predicting the mean (computed here from the
Cartesian labels, independently of the stage); the manifest's `output` object is the one of the
design contract; bad inputs (a trainset without the Cartesian labels, one not in the canonical
frame, an unknown material or task) fail before any work with one line and leave nothing."""
import json
import os

import h5py
import numpy as np

from tmdtest import SOURCE, check, finish, leftovers, run, run_ok, scratch

tmp = scratch()
data = os.path.join(tmp, "data.h5")

# Noise-free 24 x 24 patches at 0.3 A (7.2 A windows) of MoS2 2H bilayers at the published MoS2
# conditions, slips up to 0.3 of a1, a2 from the registry.
common = ["--patch-px", "24", "--pixel-A", "0.3", "--material", "MoS2", "--stacking", "2H", "--slip-range", "0,0.3",
          "--twist-range-deg", "0,0", "--phi-set-deg", "30,90", "--phi-jitter-deg", "1.5", "--scale-jitter", "0.02",
          "--vacancy-range", "0,0", "--dose-range-e-per-A2", "0,0", "--contamination-range", "0,0", "--jitter-range-A", "0,0",
          "--voltage-kV", "60", "--convergence-mrad", "31.5", "--inner-mrad", "49.5", "--outer-mrad", "198"]
run_ok(["stage", "make-trainset", "--output", data + ":/trainset", "--count", "360", "--seed", "1"] + common)
run_ok(["stage", "make-trainset", "--output", data + ":/testset", "--count", "100", "--seed", "2"] + common)

def without(options, *flags):
    """The options less the given flags and their values."""
    out = []
    for flag, value in zip(options[::2], options[1::2]):
        if flag not in flags:
            out += [flag, value]
    return out


training = ["--test-input", data + ":/testset", "--epochs", "8", "--batch", "16", "--learning-rate", "0.003", "--seed", "1", "--threads", "1",
            "--network-params", "layout=18,width=4,head=16,norm=group,groups=2,stem=small"]


def train(out, name, extra, ranks=1, source=data):
    args = ["stage", "train-stacking", "--input", source, "--output", out, "--model-name", name,
            "--model-dir", os.path.join(tmp, "models", name), "--figures", os.path.join(tmp, "figures")] + extra
    return run(args, ranks=ranks, timeout=300)


# ---- the error of predicting the mean, from the Cartesian labels alone -------------------------
# MoS2 2H with either bottom polarity: D and -D give the same image, and so do D and D plus a
# lattice vector (Huang et al.'s +-D for identical layers; data_schema/stacking.md).
with h5py.File(data, "r") as f:
    lab = {k: f["testset/labels/" + k][()] for k in ("slip_x_A", "slip_y_A", "a1_x_A", "a1_y_A", "a2_x_A", "a2_y_A")}
    train_lab = {k: f["trainset/labels/" + k][()] for k in ("slip_x_A", "slip_y_A")}


def distance(prediction, i):
    """Smallest |prediction - (+-D_i + n1 a1 + n2 a2)| over the sign and small lattice vectors (A)."""
    a1 = np.array([lab["a1_x_A"][i], lab["a1_y_A"][i]])
    a2 = np.array([lab["a2_x_A"][i], lab["a2_y_A"][i]])
    d = np.array([lab["slip_x_A"][i], lab["slip_y_A"][i]])
    return min(np.linalg.norm(prediction - (s * d + n1 * a1 + n2 * a2)) for s in (1, -1) for n1 in range(-2, 3) for n2 in range(-2, 3))


# The mean of the training slips, each taken as the member of its class nearest the origin (of two
# as near, the one with the larger fraction of a1c, then of a2c).
a = 3.1604
cells = [n1 * np.array([a, 0]) + n2 * np.array([a / 2, a * 3 ** 0.5 / 2]) for n1 in range(-2, 3) for n2 in range(-2, 3)]
folded = []
for x, y in zip(train_lab["slip_x_A"], train_lab["slip_y_A"]):
    members = [s * np.array([x, y]) + c for s in (1, -1) for c in cells]
    best = min(members, key=lambda v: (round(np.linalg.norm(v), 6), -round((v[0] - v[1] / 3 ** 0.5) / a, 6), -v[1]))
    folded.append(best)
mean = np.mean(folded, axis=0)
reference = float(np.mean([distance(mean, i) for i in range(len(lab["slip_x_A"]))]))
check(reference > 0.3, f"the constant prediction is far off ({reference:.3f} A): the test can tell learning from guessing")

# ---- 1 and 2 ranks: a model that has learnt the slip ------------------------------------------
logs = {}
for ranks in (1, 2):
    log = os.path.join(tmp, f"log{ranks}.h5")
    code, out = train(log, f"slip{ranks}", training, ranks=ranks)
    check(code == 0, f"train-stacking on {ranks} rank(s): exit {code}, {out[-1500:]}")
    if code != 0:
        continue
    manifest = json.load(open(os.path.join(tmp, "models", f"slip{ranks}", "manifest.json")))
    logs[ranks] = manifest
    s = manifest["metrics"]["stacking"]
    check(s["set"] == "test" and s["samples"] == 100, f"stacking metrics on the 100 test patches: {s}")
    check(s["mean_dD_A"] < 0.5 * reference,
          f"{ranks} rank(s): mean |dD| {s['mean_dD_A']:.3f} A is well below the {reference:.3f} A of predicting the mean")
    # (The stage reads each slip against its patch's own lattice, jittered by 1.5 deg and 2 %.)
    check(abs(s["constant_prediction"]["mean_dD_A"] - reference) < 0.1 * reference,
          f"the stage's own reference {s['constant_prediction']['mean_dD_A']:.4f} A agrees with this test's {reference:.4f} A")
    check(s["p95_dD_A"] >= s["mean_dD_A"] * 0.9 and 0 <= s["fraction_dD_below_0.05A"] <= 1, f"percentile and fraction: {s}")
    with h5py.File(log, "r") as f:
        g = f["training_log"]
        check("mean_dD_A" in g["metrics"] and "fraction_dD_below_0.05A" in g["metrics"], f"per-epoch metrics: {list(g['metrics'])}")
        check(abs(g.attrs["test_mean_dD_A"] - s["mean_dD_A"]) < 1e-9, "the log holds the manifest's test metrics")
    code, out = run(["validate", log])
    check(code == 0, f"the training log validates: {out}")

if 1 in logs and 2 in logs:
    m1, m2 = logs[1]["metrics"]["stacking"], logs[2]["metrics"]["stacking"]
    with h5py.File(os.path.join(tmp, "log1.h5"), "r") as f1, h5py.File(os.path.join(tmp, "log2.h5"), "r") as f2:
        v1, v2 = f1["training_log/validation_loss"][()], f2["training_log/validation_loss"][()]
    # The same model up to float rounding (GroupNorm: no per-rank batch statistics), which grows
    # over the steps: the first epoch agrees closely.
    check(abs(v1[0] - v2[0]) < 1e-3 * v1[0], f"1 and 2 ranks train the same model: first-epoch validation loss {v1[0]} vs {v2[0]}")
    out = logs[1]["output"]
    expected = {"kind": "stacking", "task": "slip", "material": "MoS2", "layers": 2, "stacking": "2H", "values": ["slip_a_0", "slip_b_0"],
                "frame": "canonical", "window_px": 24, "pixel_A": 0.3, "anchor": "none"}
    check(set(out) == set(expected) | {"a1c_A", "a2c_A"} and all(out[k] == v for k, v in expected.items()),
          f"the manifest's output object is the contract's: {out}")
    check(np.allclose(out["a1c_A"], [a, 0]) and np.allclose(out["a2c_A"], [a / 2, a * 3 ** 0.5 / 2]), f"canonical cell: {out}")
    cond = logs[1]["conditions"]
    check(cond.get("voltage_kV") == 60 and cond.get("convergence_mrad") == 31.5 and cond.get("adf_inner_mrad") == 49.5
          and cond.get("adf_outer_mrad") == 198, f"conditions: {cond}")
    check(logs[1]["input"]["height"] == 24 and logs[1]["input"]["pixel_size_A"] == 0.3, f"input: {logs[1]['input']}")

# ---- the twist task runs and reports its metrics (a few samples: no accuracy asked) ----------------
twist_data = os.path.join(tmp, "twist.h5")
run_ok(["stage", "make-trainset", "--output", twist_data + ":/trainset", "--count", "40", "--seed", "4"]
       + without(common, "--stacking", "--twist-range-deg") + ["--stacking", "AA", "--twist-range-deg", "0,60"])
code, out = train(os.path.join(tmp, "twist_log.h5"), "twist", ["--task", "twist", "--epochs", "1", "--batch", "8", "--threads", "1",
                  "--network-params", "layout=18,width=4,head=8,norm=group,groups=2,stem=small"], source=twist_data)
check(code == 0, f"train-stacking --task twist: exit {code}, {out[-1200:]}")
if code == 0:
    m = json.load(open(os.path.join(tmp, "models", "twist", "manifest.json")))
    s = m["metrics"]["stacking"]
    check(m["output"]["task"] == "twist" and m["output"]["values"] == ["twist_deg"] and m["output"]["stacking"] == "AA",
          f"twist output: {m['output']}")
    check(0 <= s["mean_dtheta_deg"] <= 60 and 0 <= s["fraction_theta_not_60_minus_theta"] <= 1 and s["set"] == "validation",
          f"twist metrics: {s}")
    check(any("theta -> theta; -theta" in d for d in m["training"]["label_symmetry"]), f"twist symmetry: {m['training']}")

# ---- workflows/train_stacking.ini, test-sized, at 1 and 2 ranks ---------------------------------
for ranks in (1, 2):
    wf_out = os.path.join(tmp, f"wf{ranks}", "stacking.h5")
    code, out = run(["run", os.path.join(SOURCE, "workflows", "train_stacking.ini"), "--output", wf_out,
                     "--set", "workflow.count=48", "--set", "workflow.test_count=8", "--set", "workflow.window_px=24",
                     "--set", "workflow.epochs=1", "--set", f"train.model-dir={os.path.join(tmp, 'wf_models', str(ranks))}",
                     "--set", "train.network-params=layout=18,width=4,head=8,norm=group,groups=2"], ranks=ranks, timeout=300)
    check(code == 0 and "3 of 5 steps run" in out and "passed over" in out, f"train_stacking.ini, test-sized, {ranks} rank(s): exit {code}, {out[-1200:]}")
    if code == 0:
        m = json.load(open(os.path.join(tmp, "wf_models", str(ranks), "manifest.json")))
        check(m["output"]["material"] == "ReS2" and m["output"]["stacking"] == "AA" and m["conditions"]["voltage_kV"] == 300
              and m["conditions"]["adf_inner_mrad"] == 39 and m["metrics"]["stacking"]["set"] == "test",
              f"the workflow's defaults are the published ReS2 bilayer conditions: {m['output']}, {m['conditions']}")

# ---- bad inputs: one line, before any work, nothing left ----------------------------------------
no_labels = os.path.join(tmp, "old.h5")
with h5py.File(data, "r") as f, h5py.File(no_labels, "w") as g:
    f.copy("trainset", g)
    del g["trainset/labels/slip_x_A"]
turned = os.path.join(tmp, "turned.h5")
run_ok(["stage", "make-trainset", "--output", turned + ":/trainset", "--count", "8", "--phi-range-deg", "0,120", "--seed", "3"]
       + without(common, "--phi-set-deg"))
before = sorted(os.listdir(tmp))
for extra, source, needle, exit_code in [
    ([], no_labels, "labels/slip_x_A", 4),
    ([], turned, "canonical frame", 4),
    (["--material", "Unobtainium"], data, "Unobtainium", 3),
    (["--material", "WS2"], data, "MoS2", 4),
    (["--task", "shear"], data, "task", 3),
    (["--stacking", "3R"], data, "stacking", 4),
    (["--augment-dihedral", "true"], data, "augment-dihedral", 2),
]:
    code, out = train(os.path.join(tmp, "bad.h5"), "bad", training + extra, ranks=2 if "Unobtainium" in extra else 1, source=source)
    lines = [l for l in out.splitlines() if "error" in l.lower()]
    check(code == exit_code and needle in out and len(lines) == 1, f"{extra} on {os.path.basename(source)}: exit {code} "
          f"(expected {exit_code}), one line naming {needle!r}: {lines}")
check(sorted(os.listdir(tmp)) == before and not os.path.exists(os.path.join(tmp, "models", "bad")), "refused runs leave nothing")
code, out = run(["stage", "train-stacking", "--help"])
check(code == 0 and "--task" in out and "--augment-noise-psnr-dB" in out and "--augment-dihedral" not in out,
      "tmdflow stage train-stacking --help: no dihedral augmentation in the canonical frame")
check(not leftovers(tmp), "no temporary files left")
finish(tmp)
