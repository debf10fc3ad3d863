"""No data is ever destroyed: every stage refuses, before any work, an output that is its own input
(the same group, or one inside the other) -- even with --force -- and an output group that holds
anything but a product of the same stage, or lies inside another product, unless --force, which
says what it replaces. A refused command leaves the file byte for byte as it was."""
import hashlib
import os
import shutil

import h5py
import numpy as np

from tmdtest import check, finish, run, run_ok, scratch, leftovers

tmp = scratch()


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def refused(args, words, ranks=1, code=3):
    """The command fails with `code`, names `words`, and every file in tmp is unchanged."""
    before = {f: digest(os.path.join(tmp, f)) for f in os.listdir(tmp) if os.path.isfile(os.path.join(tmp, f))}
    got, log = run(args, ranks=ranks)
    check(got == code, f"{args}: exit code {got}, expected {code}:\n{log}")
    for w in words:
        check(w in log, f"{args}: message lacks '{w}':\n{log}")
    errors = [l for l in log.splitlines() if "error" in l]
    check(len(errors) == 1, f"{args}: expected one error line, found {len(errors)}:\n{log}")
    after = {f: digest(os.path.join(tmp, f)) for f in os.listdir(tmp) if os.path.isfile(os.path.join(tmp, f))}
    check(before == after, f"{args}: files changed by a refused command: "
                           f"{sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))}")
    check(not leftovers(tmp), f"{args}: temporary files left: {leftovers(tmp)}")
    return log


# A file holding a simulated datacube (with its ground truth), features, domains and virtual images:
# the data a careless command could destroy.
d = os.path.join(tmp, "d.h5")
run_ok(["stage", "simulate-4dstem", "--output", d + ":/datacube_root", "--domains", "2", "--phi-deg", "10,40", "--scan", "8,8",
        "--detector-px", "64", "--electrons", "20000", "--dtype", "uint16"])
run_ok(["stage", "virtual-image", "--input", d, "--output", d])
run_ok(["stage", "diffraction-features", "--input", d, "--output", d + ":/diffraction_features"])
run_ok(["stage", "domains", "--input", d, "--output", d + ":/domains", "--components", "2", "--clusters", "2"])
with h5py.File(d, "r") as f:
    cube = np.array(f["datacube_root/datacube/data"])
    check(sorted(f.keys()) == ["datacube_root", "diffraction_features", "domains", "virtual_images"], f"setup: {list(f.keys())}")

# 1. An output that is the stage's own input, or inside it, or around it: refused, even with --force.
for ranks in (1, 2):
    for force in ([], ["--force"]):
        refused(["stage", "diffraction-features", "--input", d, "--output", d + ":/datacube_root"] + force,
                ["d.h5:/datacube_root", "overlaps what this stage reads", "own input"], ranks)
        refused(["stage", "virtual-image", "--input", d + ":/datacube_root", "--output", d + ":/datacube_root"] + force,
                ["overlaps what this stage reads"], ranks)
        refused(["stage", "virtual-image", "--input", d, "--output", d + ":/datacube_root/vi"] + force,
                ["datacube_root/vi", "overlaps"], ranks)
        refused(["stage", "domains", "--input", d, "--output", d + ":/diffraction_features"] + force,
                ["diffraction_features", "overlaps"], ranks)
        refused(["stage", "domains", "--input", d + ":/diffraction_features", "--output", d + ":/datacube_root", "--datacube",
                 d + ":/datacube_root"] + force, ["datacube_root", "overlaps"], ranks)
        refused(["stage", "ingest", "--input", d, "--output", d + ":/copy"] + force, ["another file than the input"], ranks)
# A mask file that is the output's group: refused too (extra inputs count).
refused(["stage", "virtual-image", "--input", d, "--output", d + ":/virtual_images", "--masks", d + ":/virtual_images/bf/data"],
        ["overlaps"])

# 2. An output group that holds another stage's product (or any other data): refused without --force,
# for every stage, before any work.
others = {
    "synthesize-datacube": ["--scan", "3,3", "--detector", "8,8"],
    "simulate-4dstem": ["--domains", "1", "--scan", "2,2", "--detector-px", "32"],
    "simulate-adf": ["--size", "16,16"],
    "make-trainset": ["--count", "2", "--patch-px", "16"],
}
for stage, opts in others.items():
    refused(["stage", stage, "--output", d + ":/domains"] + opts, ["d.h5:/domains", "'domains/1' product of stage 'domains'",
                                                                   "refusing to replace", "--force"])
    refused(["stage", stage, "--output", d + ":/datacube_root/inner"] + opts, ["would go inside", "datacube_root"], 2)
refused(["stage", "virtual-image", "--input", d, "--output", d + ":/domains"], ["'domains/1' product of stage 'domains'"])
refused(["stage", "diffraction-features", "--input", d, "--output", d + ":/virtual_images"], ["virtual_images/1"], 2)
refused(["stage", "domains", "--input", d, "--output", d + ":/virtual_images"], ["virtual_images/1"])
# Data that is not a tmdflow product at all.
with h5py.File(d, "a") as f:
    f["user/notes"] = np.arange(5)
refused(["stage", "virtual-image", "--input", d, "--output", d + ":/user"], ["not a tmdflow product", "refusing to replace"])
refused(["stage", "virtual-image", "--input", d, "--output", d + ":/user/notes"], ["a dataset"])
# An ingest into a file holding other data, from another file.
npy = os.path.join(tmp, "scan.npy")
np.save(npy, cube[:2, :2])
refused(["stage", "ingest", "--input", npy, "--output", d + ":/virtual_images"], ["virtual_images/1", "refusing to replace"])

# 3. --force says what it replaces, and replaces only that.
log = run_ok(["stage", "synthesize-datacube", "--output", d + ":/user", "--scan", "3,3", "--detector", "8,8", "--force"])
check("--force: output" in log and "d.h5:/user holds a group that is not a tmdflow product" in log and "replacing it" in log,
      f"--force names what it replaces:\n{log}")
with h5py.File(d, "r") as f:
    check(f["user"].attrs["tmdflow_stage"] == "synthesize-datacube", "--force replaced the group")
    check(np.array_equal(np.array(f["datacube_root/datacube/data"]), cube), "the datacube is untouched")

# 4. A product of the same stage is replaced without --force (rerunning a command), and says nothing.
log = run_ok(["stage", "virtual-image", "--input", d + ":/datacube_root", "--output", d, "--detectors", "bf"])
check("--force" not in log and "refusing" not in log, f"rerunning a stage replaces its own product quietly:\n{log}")

# 5. A workflow is refused before its first step when a later step's output holds other data.
wf = os.path.join(tmp, "wf.ini")
w = os.path.join(tmp, "w.h5")
shutil.copy(d, w)
with open(wf, "w") as f:
    f.write(f"[workflow]\ninput = {w}:/datacube_root\noutput = {w}\n\n[vi]\nstage = virtual-image\noutput = {w}:/vi_new\n\n"
            f"[features]\nstage = diffraction-features\ninput = {w}:/datacube_root\noutput = {w}:/domains\n")
refused(["run", wf], ["step 'features' of wf.ini", "'domains/1' product", "refusing to replace"], 2)
with h5py.File(w, "r") as f:
    check("vi_new" not in f, "no step ran before the refusal")

finish(tmp)
