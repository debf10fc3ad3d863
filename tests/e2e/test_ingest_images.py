#!/usr/bin/env python3
"""Image ingest end to end: the fixtures of ../shared/data/images/ give the values RosettaSciIO reads
(sha256 of the C-order little-endian array, from the product, with hashlib); the HAADF PNGs give the
pixels a zlib decoder reads (pngfile.py); a campaign of equal images becomes one stack at 1 and 2 ranks
(frames in name order, each frame's source file); images of different sizes become one product per
file; --pixel-size-A calibrates; an uncalibrated image is marked so; a truncated TIFF, PNG or MRC
ends with one error line naming it, exit 4, no product, the input untouched; `tmdflow validate`
passes on every product."""
import hashlib
import json
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import imagefiles  # noqa: E402
import pngfile  # noqa: E402
from tmdtest import SHARED, check, finish, run, run_ok, scratch  # noqa: E402

INPUT = 4
tmp = scratch()
images = os.path.join(SHARED, "images")
readings = json.load(open(os.path.join(images, "RSCIIO_READINGS.json")))


def product(path, group="image_stack"):
    return h5py.File(path, "r")[group]


def validate(path):
    code, out = run(["validate", path])
    check(code == 0, f"validate {path}: {out}")


# 1. Fixtures against RosettaSciIO's readings (values and calibration).
for name in ["tiff_imagej_float32.tif", "tiff_imagej_stack.tif", "tiff_saved_with_DM.tif", "tiff_saved_with_DM_stack.tif",
             "tiff_Zeiss_AxioVision_uint8.tif", "mrc_HAADFscan.mrc"]:
    out = os.path.join(tmp, name + ".h5")
    run_ok(["stage", "ingest", "--input", os.path.join(images, name), "--output", out])
    validate(out)
    g = product(out)
    data = g["images/data"][()]
    sig = readings[name]["signals"][0]
    arr = data if len(sig["shape"]) == 3 else data[0]
    check(list(arr.shape) == sig["shape"], f"{name}: shape {arr.shape} vs {sig['shape']}")
    check(str(arr.dtype) == sig["dtype"], f"{name}: dtype {arr.dtype} vs {sig['dtype']}")
    digest = hashlib.sha256(np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()).hexdigest()
    check(digest == sig["sha256_c_order_little_endian"], f"{name}: sha256 differs from RosettaSciIO's")
    units = sig["axes"][-1]["units"]
    to_A = {"µm": 1e4, "nm": 10}.get(units, 0)
    check(g.attrs["calibrated"] == (1 if to_A else 0), f"{name}: calibrated={g.attrs['calibrated']}")
    if to_A:
        check(abs(g.attrs["pixel_size_x_A"] - sig["axes"][-1]["scale"] * to_A) < 1e-5 * g.attrs["pixel_size_x_A"],
              f"{name}: pixel_size_x_A {g.attrs['pixel_size_x_A']}")
        check(abs(g["images/dim2"][1] - g.attrs["pixel_size_x_A"]) < 1e-9 and g["images/dim2"].attrs["units"] == "A",
              f"{name}: dim2 in A")

# 2. A HAADF PNG: the pixels a zlib decoder reads (RGB with equal channels: grey, no warning).
png = os.path.join(SHARED, "stem-images", "tedgen_ReS2_trilayer_slip.png")
out = os.path.join(tmp, "png.h5")
log = run_ok(["stage", "ingest", "--input", png, "--output", out, "--pixel-size-A", "0.25"])
rgb, _ = pngfile.read(png)
g = product(out)
check(np.array_equal(g["images/data"][0], rgb[:, :, 0]), "PNG: pixels differ from the zlib decoding")
check(g.attrs["calibrated"] == 1 and g.attrs["pixel_size_y_A"] == 0.25, "--pixel-size-A: calibrated 0.25 A")
check("colour channels differ" not in log, "PNG with equal channels: no colour warning")
validate(out)

# 3. A campaign of 5 equal TIFFs (a glob) -> one stack, at 1 and 2 ranks, frames in name order.
camp = os.path.join(tmp, "campaign")
os.makedirs(camp)
frames = (np.arange(5 * 12 * 10, dtype=np.uint16) * 7).reshape(5, 12, 10)
for k in range(5):
    with open(os.path.join(camp, f"img_{k:02d}.tif"), "wb") as f:
        f.write(imagefiles.tiff_bytes(frames[k]))
with open(os.path.join(camp, "notes.txt"), "w") as f:
    f.write("not an image")
for ranks in (1, 2):
    out = os.path.join(tmp, f"campaign{ranks}.h5")
    log = run_ok(["stage", "ingest", "--input", os.path.join(camp, "*.tif"), "--output", out], ranks=ranks)
    g = product(out)
    check(np.array_equal(g["images/data"][()], frames), f"campaign at {ranks} ranks: frames differ")
    check([s.decode() for s in g["frames/source_file"][()]] == [f"img_{k:02d}.tif" for k in range(5)], "campaign: source files")
    check(g.attrs["calibrated"] == 0 and "uncalibrated" in log, "campaign: marked uncalibrated with a warning")
    validate(out)
# A folder: the same stack (the text file is passed over).
out = os.path.join(tmp, "folder.h5")
run_ok(["stage", "ingest", "--input", camp, "--output", out, "--pixel-size-A", "1.5"])
check(np.array_equal(product(out)["images/data"][()], frames), "folder: frames differ")

# 4. Different sizes -> one image_stack/1 per file inside an image_stacks/1 product.
mixed = os.path.join(tmp, "mixed")
os.makedirs(mixed)
with open(os.path.join(mixed, "a.tif"), "wb") as f:
    f.write(imagefiles.tiff_bytes(frames[0]))
with open(os.path.join(mixed, "b.mrc"), "wb") as f:
    f.write(imagefiles.mrc_bytes(np.ones((2, 4, 6), np.float32), pixel_A=2.0))
out = os.path.join(tmp, "mixed.h5")
run_ok(["stage", "ingest", "--input", mixed, "--output", out], ranks=2)
g = product(out)
check(g.attrs["tmdflow_product"] == "image_stacks/1" and sorted(g.keys()) == ["a", "b"], f"mixed: {list(g.keys())}")
check(g["b"].attrs["tmdflow_product"] == "image_stack/1" and g["b/images/data"].shape == (2, 4, 6), "mixed: b's stack")
check(g["b"].attrs["pixel_size_x_A"] == 2.0, "mixed: b's calibration from the MRC cell")
check(np.array_equal(g["a/images/data"][0], frames[0]), "mixed: a's pixels")
validate(out)

# 5. Truncated files: one error line naming the file, exit 4, no product, input untouched.
bad = {"cut.tif": imagefiles.tiff_bytes(frames[:2])[:300], "cut.png": imagefiles.png_bytes(frames[0].astype(np.uint8))[:60],
       "cut.mrc": imagefiles.mrc_bytes(frames)[:1500]}
for name, data in bad.items():
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    out = os.path.join(tmp, name + ".h5")
    code, log = run(["stage", "ingest", "--input", path, "--output", out])
    errors = [l for l in log.splitlines() if "error" in l]
    check(code == INPUT, f"{name}: exit {code}, expected {INPUT}: {log}")
    check(len(errors) == 1 and path in errors[0], f"{name}: one error line naming the file: {errors}")
    check(not os.path.exists(out) and not [f for f in os.listdir(tmp) if ".tmp-" in f], f"{name}: no product left")
    check(open(path, "rb").read() == data, f"{name}: input changed")

finish(tmp)
