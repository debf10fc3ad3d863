"""Stage train end to end (run by tmdflow-learn, which tmdflow hands the command to): a detector learns
column heat maps and a ResNet regresses labels from make-trainset products; the model folder holds a
model file whose sha256 its manifest records, with the commands that made the data and the model and
the test-set metrics; the training_log/1 product and its PNG; 1 rank and 2 ranks at the same global
batch give the same curves; a run stopped after a few steps and resumed ends where an uninterrupted
run ends; bad requests fail before any work with one line and leave nothing behind."""
import hashlib
import json
import os

import h5py
import numpy as np

from tmdtest import check, finish, leftovers, run, run_ok, scratch

tmp = scratch()
data = os.path.join(tmp, "data.h5")

# Small trainsets: 40 training and 16 test patches of 32 x 32 with column heat maps.
common = ["--patch-px", "32", "--layers", "1", "--heatmap-sigma-A", "0.4", "--dose-range-e-per-A2", "0,0"]
run_ok(["stage", "make-trainset", "--output", data + ":/trainset", "--count", "40", "--seed", "1"] + common)
run_ok(["stage", "make-trainset", "--output", data + ":/testset", "--count", "16", "--seed", "2"] + common)


def train(out, name, extra, ranks=1):
    args = ["stage", "train", "--input", data, "--output", out, "--model-name", name, "--model-dir", os.path.join(tmp, "models", name),
            "--figures", os.path.join(tmp, "figures")] + extra
    return run(args, ranks=ranks, timeout=300)


def log_of(path):
    with h5py.File(path, "r") as f:
        g = f["training_log"]
        return {k: g[k][()] for k in ("epoch", "train_loss", "validation_loss", "learning_rate")}, dict(g.attrs)


# ---- a detector on heat maps, 1 rank and 2 ranks (GroupNorm: no per-rank batch statistics) -----
det = ["--network", "detector", "--network-params", "base=8,depth=3,norm=group,groups=4", "--target-map", "targets",
       "--epochs", "4", "--batch", "8", "--learning-rate", "0.01", "--test-input", data + ":/testset", "--seed", "3"]
l1, l2 = os.path.join(tmp, "l1.h5"), os.path.join(tmp, "l2.h5")
code, out = train(l1, "det1", det)
check(code == 0, f"train a detector (1 rank): exit {code}, {out[-800:]}")
code, out = train(l2, "det2", det, ranks=2)
check(code == 0, f"train a detector (2 ranks): exit {code}, {out[-800:]}")
(c1, a1), (c2, a2) = log_of(l1), log_of(l2)
check(list(c1["epoch"]) == [0, 1, 2, 3], f"one log row per epoch, found {c1['epoch']}")
check(np.allclose(c1["train_loss"], c2["train_loss"], rtol=2e-3) and np.allclose(c1["validation_loss"], c2["validation_loss"], rtol=2e-3),
      f"1 and 2 ranks at the same global batch give the same curves: {c1['train_loss']} vs {c2['train_loss']}")
check(c1["validation_loss"][-1] < c1["validation_loss"][0], f"the validation loss falls: {c1['validation_loss']}")
check(a1["ranks"] == 1 and a2["ranks"] == 2 and a1["network"].startswith("detector"), f"log attributes {a1}")

folder = os.path.join(tmp, "models", "det1")
manifest = json.load(open(os.path.join(folder, "manifest.json")))
sha = hashlib.sha256(open(os.path.join(folder, "model.pt"), "rb").read()).hexdigest()
check(manifest["sha256"] == sha == a1["model_sha256"], "manifest, log and file agree on the sha256")
check(manifest["data"]["command"].startswith("tmdflow stage make-trainset") and "--heatmap-sigma-A 0.4" in manifest["data"]["command"],
      f"the manifest quotes the command that made the data: {manifest['data']}")
check(manifest["training"]["command"].startswith("tmdflow stage train") and "--target-map targets" in manifest["training"]["command"],
      f"and the one that trained the model: {manifest['training']}")
