#!/usr/bin/env python3
"""ingest's failures: each bad input or option ends the job with the exit code of its error kind
(core/error.hpp: usage 2, config 3, input 4, io 5), one error line naming the file (and frame) with
what was expected and found, and no product or temporary file left behind; at 2 ranks, a bad frame
that only the second rank reads ends both ranks (no hang: 60 s limit)."""
import os
import shutil
import unittest

import numpy as np

from ingest_support import IngestCase, error_lines, no_output_left

USAGE, CONFIG, INPUT, IO = 2, 3, 4, 5
SINGLE9 = "Single_9_Frame_CounterDepth_12_Rows_256"
FRAME_BYTES = 384 + 256 * 256 * 2  # header + U16 pixels of that file
RAW_BYTES = 4 * 3 * 8 * 8 * 2      # cube.raw: shape (4, 3, 8, 8) uint16


class IngestErrors(IngestCase):
    zips = ("Merlin_Single_Quad.zip",)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        p = cls.path

        def copy_single9(name, offset, data):
            for ext in (".mib", ".hdr"):
                shutil.copy(p(SINGLE9 + ext), p(name + ext))
            with open(p(name + ".mib"), "r+b") as f:
                f.seek(offset)
                f.write(data)
            return p(name + ".mib")

        bad_magic = copy_single9("bad_magic", 1 * FRAME_BYTES, b"XQ1")        # frame 2 (index 1)
        bad_type = copy_single9("bad_type", 2 * FRAME_BYTES + 30, b"U32")     # 'U16' of index 2
        # Scan 3x3 at 2 ranks: rank 0 reads rows 0-1 (frames 0-5), rank 1 row 2 (frames 6-8). The
        # first and last headers are fine, so only rank 1 meets the bad frame, while writing.
        bad_rank1 = copy_single9("bad_rank1", 7 * FRAME_BYTES, b"MQ2")
        np.zeros(RAW_BYTES // 2 - 50, dtype="<u2").tofile(p("truncated.raw"))
        np.zeros(RAW_BYTES // 2, dtype="<u2").tofile(p("cube.raw"))
        np.save(p("fortran.npy"), np.asfortranarray(np.zeros((2, 3, 4, 5), dtype=np.float32)))
        mib, r64 = p(SINGLE9 + ".mib"), p("Single_1_Frame_CounterDepth_1_Rows_256RAW.mib")
        raw_opts = ["--shape", "4,3,8,8", "--dtype", "uint16"]
        # name: (input, options, ranks, exit code, pieces of the error line)
        cls.cases = {
            "missing": (p("nothere.mib"), [], 1, IO, [p("nothere.mib"), "no such file"]),
            "bad_magic": (bad_magic, [], 1, INPUT, [bad_magic, "frame 1 ", "magic", "expected 'MQ1'", "found 'XQ1'"]),
            "bad_type": (bad_type, [], 1, INPUT, [bad_type, "frame 2 ", "pixel type", "expected U16", "found U32"]),
            "r64": (r64, [], 1, INPUT, [r64, "raw (R64) Merlin frames are not supported"]),
            "truncated": (p("truncated.raw"), raw_opts, 1, INPUT,
                          [p("truncated.raw"), f"expected {RAW_BYTES} bytes", f"found {RAW_BYTES - 100} bytes", "truncated"]),
            "wrong_shape": (p("cube.raw"), ["--shape", "4,3,8,9", "--dtype", "uint16"], 1, INPUT,
                            [p("cube.raw"), f"expected {4 * 3 * 8 * 9 * 2} bytes", f"found {RAW_BYTES} bytes"]),
            "no_shape": (p("cube.raw"), ["--dtype", "uint16"], 1, CONFIG, ["shape", "Rx,Ry,Qx,Qy"]),
            "scan_count": (mib, ["--scan", "4,2"], 1, INPUT, [mib, "frame count", "expected 8 (--scan 4,2)", "found 9"]),
            "fortran": (p("fortran.npy"), [], 1, INPUT, [p("fortran.npy"), "fortran_order", "expected False", "found True"]),
            "unknown_option": (mib, ["--bogus", "1"], 1, USAGE, ["bogus"]),
            "misplaced_option": (mib, ["--shape", "1,9,256,256"], 1, CONFIG, ["shape", "raw input only"]),
            "bad_frame_rank1": (bad_rank1, ["--scan", "3,3"], 2, INPUT, [bad_rank1, "frame 7 ", "expected 'MQ1'", "found 'MQ2'"]),
            "before_work_2ranks": (r64, [], 2, INPUT, [r64, "R64"]),
        }
        for name in cls.cases:
            os.makedirs(p("out_" + name))
        results = cls.ingest_many([(inp, p(f"out_{name}/out.h5"), opts, ranks)
                                   for name, (inp, opts, ranks, _, _) in cls.cases.items()])
        cls.results = dict(zip(cls.cases, results))

    def expect_failure(self, name):
        _, options, ranks, code, pieces = self.cases[name]
        r = self.results[name]
        self.assertEqual(r.returncode, code, f"{name} {options} at {ranks} ranks:\n{r.stdout}\n{r.stderr}")
        lines = error_lines(r.stderr)
        self.assertEqual(len(lines), 1, f"expected one error line, found:\n{r.stderr}")
        for piece in pieces:
            self.assertIn(piece, lines[0])
        no_output_left(self, self.path("out_" + name), "out.h5")

    def test_missing_file(self):
        self.expect_failure("missing")

    def test_corrupt_header_of_frame_2(self):
        self.expect_failure("bad_magic")
        self.expect_failure("bad_type")

    def test_raw_r64_frames_are_refused(self):
        self.expect_failure("r64")

    def test_truncated_and_wrongly_shaped_raw(self):
        self.expect_failure("truncated")
        self.expect_failure("wrong_shape")
        self.expect_failure("no_shape")

    def test_frame_count_not_matching_scan(self):
        self.expect_failure("scan_count")

    def test_fortran_order_npy(self):
        self.expect_failure("fortran")

    def test_unknown_and_misplaced_options(self):
        self.expect_failure("unknown_option")
        self.expect_failure("misplaced_option")

    def test_bad_frame_read_by_the_second_rank_ends_both(self):
        self.expect_failure("bad_frame_rank1")

    def test_error_found_before_work_at_two_ranks(self):
        self.expect_failure("before_work_2ranks")


if __name__ == "__main__":
    unittest.main(verbosity=2)
