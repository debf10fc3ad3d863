"""Writes small image files for tests, seeds and benchmarks with the standard library and numpy only
(no imaging library here): uncompressed TIFF (grey, one or more pages, optional ImageJ description
and DigitalMicrograph scale tags), PNG (grey or RGB, 8/16-bit, via zlib) and MRC (mode 0/1/2/6)."""
import struct
import zlib

import numpy as np

_TIFF_TYPES = {np.dtype("uint8"): (8, 1), np.dtype("uint16"): (16, 1), np.dtype("uint32"): (32, 1),
               np.dtype("int8"): (8, 2), np.dtype("int16"): (16, 2), np.dtype("int32"): (32, 2),
               np.dtype("float32"): (32, 3), np.dtype("float64"): (64, 3)}


def tiff_bytes(frames, description=None, dm_scale=None, resolution_cm=None):
    """frames: array (N, H, W) or (H, W), little-endian. dm_scale: (x, y, units) DigitalMicrograph tags
    65009/65010/65003/65004. resolution_cm: pixels per centimetre (XResolution, ResolutionUnit=3)."""
    frames = np.asarray(frames)
    if frames.ndim == 2:
        frames = frames[None]
    bits, fmt = _TIFF_TYPES[frames.dtype]
    n, h, w = frames.shape
    out = bytearray(b"II*\0" + struct.pack("<I", 0))
    ifd_links = []
    for k in range(n):
        data = np.ascontiguousarray(frames[k]).astype(frames.dtype.newbyteorder("<")).tobytes()
        data_off = len(out)
        out += data
        extra = bytearray()  # out-of-line values, placed after the IFD
        entries = []

        def entry(tag, typ, count, value_bytes):
            entries.append((tag, typ, count, value_bytes))
        entry(256, 4, 1, struct.pack("<I", w))
        entry(257, 4, 1, struct.pack("<I", h))
        entry(258, 3, 1, struct.pack("<H", bits))
        entry(259, 3, 1, struct.pack("<H", 1))
        entry(262, 3, 1, struct.pack("<H", 1))
        if description is not None:
            entry(270, 2, len(description) + 1, description.encode() + b"\0")
        entry(273, 4, 1, struct.pack("<I", data_off))
        entry(277, 3, 1, struct.pack("<H", 1))
        entry(278, 4, 1, struct.pack("<I", h))
        entry(279, 4, 1, struct.pack("<I", len(data)))
        if resolution_cm is not None:
            entry(282, 5, 1, struct.pack("<II", int(resolution_cm), 1))
            entry(283, 5, 1, struct.pack("<II", int(resolution_cm), 1))
            entry(296, 3, 1, struct.pack("<H", 3))
        entry(339, 3, 1, struct.pack("<H", fmt))
        if dm_scale is not None:
            x, y, units = dm_scale
            u = units.encode("latin-1") + b"\0"
            entry(65003, 2, len(u), u)
            entry(65004, 2, len(u), u)
            entry(65009, 12, 1, struct.pack("<d", x))
            entry(65010, 12, 1, struct.pack("<d", y))
        entries.sort()
        ifd_off = len(out) + (len(out) & 1)
        out += b"\0" * (ifd_off - len(out))
        struct.pack_into("<I", out, 4, ifd_off) if k == 0 else struct.pack_into("<I", out, ifd_links[-1], ifd_off)
        extra_off = ifd_off + 2 + 12 * len(entries) + 4
        body = bytearray(struct.pack("<H", len(entries)))
        for tag, typ, count, vb in entries:
            if len(vb) <= 4:
                body += struct.pack("<HHI", tag, typ, count) + vb.ljust(4, b"\0")
            else:
                body += struct.pack("<HHII", tag, typ, count, extra_off + len(extra))
                extra += vb + (b"\0" if len(vb) & 1 else b"")
        ifd_links.append(ifd_off + len(body))
        body += struct.pack("<I", 0)
        out += body + extra
    return bytes(out)


def png_bytes(pixels):
    """pixels: uint8/uint16 array (H, W) grey or (H, W, 3) RGB."""
    pixels = np.asarray(pixels)
    depth = 16 if pixels.dtype == np.uint16 else 8
    color = 2 if pixels.ndim == 3 else 0
    h, w = pixels.shape[:2]
    raw = pixels.astype(">u2" if depth == 16 else "u1").reshape(h, -1).tobytes()
    row = len(raw) // h
    filtered = b"".join(b"\0" + raw[r * row:(r + 1) * row] for r in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(filtered)) + chunk(b"IEND", b""))


_MRC_MODES = {np.dtype("uint8"): 0, np.dtype("int16"): 1, np.dtype("float32"): 2, np.dtype("uint16"): 6}


def mrc_bytes(frames, pixel_A=None):
    frames = np.asarray(frames)
    if frames.ndim == 2:
        frames = frames[None]
    n, h, w = frames.shape
    head = bytearray(1024)
    struct.pack_into("<10i", head, 0, w, h, n, _MRC_MODES[frames.dtype], 0, 0, 0, w, h, n)
    if pixel_A:
        struct.pack_into("<3f", head, 40, w * pixel_A, h * pixel_A, 0.0)
    struct.pack_into("<3f", head, 52, 90, 90, 90)
    struct.pack_into("<3i", head, 64, 1, 2, 3)
    head[208:212] = b"MAP "
    head[212:214] = b"\x44\x44"
    return bytes(head) + frames.astype(frames.dtype.newbyteorder("<")).tobytes()
