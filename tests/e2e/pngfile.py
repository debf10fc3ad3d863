"""Reads the 8-bit RGB PNGs tmdflow writes (no interlace) into numpy arrays, with their text chunks;
Debian's python3 here has no imaging library, and the format is small enough to decode with zlib."""
import struct
import zlib

import numpy as np


def _chunks(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos = 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, data[pos + 8:pos + 8 + length]
        pos += 12 + length


def read(path):
    """Returns (pixels: uint8 array (height, width, 3), text: dict of tEXt/iTXt chunks)."""
    with open(path, "rb") as f:
        data = f.read()
    idat, text, width, height = b"", {}, 0, 0
    for kind, body in _chunks(data):
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, colour, interlace) != (8, 2, 0):
                raise ValueError(f"{path}: expected 8-bit RGB without interlace, found depth {depth} colour type {colour}")
        elif kind == b"IDAT":
            idat += body
        elif kind == b"tEXt":
            key, value = body.split(b"\0", 1)
            text[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"iTXt":
            key, rest = body.split(b"\0", 1)
            compressed = rest[0]
            _, _, value = rest[2:].split(b"\0", 2)
            text[key.decode("latin-1")] = (zlib.decompress(value) if compressed else value).decode("utf-8")
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + 3 * width)
    out = np.zeros((height, 3 * width), np.int32)
    prev = np.zeros(3 * width, np.int32)
    for y in range(height):
        f, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if f == 0:
            cur = line
        elif f == 2:
            cur = (line + prev) & 255
        elif f == 1:  # Sub: a running sum along each colour channel
            cur = (np.cumsum(line.reshape(width, 3), axis=0) & 255).reshape(-1)
        elif f in (3, 4):
            # Left neighbour dependence: sequential, on Python ints (numpy scalars cost 20x more).
            ln, pv, cu = line.tolist(), prev.tolist(), [0] * (3 * width)
            for x in range(3 * width):
                a = cu[x - 3] if x >= 3 else 0
                b = pv[x]
                if f == 3:
                    cu[x] = (ln[x] + (a + b) // 2) & 255
                else:
                    c = pv[x - 3] if x >= 3 else 0
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    cu[x] = (ln[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            cur = np.array(cu, np.int32)
        else:
            raise ValueError(f"{path}: unknown PNG filter {f}")
        out[y] = cur
        prev = cur
    return out.reshape(height, width, 3).astype(np.uint8), text


def layout(text):
    """Image boxes of a figure's panels from its tmdflow:layout chunk: [(x, y, w, h, zoom)]."""
    boxes = []
    for line in text.get("tmdflow:layout", "").splitlines():
        w = line.split()
        boxes.append((int(w[1]), int(w[2]), int(w[3]), int(w[4]), int(w[6])))
    return boxes
