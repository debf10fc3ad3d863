"""virtual-image reads the patterns of a datacube in place (the file mapped, no copy) when each
pattern is one unfiltered chunk stored as native, and only then: every pattern of every rank of a
cube tmdflow writes, at 1 and 2 ranks; none of a compressed cube or of one h5py writes with its
defaults (contiguous), which take the hyperslab reads. The products equal numpy's either way."""
import os
import re

import h5py
import numpy as np

from tmdtest import check, finish, run_ok, scratch

tmp = scratch()
rx, ry, qx, qy = 7, 5, 24, 20  # 7 scan rows: uneven shards on 2 ranks


def in_place_counts(log, ranks):
    """(patterns in place, patterns read) summed over the ranks' debug lines of the pass."""
    lines = re.findall(r"pattern pass: (\d+) patterns in place \(mapped file\), (\d+) read", log)
    check(len(lines) == ranks, f"one pass report per rank expected ({ranks}), found {len(lines)}:\n{log}")
    return sum(int(a) for a, _ in lines), sum(int(b) for _, b in lines)


def virtual_image(cube_spec, cube, label, expect_in_place):
    for ranks in (1, 2):
        out = os.path.join(tmp, f"vi_{label}_{ranks}.h5")
        log = run_ok(["--verbose", "stage", "virtual-image", "--input", cube_spec, "--output", out + ":/vi",
                      "--centre", "9.5,11.5", "--detectors", "bf,adf,sum,max", "--bf-outer-px", "4",
                      "--adf-inner-px", "5", "--adf-outer-px", "12", "--block-patterns", "4"], ranks=ranks)
        in_place, read = in_place_counts(log, ranks)
        want = (rx * ry, 0) if expect_in_place else (0, rx * ry)
        check((in_place, read) == want, f"{label}, {ranks} rank(s): (in place, read) = {(in_place, read)}, expected {want}")
        with h5py.File(out, "r") as f:
            check(np.array_equal(f["vi/sum/data"][()], cube.sum(axis=(2, 3))), f"{label}, {ranks} rank(s): sum image")
            check(np.array_equal(f["vi/max_pattern/data"][()], cube.max(axis=(0, 1))), f"{label}, {ranks} rank(s): max pattern")


# 1. A cube tmdflow writes: every pattern in place.
for dtype in ("uint16", "float32"):
    cube_file = os.path.join(tmp, f"cube_{dtype}.h5")
    run_ok(["stage", "synthesize-datacube", "--output", cube_file, "--scan", f"{rx},{ry}", "--detector", f"{qx},{qy}",
            "--counts", "3000", "--dtype", dtype])
    with h5py.File(cube_file, "r") as f:
        cube = f["datacube_root/datacube/data"][()].astype(np.float64)
    virtual_image(cube_file, cube, f"tmdflow {dtype}", True)

# 2. The same patterns written by h5py: with its defaults (contiguous), compressed (gzip), and in
# uncompressed pattern chunks (in place: the path needs no tmdflow writer, only the layout).
cube_u16 = (np.arange(rx * ry * qx * qy, dtype=np.uint64).reshape(rx, ry, qx, qy) * 2654435761 % 4099).astype(np.uint16)
for label, kwargs, expect in (("h5py defaults", {}, False),
                              ("h5py gzip", dict(chunks=(1, 1, qx, qy), compression="gzip"), False),
                              ("h5py pattern chunks", dict(chunks=(1, 1, qx, qy)), True)):
    path = os.path.join(tmp, label.replace(" ", "_") + ".h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=cube_u16, **kwargs)
    virtual_image(path + ":/data", cube_u16.astype(np.float64), label, expect)

finish(tmp)
