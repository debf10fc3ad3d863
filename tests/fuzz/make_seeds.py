#!/usr/bin/env python3
"""Seed corpora of the fuzz targets: make_seeds.py OUT_DIR [SHARED_DATA_DIR]

Writes OUT_DIR/<target>/<seed> for the targets mib, npy, raw, hdf5, workflow, tiff, png, mrc, dm, velox and tia: small valid
inputs of each reader, made here (standard library only), and, when the shared data are there,
the headers and .hdr files of the real Merlin recordings on frames cut to 4x4 pixels (copies made
at run time, never committed). libFuzzer mutates these into the inputs it tries.
"""
import os
import re
import struct
import sys
import zipfile

MIB_SIZES = {"U08": 1, "U16": 2, "U32": 4, "U64": 8, "R64": 8}


def mib_header(seq, header_bytes, chips, width, height, pixel_type, layout, depth):
    fields = (f"MQ1,{seq:06d},{header_bytes:05d},{chips:02d},{width:04d},{height:04d},{pixel_type},{layout:>6},"
              "0F,2024-01-01 00:00:00.000000,0.001000,0,0,0,2.000000E+0,5.110000E+2,0,0,0,0,0,0,3RX,011,511,"
              f"MQ1A,2024-01-01T00:00:00.000000000Z,1000000ns,{depth},")
    return fields.encode().ljust(header_bytes, b"\0")


def mib(frames, header_bytes=384, chips=1, size=4, pixel_type="U16", layout="1x1", depth=12):
    out = bytearray()
    for i in range(frames):
        out += mib_header(i + 1, header_bytes, chips, size, size, pixel_type, layout, depth)
        out += bytes((7 * i + j) % 251 for j in range(size * size * MIB_SIZES[pixel_type]))
    return bytes(out)


def hdr(frames, per_trigger, depth):
    return (f"HDR,\t\nCounter Depth (number):\t{depth}\nFrames in Acquisition (Number):\t{frames}\n"
            f"Frames per Trigger (Number):\t{per_trigger}\nEnd\t").encode()


def small_frames_of(real_mib, frames=2):
    """The real header of a recording's first frame, its size fields set to 4x4, on `frames` frames."""
    head = real_mib[:768].split(b"\0", 1)[0]
    fields = head.split(b",")
    header_bytes = int(fields[2])
    pixel_type = fields[6].decode()
    fields[4] = fields[5] = b"0004"
    header = b",".join(fields).ljust(header_bytes, b"\0")
    pixels = bytes(range(16 * MIB_SIZES.get(pixel_type, 1)))
    return b"".join(header + pixels for _ in range(frames))


def mib_seeds(shared):
    seeds = {
        "single_u08": mib(1, pixel_type="U08", depth=6),
        "single_u16_hdr": mib(4) + b"#HDR#" + hdr(4, 2, 12),
        "quad_u32_hdr": mib(6, header_bytes=768, chips=4, pixel_type="U32", layout="2x2", depth=24) + b"#HDR#" + hdr(6, 3, 24),
        "u64": mib(2, pixel_type="U64"),
        "raw_r64": mib(1, pixel_type="R64"),
        "hdr_mismatch": mib(3) + b"#HDR#" + hdr(4, 1, 12),
    }
    for zip_name in ("Merlin_Single_Quad.zip", "Merlin_navigation4x2_ROI.zip"):
        path = os.path.join(shared or "", "4dstem", zip_name)
        if not shared or not os.path.exists(path):
            continue
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if not name.endswith(".mib") or not re.search(r"(_1_Frame_|4x2_6bit\.)", name):
                    continue
                real = z.read(name)
                hdr_name = name[:-4] + ".hdr"
                real_hdr = z.read(hdr_name) if hdr_name in z.namelist() else b""
                frames = 8 if "4x2" in name else 1
                stem = os.path.basename(name)[:-4]
                seeds["real_" + stem] = small_frames_of(real, frames) + (b"#HDR#" + real_hdr if real_hdr else b"")
    return seeds


def npy(descr, shape, fortran=False, version=1, long_suffix=False, payload=None):
    dims = ", ".join(f"{n}L" if long_suffix else str(n) for n in shape) + ("," if len(shape) == 1 else "")
    text = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': ({dims}), }}"
    prefix = 10 if version == 1 else 12
    text += " " * ((64 - (prefix + len(text) + 1) % 64) % 64) + "\n"
    length = len(text).to_bytes(2 if version == 1 else 4, "little")
    count = 1
    for n in shape:
        count *= n
    item = int(descr[-1])
    body = payload if payload is not None else bytes(i % 256 for i in range(count * item))
    return b"\x93NUMPY" + bytes([version, 0]) + length + text.encode("latin-1") + body


