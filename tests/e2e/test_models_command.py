"""`tmdflow models`: lists the models on the search path ($TMDFLOW_MODELS first) with their task,
architecture, input, conditions and metrics; checks each model file against the sha256 of its
manifest and marks a mismatch, a missing file and a bad manifest (exit code 4); prints once at 2
ranks. The model files here are opaque bytes: listing never loads a network."""
import hashlib
import json
import os

from tmdtest import SOURCE, check, finish, run, scratch

tmp = scratch()


def make_model(root, name, payload, sha=None, drop=None, file_present=True):
    folder = os.path.join(root, name)
    os.makedirs(folder)
    if file_present:
        with open(os.path.join(folder, "model.pt"), "wb") as f:
            f.write(payload)
    manifest = {
        "name": name, "task": "slip of bilayer stacking (data_schema/stacking.md)",
        "architecture": {"family": "resnet", "params": {"layout": "18", "width": "16"}, "parameter_count": 700000},
        "input": {"channels": 1, "height": 64, "width": 64, "pixel_size_A": 0.2, "normalisation": "mean 0 sd 1",
                  "dtype": "float32"},
        "output": {"channels": 2}, "conditions": {"material": "MoS2", "voltage_kV": 80},
        "data": {"commands": ["tmdflow stage make-trainset --seed 3"]}, "training": {"command": "tmdflow stage train"},
        "metrics": {"test_rmse_a": 0.012}, "file": "model.pt", "storage": "float16",
        "sha256": sha or hashlib.sha256(payload).hexdigest(),
    }
    if drop:
        del manifest[drop]
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f)


good_root = os.path.join(tmp, "good")
make_model(good_root, "slip-mos2-v1", os.urandom(5000))
make_model(good_root, "slip-mos2-v2", b"")  # sha256 of nothing: the empty-input digest
code, out = run(["models"], env={"TMDFLOW_MODELS": good_root})
check(code == 0, f"models on a good search path: exit 0, found {code}:\n{out}")
check(good_root in out, "the search path is printed")
check("slip-mos2-v1  [ok]" in out and "slip-mos2-v2  [ok]" in out, f"both models ok:\n{out}")
check("material=MoS2" in out and "voltage_kV=80" in out, "conditions listed")
check("test_rmse_a=0.012" in out, "metrics listed")
check("1x64x64 @ 0.2 A/px" in out, "input size and pixel size listed")
check("resnet layout=18 width=16" in out, "architecture listed")
check("slip of bilayer stacking" in out, "task listed")

bad_root = os.path.join(tmp, "bad")
make_model(bad_root, "changed-v1", b"weights", sha="0" * 64)
make_model(bad_root, "notask-v1", b"weights", drop="task")
make_model(bad_root, "nofile-v1", b"weights", file_present=False)
make_model(bad_root, "slip-mos2-v1", b"another")  # same name as in good/: shadowed there
code, out = run(["models"], ranks=2, env={"TMDFLOW_MODELS": good_root + ":" + bad_root})
check(code == 4, f"models with problems: exit 4, found {code}:\n{out}")
check("changed-v1  [sha256 MISMATCH]" in out, f"a changed file is marked:\n{out}")
check("notask-v1  [bad manifest:" in out and "/task" in out, "a manifest without task is named with the key")
check("nofile-v1  [missing model file model.pt]" in out, "a missing model file is marked")
check("slip-mos2-v1  [shadowed by " + os.path.join(good_root, "slip-mos2-v1") in out, "a shadowed name is marked")
check(out.count("search path") == 1, f"printed once at 2 ranks:\n{out}")
# The shipped models (the source tree's models/) are on the search path too, after these two.
shipped = [d for d in os.listdir(os.path.join(SOURCE, "models")) if os.path.exists(os.path.join(SOURCE, "models", d, "manifest.json"))]
check(f"{6 + len(shipped)} model(s), 3 with problems" in out, f"summary line ({len(shipped)} shipped):\n{out}")

code, out = run(["models", "--help"])
check(code == 0 and "usage: tmdflow models" in out and "TMDFLOW_MODELS" in out, f"models --help:\n{out}")
code, out = run(["models", "extra"])
check(code == 2, f"models with an argument: usage error 2, found {code}")
finish(tmp)
