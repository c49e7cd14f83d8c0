#!/usr/bin/python3
"""Writes tests/data/resize_fixture.h5: what PIL (Debian python3-pil) does to small synthetic images, for the C++
resize and decoding tests. Every image is generated here from a fixed seed; no MVTec file is used.
Run with /usr/bin/python3 (numpy, h5py, PIL):

  /usr/bin/python3 tools/make_resize_fixture.py [--out tests/data/resize_fixture.h5]

Layout (uint8 datasets, gzip-compressed; root attrs pil_version, numpy_version, seed):
  resize/<case>/input    (H, W, 3) RGB or (H, W) L       the source image
  resize/<case>/output   (h, w, 3) or (h, w)             Image.fromarray(input).resize((w, h), Image.BILINEAR)
  decode/<case>/file     (n,)     the bytes of an image file (PNG, BMP, TGA, JPEG)
  decode/<case>/rgb      (H, W, 3)  the expected 8-bit RGB decode: PIL's Image.open(file).convert('RGB')
  decode/<case>/gray     (H, W)     the expected 8-bit gray decode: PIL's .convert('L')

Exception, documented in src/image_io.h: 16-bit gray PNGs (gray16) expect v >> 8 (the high byte), while PIL clips
them to 255; this tool checks that PIL indeed does so, and that for 16-bit RGB PIL keeps the high byte.
PIL cannot write 16-bit PNGs, so those two files are written by the minimal PNG encoder below.
"""

import argparse
import io
import struct
import zlib

import h5py
import numpy as np
import PIL
from PIL import Image

SEED = 20240611

# (case, builder name, target (width, height)); the test in tests/test_resize.cpp lists the same case names.
RESIZE_CASES = [
    ("rgb_900_to_256", "rgb_900", (256, 256)),
    ("rgb_333x517_to_256", "rgb_333x517", (256, 256)),
    ("gray_1024_to_256", "gray_1024", (256, 256)),
    ("rgb_50x70_to_150x210", "rgb_50x70", (150, 210)),
    ("gray_70x50_to_256", "gray_70x50", (256, 256)),
    ("rgb_300x200_to_256x300", "rgb_300x200", (256, 300)),
    ("mask_900_to_256", "mask_900", (256, 256)),
    ("rgb_517x333_to_128", "rgb_517x333", (128, 128)),
]


def gradient_and_edges(h, w, channels, rng):
    """Sawtooth ramps (steps every 23 rows), hard-edged rectangles and a disc, plus a patch of full-range noise:
    compressible (rows repeat), but exercising every rounding path."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 * (c + 1) // w + (y // 23) * 37 + c * 50) % 256 for c in range(channels)], -1)
    for _ in range(6):  # hard edges at odd positions
        x0, y0 = rng.integers(0, w - 8), rng.integers(0, h - 8)
        x1, y1 = x0 + rng.integers(3, w // 3), y0 + rng.integers(3, h // 3)
        img[y0:y1, x0:x1] = rng.integers(0, 256, channels)
    cx, cy, r = w * 0.6, h * 0.4, min(h, w) * 0.17
    img[(x - cx) ** 2 + (y - cy) ** 2 < r * r] = 255
    ph, pw = max(h // 8, 2), max(w // 8, 2)
    img[h - ph:, w - pw:] = rng.integers(0, 256, (ph, pw, channels))
    img = img.astype(np.uint8)
    return img if channels == 3 else img[..., 0]


def noisy_gradient(h, w, rng):
    """A gradient with +-1 noise: neighbours differ at random but the data compresses."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 255 // (h + w - 2)], -1)
    return np.clip(base + rng.integers(-1, 2, (h, w, 3)), 0, 255).astype(np.uint8)


