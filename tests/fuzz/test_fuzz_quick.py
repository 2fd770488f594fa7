"""The quick sample of the fuzzing suite (issue 20), in the normal test run: for every format, the
valid corpus files and a few dozen mutations of them, each counted in a worker process under a
memory limit. Every outcome must be the strict reference's counts or an InputError naming the
file. The full run: tests/fuzz/run_full.py (slow)."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from .corpus import FORMATS, corpus, npy_bytes
from .mutate_npy import npy_join
from .mutate_png import _fresh, _png_chunks, _png_join
from .mutate_tiff import _tiff_parse
from .oracle_common import as_pairs
from .runner import FAILURES, Case, Result, cases, run

for _module in ("PIL", "imagecodecs", "nibabel", "h5py"):
    pytest.importorskip(_module)
tifffile = pytest.importorskip("tifffile")

MUTATIONS_PER_FORMAT = 24
BASE_FILES = 8
# Formats whose files a folder count takes as they are (no colormap, no raw description, no dataset).
PLAIN = (
    "png-gray",
    "png-palette",
    "png-gray16",
    "npy",
    "npz",
    "tiff-2d",
    "tiff-3d",
    "tiff-compressed",
    "nii",
    "nii-gz",
)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Result]]:
    folder = tmp_path_factory.mktemp("fuzz")
    every = [case for fmt in FORMATS for case in cases(fmt, MUTATIONS_PER_FORMAT, seed=1, base=BASE_FILES)]
    by_format: dict[str, list[Result]] = {fmt: [] for fmt in FORMATS}
    for result in run(every, str(folder)):
        by_format[result.case.fmt].append(result)
    return by_format


def _npy_edit(old: bytes, new: bytes) -> bytes:
    data = npy_bytes(np.arange(12, dtype=np.uint8).reshape(3, 4), (1, 0), False)
    text = data[10 : 10 + int.from_bytes(data[8:10], "little")]
    edited = text.replace(old, new).rstrip(b" \n")
    return npy_join(1, edited + b" " * (len(text) - 1 - len(edited)) + b"\n", data[10 + len(text) :])


def _nii_field(fmt: str, offset: int, value: object) -> bytes:
    data = bytearray(next(s for s in corpus("nii", 6) if s.name == "n0.nii").data)
    struct.pack_into("<" + fmt, data, offset, value)
    return bytes(data)


def _tiff_with(codec: str | None, edit: str) -> bytes:
    out = io.BytesIO()
    options = {"compression": codec} if codec else {}
    tifffile.imwrite(
        out, np.arange(64, dtype=np.uint8).reshape(8, 8), rowsperstrip=4, photometric="minisblack", **options
    )
    data = bytearray(out.getvalue())
    tiff = _tiff_parse(bytes(data))
    assert tiff is not None
    if edit == "no entries":
        struct.pack_into("<H", data, tiff.ifds[0][0], 0)
    for position, tag, kind, count, value_at in tiff.entries(bytes(data)) if edit != "no entries" else []:
        if edit == "zero byte counts" and tag == 279:
            for k in range(count):
                struct.pack_into("<" + {3: "H", 4: "I"}[kind], data, value_at + k * (2 if kind == 3 else 4), 0)
        if edit == "huge" and tag in (256, 257):
            struct.pack_into("<" + {3: "H", 4: "I"}[kind], data, value_at, 185000 if kind == 4 else 65535)
            struct.pack_into("<H", data, position + 2, 4) if kind == 4 else None
    return bytes(data)


def _stored_npz_bad_crc() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.npy", npy_bytes(np.arange(12, dtype=np.uint8), (1, 0), False))
    data = bytearray(out.getvalue())
    data[30 + len("a.npy") + 12 + 128 - 1] ^= 0x01  # the last label (header: 128 bytes), its CRC left as it was
    return bytes(data)


def _png_fallback_short() -> bytes:
    sample = next(s for s in corpus("png-gray", 8) if s.name.startswith("gray8"))
    chunks = _png_chunks(sample.data)
    assert chunks is not None
    raw = zlib.decompress(b"".join(body for kind, body, _ in chunks if kind == b"IDAT"))
    kept = [c for c in chunks if c[0] != b"IDAT"]
    kept.insert(1, _fresh(b"ABCD", b""))  # an unknown critical chunk: only a general decoder may read it
    kept.insert(-1, _fresh(b"IDAT", zlib.compress(raw[: len(raw) // 2])))
    return _png_join(kept)


# The bugs issue 20 names, each as a file: it must be refused (with its name) or counted exactly.
KNOWN = {
    "npy-negative-dimension": ("a.npy", lambda: _npy_edit(b"(3, 4)", b"(-3, -4)")),
    "npy-key-repeated": ("a.npy", lambda: _npy_edit(b"{", b"{'shape': (2, 2), ")),
    "nii-vox-offset-in-header": ("a.nii", lambda: _nii_field("f", 108, 0.0)),
    "nii-negative-dimension": ("a.nii", lambda: _nii_field("h", 42, -3)),
    "tiff-ifd-without-entries": ("a.tif", lambda: _tiff_with(None, "no entries")),
    "tiff-compressed-zero-byte-counts": ("a.tif", lambda: _tiff_with("zlib", "zero byte counts")),
    "tiff-huge-dimensions": ("a.tif", lambda: _tiff_with("zlib", "huge")),
    "npz-stored-member-bad-crc": ("a.npz", _stored_npz_bad_crc),
    "png-short-data-general-decoder": ("a.png", _png_fallback_short),
}


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    # Counted with PIL.ImageFile.LOAD_TRUNCATED_IMAGES set, as a user's process may have it.
    every = [
        Case(name, f"{name}_{file_name}", make(), {"kind": "path"}, 4096, name, truncated_images=True)
        for name, (file_name, make) in KNOWN.items()
    ]
    return {result.case.fmt: result for result in run(every, str(tmp_path_factory.mktemp("known")))}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_damage_is_refused_or_counted_exactly(name: str, known: dict[str, Result]) -> None:
    result = known[name]
    assert result.outcome in ("exact", "refused"), f"{result.outcome}: {result.detail}"


def test_npy_format_version_3_is_counted(results: dict[str, list[Result]]) -> None:
    """Version 3.0 (a UTF-8 header) is a valid .npy: counted exactly, not refused."""
    version_3 = [r for r in results["npy"] if not r.case.mutation and r.case.name.endswith("_v3.npy")]
    assert version_3
    assert all(r.outcome == "exact" for r in version_3), _report(version_3)


def _add(a: list[int], b: list[int]) -> list[int]:
    n = max(len(a), len(b))
    return [x + y for x, y in zip(a + [0] * (n - len(a)), b + [0] * (n - len(b)))]


def _report(failures: list[Result]) -> str:
    return "\n".join(
        f"{r.outcome}: {r.case.name} ({r.case.mutation or 'unmutated'}"
        f"{', LOAD_TRUNCATED_IMAGES set' if r.case.truncated_images else ''}): {r.detail[:300]}"
        for r in failures
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_valid_files_count_exactly(fmt: str, results: dict[str, list[Result]]) -> None:
    unmutated = [r for r in results[fmt] if not r.case.mutation]
    assert len(unmutated) == BASE_FILES
    wrong = [r for r in unmutated if r.outcome != "exact"]
    assert not wrong, _report(wrong)


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutations_count_exactly_or_are_refused(fmt: str, results: dict[str, list[Result]]) -> None:
    mutated = [r for r in results[fmt] if r.case.mutation]
    assert len(mutated) == MUTATIONS_PER_FORMAT
    failures = [r for r in mutated if r.outcome in FAILURES]
    assert not failures, _report(failures)


def test_skip_leaves_out_every_refused_file_and_counts_the_rest(
    results: dict[str, list[Result]], tmp_path: Path
) -> None:
    """on_error="skip" over a folder of valid files and files the reference refuses: the valid
    ones counted exactly, each refused one listed in counts.errors."""
    expected: list[int] = []
    for fmt in PLAIN:
        for sample in corpus(fmt, 3, seed=2):
            if not sample.spec.get("colormap"):
                (tmp_path / f"{fmt}_{sample.name}").write_bytes(sample.data)
                expected = _add(expected, sample.pixels)
    refused = [
        r
        for fmt in PLAIN
        for r in results[fmt]
        if r.case.mutation and r.oracle.get("status") == "refused" and r.outcome not in ("crash", "timeout", "memory")
    ]
    assert len(refused) > 50
    for r in refused:
        (tmp_path / f"bad_{r.case.fmt}_{r.case.name}").write_bytes(r.case.data)
    script = (
        "import json, sys, warnings, fastweights\n"
        "warnings.simplefilter('ignore')\n"
        "c = fastweights.count(sys.argv[1], on_error='skip', threads=1)\n"
        "print(json.dumps({'pixels': [int(n) for n in c.pixels], 'errors': [name for name, _ in c.errors]}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    skipped = {os.path.basename(name.split(":")[0].split("[")[0]) for name in answer["errors"]}
    not_skipped = sorted(
        f"bad_{r.case.fmt}_{r.case.name} ({r.case.mutation})"
        for r in refused
        if f"bad_{r.case.fmt}_{r.case.name}" not in skipped
    )
    assert not not_skipped, "counted, not skipped:\n" + "\n".join(not_skipped)
    assert not any(name.startswith(tuple(PLAIN)) for name in skipped)
    assert as_pairs(answer["pixels"]) == as_pairs(expected)