test = manifest["metrics"].get("test", {})
check(test.get("samples") == 16 and 0 < test.get("loss", -1) < 1, f"test-set metrics in the manifest: {manifest['metrics']}")
cond = manifest["conditions"]
check(cond.get("voltage_kV") == 80 and cond.get("dose_range_e_per_A2") == [0, 0] and cond.get("materials") == "MoS2"
      and cond.get("heatmap_sigma_A") == 0.4, f"the conditions the data stand for: {cond}")
check(manifest["input"]["pixel_size_A"] == 0.2 and manifest["input"]["height"] == 32, f"input section: {manifest['input']}")
check(not os.path.exists(os.path.join(folder, "checkpoint.pt")), "the checkpoint is removed once the model is written")
png = os.path.join(tmp, "figures", "det1_training.png")
check(os.path.getsize(png) > 5000, "training curves PNG written")
check("det1_training.png: " in open(os.path.join(tmp, "figures", "captions.txt")).read(), "its caption recorded")
code, out = run(["validate", l1, l2])
check(code == 0, f"training logs validate: {out}")

# tmdflow models lists it, verified.
code, out = run(["models"], env={"TMDFLOW_MODELS": os.path.join(tmp, "models")})
check(code == 0 and "det1" in out and "det2" in out, f"tmdflow models lists the trained models: {out}")

# ---- predict: the detector over an image stack, tile by tile --------------------------------------
with h5py.File(data, "r") as f:
    patches = f["testset/patches/data"][()]
npy = os.path.join(tmp, "patches.npy")
np.save(npy, patches)
stack, stack_fine, stack_raw = os.path.join(tmp, "stack.h5"), os.path.join(tmp, "stack_fine.h5"), os.path.join(tmp, "stack_raw.h5")
run_ok(["stage", "ingest", "--input", npy, "--output", stack, "--pixel-size-A", "0.2"])
run_ok(["stage", "ingest", "--input", npy, "--output", stack_fine, "--pixel-size-A", "0.1"])
run_ok(["stage", "ingest", "--input", npy, "--output", stack_raw])
p1, p2, p3 = (os.path.join(tmp, n) for n in ("p1.h5", "p2.h5", "p3.h5"))
# BatchNorm (eval mode: running statistics) keeps every output pixel a function of its neighbourhood
# alone; GroupNorm would normalise over the whole tile.
bn = ["--network", "detector", "--network-params", "base=8,depth=3", "--target-map", "targets", "--epochs", "2", "--batch", "8"]
code, out = train(os.path.join(tmp, "lbn.h5"), "detbn", bn)
check(code == 0, f"train a BatchNorm detector: {out[-500:]}")
model = os.path.join(tmp, "models", "detbn")
sha = json.load(open(os.path.join(model, "manifest.json")))["sha256"]
run_ok(["stage", "predict", "--input", stack, "--model", model, "--output", p1, "--tile-px", "64"])
run_ok(["stage", "predict", "--input", stack, "--model", model, "--output", p2, "--tile-px", "7"], ranks=2)


def maps(path):
    with h5py.File(path, "r") as f:
        g = f["predictions"]
        return [g["maps/map_0"][()], g["maps/map_1"][()]], dict(g.attrs)


(m1, pa), (m2, _) = maps(p1), maps(p2)
check(m1[0].shape == patches.shape and pa["model_sha256"] == sha, f"one map per channel on the images' grid, naming the model: {m1[0].shape}")
check(np.abs(m1[0] - m2[0]).max() < 1e-4 and np.abs(m1[1] - m2[1]).max() < 1e-4,
      f"maps independent of the tiling and the rank count: {np.abs(m1[0] - m2[0]).max()}")
run_ok(["stage", "predict", "--input", stack_fine, "--model", model, "--output", p3], ranks=2)
(m3, _) = maps(p3)
check(m3[0].shape == patches.shape and np.isfinite(m3[0]).all(), "an image at another pixel size is resampled to the model's and back")
code, out = run(["stage", "predict", "--input", stack_raw, "--model", model, "--output", os.path.join(tmp, "p4.h5")])
check(code != 0 and "--pixel-size-A" in out and not os.path.exists(os.path.join(tmp, "p4.h5")),
      f"an uncalibrated stack is refused, saying how to calibrate it: {out[-300:]}")
