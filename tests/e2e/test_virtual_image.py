"""virtual-image against a direct numpy computation, at 1 and 2 ranks, with uneven shards, a
given and a found centre, pixel and mrad radii, a weighted mask from an HDF5 dataset; and the
EMD 1.0 tree of the products against the py4DSTEM fixture."""
import math
import os

import h5py
import numpy as np

from tmdtest import SHARED, check, finish, run_ok, scratch, leftovers

tmp = scratch()
cube_file = os.path.join(tmp, "cube.h5")
# 7 scan rows: uneven over 2 ranks; small blocks force several blocks per rank.
run_ok(["stage", "synthesize-datacube", "--output", cube_file, "--scan", "7,5", "--detector", "24,20",
        "--domains", "3", "--counts", "5000", "--dtype", "uint16", "--q-pixel-invA", "0.05", "--voltage-kV", "80"])
with h5py.File(cube_file, "r") as f:
    cube = f["datacube_root/datacube/data"][()].astype(np.float64)
    check(f["datacube_root/datacube/data"].dtype == np.uint16, "synthesized dtype kept as uint16")
rx, ry, qx, qy = cube.shape

# A weighted mask (row gradient) as a dataset in another file.
mask = np.outer(np.linspace(0, 1, qx), np.ones(qy)).astype(np.float32)
mask_file = os.path.join(tmp, "masks.h5")
with h5py.File(mask_file, "w") as f:
    f["weights/gradient"] = mask

yy, xx = np.mgrid[0:qx, 0:qy].astype(np.float64)


def annulus(cx, cy, r0, r1):
    r = np.hypot(xx - cx, yy - cy)
    return ((r >= r0) & (r < r1)).astype(np.float64)


def expected(cx, cy, bf_r, adf_in, adf_out, qpix):
    bf = (cube * annulus(cx, cy, 0, bf_r)).sum(axis=(2, 3))
    adf = (cube * annulus(cx, cy, adf_in, adf_out)).sum(axis=(2, 3))
    tot = cube.sum(axis=(2, 3))
    comx = ((cube * xx).sum(axis=(2, 3)) / tot - cx) * qpix
    comy = ((cube * yy).sum(axis=(2, 3)) / tot - cy) * qpix
    grad = (cube * mask).sum(axis=(2, 3))
    return dict(bf=bf, adf=adf, com_x=comx, com_y=comy, sum=tot, mask_gradient=grad,
                mean_pattern=cube.mean(axis=(0, 1)), max_pattern=cube.max(axis=(0, 1)))


def compare(out_file, group, exp, label):
    with h5py.File(out_file, "r") as f:
        g = f[group]
        for name, want in exp.items():
            if name not in g:
                check(False, f"{label}: {group}/{name} missing")
                continue
            got = g[name]["data"][()]
            check(got.shape == want.shape, f"{label}: {name} shape {got.shape} != {want.shape}")
            if got.shape == want.shape:
                err = np.max(np.abs(got - want)) / max(1e-12, np.max(np.abs(want)))
                check(err < 2e-5, f"{label}: {name} differs from the direct computation (rel. err {err:.2e})")


# 1. Given centre, pixel radii, at 1 and 2 ranks, blocks of 3 patterns.
cx, cy = 9.7, 12.2  # x = column (Qy), y = row (Qx)
for ranks in (1, 2):
    out = os.path.join(tmp, f"vi{ranks}.h5")
    run_ok(["stage", "virtual-image", "--input", cube_file, "--output", out + ":/vi", "--centre", f"{cx},{cy}",
            "--detectors", "bf,adf,com,sum,max", "--bf-outer-px", "3.5", "--adf-inner-px", "5", "--adf-outer-px", "9.5",
            "--masks", mask_file + ":/weights/gradient", "--block-patterns", "3"], ranks=ranks)
    compare(out, "vi", expected(cx, cy, 3.5, 5, 9.5, 0.05), f"{ranks} rank(s)")
    with h5py.File(out, "r") as f:
        g = f["vi"]
        check(g.attrs["tmdflow_product"] == "virtual_images/1", "product attribute")
        check(int(g.attrs["tmdflow_complete"]) == 1, "product complete")
        check(abs(g["detectors/centre_qy"][()] - cx) < 1e-9 and abs(g["detectors/centre_qx"][()] - cy) < 1e-9,
              "centre recorded as given")
    check(not leftovers(tmp), f"temporary files left: {leftovers(tmp)}")