def mask_blobs(h, w, rng):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    m = np.zeros((h, w), np.uint8)
    for _ in range(4):
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
        a, b = rng.uniform(0.02, 0.12, 2) * w
        m[((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 < 1] = 255
    m[h // 3:h // 3 + 2, w // 5:w // 2] = 255  # a 2-pixel scratch, thinner than the downscale factor
    return m


def build(name, rng):
    if name == "rgb_900":
        return gradient_and_edges(900, 900, 3, rng)
    if name == "rgb_333x517":  # width 333, height 517
        return noisy_gradient(517, 333, rng)
    if name == "gray_1024":
        return gradient_and_edges(1024, 1024, 1, rng)
    if name == "rgb_50x70":
        return rng.integers(0, 256, (70, 50, 3)).astype(np.uint8)
    if name == "gray_70x50":
        return rng.integers(0, 256, (50, 70)).astype(np.uint8)
    if name == "rgb_300x200":
        return gradient_and_edges(200, 300, 3, rng)
    if name == "mask_900":
        return mask_blobs(900, 900, rng)
    if name == "rgb_517x333":
        return gradient_and_edges(333, 517, 3, rng)
    raise ValueError(name)


def png_bytes_16bit(a):
    """A minimal PNG encoder for 16-bit gray (H, W) or RGB (H, W, 3) uint16 arrays: IHDR, one IDAT, IEND."""
    h, w = a.shape[:2]
    color_type = 0 if a.ndim == 2 else 2
    rows = a.astype(">u2").reshape(h, -1).tobytes()
    stride = len(rows) // h
    raw = b"".join(b"\x00" + rows[i * stride:(i + 1) * stride] for i in range(h))  # filter type 0 per row

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def pil_bytes(im, fmt, **kw):
    b = io.BytesIO()
    im.save(b, format=fmt, **kw)
    return b.getvalue()


def decode_cases(rng):
    """(case, file bytes, expected rgb, expected gray)."""
    h, w = 7, 13
    rgb = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
    alpha = rng.integers(0, 256, (h, w)).astype(np.uint8)
    gray = rng.integers(0, 256, (h, w)).astype(np.uint8)
    files = {
        "gray8_png": pil_bytes(Image.fromarray(gray, "L"), "PNG"),
        "gray_alpha8_png": pil_bytes(Image.fromarray(np.stack([gray, alpha], -1), "LA"), "PNG"),
        "rgb8_png": pil_bytes(Image.fromarray(rgb, "RGB"), "PNG"),
        "rgba8_png": pil_bytes(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "PNG"),
        "gray1_png": pil_bytes(Image.fromarray(gray > 127).convert("1"), "PNG"),
        "rgb_bmp": pil_bytes(Image.fromarray(rgb, "RGB"), "BMP"),
        "rgb_tga": pil_bytes(Image.fromarray(rgb, "RGB"), "TGA"),
    }
    pal = Image.fromarray(rgb, "RGB").quantize(colors=16)
    files["palette_png"] = pil_bytes(pal, "PNG")
    files["palette_trns_png"] = pil_bytes(pal, "PNG", transparency=3)
    y, x = np.mgrid[0:48, 0:64]
    smooth = np.stack([x * 4, y * 5, (x + y) * 2], -1).astype(np.uint8)
    files["rgb_jpg"] = pil_bytes(Image.fromarray(smooth, "RGB"), "JPEG", quality=90)
    files["gray_jpg"] = pil_bytes(Image.fromarray(smooth[..., 0], "L"), "JPEG", quality=90)
    cases = []
    for name, data in files.items():
        im = Image.open(io.BytesIO(data))
        cases.append((name, data, np.array(im.convert("RGB")), np.array(im.convert("L"))))

    g16 = rng.integers(0, 65536, (h, w)).astype(np.uint16)
    data = png_bytes_16bit(g16)
    im = Image.open(io.BytesIO(data))
    assert np.array_equal(np.array(im), g16)
    assert (np.array(im.convert("L"))[g16 > 255] == 255).all(), "PIL no longer clips 16-bit gray"
    hi = (g16 >> 8).astype(np.uint8)
    cases.append(("gray16_png", data, np.stack([hi] * 3, -1), hi))

    c16 = rng.integers(0, 65536, (h, w, 3)).astype(np.uint16)
    data = png_bytes_16bit(c16)
    im = Image.open(io.BytesIO(data))
    assert np.array_equal(np.array(im.convert("RGB")), (c16 >> 8).astype(np.uint8)), "PIL 16-bit RGB != high byte"
    cases.append(("rgb16_png", data, np.array(im.convert("RGB")), np.array(im.convert("L"))))
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/data/resize_fixture.h5")
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    gz = dict(compression="gzip", compression_opts=9, shuffle=True)
    with h5py.File(args.out, "w") as f:
        f.attrs["pil_version"] = PIL.__version__
        f.attrs["numpy_version"] = np.__version__
        f.attrs["seed"] = SEED
        for case, builder, (w, h) in RESIZE_CASES:
            src = build(builder, rng)
            mode = "RGB" if src.ndim == 3 else "L"
            out = np.array(Image.fromarray(src, mode).resize((w, h), Image.BILINEAR))
            f.create_dataset(f"resize/{case}/input", data=src, **gz)
            f.create_dataset(f"resize/{case}/output", data=out, **gz)
            print(f"{case}: {src.shape} -> {out.shape}")
        for case, data, rgb, gray in decode_cases(rng):
            f.create_dataset(f"decode/{case}/file", data=np.frombuffer(data, np.uint8), **gz)
            f.create_dataset(f"decode/{case}/rgb", data=rgb, **gz)
            f.create_dataset(f"decode/{case}/gray", data=gray, **gz)
            print(f"{case}: {len(data)} bytes, {rgb.shape}")


if __name__ == "__main__":
    main()
