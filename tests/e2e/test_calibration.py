"""Every map carries its calibration, so that py4DSTEM reads it calibrated: each product root has
py4DSTEM's metadatabundle/calibration (R pixel size in nm as the datacube's, Q in 1/Angstrom) naming
its arrays, and the domain maps' axes are in nm like the features'. `validate` rejects non-positive
calibrations and checks several files at once."""
import os
import shutil

import h5py
import numpy as np

from tmdtest import check, finish, run, run_ok, scratch

tmp = scratch()
d = os.path.join(tmp, "d.h5")
run_ok(["stage", "simulate-4dstem", "--output", d + ":/datacube_root", "--domains", "2", "--phi-deg", "10,40", "--scan", "8,7",
        "--step-nm", "0.5", "--detector-px", "64", "--electrons", "20000", "--dtype", "uint16"])
for ranks in (1, 2):
    run_ok(["stage", "virtual-image", "--input", d, "--output", d + ":/vi", "--detectors", "bf,adf,com,max"], ranks=ranks)
    run_ok(["stage", "diffraction-features", "--input", d, "--output", d + ":/features"], ranks=ranks)
    run_ok(["stage", "domains", "--input", d + ":/features", "--output", d + ":/domains", "--components", "2", "--clusters", "2"],
           ranks=ranks)
    with h5py.File(d, "r") as f:
        cube_cal = f["datacube_root/metadatabundle/calibration"]
        r_size, q_size = float(cube_cal["R_pixel_size"][()]), float(cube_cal["Q_pixel_size"][()])
        check(abs(r_size - 0.5) < 1e-12 and cube_cal["R_pixel_units"][()] == b"nm", f"datacube R calibration: {r_size}")
        for product, arrays in (("vi", ["bf", "adf", "com_x", "com_y", "mean_pattern", "max_pattern"]),
                                ("features", ["ring_profiles", "twist_deg", "friedel_asymmetry"]),
                                ("domains", ["label", "orientation_deg", "twist_deg", "polarity", "confidence"])):
            g = f[product]
            check("metadatabundle/calibration" in g, f"{product} ({ranks} ranks): no py4DSTEM calibration")
            if "metadatabundle/calibration" not in g:
                continue
            c = g["metadatabundle/calibration"]
            check(c.attrs["python_class"] == "Calibration" and c.attrs["emd_group_type"] == "metadata", f"{product}: calibration tags")
            check(abs(float(c["R_pixel_size"][()]) - r_size) < 1e-12 and c["R_pixel_units"][()] == b"nm",
                  f"{product}: R pixel {c['R_pixel_size'][()]} {c['R_pixel_units'][()]}, expected {r_size} nm")
            check(abs(float(c["Q_pixel_size"][()]) - q_size) < 1e-12 and c["Q_pixel_units"][()] == b"A^-1",
                  f"{product}: Q pixel {c['Q_pixel_size'][()]} {c['Q_pixel_units'][()]}")
            targets = [c["_target_paths"][k][()].decode() for k in sorted(c["_target_paths"].keys(), key=int)]
            check(int(c["_target_paths"].attrs["length"]) == len(targets), f"{product}: _target_paths length")
            for a in arrays:
                check("/" + a in targets, f"{product}: /{a} not among the calibration's targets {targets}")
                check(a in g and "data" in g[a], f"{product}: array {a} missing")
            for a in targets:
                check(a.lstrip("/") in g, f"{product}: target {a} is not an array of the product")
        # The maps' scan axes in nm, as the datacube's (the domain maps were in pixels).
        for path in ("domains/label", "domains/orientation_deg", "features/twist_deg", "vi/bf"):
            for k in ("dim0", "dim1"):
                dim = f[path][k]
                check(dim.attrs["units"] == "nm" and abs(float(dim[1] - dim[0]) - r_size) < 1e-12,
                      f"{path}/{k}: {dim.attrs['units']} step {dim[1] - dim[0]}, expected nm step {r_size}")

# validate: a good file passes; a non-positive calibration or axis does not; several files at once.
code, out = run(["validate", d])
check(code == 0 and "valid" in out, f"validate of the good file:\n{out}")
bad_r = os.path.join(tmp, "bad_r.h5")
shutil.copy(d, bad_r)
with h5py.File(bad_r, "a") as f:
    f["domains/metadatabundle/calibration/R_pixel_size"][()] = -1.0
code, out = run(["validate", bad_r])
check(code == 4 and "domains/metadatabundle/calibration/R_pixel_size: expected a positive size, found -1" in out,
      f"validate rejects a negative R pixel size:\n{out}")
bad_q = os.path.join(tmp, "bad_q.h5")
shutil.copy(d, bad_q)
with h5py.File(bad_q, "a") as f:
    f["datacube_root/metadatabundle/calibration/Q_pixel_size"][()] = 0.0
    dim = f["datacube_root/datacube/dim2"]
    dim[...] = np.array([0.0, 0.0])
code, out = run(["validate", bad_q])
check(code == 4 and "Q_pixel_size: expected a positive size, found 0" in out and "datacube/dim2: expected a positive Qx pixel size" in out,
      f"validate rejects a zero Q pixel size and a zero Qx axis step:\n{out}")
# A datacube written with a non-positive calibration is refused in the first place.
code, out = run(["stage", "synthesize-datacube", "--output", os.path.join(tmp, "neg.h5"), "--r-pixel-nm", "-1", "--q-pixel-invA", "0"])
check(code == 3 and not os.path.exists(os.path.join(tmp, "neg.h5")), f"a negative calibration is refused:\n{out}")
# Several files: each reported; the worst outcome decides the exit code.
missing = os.path.join(tmp, "missing.h5")
code, out = run(["validate", d, bad_r, bad_q])
check(code == 4 and "3 files: 1 valid, 2 with problems, 0 unreadable" in out, f"validate of three files:\n{out}")
code, out = run(["validate", d, missing, bad_r], ranks=2)
check(code == 5 and "missing.h5: no such file" in out and "1 valid, 1 with problems, 1 unreadable" in out and
      out.count("bad_r.h5: 1 problem(s)") == 1, f"validate goes on past an unreadable file:\n{out}")

finish(tmp)
