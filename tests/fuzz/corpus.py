"""Small valid files of every format fastweights reads, generated from a seed, each with the exact
per-class pixel counts fastweights must give (DESIGN §2: palette PNGs count indices, gray PNGs their
values, RGB masks go through a colormap, bool is two classes, integral floats count as integers,
NIfTI voxels are scaled by scl_slope / scl_inter).

PNGs are written by the encoder here (not by Pillow, the reference reader), so that chunk layout,
filters, interlacing and IDAT splits vary."""

from __future__ import annotations

import gzip
import io
import os
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FORMATS", "Sample", "corpus", "png_bytes"]

FORMATS = (
    "png-gray",
    "png-palette",
    "png-gray16",
    "png-rgb",
    "npy",
    "npz",
    "raw",
    "tiff-2d",
    "tiff-3d",
    "tiff-compressed",
    "nii",
    "nii-gz",
    "hdf5",
)


@dataclass
class Sample:
    """One valid file: its bytes, how to count it, and its exact counts."""

    name: str  # file name, extension included
    data: bytes
    pixels: list[int]  # pixels of class c at index c: what fastweights must count
    decoded_bytes: int  # size of the decoded labels, for the memory limit
    # How to name it to fastweights.count: {"kind": "path" | "raw" | "hdf5", ...}; "colormap":
    # [[r, g, b, class], ...] for colour masks.
    spec: dict[str, Any] = field(default_factory=dict)


def bincount(labels: np.ndarray) -> list[int]:
    flat = np.asarray(labels).astype(np.int64).ravel()
    return [int(n) for n in np.bincount(flat)] if flat.size else []


