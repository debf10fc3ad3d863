#!/usr/bin/env python3
"""ingest of DECTRIS Arina acquisitions (NeXus NXmx master + bitshuffle/LZ4 data files) at 1 and 2 ranks.

Two inputs: the real fixture (../shared/data/4dstem/arina: 16 frames of 192x192 uint32, all zero,
and a test_00.h5 giving a 4x4 scan), and an acquisition written here with h5py and Debian's
bitshuffle module (three data files, non-zero frames, a pixel mask, a flatfield, a wavelength) so
that every value can be told apart. The product is compared element by element with h5py's own
reading of the files (bitshuffle.h5 decodes them in this process, independently of tmdflow). The
error cases: a wrong --scan, no scan shape at all, a data file without its master, a missing data
file, a missing filter plugin (HDF5_PLUGIN_PATH pointing at an empty folder), an output that is
one of the input's files, a flatfield the detector already applied."""
import hashlib
import os
import subprocess
import tempfile
import unittest

import bitshuffle.h5  # noqa: F401  (registers filter 32008 with this process's h5py)
import h5py
import numpy as np

from ingest_support import DATA, LAUNCH, TMDFLOW, IngestCase, error_lines, no_output_left, read_product

ARINA = os.path.join(DATA, "arina")
MASTER = os.path.join(ARINA, "test_00_master.h5")

# The synthetic acquisition: 7 + 7 + 6 frames of 6 rows x 5 columns (not square: a transpose shows).
FRAMES_PER_FILE = (7, 7, 6)
SCAN = (4, 5)
FRAME = (6, 5)
MASKED = {(0, 0): 1, (2, 3): 8, (5, 4): 2}  # pixel: DECTRIS mask bit (gap, hot, dead)
CAMERA_LENGTH_M = 0.2
PIXEL_M = 55e-6


def wavelength_A(kV):
    """Relativistic electron wavelength (CODATA 2018), written here from the textbook formula."""
    h, m, e, c = 6.62607015e-34, 9.1093837015e-31, 1.602176634e-19, 299792458.0
    eV = e * kV * 1e3
    return h / np.sqrt(2 * m * eV * (1 + eV / (2 * m * c * c))) * 1e10


def write_data_file(path, frames, first):
    with h5py.File(path, "w") as f:
        d = f.create_dataset("entry/data/data", data=frames, chunks=(1,) + frames.shape[1:],
                             compression=bitshuffle.h5.H5FILTER, compression_opts=(0, bitshuffle.h5.H5_COMPRESS_LZ4))
        d.attrs["image_nr_low"] = np.uint64(first + 1)
        d.attrs["image_nr_high"] = np.uint64(first + len(frames))


def write_master(path, data_files, mask, flatfield, flatfield_applied=0, nimages=20):
    with h5py.File(path, "w") as f:
        f["entry/definition"] = np.bytes_("NXmx")
        det = f.create_group("entry/instrument/detector")
        det["description"] = np.bytes_("Dectris ARINA (made by the test)")
        for name, value, units in (("count_time", 1e-3, "s"), ("frame_time", 1.1e-3, "s"), ("x_pixel_size", PIXEL_M, "m"),
                                   ("y_pixel_size", PIXEL_M, "m"), ("detector_distance", 0.0, "m"),
                                   ("threshold_energy", 20000.0, "eV")):
            det[name] = value
            det[name].attrs["units"] = np.bytes_(units)
        det["bit_depth_image"] = np.uint16(16)
        det["saturation_value"] = np.int64(60000)
        det["flatfield_correction_applied"] = np.int8(flatfield_applied)
        spec = det.create_group("detectorSpecific")
        spec["pixel_mask"] = mask
        spec["flatfield"] = flatfield
        spec["photon_energy"] = 300000.0  # the wavelength below (200 kV) comes first
        spec["photon_energy"].attrs["units"] = np.bytes_("eV")
        spec["nimages"] = np.uint64(1)
        spec["ntrigger"] = np.uint64(nimages)
        f["entry/instrument/beam/incident_wavelength"] = wavelength_A(200.0)
        f["entry/instrument/beam/incident_wavelength"].attrs["units"] = np.bytes_("angstrom")
        for i, name in enumerate(data_files):
            f[f"entry/data/data_{i + 1:06d}"] = h5py.ExternalLink(name, "/entry/data/data")


