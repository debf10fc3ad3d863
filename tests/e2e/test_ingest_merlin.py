#!/usr/bin/env python3
"""ingest of the real Merlin .mib fixtures (single chip and quad, counter depths 1/6/12/24, 1 and
9 frames, the 4x2 navigation files incl. a 256x128 ROI) at 1 and 2 ranks. Every product is compared
with an independent NumPy reading of the .mib (np.fromfile, big-endian, offsets from the header)."""
import unittest

import numpy as np

from ingest_support import IngestCase, read_hdr, read_mib, read_product


def scan_from_hdr(hdr, frames):
    """The scan the .hdr implies: rows of 'Frames per Trigger' positions when that divides the
    frames (a trigger per scan row), else one row."""
    n = int(hdr["Frames in Acquisition (Number)"])
    assert n == frames
    per_trigger = int(hdr["Frames per Trigger (Number)"])
    return (n // per_trigger, per_trigger) if per_trigger > 1 and n % per_trigger == 0 else (1, n)


class MerlinFixtures(IngestCase):
    zips = ("Merlin_Single_Quad.zip", "Merlin_navigation4x2_ROI.zip")

    # (file stem, options, ranks, scan expected; None: what the .hdr implies)
    CASES = [(f"{kind}_{frames}_Frame_CounterDepth_{depth}_Rows_256", [], 1, None)
             for kind in ("Single", "Quad") for frames in (1, 9) for depth in (1, 6, 12, 24)] + [
        # 3 rows over 2 ranks (2 + 1); blocks of 2 patterns cut the rows in parts.
        ("Single_9_Frame_CounterDepth_12_Rows_256", ["--scan", "3,3"], 2, (3, 3)),
        ("Quad_9_Frame_CounterDepth_24_Rows_256", ["--scan", "3,3", "--block-patterns", "2"], 2, (3, 3)),
        # One row (from the .hdr): the second rank holds nothing and still joins every write.
        ("Quad_9_Frame_CounterDepth_6_Rows_256", [], 2, None),
        ("001_4x2_6bit", ["--scan", "4,2"], 2, (4, 2)),
        ("002_4x2_6bit_roi128", ["--scan", "4,2"], 2, (4, 2)),
        # Without --scan: the .hdr says one frame per trigger (pixel trigger), so one row of 8.
        ("002_4x2_6bit_roi128", [], 1, None),
    ]

    def test_every_fixture_matches_numpy_reading(self):
        outs = [self.path(f"out{i}.h5") for i in range(len(self.CASES))]
        results = self.ingest_many([(self.path(stem + ".mib"), out, options, ranks)
                                    for (stem, options, ranks, _), out in zip(self.CASES, outs)])
        for (stem, options, ranks, scan), out, r in zip(self.CASES, outs, results):
            with self.subTest(stem=stem, options=options, ranks=ranks):
                self.assertEqual(r.returncode, 0, f"{r.stdout}\n{r.stderr}")
                self.check(stem, read_product(out), scan)

    def check(self, stem, product, scan):
        frames = read_mib(self.path(stem + ".mib"))
        hdr = read_hdr(self.path(stem + ".hdr"))
        rx, ry = scan if scan else scan_from_hdr(hdr, len(frames))
        expected = frames.reshape(rx, ry, *frames.shape[1:])
        data = product["data"]
        self.assertEqual(data.shape, expected.shape)
        self.assertEqual(data.dtype, expected.dtype.newbyteorder("="))  # type kept (native order)
        np.testing.assert_array_equal(data, expected)
        self.assertEqual(product["chunks"], (1, 1) + frames.shape[1:])
        self.assertEqual(product["attrs"]["tmdflow_product"], "datacube/1")
        # No calibration in a .mib: pixels; the counter depth is the .hdr's.
        self.assertEqual(product["calibration"]["R_pixel_units"], "pixels")
        self.assertEqual(product["calibration"]["Q_pixel_units"], "pixels")
        self.assertEqual(product["acquisition"]["counter_depth_bits"], int(hdr["Counter Depth (number)"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