def blocky(rng: np.random.Generator, shape: tuple[int, ...], values: np.ndarray) -> np.ndarray:
    """Labels as masks have them: regions of a few classes, with some noise."""
    coarse_shape = tuple(max(1, n // 4) for n in shape)
    coarse = rng.integers(0, len(values), coarse_shape)
    index = np.ix_(*[np.minimum(np.arange(n) // 4, c - 1) for n, c in zip(shape, coarse_shape)])
    labels = coarse[index]
    noise = rng.random(shape) < 0.05
    labels[noise] = rng.integers(0, len(values), int(noise.sum()))
    return values[labels]


def _size(rng: np.random.Generator) -> tuple[int, int]:
    choices = [(1, 1), (8, 8), (1, 17), (13, 1), (16, 16), (48, 64), (33, 7)]
    if rng.random() < 0.5:
        return choices[int(rng.integers(len(choices)))]
    return int(rng.integers(1, 49)), int(rng.integers(1, 65))


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


# ---------------------------------------------------------------- PNG


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _pack_row(row: np.ndarray, depth: int) -> bytes:
    """One row of samples at a bit depth, as PNG stores them (big-endian, MSB first)."""
    if depth == 16:
        return row.astype(">u2").tobytes()
    if depth == 8:
        return row.astype(np.uint8).tobytes()
    per_byte = 8 // depth
    padded = np.zeros(-(-row.size // per_byte) * per_byte, np.uint16)
    padded[: row.size] = row
    groups = padded.reshape(-1, per_byte)
    shifts = np.arange(per_byte - 1, -1, -1) * depth
    return (groups << shifts).sum(axis=1).astype(np.uint8).tobytes()


def _filter(raw: bytes, prior: bytes, bpp: int, kind: int) -> bytes:
    x = np.frombuffer(raw, np.uint8).astype(np.int16)
    b = np.frombuffer(prior, np.uint8).astype(np.int16) if prior else np.zeros_like(x)
    a = np.concatenate([np.zeros(bpp, np.int16), x[:-bpp]])[: x.size]
    c = np.concatenate([np.zeros(bpp, np.int16), b[:-bpp]])[: x.size]
    if kind == 0:
        out = x
    elif kind == 1:
        out = x - a
    elif kind == 2:
        out = x - b
    elif kind == 3:
        out = x - (a + b) // 2
    else:
        p = a + b - c
        pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
        predictor = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
        out = x - predictor
    return bytes([kind]) + (out & 0xFF).astype(np.uint8).tobytes()


_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _scanlines(samples: np.ndarray, depth: int, interlace: int, rng: np.random.Generator) -> bytes:
    """Filtered scanlines of (height, width, channels) samples, each row with a random filter."""
    channels = samples.shape[2]
    bpp = max(1, channels * depth // 8)
    passes = [samples] if not interlace else [samples[y::dy, x::dx] for x, y, dx, dy in _ADAM7]
    out = bytearray()
    for image in passes:
        if image.shape[0] == 0 or image.shape[1] == 0:
            continue
        prior = b""
        for row in image:
            raw = _pack_row(row.reshape(-1), depth)
            out += _filter(raw, prior, bpp, int(rng.integers(5)))
            prior = raw
    return bytes(out)


def png_bytes(
    samples: np.ndarray,
    depth: int,
    color_type: int,
    rng: np.random.Generator,
    *,
    palette: int = 0,
    interlace: int = 0,
    trns: bytes | None = None,
    ancillary: bool = False,
) -> bytes:
    """A PNG of (height, width[, channels]) samples; IDAT split in 1 to 4 chunks."""
    if samples.ndim == 2:
        samples = samples[:, :, None]
    height, width = samples.shape[:2]
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, interlace)
    out = [b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", ihdr)]
    if ancillary:
        out.append(_chunk(b"gAMA", struct.pack(">I", 45455)))
        out.append(_chunk(b"tEXt", b"Software\x00fastweights fuzz"))
    if palette:
        colours = rng.integers(0, 256, (palette, 3), dtype=np.uint8)
        out.append(_chunk(b"PLTE", colours.tobytes()))
    if trns is not None:
        out.append(_chunk(b"tRNS", trns))
    stream = zlib.compress(_scanlines(samples, depth, interlace, rng), int(rng.integers(0, 10)))
    splits = sorted(set(int(s) for s in rng.integers(1, max(2, len(stream)), int(rng.integers(0, 4)))))
    bounds = [0, *splits, len(stream)]
    out += [_chunk(b"IDAT", stream[lo:hi]) for lo, hi in zip(bounds, bounds[1:])]
    if ancillary and rng.random() < 0.5:
        out.append(_chunk(b"tIME", bytes(7)))
    out.append(_chunk(b"IEND", b""))
    return b"".join(out)


def _png_gray(rng: np.random.Generator, index: int) -> Sample:
    depth = (1, 2, 4, 8, 8, 8)[index % 6]
    shape = _size(rng)
    values = np.unique(rng.integers(0, 1 << depth, int(rng.integers(1, 6))))
    labels = blocky(rng, shape, values)
    alpha = depth == 8 and index % 4 == 1
    interlace = int(rng.random() < 0.3)
    trns = None if alpha or rng.random() < 0.7 else struct.pack(">H", int(values[0]))
    if alpha:
        samples = np.stack([labels, rng.integers(0, 256, shape)], axis=-1)
        data = png_bytes(samples, 8, 4, rng, interlace=interlace, ancillary=rng.random() < 0.5)
    else:
        data = png_bytes(labels, depth, 0, rng, interlace=interlace, trns=trns, ancillary=rng.random() < 0.5)
    return Sample(f"gray{depth}_{index}.png", data, bincount(labels), labels.size)


def _png_palette(rng: np.random.Generator, index: int) -> Sample:
    depth = (1, 2, 4, 8)[index % 4]
    shape = _size(rng)
    entries = int(rng.integers(1, (1 << depth) + 1))
    values = np.unique(rng.integers(0, entries, int(rng.integers(1, 6))))
    labels = blocky(rng, shape, values)
    trns = bytes(rng.integers(0, 256, int(rng.integers(1, entries + 1)), dtype=np.uint8)) if index % 3 == 0 else None
    data = png_bytes(
        labels, depth, 3, rng, palette=entries, interlace=int(rng.random() < 0.3), trns=trns, ancillary=index % 2 == 0
    )
    return Sample(f"palette{depth}_{index}.png", data, bincount(labels), labels.size)


def _png_gray16(rng: np.random.Generator, index: int) -> Sample:
    shape = _size(rng)
    values = np.unique(np.concatenate([[0], rng.integers(0, 1 << 16, 3), [65535 if index % 3 == 0 else 1]]))
    if index % 2:
        values = values[values < 5000]  # fastweights refuses labels past MAX_CLASSES only, but keep tables small
    labels = blocky(rng, shape, values.astype(np.int64))
    data = png_bytes(labels, 16, 0, rng, interlace=int(rng.random() < 0.3), ancillary=index % 2 == 0)
    return Sample(f"gray16_{index}.png", data, bincount(labels), labels.size * 2)


def _colormap(rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[list[int]]]:
    colours = np.unique(rng.integers(0, 256, (n * 2, 3)), axis=0)[:n]
    classes = rng.permutation(n)
    return colours, [[*map(int, colour), int(c)] for colour, c in zip(colours, classes)]


def _png_rgb(rng: np.random.Generator, index: int) -> Sample:
    shape = _size(rng)
    interlace = int(rng.random() < 0.3)
    if index % 4 == 3:  # three equal channels and no colormap: read as gray
        gray = blocky(rng, shape, np.unique(rng.integers(0, 256, 4)))
        data = png_bytes(np.stack([gray] * 3, axis=-1), 8, 2, rng, interlace=interlace)
        return Sample(f"rgbgray_{index}.png", data, bincount(gray), gray.size * 3)
    colours, colormap = _colormap(rng, int(rng.integers(1, 7)))
    which = blocky(rng, shape, np.arange(len(colours)))
    rgb = colours[which]
    classes = np.array([c[3] for c in colormap])[which]
    if index % 4 == 1:
        rgba = np.concatenate([rgb, rng.integers(0, 256, (*shape, 1))], axis=-1)
        data = png_bytes(rgba, 8, 6, rng, interlace=interlace, ancillary=True)
    else:
        data = png_bytes(rgb, 8, 2, rng, interlace=interlace, ancillary=index % 2 == 0)
    return Sample(f"rgb_{index}.png", data, bincount(classes), classes.size * 3, {"colormap": colormap})


# ---------------------------------------------------------------- .npy / .npz / raw

_NPY_DTYPES = ("|u1", "|i1", "<u2", ">u2", "<i2", "<i4", ">u4", "<i8", "<u8", "|b1", "<f4", ">f8", "<f2")


def _npy_labels(rng: np.random.Generator, index: int) -> np.ndarray:
    dtype = np.dtype(_NPY_DTYPES[index % len(_NPY_DTYPES)])
    shapes = [(), (7,), (0, 5), _size(rng), (3, *_size(rng)), (2, 3, 4, 5)]
    shape = shapes[int(rng.integers(len(shapes)))] if index % 5 else _size(rng)
    if dtype.kind == "b":
        values = np.array([False, True])
    else:
        top = 200 if dtype.itemsize == 1 and dtype.kind == "u" else 120 if dtype.itemsize == 1 else 3000
        values = np.unique(rng.integers(0, top, int(rng.integers(1, 6))))
    return blocky(rng, shape, values).astype(dtype) if shape else np.array(values[0], dtype)


def npy_bytes(array: np.ndarray, version: tuple[int, int], fortran: bool) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array(out, np.asfortranarray(array) if fortran else array, version=version)
    return out.getvalue()


def _npy(rng: np.random.Generator, index: int) -> Sample:
    labels = _npy_labels(rng, index)
    version = ((1, 0), (2, 0), (3, 0))[index % 3]
    fortran = labels.ndim >= 2 and index % 4 == 1
    data = npy_bytes(labels, version, fortran)
    return Sample(f"a{index}_v{version[0]}.npy", data, bincount(labels), labels.nbytes)


def _npz(rng: np.random.Generator, index: int) -> Sample:
    members = [_npy_labels(rng, index * 3 + k) for k in range(int(rng.integers(1, 4)))]
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if index % 2 else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", method) as archive:
        for k, array in enumerate(members):
            info = zipfile.ZipInfo(f"m{k}.npy", date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = method
            archive.writestr(
                info, npy_bytes(array, ((1, 0), (2, 0), (3, 0))[(index + k) % 3], array.ndim >= 2 and k == 1)
            )
    total = np.zeros(0, np.int64)
    for array in members:
        counts = np.array(bincount(array), np.int64)
        total = np.pad(total, (0, max(0, len(counts) - len(total))))
        total[: len(counts)] += counts
    kind = "deflated" if method == zipfile.ZIP_DEFLATED else "stored"
    return Sample(f"z{index}_{kind}.npz", out.getvalue(), [int(n) for n in total], sum(a.nbytes for a in members))


def _raw(rng: np.random.Generator, index: int) -> Sample:
    dtype = np.dtype(("|u1", "<u2", ">u2", "<i4", "|i1")[index % 5])
    shape = _size(rng) if index % 3 else (int(rng.integers(1, 4)), *_size(rng))
    top = 120 if dtype.itemsize == 1 else 1000
    labels = blocky(rng, shape, np.unique(rng.integers(0, top, int(rng.integers(1, 6))))).astype(dtype)
    offset = int(rng.integers(1, 64)) if index % 4 == 0 else 0
    data = bytes(rng.integers(0, 256, offset, dtype=np.uint8)) + labels.tobytes()
    spec = {"kind": "raw", "dtype": dtype.str, "shape": list(shape), "offset": offset}
    return Sample(f"r{index}.raw", data, bincount(labels), labels.nbytes, spec)


# ---------------------------------------------------------------- TIFF

_TIFF_DTYPES = ("|u1", "<u2", "<i2", "<u4", "|i1", "<f4")


def _tiff(labels: np.ndarray, **options: Any) -> bytes:
    tifffile = __import__("tifffile")
    out = io.BytesIO()
    tifffile.imwrite(out, labels, **options)
    return out.getvalue()


def _tiff_labels(rng: np.random.Generator, index: int, shape: tuple[int, ...]) -> np.ndarray:
    dtype = np.dtype(_TIFF_DTYPES[index % len(_TIFF_DTYPES)])
    top = 120 if dtype.itemsize == 1 else 2000
    return blocky(rng, shape, np.unique(rng.integers(0, top, int(rng.integers(1, 6))))).astype(dtype)


def _tiff_layout(rng: np.random.Generator, index: int, height: int, width: int) -> dict[str, Any]:
    options: dict[str, Any] = {"byteorder": "<>"[index % 2], "bigtiff": index % 7 == 3}
    if index % 3 == 1 and height >= 16 and width >= 16:
        options["tile"] = (16, 16)
    elif index % 3 == 2:
        options["rowsperstrip"] = int(rng.integers(1, max(2, height)))
    return options


def _tiff_2d(rng: np.random.Generator, index: int) -> Sample:
    shape = _size(rng)
    if index % 6 == 5:  # RGB colour mask through a colormap
        colours, colormap = _colormap(rng, int(rng.integers(1, 6)))
        which = blocky(rng, shape, np.arange(len(colours)))
        classes = np.array([c[3] for c in colormap])[which]
        rgb = colours[which].astype(np.uint8)
        planar = "separate" if index % 12 == 11 else "contig"
        data = _tiff(
            np.moveaxis(rgb, -1, 0) if planar == "separate" else rgb,
            photometric="rgb",
            planarconfig=planar,
            **_tiff_layout(rng, index, *shape),
        )
        return Sample(f"t2rgb_{index}.tif", data, bincount(classes), rgb.nbytes, {"colormap": colormap})
    labels = _tiff_labels(rng, index, shape)
    data = _tiff(labels, photometric="minisblack", **_tiff_layout(rng, index, *shape))
    return Sample(f"t2_{index}.tif", data, bincount(labels), labels.nbytes)


def _tiff_3d(rng: np.random.Generator, index: int) -> Sample:
    height, width = _size(rng)
    labels = _tiff_labels(rng, index, (int(rng.integers(1, 6)), height, width))
    options = _tiff_layout(rng, index, height, width)
    if index % 5 == 4 and height >= 16 and width >= 16:
        options["tile"] = (labels.shape[0], 16, 16)  # volumetric tiles (ImageDepth)
    data = _tiff(labels, photometric="minisblack", **options)
    return Sample(f"t3_{index}.tiff", data, bincount(labels), labels.nbytes)


def _tiff_compressed(rng: np.random.Generator, index: int) -> Sample:
    height, width = _size(rng)
    shape = (height, width) if index % 2 else (int(rng.integers(2, 5)), height, width)
    labels = _tiff_labels(rng, index, shape)
    codec = ("zlib", "lzw", "packbits", "zlib", "lzw")[index % 5]
    options = _tiff_layout(rng, index // 5, height, width)
    if codec != "packbits" and labels.dtype.kind in "iu" and index % 3 == 0:
        options["predictor"] = True
    data = _tiff(labels, photometric="minisblack", compression=codec, **options)
    return Sample(f"tc_{codec}_{index}.tif", data, bincount(labels), labels.nbytes)


# ---------------------------------------------------------------- NIfTI

_NII_DTYPES = ("|u1", "<i2", "<u2", "<i4", "<f4", "|i1", "<f8")


def _nii_bytes(rng: np.random.Generator, index: int) -> tuple[bytes, list[int], int]:
    nibabel = __import__("nibabel")
    dtype = np.dtype(_NII_DTYPES[index % len(_NII_DTYPES)])
    h, w = _size(rng)
    shape = ((h, w, int(rng.integers(1, 5))), (h, w), (h, w, 2, 2))[index % 3]
    stored = blocky(rng, shape, np.unique(rng.integers(0, 60, int(rng.integers(1, 5))))).astype(dtype)
    two = index % 5 == 4
    image_type = nibabel.Nifti2Image if two else nibabel.Nifti1Image
    endian = ">" if index % 4 == 3 else "<"
    header = (nibabel.Nifti2Header if two else nibabel.Nifti1Header)(endianness=endian)
    header.set_data_dtype(stored.dtype.newbyteorder("="))
    image = image_type(stored, np.eye(4), header)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.nii")
        image.to_filename(path)
        data = bytearray(_read(path))
    slope, inter = [(1.0, 0.0), (2.0, 1.0), (0.5, 0.0), (-1.0, 100.0), (0.0, 0.0), (3.0, 5.0)][index % 6]
    if slope == 0.5:
        stored_even = stored.astype(np.float64)
        if np.any(stored_even % 2):
            slope = 1.0  # only even values halve to whole labels
    # scl_slope / scl_inter: float32 at 112/116 (NIfTI-1) or float64 at 176/184 (NIfTI-2)
    if two:
        struct.pack_into(endian + "dd", data, 176, slope, inter)
    else:
        struct.pack_into(endian + "ff", data, 112, slope, inter)
    if slope == 0.0:  # "no scaling" by the standard
        slope, inter = 1.0, 0.0
    labels = stored.astype(np.float64) * slope + inter
    return bytes(data), bincount(labels), stored.nbytes


def _nii(rng: np.random.Generator, index: int) -> Sample:
    data, pixels, nbytes = _nii_bytes(rng, index)
    return Sample(f"n{index}.nii", data, pixels, nbytes)


def _nii_gz(rng: np.random.Generator, index: int) -> Sample:
    data, pixels, nbytes = _nii_bytes(rng, index)
    return Sample(f"n{index}.nii.gz", gzip.compress(data, mtime=0), pixels, nbytes)


# ---------------------------------------------------------------- HDF5

_H5_DTYPES = ("|u1", "<u2", "<i4", "<f4", "|b1", ">i2")


def _hdf5(rng: np.random.Generator, index: int) -> Sample:
    h5py = __import__("h5py")
    dtype = np.dtype(_H5_DTYPES[index % len(_H5_DTYPES)])
    shape = _size(rng) if index % 2 else (int(rng.integers(1, 4)), *_size(rng))
    values = np.array([False, True]) if dtype.kind == "b" else np.unique(rng.integers(0, 300, 4))
    labels = blocky(rng, shape, values).astype(dtype)
    options: dict[str, Any] = {}
    if index % 3 == 1:
        options["chunks"] = tuple(max(1, n // 2) for n in shape)
    elif index % 3 == 2:
        options.update(chunks=True, compression="gzip")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "x.h5")
        with h5py.File(path, "w", libver="earliest" if index % 2 else "latest") as file:
            file.create_dataset("labels", data=labels, track_times=False, **options)
        data = _read(path)
    return Sample(f"h{index}.h5", data, bincount(labels), labels.nbytes, {"kind": "hdf5", "dataset": "/labels"})


_MAKERS = {
    "png-gray": _png_gray,
    "png-palette": _png_palette,
    "png-gray16": _png_gray16,
    "png-rgb": _png_rgb,
    "npy": _npy,
    "npz": _npz,
    "raw": _raw,
    "tiff-2d": _tiff_2d,
    "tiff-3d": _tiff_3d,
    "tiff-compressed": _tiff_compressed,
    "nii": _nii,
    "nii-gz": _nii_gz,
    "hdf5": _hdf5,
}


def corpus(fmt: str, n: int = 24, seed: int = 0) -> list[Sample]:
    """`n` valid files of one format, the same for the same seed."""
    rng = np.random.default_rng([seed, FORMATS.index(fmt)])
    samples = []
    for index in range(n):
        sample = _MAKERS[fmt](rng, index)
        sample.spec.setdefault("kind", "path")
        samples.append(sample)
    return samples
