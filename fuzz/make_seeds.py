#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora into fuzz/corpus/<target>/: small valid (and nearly valid) inputs of each
format, so that the fuzzers start from files that reach deep into the loaders. Run with Debian's /usr/bin/python3
(python3-pil, python3-h5py, python3-numpy); the output is committed, so this is needed only to change the seeds.
Every image/mask seed starts with the target's parameter bytes (see fuzz_image.cpp, fuzz_mask.cpp). The HDF5 seeds
have no .h5 extension: they are fuzz inputs, not model files."""
import io
import os
import struct

import h5py
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def out(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def encoded(image, fmt, **options):
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def images():
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), "RGB")
    gray = rgb.convert("L")
    files = {
        "rgb.png": encoded(rgb, "PNG"),
        "gray.png": encoded(gray, "PNG"),
        "rgba.png": encoded(rgb.convert("RGBA"), "PNG"),
        "gray_alpha.png": encoded(rgb.convert("LA"), "PNG"),
        "palette.png": encoded(rgb.convert("P"), "PNG"),
        "gray16.png": encoded(Image.fromarray((np.arange(48, dtype=np.uint16) * 1300).reshape(6, 8)), "PNG"),
        "optimized.png": encoded(rgb, "PNG", optimize=True),
        "rgb.jpg": encoded(rgb, "JPEG", quality=90),
        "progressive.jpg": encoded(rgb, "JPEG", progressive=True),
        "gray.jpg": encoded(gray, "JPEG"),
        "rgb.bmp": encoded(rgb, "BMP"),
        "palette.bmp": encoded(rgb.convert("P"), "BMP"),
        "rgb.gif": encoded(rgb, "GIF"),
        "rgb.tga": encoded(rgb, "TGA"),
        "rgb.ppm": encoded(rgb, "PPM"),
        "gray.pgm": encoded(gray, "PPM"),
        "rgb.tif": encoded(rgb, "TIFF"),
        "gray_lzw.tif": encoded(gray, "TIFF", compression="tiff_lzw"),
    }
    for i, (name, data) in enumerate(sorted(files.items())):
        out("image", name, bytes([7 + 9 * i]) + data)  # model sizes from 8 up: shrinking and enlarging


def masks():
    square = np.zeros((8, 8), np.uint8)
    square[2:6, 3:7] = 255
    ramp = np.arange(64, dtype=np.uint8).reshape(8, 8) * 4
    files = {
        "square.png": encoded(Image.fromarray(square), "PNG"),
        "ramp.png": encoded(Image.fromarray(ramp), "PNG"),
        "bilevel.png": encoded(Image.fromarray(square).convert("1"), "PNG"),
        "square_mask.bmp": encoded(Image.fromarray(square), "BMP"),
        "rgb_mask.png": encoded(Image.fromarray(np.stack([square] * 3, -1)), "PNG"),
    }
    for i, (name, data) in enumerate(sorted(files.items())):
        out("mask", name, bytes([15 + 13 * i, 1, 1]) + data)  # 1, 1: no size mismatch


def tiff(width, height, sample_format=3, bits=32, strips=1, big_endian=False, samples=1):
    """A minimal strip TIFF of float32 (or other) samples, written field by field."""
    e = ">" if big_endian else "<"
    values = np.linspace(0, 1, width * height * samples).astype(e + {3: "f", 1: "u", 2: "i"}[sample_format] +
                                                                 str(bits // 8))
    pixels = values.tobytes()
    rows = -(-height // strips)
    row_bytes = width * samples * bits // 8
    chunks = [pixels[r * row_bytes:(r + rows) * row_bytes] for r in range(0, height, rows)]
    entries = 11
    ifd = 8
    data = ifd + 2 + entries * 12 + 4
    offsets_at = data
    counts_at = offsets_at + 4 * len(chunks)
    pixels_at = counts_at + 4 * len(chunks)
    offsets, at = [], pixels_at
    for c in chunks:
        offsets.append(at)
        at += len(c)

    def entry(tag, kind, count, value):
        fmt = e + "HHI" + ("H2x" if kind == 3 and count == 1 else "I")
        return struct.pack(fmt, tag, kind, count, value)

    one = len(chunks) == 1
    body = [
        entry(256, 4, 1, width), entry(257, 4, 1, height), entry(258, 3, 1, bits), entry(259, 3, 1, 1),
        entry(262, 3, 1, 1), entry(273, 4, len(chunks), offsets[0] if one else offsets_at),
        entry(277, 3, 1, samples), entry(278, 4, 1, rows),
        entry(279, 4, len(chunks), len(chunks[0]) if one else counts_at), entry(284, 3, 1, 1),
        entry(339, 3, 1, sample_format),
    ]
    head = (b"MM\x00\x2a" if big_endian else b"II\x2a\x00") + struct.pack(e + "I", ifd)
    blob = head + struct.pack(e + "H", entries) + b"".join(body) + struct.pack(e + "I", 0)
    blob += struct.pack(e + "%dI" % len(chunks), *offsets) + struct.pack(e + "%dI" % len(chunks),
                                                                         *[len(c) for c in chunks])
    return blob + b"".join(chunks)


def tiffs():
    out("tiff", "float32.tiff", tiff(8, 6))
    out("tiff", "float32_strips.tiff", tiff(5, 7, strips=3))
    out("tiff", "float32_big_endian.tiff", tiff(4, 3, big_endian=True))
    out("tiff", "uint16.tiff", tiff(4, 4, sample_format=1, bits=16))
    out("tiff", "two_channels.tiff", tiff(3, 3, samples=2))
    out("tiff", "pil_float.tiff", encoded(Image.fromarray(np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5)),
                                          "TIFF"))


def hdf5(name, build):
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        build(f)
    out("hdf5", name, buf.getvalue())


def checkpoint(f, version=2, conv1=np.float32, tensors=True):
    """The root attributes of a checkpoint and, with `tensors`, the first tensors of the student (full shape, so
    that loading gets past conv1) and conv1's momentum."""
    rng = np.random.default_rng(1)
    f.attrs["format"] = np.bytes_("stfpm-student-checkpoint-%d" % version)
    f.attrs["epoch"] = np.int64(1)
    f.attrs["steps"] = np.int64(2)
    f.attrs["category"] = np.bytes_("synthetic")
    f.attrs["teacher"] = np.bytes_("resnet18_imagenet.h5")
    if version == 2:
        f.attrs["layers"] = np.array([1, 2, 3], np.int64)
        f.attrs["alphas"] = np.array([1.0, 1.0, 1.0])
        f.attrs["mean"] = np.array([0.485, 0.456, 0.406])
        f.attrs["std"] = np.array([0.229, 0.224, 0.225])
        f.attrs["seed"] = np.uint64(0)
    else:
        f.attrs["layers"] = np.bytes_("1,2,3")
        f.attrs["alphas"] = np.bytes_("1,1,1")
        f.attrs["mean"] = np.bytes_("0.485,0.456,0.406")
        f.attrs["std"] = np.bytes_("0.229,0.224,0.225")
        f.attrs["seed"] = np.bytes_("0")
    for key, value in [("size", 64), ("batch_size", 32), ("epochs", 1)]:
        f.attrs[key] = np.int64(value)
    for key, value in [("lr", 0.4), ("momentum", 0.9), ("weight_decay", 1e-4)]:
        f.attrs[key] = np.float64(value)
    if not tensors:
        f["conv1.weight"] = np.zeros(4, conv1)  # the stored type is checked before the shape
        return
    f["conv1.weight"] = (rng.standard_normal((64, 3, 7, 7)) * 0.05).astype(conv1)
    f["bn1.weight"] = np.ones(64, np.float32)
    f["bn1.bias"] = np.zeros(64, np.float32)
    f["bn1.running_mean"] = np.zeros(64, np.float32)
    f["bn1.running_var"] = np.ones(64, np.float32)
    f["optimizer/momentum/conv1.weight"] = np.zeros((64, 3, 7, 7), np.float32)