def write_scan_metadata(path, rows, cols):
    with h5py.File(path, "w") as f:
        g = f.create_group("STEM Metadata")
        g.attrs["NumPixelsX"] = cols
        g.attrs["NumPixelsY"] = rows
        g.attrs["NumPixelsPrescan"] = np.array([0], dtype=np.uint32)
        g.attrs["Pixel Size"] = np.array([0.25])
        g.attrs["IsPixelSizeCalibrated"] = np.array([1], dtype=np.uint8)
        g.attrs["High Tension"] = np.array([200000.0])
        g.attrs["Camera Length"] = np.array([CAMERA_LENGTH_M])


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Arina(IngestCase):
    """Writes the inputs, runs every ingest at once (setUpClass), then each test checks its result."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        p = cls.path
        rng = np.random.default_rng(13)
        frames = rng.integers(0, 50000, size=(sum(FRAMES_PER_FILE),) + FRAME, dtype=np.uint16)
        cls.mask = np.zeros(FRAME, dtype=np.uint32)
        for pixel, bit in MASKED.items():
            cls.mask[pixel] = bit
        frames[:, cls.mask != 0] = 65535  # what the detector writes into masked pixels
        cls.flatfield = rng.uniform(0.8, 1.2, size=FRAME).astype(np.float32)
        os.mkdir(p("syn"))
        names, first = [], 0
        for i, n in enumerate(FRAMES_PER_FILE):
            names.append(f"syn_data_{i + 1:06d}.h5")
            write_data_file(p("syn/" + names[-1]), frames[first:first + n], first)
            first += n
        write_master(p("syn/syn_master.h5"), names, cls.mask, cls.flatfield)
        write_scan_metadata(p("syn/syn.h5"), *SCAN)
        write_master(p("syn/applied_master.h5"), names, cls.mask, cls.flatfield, flatfield_applied=1)
        write_master(p("syn/gap_master.h5"), [names[0], "gone_data_000002.h5", names[2]], cls.mask, cls.flatfield)
        cls.data_file_sha = sha256(p("syn/" + names[0]))
        cls.data_file = p("syn/" + names[0])
        # h5py's own reading of what it wrote (through bitshuffle.h5, not tmdflow).
        with h5py.File(p("syn/syn_master.h5"), "r") as f:
            cls.syn_frames = np.concatenate([f[f"entry/data/data_{i + 1:06d}"][...] for i in range(len(names))])
        assert np.array_equal(cls.syn_frames, frames)

        # The fixture's pieces, linked into folders that lack the others.
        os.mkdir(p("no_meta"))
        os.mkdir(p("lonely"))
        for f in ("test_00_master.h5", "test_00_data_000001.h5"):
            os.symlink(os.path.join(ARINA, f), p("no_meta/" + f))
        os.symlink(os.path.join(ARINA, "test_00_data_000001.h5"), p("lonely/test_00_data_000001.h5"))
        os.mkdir(p("no_plugins"))
        os.mkdir(p("errors"))

        cls.jobs = {  # name: (input, options, ranks)
            "real": (MASTER, ["--scan", "4,4"], 1),
            "real_2": (MASTER, ["--scan", "4,4", "--block-patterns", "3"], 2),
            "real_auto": (MASTER, [], 2),
            "real_refold": (MASTER, ["--scan", "2,8"], 2),
            "real_from_data": (os.path.join(ARINA, "test_00_data_000001.h5"), [], 1),
            "real_from_meta": (os.path.join(ARINA, "test_00.h5"), [], 1),
            "syn": (p("syn/syn_master.h5"), [], 1),
            # Blocks of 3 frames cross the data files' boundaries (frames 7 and 14).
            "syn_2": (p("syn/syn_master.h5"), ["--block-patterns", "3"], 2),
            "syn_flat": (p("syn/syn_master.h5"), ["--flatfield", "true", "--block-patterns", "3"], 2),
            "bad_scan": (MASTER, ["--scan", "5,5"], 2),
            "no_scan": (p("no_meta/test_00_master.h5"), [], 1),
            "lonely": (p("lonely/test_00_data_000001.h5"), ["--scan", "4,4"], 1),
            "gap": (p("syn/gap_master.h5"), [], 2),
            "applied": (p("syn/applied_master.h5"), ["--flatfield", "true", "--scan", "4,5"], 1),
            "not_arina": (os.path.join(DATA, "py4DSTEM_size2x3x4x5.h5"), ["--flatfield", "true"], 1),
        }
        outputs = {name: p("errors/" + name + ".h5") if name in ("bad_scan", "no_scan", "lonely", "gap", "applied", "not_arina")
                   else p(name + ".h5") for name in cls.jobs}
        jobs = [(inp, outputs[name], opts, ranks) for name, (inp, opts, ranks) in cls.jobs.items()]
        # Special runs: the plugins hidden; the output naming one of the input's data files.
        jobs.append((MASTER, p("no_plugins/out.h5"), ["--scan", "4,4"], 2))
        jobs.append((p("syn/syn_master.h5"), cls.data_file, [], 1))
        results = cls.ingest_many(jobs[:-2])
        cls.results = dict(zip(cls.jobs, results))
        cls.outputs = outputs
        cls.results["no_plugins"] = cls.ingest_env(*jobs[-2], env={"HDF5_PLUGIN_PATH": p("no_plugins")})
        cls.results["over_data"] = cls.ingest(*jobs[-1][:2], ranks=1)

    @classmethod
    def ingest_env(cls, inp, out, options, ranks, env):
        cmd = ([LAUNCH, str(ranks)] if ranks > 1 else []) + [TMDFLOW, "stage", "ingest", "--input", inp, "--output", out, *options]
        e = dict(os.environ, TMDFLOW_PROGRESS="off", TMPDIR=tempfile.mkdtemp(prefix="t", dir=cls.scratch), **env)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=e)

    def product(self, name):
        r = self.results[name]
        self.assertEqual(r.returncode, 0, f"{name} {self.jobs[name]}:\n{r.stdout}\n{r.stderr}")
        return read_product(self.outputs[name])

    def failure(self, name, code, pieces):
        r = self.results[name]
        self.assertEqual(r.returncode, code, f"{name}:\n{r.stdout}\n{r.stderr}")
        lines = error_lines(r.stderr)
        self.assertEqual(len(lines), 1, r.stderr)
        for piece in pieces:
            self.assertIn(piece, lines[0])
        return lines[0]

    # ---- the real fixture ------------------------------------------------------------------------

    def fixture_frames(self):
        with h5py.File(MASTER, "r") as f:
            return f["entry/data/data_000001"][...], f["entry/instrument/detector/detectorSpecific/pixel_mask"][...]

    def test_fixture_equals_h5pys_reading_at_one_and_two_ranks(self):
        frames, mask = self.fixture_frames()
        expected = np.where(mask != 0, 0, frames).reshape(4, 4, 192, 192)
        for name in ("real", "real_2", "real_auto", "real_from_data", "real_from_meta"):
            p = self.product(name)
            self.assertEqual(p["data"].dtype, np.uint32, name)
            self.assertEqual(p["data"].shape, (4, 4, 192, 192), name)
            np.testing.assert_array_equal(p["data"], expected, err_msg=name)
        np.testing.assert_array_equal(self.product("real_refold")["data"], expected.reshape(2, 8, 192, 192))

    def test_fixture_metadata(self):
        p = self.product("real_auto")
        acq, cal = p["acquisition"], p["calibration"]
        self.assertEqual(acq["voltage_kV"], 300.0)  # photon_energy 300000 eV
        self.assertAlmostEqual(acq["exposure_s"], 9.950000094249845e-05, delta=1e-15)
        self.assertEqual(acq["detector_pixel_size_m"], 1e-4)
        self.assertEqual(acq["counter_depth_bits"], 32)
        self.assertEqual(acq["saturation_value"], 8352)
        self.assertEqual(acq["camera_length_m"], 0.115)
        self.assertEqual(acq["masked_pixels"], 0)
        self.assertNotIn("detector_distance_m", acq)  # 0 in the master: unknown
        self.assertEqual((cal["R_pixel_units"], cal["Q_pixel_units"]), ("nm", "A^-1"))
        self.assertAlmostEqual(cal["R_pixel_size"], 0.13915206, delta=1e-9)
        self.assertAlmostEqual(cal["Q_pixel_size"], 1e-4 / (0.115 * wavelength_A(300.0)), delta=1e-9)
        self.assertIn("scan 4x4 from", self.results["real_auto"].stderr)

    def test_wrong_scan_shape_is_refused_before_any_output(self):
        self.failure("bad_scan", 4, [MASTER, "frame count", "expected 25 (--scan 5,5)", "found 16"])
        no_output_left(self, self.path("errors"), "bad_scan.h5")

    def test_no_scan_shape_anywhere_asks_for_scan(self):
        self.failure("no_scan", 3, ["scan: expected --scan Rx,Ry", "16 frames", "no test_00.h5", "e.g. --scan 4,4"])

    def test_data_file_without_its_master(self):
        self.failure("lonely", 4, [self.path("lonely/test_00_data_000001.h5"), "expected test_00_master.h5 beside this data file",
                                   "found no such file"])

    def test_missing_filter_plugin_names_file_dataset_filter_and_package(self):
        line = self.failure("no_plugins", 5, [os.path.join(ARINA, "test_00_data_000001.h5") + ":/entry/data/data",
                                              "compression filter 32008 (bitshuffle/LZ4)",
                                              "HDF5_PLUGIN_PATH=" + self.path("no_plugins"), "Debian package 'bitshuffle'"])
        self.assertNotIn("[rank", line)  # one message, not one per rank
        self.assertEqual(os.listdir(self.path("no_plugins")), [])

    # ---- the synthetic acquisition: three data files, mask, flatfield, wavelength ---------------

    def expected_syn(self):
        return np.where(self.mask != 0, 0, self.syn_frames).reshape(SCAN + FRAME)

    def test_three_data_files_with_the_pixel_mask_at_one_and_two_ranks(self):
        for name in ("syn", "syn_2"):
            p = self.product(name)
            self.assertEqual(p["data"].dtype, np.uint16, name)
            np.testing.assert_array_equal(p["data"], self.expected_syn(), err_msg=name)
            self.assertEqual(p["acquisition"]["masked_pixels"], len(MASKED))
        self.assertTrue((self.syn_frames[:, 0, 0] == 65535).all())  # the mask mattered

    def test_flatfield_multiplies_in_float32(self):
        p = self.product("syn_flat")
        self.assertEqual(p["data"].dtype, np.float32)
        gain = np.where(self.mask != 0, np.float32(0), self.flatfield)
        expected = (self.syn_frames.astype(np.float32) * gain).reshape(SCAN + FRAME)
        np.testing.assert_array_equal(p["data"], expected)
        self.assertEqual(p["acquisition"]["flatfield_applied"], 1.0)

    def test_synthetic_metadata_voltage_from_the_wavelength(self):
        p = self.product("syn_2")
        acq, cal = p["acquisition"], p["calibration"]
        self.assertAlmostEqual(acq["voltage_kV"], 200.0, delta=1e-6)  # not photon_energy's 300
        self.assertEqual(acq["exposure_s"], 1e-3)
        self.assertEqual(acq["counter_depth_bits"], 16)
        self.assertEqual(cal["R_pixel_size"], 0.25)
        self.assertAlmostEqual(cal["Q_pixel_size"], PIXEL_M / (CAMERA_LENGTH_M * wavelength_A(200.0)), delta=1e-9)

    def test_missing_data_file_is_named(self):
        self.failure("gap", 4, [self.path("syn/gap_master.h5") + ":/entry/data/data_000002", "external link",
                                self.path("syn/gone_data_000002.h5"), "no such file"])

    def test_output_over_one_of_the_inputs_data_files_is_refused(self):
        r = self.results["over_data"]
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("which it reads", r.stderr)
        self.assertEqual(sha256(self.data_file), self.data_file_sha)

    def test_flatfield_already_applied_or_not_dectris(self):
        self.failure("applied", 3, ["flatfield", "flatfield_correction_applied = 1"])
        self.failure("not_arina", 3, ["flatfield: applies to DECTRIS input only"])


if __name__ == "__main__":
    unittest.main()
