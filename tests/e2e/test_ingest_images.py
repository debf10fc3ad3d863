#!/usr/bin/env python3
"""Image ingest end to end: the 19 fixtures of ../shared/data/images/ (TIFF, MRC, DM3/DM4, Velox, TIA),
ingested as one folder at 2 ranks, give the values RosettaSciIO reads (sha256 of the C-order
little-endian array in RosettaSciIO's dtype, from the product, with hashlib) and its calibration; the HAADF PNGs give the
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
    to_validate.append(path)  # all checked by one `tmdflow validate` at the end


# 1. Every fixture (TIFF, MRC, DigitalMicrograph, Velox, TIA): the whole folder in one command at 2
# ranks -> one image_stack/1 per signal; each against RosettaSciIO's readings (values in its dtype,
# shape, calibration). Complex Velox signals are passed over with a warning (data_schema/images.md).
LENGTH_IN_A = {"pm": 0.01, "nm": 10.0, "µm": 1e4}
out = os.path.join(tmp, "fixtures.h5")
log = run_ok(["stage", "ingest", "--input", images, "--output", out], ranks=2)
check("mixed formats: 5 DigitalMicrograph DM3, 2 DigitalMicrograph DM4, 2 FEI TIA, 1 MRC, 5 TIFF, 2 Velox EMD" in log,
      f"fixtures: the log counts the files per format: {log}")
to_validate = [out]
seen = set()
with h5py.File(out, "r") as f:
    top = f["image_stack"]
    check(top.attrs["tmdflow_product"] == "image_stacks/1", "fixtures: an image_stacks/1 product")
    for child in top.values():
        source = child["frames/source_file"][0].decode()
        title = child["frames/title"][0].decode()
        signals = [s for s in readings[source]["signals"] if s["dtype"] != "complex64"]
        sig = signals[0] if len(signals) == 1 else next(s for s in signals if s["title"] == title)
        seen.add((source, sig["title"]))
        what = f"{source} '{title}'"
        data = child["images/data"][()]
        arr = data if len(sig["shape"]) == 3 else data[0]
        check(list(arr.shape) == sig["shape"], f"{what}: shape {arr.shape} vs {sig['shape']}")
        # Velox images come out of RosettaSciIO as float64; every other reader keeps the file's type.
        check(str(arr.dtype) == sig["dtype"] or source.startswith("velox"), f"{what}: dtype {arr.dtype} vs {sig['dtype']}")
        values = np.ascontiguousarray(arr).astype(np.dtype(sig["dtype"]).newbyteorder("<"))
        check(hashlib.sha256(values.tobytes()).hexdigest() == sig["sha256_c_order_little_endian"], f"{what}: sha256 differs from RosettaSciIO's")
        ay, ax = sig["axes"][-2], sig["axes"][-1]
        fy, fx = LENGTH_IN_A.get(ay["units"], 0), LENGTH_IN_A.get(ax["units"], 0)
        check(child.attrs["calibrated"] == (1 if fx and fy else 0), f"{what}: calibrated={child.attrs['calibrated']}")
        if fx and fy:
            for attr, want in (("pixel_size_y_A", ay["scale"] * fy), ("pixel_size_x_A", ax["scale"] * fx)):
                check(abs(child.attrs[attr] - want) <= 1e-6 * want, f"{what}: {attr} {child.attrs[attr]} vs {want}")
            check(abs(child["images/dim2"][1] - child.attrs["pixel_size_x_A"]) < 1e-9 and child["images/dim2"].attrs["units"] == "A",
                  f"{what}: dim2 in A")
# The velox_dpc_titles.emd signals stored as uint16 differ in type from its first (float32): passed
# over with a warning (--signal chooses them).
passed_over = {("velox_dpc_titles.emd", t) for t in ("DF4-A", "DF4-B", "DF4-C", "DF4-D")}
for name, title in passed_over:
    check(f"{name}: signal" in log and f"'{title}' (2x2 uint16) differs from the first signal in size or type: passed over" in log,
          f"fixtures: {name} '{title}' passed over with a warning")
expected = {(name, s["title"]) for name, e in readings.items() for s in e["signals"] if s["dtype"] != "complex64"}
check(seen == expected - passed_over, f"fixtures: signals read {sorted(seen)} vs RosettaSciIO's {sorted(expected - passed_over)}")

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

code, log = run(["validate"] + to_validate)
check(code == 0 and all(f"{p}: valid" in log for p in to_validate), f"validate: {log}")
finish(tmp)
