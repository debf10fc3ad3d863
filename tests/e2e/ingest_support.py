"""Helpers of the ingest end-to-end tests: running the stage, reading its product with h5py, and
independent NumPy readings of the fixtures (written here, not taken from tmdflow).

Environment (set by ctest): TMDFLOW (binary), TMDFLOW_LAUNCH (launcher: LAUNCH N PROG ARGS),
TMDFLOW_SHARED_DATA (the shared data folder). Run with the Debian python3 that has h5py.
"""
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
import tempfile
import unittest
import zipfile

import h5py
import numpy as np

TMDFLOW = os.environ["TMDFLOW"]
LAUNCH = os.environ["TMDFLOW_LAUNCH"]
DATA = os.path.join(os.environ["TMDFLOW_SHARED_DATA"], "4dstem")
GROUP = "datacube_root"


class IngestCase(unittest.TestCase):
    """A test case with a scratch folder (removed afterwards) and the fixtures unzipped into it."""

    zips = ()

    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.mkdtemp(prefix="tmdflow-ingest-")
        for z in cls.zips:
            with zipfile.ZipFile(os.path.join(DATA, z)) as f:
                f.extractall(cls.scratch)

    @classmethod
    def tearDownClass(cls):
        if not os.environ.get("TMDFLOW_KEEP_TEST_FILES"):
            shutil.rmtree(cls.scratch, ignore_errors=True)

    @classmethod
    def path(cls, name):
        return os.path.join(cls.scratch, name)

    @classmethod
    def ingest(cls, inp, out, *options, ranks=1, timeout=60):
        """Runs `tmdflow stage ingest` (through the launcher when ranks > 1); returns CompletedProcess."""
        cmd = ([LAUNCH, str(ranks)] if ranks > 1 else []) + [
            TMDFLOW, "stage", "ingest", "--input", inp, "--output", out, *options]
        # A TMPDIR of its own for each run: Open MPI creates its session folder there, and two
        # processes starting at once in one TMPDIR can fail ("mkdir ... ompi.HOST.UID: File exists"),
        # as can a run whose /tmp/ompi.* another job cleans up.
        env = dict(os.environ, TMDFLOW_PROGRESS="off", TMPDIR=tempfile.mkdtemp(prefix="t", dir=cls.scratch))
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)

    @classmethod
    def ingest_many(cls, jobs, workers=4):
        """Runs several ingests at once (each process spends most of its second starting MPI):
        jobs are (input, output, options, ranks); returns their CompletedProcess in order."""
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(lambda j: cls.ingest(j[0], j[1], *j[2], ranks=j[3]), jobs))

    def ingest_ok(self, inp, out, *options, ranks=1):
        r = self.ingest(inp, out, *options, ranks=ranks)
        self.assertEqual(r.returncode, 0, f"ingest {inp} {options} at {ranks} ranks failed:\n{r.stdout}\n{r.stderr}")
        return read_product(out)


def read_product(path, group=GROUP):
    """The product's data, calibration, acquisition values and tmdflow attributes."""
    def text(v):
        return v.decode() if isinstance(v, bytes) else v
    with h5py.File(path, "r") as f:
        g = f[group]
        cal = {k: text(g["metadatabundle/calibration"][k][()]) for k in
               ("R_pixel_size", "R_pixel_units", "Q_pixel_size", "Q_pixel_units")}
        acq = {}
        if "metadatabundle/tmdflow_acquisition" in g:
            a = g["metadatabundle/tmdflow_acquisition"]
            acq = {k: float(a[k][()]) for k in a}
        attrs = {k: text(v) for k, v in g.attrs.items()}
        return {"data": g["datacube/data"][...], "chunks": g["datacube/data"].chunks,
                "calibration": cal, "acquisition": acq, "attrs": attrs}


def read_mib(path):
    """All frames of a .mib as an (N, height, width) array, read with np.fromfile at the offsets
    that the first frame header gives (header size, width, height, big-endian type)."""
    with open(path, "rb") as f:
        fields = f.read(256).split(b",")
    assert fields[0] == b"MQ1", path
    header, width, height = int(fields[2]), int(fields[4]), int(fields[5])
    dtype = np.dtype({b"U08": ">u1", b"U16": ">u2", b"U32": ">u4"}[fields[6]])
    frame = header + width * height * dtype.itemsize
    n = os.path.getsize(path) // frame
    assert n * frame == os.path.getsize(path), path
    frames = [np.fromfile(path, dtype=dtype, count=width * height, offset=i * frame + header) for i in range(n)]
    return np.stack(frames).reshape(n, height, width)


def read_hdr(path):
    """The `Key (unit): value` lines of a Merlin .hdr as a dict of strings."""
    out = {}
    with open(path, "rb") as f:
        for line in f.read().replace(b"\0", b"").decode("latin-1").splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                out[k.strip()] = v.strip()
    return out


def no_output_left(test, folder, out_name):
    """Asserts that a failed run left neither its product nor a temporary file in `folder`."""
    left = [p for p in os.listdir(folder) if p == out_name or ".tmp-" in p or p.startswith(out_name + ".")]
    test.assertEqual(left, [], f"files left behind in {folder}")


def error_lines(stderr):
    return [l for l in stderr.splitlines() if l.startswith("tmdflow: error:")]

