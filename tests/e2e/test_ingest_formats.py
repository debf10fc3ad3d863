#!/usr/bin/env python3
"""ingest of raw binary, NumPy .npy and HDF5 inputs (py4DSTEM EMD 1.0, Prismatic EMD 0.5) at 1 and
2 ranks. Inputs are made here with NumPy or read here with h5py; every product value is compared
with that independent reading. (The Merlin fixtures are in test_ingest_merlin.py.)"""
import os
import subprocess
import unittest

import h5py
import numpy as np

from ingest_support import DATA, TMDFLOW, IngestCase, read_product

PY4DSTEM = os.path.join(DATA, "py4DSTEM_size2x3x4x5.h5")
PRISMATIC = os.path.join(DATA, "Si100_4D.emd")
PRISMATIC_CUBES = "/4DSTEM_simulation/data/datacubes"


class Formats(IngestCase):
    """Makes every input, runs every ingest at once (setUpClass), then each test checks its products."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        p = cls.path
        rng = np.random.default_rng(7)
        cls.cubes = {}
        # raw: big-endian uint16 after a 7-byte file header, 5 bytes before every frame.
        be = cls.cubes["be"] = rng.integers(0, 65535, size=(3, 4, 6, 5), dtype=np.uint16)
        with open(p("be.raw"), "wb") as f:
            f.write(b"H" * 7)
            for frame in be.reshape(-1, 6, 5):
                f.write(b"G" * 5)
                f.write(frame.astype(">u2").tobytes())
        # raw: little-endian float32, once with an unknown extension (--format raw), once as .bin.
        le = cls.cubes["le"] = rng.normal(size=(5, 2, 4, 4)).astype("<f4")
        le.tofile(p("le.dat"))
        le.tofile(p("le.bin"))
        # npy: little int16, big-endian float64, 3-D frames of uint32.
        cls.cubes["little"] = rng.integers(-3000, 3000, size=(2, 3, 4, 5), dtype="<i2")
        np.save(p("little.npy"), cls.cubes["little"])
        cls.cubes["big"] = rng.normal(size=(5, 3, 6, 4)).astype(">f8")
        np.save(p("big.npy"), cls.cubes["big"])
        cls.cubes["frames"] = rng.integers(0, 2**32 - 1, size=(6, 3, 7), dtype="<u4")
        np.save(p("frames.npy"), cls.cubes["frames"])
        np.save(p("cal.npy"), np.ones((2, 2, 3, 3), dtype=np.float32))
        raw_be = ["--shape", "3,4,6,5", "--dtype", "uint16", "--endian", "big", "--header-bytes", "7", "--gap-bytes", "5"]
        cls.jobs = {  # name: (input, options, ranks)
            "be": (p("be.raw"), raw_be, 2),
            "le": (p("le.dat"), ["--format", "raw", "--shape", "5,2,4,4", "--dtype", "float32"], 1),
            "le_scan": (p("le.bin"), ["--shape", "5,2,4,4", "--dtype", "float32", "--scan", "2,5"], 2),
            "little": (p("little.npy"), [], 1),
            "big": (p("big.npy"), [], 2),
            "frames": (p("frames.npy"), ["--scan", "3,2"], 2),
            "cal": (p("cal.npy"), ["--r-pixel-nm", "0.25", "--q-pixel-invA", "0.0125", "--voltage-kV", "300",
                                   "--convergence-mrad", "21.4"], 1),
            "py4dstem": (PY4DSTEM, [], 2),
            # Its 2x3 positions refolded as 3x2: blocks of the new scan cross the file's rows.
            "py4dstem_scan": (PY4DSTEM, ["--scan", "3,2", "--block-patterns", "4"], 2),
            "prismatic": (PRISMATIC, ["--dataset", PRISMATIC_CUBES + "/CBED_array_depth0001"], 2),
            "prismatic_path": (PRISMATIC + ":" + PRISMATIC_CUBES + "/CBED_array_depth0000/datacube", [], 1),
            "prismatic_two": (PRISMATIC, [], 1),
        }
        results = cls.ingest_many([(inp, p(name + ".h5"), opts, ranks) for name, (inp, opts, ranks) in cls.jobs.items()])
        cls.results = dict(zip(cls.jobs, results))

    def product(self, name):
        r = self.results[name]
        self.assertEqual(r.returncode, 0, f"{name} {self.jobs[name]}:\n{r.stdout}\n{r.stderr}")
        return read_product(self.path(name + ".h5"))

    def test_raw_big_endian_uint16_with_header_and_gaps_at_two_ranks(self):
        p = self.product("be")
        self.assertEqual(p["data"].dtype, np.uint16)
        np.testing.assert_array_equal(p["data"], self.cubes["be"])

    def test_raw_float32_little_with_format_option_and_scan_refold(self):
        p = self.product("le")
        self.assertEqual(p["data"].dtype, np.float32)
        np.testing.assert_array_equal(p["data"], self.cubes["le"])
        # The same frames folded into another scan (2 x 5).
        np.testing.assert_array_equal(self.product("le_scan")["data"], self.cubes["le"].reshape(2, 5, 4, 4))

    def test_npy_little_big_endian_and_3d_with_scan(self):
        self.assertEqual(np.load(self.path("big.npy")).dtype.byteorder, ">")  # really a big-endian file
        for name, dtype, expected in (("little", np.int16, self.cubes["little"]),
                                      ("big", np.float64, self.cubes["big"]),
                                      ("frames", np.uint32, self.cubes["frames"].reshape(3, 2, 3, 7))):
            p = self.product(name)
            self.assertEqual(p["data"].dtype, dtype, name)
            np.testing.assert_array_equal(p["data"], expected, err_msg=name)

    def test_calibration_options_are_recorded_and_the_product_validates(self):
        p = self.product("cal")
        self.assertEqual(p["calibration"], {"R_pixel_size": 0.25, "R_pixel_units": "nm",
                                            "Q_pixel_size": 0.0125, "Q_pixel_units": "A^-1"})
        self.assertEqual(p["acquisition"], {"voltage_kV": 300.0, "convergence_mrad": 21.4})
        r = subprocess.run([TMDFLOW, "validate", self.path("cal.h5")], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, TMPDIR=self.scratch))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_py4dstem_emd1_data_and_calibration(self):
        with h5py.File(PY4DSTEM, "r") as f:
            data = f["datacube_root/datacube/data"][...]
            cal = f["datacube_root/metadatabundle/calibration"]
            expected_cal = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in
                            ((k, cal[k][()]) for k in ("R_pixel_size", "R_pixel_units", "Q_pixel_size", "Q_pixel_units"))}
        p = self.product("py4dstem")
        self.assertEqual(p["data"].dtype, data.dtype)
        np.testing.assert_array_equal(p["data"], data)
        self.assertEqual(p["calibration"], expected_cal)
        np.testing.assert_array_equal(self.product("py4dstem_scan")["data"], data.reshape(3, 2, 4, 5))

    def test_prismatic_emd05_reads_its_lengths_as_angstrom(self):
        with h5py.File(PRISMATIC, "r") as f:
            g = f[PRISMATIC_CUBES + "/CBED_array_depth0001"]
            data = g["datacube"][...]
            depth0 = f[PRISMATIC_CUBES + "/CBED_array_depth0000/datacube"][...]
            r_step = float(g["dim1"][1]) - float(g["dim1"][0])
            q_step = float(g["dim3"][1]) - float(g["dim3"][0])
            params = f["4DSTEM_simulation/metadata/metadata_0/original/simulation_parameters"].attrs
            probe_step_A, voltage_kV, semiangle_mrad = float(params["rx"]), float(params["E"]), float(params["sa"])
        # Why Angstrom: the dims' R step is Prismatic's probe step, which it takes in Angstrom.
        self.assertAlmostEqual(r_step, probe_step_A, places=6)
        p = self.product("prismatic")
        self.assertEqual(p["data"].dtype, np.float32)
        np.testing.assert_array_equal(p["data"], data)
        cal = p["calibration"]
        self.assertEqual((cal["R_pixel_units"], cal["Q_pixel_units"]), ("nm", "A^-1"))
        self.assertAlmostEqual(cal["R_pixel_size"], r_step / 10, places=7)   # Angstrom -> nm
        self.assertAlmostEqual(cal["Q_pixel_size"], q_step, places=7)        # already 1/Angstrom
        self.assertEqual(p["acquisition"], {"voltage_kV": voltage_kV, "convergence_mrad": semiangle_mrad})
        # FILE:/path names the dataset as well as --dataset does.
        np.testing.assert_array_equal(self.product("prismatic_path")["data"], depth0)

    def test_prismatic_with_two_depths_needs_a_dataset(self):
        r = self.results["prismatic_two"]
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("CBED_array_depth0000", r.stderr)
        self.assertIn("CBED_array_depth0001", r.stderr)
        self.assertFalse(os.path.exists(self.path("prismatic_two.h5")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