def npy_seeds():
    return {
        "u16_4d": npy("<u2", (2, 3, 4, 5)),
        "f4_big": npy(">f4", (1, 2, 3, 3)),
        "u1_3d": npy("|u1", (4, 2, 2)),
        "i8_v2": npy("<i8", (1, 1, 2, 2), version=2),
        "f8_v3": npy("<f8", (2, 1, 1, 1), version=3),
        "fortran": npy("<u2", (1, 1, 2, 2), fortran=True),
        "python2_longs": npy("<u4", (1, 2, 2, 2), long_suffix=True),
        "truncated": npy("<u2", (2, 2, 4, 4))[:-7],
        "huge_shape": npy("<u2", (99999999999, 99999999999, 1, 1), payload=b""),
    }


class Provider:
    """Writes what LLVM's FuzzedDataProvider reads back: integers are taken from the end of the
    input (most significant byte first), the remaining bytes from the start."""

    def __init__(self):
        self.consumed = []

    def int_in_range(self, value, lo, hi):
        span, offset, raw = hi - lo, 0, []
        while offset < 64 and (span >> offset) > 0:
            raw.append(None)
            offset += 8
        v = value - lo
        for i in range(len(raw)):
            raw[i] = (v >> (8 * (len(raw) - 1 - i))) & 0xFF
        self.consumed += raw

    def bool(self, value):
        self.consumed.append(1 if value else 0)

    def input(self, front=b""):
        return front + bytes(reversed(self.consumed))


def raw_seed(shape, dtype_index, big, header, gap, scan, item, cut=0):
    """fuzz_raw.cpp's reading order: rank, extents, dtype, endian, header, gap, scan, file."""
    p = Provider()
    p.int_in_range(len(shape), 0, 5)
    for n in shape:
        p.int_in_range(2, 0, 7)
        p.int_in_range(n, 1, 8)
    p.int_in_range(1, 0, 15)
    p.int_in_range(dtype_index, 0, 9)
    p.bool(big)
    for skip in (header, gap):
        p.int_in_range(1 if skip else 2, 0, 5)
        if skip:
            p.int_in_range(skip, 0, 64)
    p.int_in_range(0 if scan else 1, 0, 3)
    if scan:
        p.int_in_range(len(scan), 1, 3)
        for n in scan:
            if n <= 8:
                p.int_in_range(2, 0, 7)
                p.int_in_range(n, 1, 8)
            else:  # fuzz_raw's "any 64-bit value"
                p.int_in_range(0, 0, 7)
                p.int_in_range(n, -2**63, 2**63 - 1)
    frames = shape[0] * shape[1]
    body = bytes(header) + b"".join(bytes(gap) + bytes(i % 256 for i in range(shape[2] * shape[3] * item)) for _ in range(frames))
    return p.input(body[:len(body) - cut])


def raw_seeds():
    return {
        "u16_le": raw_seed((2, 3, 4, 4), 1, False, 0, 0, None, 2),
        "f32_be_header_gap": raw_seed((1, 2, 3, 3), 8, True, 16, 4, None, 4),
        "u8_scan": raw_seed((1, 6, 2, 2), 0, False, 0, 0, (2, 3), 1),
        "truncated": raw_seed((2, 2, 2, 2), 7, False, 0, 0, None, 8, cut=3),
        "huge_scan": raw_seed((1, 6, 2, 2), 0, False, 0, 0, (2**32, 2**32), 1),
    }


def workflow_seeds(source_dir):
    seeds = {}
    folder = os.path.join(source_dir, "workflows")
    for name in sorted(os.listdir(folder)):
        if name.endswith(".ini"):
            with open(os.path.join(folder, name), "rb") as f:
                text = f.read()
            seeds[name] = text
            seeds[name + "_overrides"] = text + b"\n%%\ninput=scan.h5:/datacube_root\noutput=out/x.h5\nworkflow.output=y.h5\n"
    seeds["minimal"] = b"[workflow]\ninput = a.h5\noutput = b.h5\n[features]\nstage = diffraction-features\nfoo = ${workflow.input}\n"
    return seeds


