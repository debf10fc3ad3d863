"""Writes a synthetic Quantum Detectors Merlin .mib (+ .hdr) for the ingest benchmark:
ROWS x COLS frames of 256x256 12-bit counters (U16, big-endian, 384-byte headers).
usage: make_mib.py OUT.mib ROWS COLS"""
import sys

import numpy as np

out, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
n = rows * cols
rng = np.random.default_rng(1)
frames = [rng.poisson(3.0, (256, 256)).astype(">u2") for _ in range(8)]


def header(seq):
    h = (f"MQ1,{seq:06d},00384,01,0256,0256,U16,   1x1,01,2024-01-01 00:00:00.000000,0.001000,0,0,0,"
         "1.000000E+1,5.110000E+2,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,0.000000E+0,"
         "3RX,175,511,000,000,000,000,000,000,125,255,125,125,100,100,100,100,082,045,000,000,000,000,000,000,"
         "MQ1A,2024-01-01T00:00:00.000000000Z,1000ns,12,")
    return h.encode().ljust(384, b"\0")


with open(out, "wb") as f:
    for k in range(n):
        f.write(header(k + 1))
        f.write(frames[k % 8].tobytes())
with open(out[:-4] + ".hdr", "w") as f:
    f.write("HDR,\t\nTime and Date Stamp (day, mnth, yr, hr, min, s):\t01/01/2024 00:00:00\n"
            f"Chip ID:\tW530_H5,-,-,-\nChip Type (Medipix 3.0, Medipix 3.1, Medipix 3RX):\tMedipix 3RX\n"
            f"Assembly Size (NX1, 2X2):\t   1x1\nChip Mode  (SPM, CSM, CM, CSCM):\tSPM\n"
            f"Counter Depth (number):\t12\nFrames in Acquisition (Number):\t{n}\nFrames per Trigger (Number):\t{cols}\n"
            "End\t\n")