check(os.path.getsize(os.path.join(tmp, "figures", "p1_detbn_maps.png")) > 5000, "predict draws the first image beside its maps")
code, out = run(["validate", p1, p3])
check(code == 0, f"predictions validate: {out}")

# ---- a ResNet regressing labels -----------------------------------------------------------------
l3 = os.path.join(tmp, "l3.h5")
code, out = train(l3, "res", ["--network", "resnet", "--network-params", "layout=18,width=4", "--labels", "defocus_A,source_size_A",
                              "--epochs", "1", "--batch", "8"])
check(code == 0, f"train a ResNet regressor: exit {code}, {out[-800:]}")
m3 = json.load(open(os.path.join(tmp, "models", "res", "manifest.json")))
check(m3["architecture"]["params"]["outputs"] == "2" and m3["output"]["labels"] == ["defocus_A", "source_size_A"],
      f"two outputs named by their labels: {m3['architecture']}, {m3['output']}")
check("mae_defocus_A" in m3["metrics"], f"a metric per label: {m3['metrics']}")

# ---- stopped after 7 steps, then resumed = uninterrupted ---------------------------------------
l4, l5 = os.path.join(tmp, "l4.h5"), os.path.join(tmp, "l5.h5")
code, out = train(l4, "stop", det + ["--stop-after-steps", "7"])
check(code != 0 and "--resume" in out and not os.path.exists(l4), f"a stopped run says how to go on and writes no log: {code} {out[-400:]}")
check(os.path.exists(os.path.join(tmp, "models", "stop", "checkpoint.pt")), "the stopped run leaves its checkpoint")
code, out = train(l4, "stop", det, ranks=2)
check(code != 0 and "--resume true continues it" in out, f"a new run refuses the unfinished one's folder without --resume: {out[-300:]}")
code, out = train(l4, "stop", det + ["--resume", "true"], ranks=2)
check(code == 0 and "resuming" in out, f"resumed (on 2 ranks): exit {code}, {out[-800:]}")
c4, _ = log_of(l4)
check(np.allclose(c4["train_loss"], c1["train_loss"], rtol=2e-3) and np.allclose(c4["validation_loss"], c1["validation_loss"], rtol=2e-3),
      f"stopped + resumed = uninterrupted: {c4['validation_loss']} vs {c1['validation_loss']}")

# ---- refused before any work: one line, nothing written -----------------------------------------
before = sorted(os.listdir(tmp))
for extra, needle in [
    (["--labels", "slip_a", "--target-map", "targets"], "labels, target-map"),
    (["--target-map", "targets", "--network", "unet", "--epochs", "0"], "epochs"),
    (["--labels", "slip_a", "--augment-dihedral", "true"], "augment-dihedral"),
    (["--target-map", "nothing_here"], "nothing_here"),
    (["--target-map", "targets", "--network", "transformer"], "transformer"),
    (["--labels", "slip_a", "--loss", "dice"], "loss"),
]:
    code, out = train(l5, "bad", extra, ranks=2)
    lines = [l for l in out.splitlines() if "error" in l.lower()]
    check(code != 0 and needle in out and len(lines) == 1, f"{extra}: exit {code}, one line naming {needle!r}: {lines}")
code, out = train(l5, "det1", det)
check(code != 0 and "already holds a model" in out, f"an existing model is never overwritten without --force: {out[-300:]}")
check(sorted(os.listdir(tmp)) == before and not os.path.exists(os.path.join(tmp, "models", "bad")), "refused runs leave nothing")
code, out = run(["stage", "train", "--help"])
check(code == 0 and "--target-map" in out and "--resume" in out, "tmdflow stage train --help (through tmdflow-learn)")
check(not leftovers(tmp), "no temporary files left")
finish(tmp)