# 2. mrad radii: theta = 1000 * lambda * q; at 80 kV lambda = 0.041757 A.
lam = 12.2642584 / math.sqrt(80e3 * (1 + 0.97846e-6 * 80e3))
out = os.path.join(tmp, "mrad.h5")
run_ok(["stage", "virtual-image", "--input", cube_file, "--output", out, "--centre", f"{cx},{cy}",
        "--detectors", "adf", "--adf-inner-mrad", "10", "--adf-outer-mrad", "18"], ranks=2)
r_in, r_out = 10 / (1000 * lam * 0.05), 18 / (1000 * lam * 0.05)
with h5py.File(out, "r") as f:
    got = f["virtual_images/adf/data"][()]
    check(abs(f["virtual_images/detectors/adf_inner_px"][()] - r_in) < 1e-3 * r_in, "mrad -> px inner radius")
want = (cube * annulus(cx, cy, r_in, r_out)).sum(axis=(2, 3))
check(np.allclose(got, want, rtol=2e-5), "ADF with mrad radii equals the direct computation")

# 3. Centre found from the data: the synthetic central disc is at the detector centre.
out = os.path.join(tmp, "auto.h5")
run_ok(["stage", "virtual-image", "--input", cube_file, "--output", out, "--detectors", "bf"], ranks=2)
with h5py.File(out, "r") as f:
    fx, fy = f["virtual_images/detectors/centre_qy"][()], f["virtual_images/detectors/centre_qx"][()]
mean = cube.mean(axis=(0, 1))
# Independent estimate: centre of mass of the pixels above half maximum of the mean pattern.
sel = mean > 0.5 * mean.max()
check(abs(fx - (xx[sel] * mean[sel]).sum() / mean[sel].sum()) < 0.35 and
      abs(fy - (yy[sel] * mean[sel]).sum() / mean[sel].sum()) < 0.35, f"found centre ({fx}, {fy})")

# 4. The EMD 1.0 tree of our datacube matches the py4DSTEM fixture's (attributes, types, layout).
fixture = os.path.join(SHARED, "4dstem", "py4DSTEM_size2x3x4x5.h5")


def tree(path, root):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in obj.attrs.items()}
            kind = "group" if isinstance(obj, h5py.Group) else str(obj.dtype.kind) + str(obj.shape if obj.ndim == 0 or name.endswith("/data") is False else "")
            out[name] = (kind, {k: attrs[k] for k in ("emd_group_type", "python_class", "type", "name") if k in attrs})
        f[root].visititems(visit)
        out["."] = ("file", dict(f.attrs))
    return out


ref = tree(fixture, "datacube_root")
ours = tree(cube_file, "datacube_root")
for name, (kind, attrs) in ref.items():
    if name == ".":
        continue
    check(name in ours, f"EMD tree: {name} missing in our datacube")
    if name in ours:
        check(ours[name][1] == attrs, f"EMD tree: {name} attrs {ours[name][1]} != fixture {attrs}")
        if not name.endswith("datacube/data"):
            check(ours[name][0] == kind, f"EMD tree: {name} kind {ours[name][0]} != fixture {kind}")
for k in ("emd_group_type", "version_major", "version_minor"):
    check(ours["."][1].get(k) == ref["."][1].get(k), f"file attribute {k}")
with h5py.File(cube_file, "r") as f:
    cal = f["datacube_root/metadatabundle/calibration"]
    check(abs(cal["Q_pixel_size"][()] - 0.05) < 1e-12, "Q_pixel_size written")
    check(cal["Q_pixel_units"][()] == b"A^-1", "Q_pixel_units written as a VL string")
    check(cal["QR_flip"].dtype == np.dtype("bool") and not cal["QR_flip"][()], "QR_flip is an h5py bool")
    check(f["datacube_root/datacube/data"].chunks == (1, 1, qx, qy), "one pattern per chunk")
    d2 = f["datacube_root/datacube/dim2"]
    check(d2.attrs["name"] == "Qx" and abs(d2[1] - d2[0] - 0.05) < 1e-12, "dim2 is Qx with the Q step")

finish(tmp)