def hdf5s():
    hdf5("checkpoint_v2", checkpoint)
    hdf5("checkpoint_v1", lambda f: checkpoint(f, version=1, tensors=False))
    hdf5("checkpoint_float64", lambda f: checkpoint(f, conv1=np.float64, tensors=False))
    hdf5("checkpoint_int32", lambda f: checkpoint(f, conv1=np.int32, tensors=False))

    def small(f):
        f["x"] = np.arange(12, dtype=np.float32).reshape(3, 4)
        f.create_dataset("a/b", data=np.arange(100, dtype=np.int64), chunks=(10,), compression="gzip")
        f.attrs["format"] = np.bytes_("other")
        f.attrs["epoch"] = np.array([1, 2], np.int32)
        f.attrs["category"] = "variable-length string"
    hdf5("small", small)

    def nan(f):
        f["conv1.weight"] = np.full((64, 3, 7, 7), np.nan, np.float32)
        f["conv1.weight"][0, 0, 0, 0] = 0.0
    hdf5("nan", nan)


def command_lines():
    lines = {
        "train.txt": ["train", "--data_dir", "data", "--category", "bottle", "--epochs", "2", "--batch_size", "4",
                      "--size", "64", "--layers", "1", "2", "--alphas=1,0.5", "--lr", "0.4", "--device", "cpu"],
        "reference.txt": ["--mode", "train", "--data-dir", "d", "--category", "c", "--mean", "0.5,0.5,0.5",
                          "--std", "0.2", "0.2", "0.2", "--seed", "3"],
        "test.txt": ["test", "--data_dir", "d", "--category", "c", "--mask_rule", "ge128", "--save_maps",
                     "--threads", "2", "--tf32"],
        "predict.txt": ["predict", "--category", "c", "--images", "list.txt", "--threshold", "0.25",
                        "--no_images"],
        "evaluate.txt": ["evaluate", "--data_dir", "d", "--category", "c", "--maps_dir", "maps"],
        "synth.txt": ["synth", "--data_dir", "d", "--size", "32"],
        "help.txt": ["train", "--help"],
        "resume.txt": ["train", "--category", "c", "--data_dir", "d", "--resume", "--checkpoint_every", "3",
                       "--no_teacher_cache", "--wd", "0", "--momentum", "0"],
    }
    for name, args in lines.items():
        out("cli", name, "\n".join(args).encode())


if __name__ == "__main__":
    images()
    masks()
    tiffs()
    hdf5s()
    command_lines()
