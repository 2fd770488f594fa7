"""The quick sample of the fuzzing suite (issue 20), in the normal test run: for every format, the
valid corpus files and a few dozen mutations of them, each counted in a worker process under a
memory limit. Every outcome must be the strict reference's counts or an InputError naming the
file. The full run: tests/fuzz/run_full.py (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .corpus import FORMATS, corpus
from .runner import FAILURES, Result, cases, run

for _module in ("PIL", "tifffile", "imagecodecs", "nibabel", "h5py"):
    pytest.importorskip(_module)

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
    pixels = answer["pixels"]
    while pixels and pixels[-1] == 0:
        pixels.pop()
    while expected and expected[-1] == 0:
        expected.pop()
    assert pixels == expected