def image_seeds(shared):
    """Small TIFF, PNG and MRC files (tests/e2e/imagefiles.py) and the small real TIFF fixture."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "e2e"))
    import numpy as np
    import imagefiles
    a16 = (np.arange(48, dtype=np.uint16) * 257).reshape(6, 8)
    f32 = np.linspace(0, 1, 2 * 4 * 5, dtype=np.float32).reshape(2, 4, 5)
    tiff = {"u16": imagefiles.tiff_bytes(a16),
            "f32_stack_imagej": imagefiles.tiff_bytes(f32, description="ImageJ=1.51d\nimages=2\nunit=micron\nspacing=2.5\n"),
            "dm_tags": imagefiles.tiff_bytes(a16.astype(np.int32), dm_scale=(0.5, 0.5, "\u00b5m")),
            "res_cm": imagefiles.tiff_bytes(a16.astype(np.uint8), resolution_cm=1e7)}
    zeiss = os.path.join(shared or "", "images", "tiff_Zeiss_AxioVision_uint8.tif")
    if shared and os.path.exists(zeiss):
        with open(zeiss, "rb") as f:
            tiff["zeiss"] = f.read()
    png = {"grey8": imagefiles.png_bytes(a16.astype(np.uint8)), "grey16": imagefiles.png_bytes(a16),
           "rgb": imagefiles.png_bytes(np.stack([a16.astype(np.uint8)] * 3, axis=-1))}
    mrc = {"u16": imagefiles.mrc_bytes(a16, pixel_A=2.0), "f32_stack": imagefiles.mrc_bytes(f32, pixel_A=1.5),
           "i16": imagefiles.mrc_bytes(a16.astype(np.int16))}
    return {"tiff": tiff, "png": png, "mrc": mrc}

def dm_tree(version, little=True):
    """A small DigitalMicrograph file: a thumbnail and a 2-frame 4x3 int16 stack, calibrated."""
    w = 8 if version == 4 else 4
    o = "<" if little else ">"

    def size(v):
        return v.to_bytes(w, "big")

    def name(kind, n):
        b = bytes([kind]) + len(n).to_bytes(2, "big") + n.encode()
        return b

    def group(n, tags):
        body = b"\0\0" + size(len(tags)) + b"".join(tags)
        return name(20, n) + (size(len(body)) if version == 4 else b"") + body

    def data(n, info, payload):
        body = b"%%%%" + size(len(info)) + b"".join(size(i) for i in info) + payload
        return name(21, n) + (size(len(body)) if version == 4 else b"") + body

    def num(n, typ, fmt, v):
        return data(n, [typ], struct.pack(o + fmt, v))

    def text(n, t):
        return data(n, [20, 4, len(t)], struct.pack(o + "%dH" % len(t), *map(ord, t)))

    def image(width, height, frames, dtype_code):
        values = list(range(width * height * frames))
        dims = [width, height] + ([frames] if frames > 1 else [])
        cal = [group("", [num("Origin", 6, "f", 1.0), num("Scale", 6, "f", 0.25), text("Units", "nm")]) for _ in dims]
        return group("", [
            group("ImageData", [
                group("Calibrations", [group("Dimension", cal)]),
                data("Data", [20, 2, len(values)], struct.pack(o + "%dh" % len(values), *values)),
                num("DataType", 3, "i", dtype_code),
                group("Dimensions", [num("", 5, "I", d) for d in dims]),
            ]),
            group("ImageTags", [group("Microscope Info", [num("Voltage", 7, "d", 200000.0),
                                                          num("Indicated Magnification", 6, "f", 1e6)])]),
            text("Name", "seed"),
        ])

    root_tags = [group("ImageList", [image(2, 2, 1, 1), image(4, 3, 2, 1)]),
                 group("Thumbnails", [group("", [num("ImageIndex", 5, "I", 0)])])]
    root = b"\0\0" + size(len(root_tags)) + b"".join(root_tags)
    return version.to_bytes(4, "big") + size(len(root)) + (1 if little else 0).to_bytes(4, "big") + root + bytes(8)


def dm_seeds(shared):
    seeds = {"dm3_le": dm_tree(3), "dm4_le": dm_tree(4), "dm3_be": dm_tree(3, little=False)}
    images = os.path.join(shared, "images") if shared else ""
    for name in sorted(os.listdir(images)) if images and os.path.isdir(images) else []:
        if name.endswith((".dm3", ".dm4")):
            with open(os.path.join(images, name), "rb") as f:
                seeds[name] = f.read(16384)  # the start of the tag tree (run.sh's -max_len)
    return seeds


def ser(version=0x210, frames=2, width=4, height=3, dtype=2):
    """A TIA .ser of `frames` images (uint16, or float32 with dtype 7), with a time tag per element."""
    wide = version == 0x220
    off = "<Q" if wide else "<I"
    dim_units = b"s"
    header = struct.pack("<HHHIIII", 0x4949, 0x0197, version, 0x4122, 0x4152, frames, frames)
    dims = struct.pack("<I", 1)
    dim = struct.pack("<Iddi", frames, 0.0, 0.5, 0) + struct.pack("<I", 4) + b"time" + struct.pack("<I", len(dim_units)) + dim_units
    head_len = len(header) + (8 if wide else 4) + len(dims) + len(dim)
    offsets_at = head_len
    elements_at = offsets_at + 2 * frames * (8 if wide else 4)
    code = {2: "H", 7: "f"}[dtype]
    element = 50 + width * height * struct.calcsize(code)
    data_offsets = [elements_at + i * element for i in range(frames)]
    tag_offsets = [elements_at + frames * element + 8 * i for i in range(frames)]
    out = header + struct.pack(off, offsets_at) + dims + dim
    out += b"".join(struct.pack(off, v) for v in data_offsets + tag_offsets)
    for i in range(frames):
        out += struct.pack("<ddiddiHII", 0.0, 1e-10, 0, 0.0, 1e-10, 0, dtype, width, height)
        out += struct.pack("<%d%s" % (width * height, code), *[(i * 7 + k) % 65536 for k in range(width * height)])
    for i in range(frames):
        out += struct.pack("<HHI", 0x4152, 0, 1000 + i)
    return out


EMI = (b"<ObjectInfo><ExperimentalConditions><MicroscopeConditions><AcceleratingVoltage>200000"
       b"</AcceleratingVoltage></MicroscopeConditions></ExperimentalConditions><ExperimentalDescription><Root>"
       b"<Data><Label>High tension</Label><Value>200</Value><Unit>kV</Unit></Data>"
       b"<Data><Label>Mode</Label><Value> TEM uP SA Zoom Image</Value><Unit></Unit></Data>"
       b"<Data><Label>Magnification</Label><Value>19500</Value><Unit>x</Unit></Data></Root></ExperimentalDescription>"
       b"<AcquireInfo><DwellTimePath>0.0625</DwellTimePath><CameraNamePath>Orius</CameraNamePath></AcquireInfo>"
       b"</ObjectInfo>")


def tia_seeds(shared):
    seeds = {"ser_v210": ser(), "ser_v220": ser(0x220, frames=3), "ser_one_f32": ser(frames=1, dtype=7),
             "pair": ser() + b"#EMI#" + EMI, "pair_stem": ser() + b"#EMI#" + EMI.replace(b" TEM uP", b" STEM")}
    images = os.path.join(shared, "images") if shared else ""
    for name in sorted(os.listdir(images)) if images and os.path.isdir(images) else []:
        if name.endswith(".ser"):
            with open(os.path.join(images, name), "rb") as f:
                seeds[name] = f.read(16384)
    return seeds


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out, shared = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
    source_dir = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    corpora = {
        "mib": mib_seeds(shared),
        "npy": npy_seeds(),
        "raw": raw_seeds(),
        # fuzz_hdf5.cpp reads its choices from the end, 0 meaning "valid": the first is the tree.
        "hdf5": {"emd1": b"", "prismatic": b"\x01", "plain": b"\x02"},
        "workflow": workflow_seeds(source_dir),
        "dm": dm_seeds(shared),
        # fuzz_velox.cpp reads its choices from the end, 0 meaning "valid": the empty input is a
        # valid HAADF stack; the others vary the first choices (signals, rank, element type).
        "velox": {"valid": b"", "two": b"\x01", "float": b"\x00\x00\x01\x00", "complex": b"\x00\x03\x00\x00"},
        "tia": tia_seeds(shared),
    }
    corpora.update(image_seeds(shared))
    for target, seeds in corpora.items():
        os.makedirs(os.path.join(out, target), exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(out, target, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
