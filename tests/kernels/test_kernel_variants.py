"""Every byte-kernel variant this CPU runs equals np.bincount: runs crossing block edges, lengths
that are not multiples of a block, unaligned starts, every label value. The same variants built on
their own from the C++ headers (tests/cpp/kernel_check.cpp) equal a plain loop: natively with and
without OpenMP (and without SSE2, for the portable variant's plain C++ path), and built for aarch64
and run under qemu where a cross compiler and qemu-user are installed, since the NEON variant cannot
run on an x86-64 machine otherwise."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, compiler
from hypothesis import given, settings
from hypothesis import strategies as st

import fastweights
from fastweights import _core
from fastweights.kernels import ENVIRONMENT_VARIABLE, active_kernel, available_kernels, use_kernel

VARIANTS = available_kernels()


@pytest.fixture(autouse=True)
def automatic_kernel() -> Iterator[None]:
    yield
    use_kernel("auto")


def runs(draw: st.DrawFn, dtype: type) -> np.ndarray:
    """Labels as runs of random lengths: long ones (whole blocks), short ones (block edges), single pixels."""
    lengths = draw(st.lists(st.one_of(st.integers(1, 3), st.integers(4, 70), st.integers(60, 300)), max_size=40))
    values = draw(st.lists(st.integers(0, 255), min_size=len(lengths), max_size=len(lengths)))
    return np.repeat(np.array(values, np.uint8), lengths).view(dtype) if lengths else np.zeros(0, dtype)


@st.composite
def byte_labels(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    dtype = draw(st.sampled_from([np.uint8, np.int8]))
    labels = runs(draw, dtype)
    return labels, draw(st.integers(0, 63))  # an unaligned start


Values = Callable[[np.random.Generator, int], np.ndarray]  # n labels drawn with rng


def runs_between_noise(
    draw: st.DrawFn, run_labels: Values, noise_labels: Values, *, most_runs: int, most_noise: int
) -> np.ndarray:
    """One to six stretches, each either up to `most_runs` runs (of 1-2, 1-39 or 1-199 labels) or up to
    `most_noise` labels of noise, in any order."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pieces = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            lengths = rng.integers(1, draw(st.sampled_from([3, 40, 200])), draw(st.integers(1, most_runs)))
            pieces.append(np.repeat(run_labels(rng, lengths.size), lengths))
        else:
            pieces.append(noise_labels(rng, draw(st.integers(1, most_noise))))
    return np.concatenate(pieces)


@st.composite
def mixed_labels(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Long stretches of runs (hundreds of run starts: the AVX2 kernel's batches fill and empty)
    between stretches of noise (blocks with too many changes: counted label by label, in spans that
    end mid-stretch or run into the next runs), in either order."""
    dtype = draw(st.sampled_from([np.uint8, np.int8]))
    labels = runs_between_noise(
        draw,
        lambda rng, n: rng.integers(0, 256, n),
        lambda rng, n: rng.integers(0, draw(st.sampled_from([3, 256])), n),  # few labels, or any
        most_runs=600,
        most_noise=1500,
    )
    return labels.astype(np.uint8).view(dtype), draw(st.integers(0, 63))


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("labels", [[0, 255], [3, 7, 9], list(range(8))])
def test_one_other_label_among_a_few(variant: str, labels: list[int]) -> None:
    """Blocks of a few labels with one byte of another label (a ninth, or one of the few's
    neighbours) anywhere: at a block's first or last byte, in the first block or a later one."""
    use_kernel(variant)
    few = np.random.default_rng(6).choice(np.array(labels, np.uint8), 3 * 4096 + 10)
    for position in (0, 1, 4095, 4096, 5000, 8191, 3 * 4096 - 1, 3 * 4096 + 5):
        for other in (8, 254, 10):
            data = few.copy()
            data[position] = other
            table, _, _ = _core.count_dense(data, 0, 256, 1)
            np.testing.assert_array_equal(table, np.bincount(data, minlength=256))


@st.composite
def few_labels(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Stretches of a few labels each (noise or runs over up to three 4 KiB blocks), drawn from a
    pool of up to twelve: the AVX2 kernel counts them by comparison, looks the labels up again where
    a new one appears, and leaves the rest to the run kernel once there are more than eight."""
    dtype = draw(st.sampled_from([np.uint8, np.int8]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pool = rng.choice(256, draw(st.integers(1, 12)), replace=False)
    pieces = []
    for _ in range(draw(st.integers(1, 4))):
        labels = rng.choice(pool, draw(st.integers(1, pool.size)), replace=False)
        length = draw(st.integers(1, 3 * 4096 + 100))
        if draw(st.booleans()):
            pieces.append(rng.choice(labels, length))
        else:
            pieces.append(np.repeat(rng.choice(labels, length // 50 + 1), 50)[:length])
    return np.concatenate(pieces).astype(np.uint8).view(dtype), draw(st.integers(0, 63))


def bincount_of_bytes(labels: np.ndarray) -> np.ndarray:
    return np.bincount(labels.view(np.uint8) ^ (0x80 if labels.dtype == np.int8 else 0), minlength=256)


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=250, deadline=None)
@given(case=st.one_of(byte_labels(), mixed_labels(), few_labels()), threads=st.sampled_from([1, 2]))
def test_every_variant_equals_bincount(variant: str, case: tuple[np.ndarray, int], threads: int) -> None:
    use_kernel(variant)
    labels, start = case
    buffer = np.zeros(labels.size + start, labels.dtype)
    buffer[start:] = labels
    view = buffer[start:]  # contiguous, at any alignment
    table, below, above = _core.count_dense(view, int(np.iinfo(view.dtype).min), 256, threads)
    np.testing.assert_array_equal(table, bincount_of_bytes(view))
    assert below == above == 0


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("n", [0, 1, 63, 64, 65, 127, 128, 129, 1000, 300_001])
def test_every_label_value_and_block_edges(variant: str, n: int) -> None:
    use_kernel(variant)
    every = np.arange(n, dtype=np.uint64).astype(np.uint8)  # 0..255 over and over: a change at every label
    blocks = np.repeat(np.arange(256, dtype=np.uint8), 64)[:n]  # runs that fill whole blocks
    shifted = np.repeat(np.arange(256, dtype=np.uint8), 37)[:n]  # runs crossing block edges
    for labels in (every, blocks, shifted):
        for threads in (1, 2):
            table, _, _ = _core.count_dense(labels, 0, 256, threads)
            np.testing.assert_array_equal(table, np.bincount(labels, minlength=256))


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_run_continuing_past_noise_to_any_tail(variant: str) -> None:
    """Noise (counted label by label) whose last label goes on for 0..130 labels: the run that
    starts inside the noise must be counted once, whether the noise ends the array, leaves a tail
    shorter than a block, or is followed by whole blocks."""
    use_kernel(variant)
    noise = np.random.default_rng(5).integers(0, 256, 1 + 256 + 64).astype(np.uint8)
    noise[1] = 7
    for noise_length in (1 + 256, 1 + 256 + 64):
        for tail in range(131):
            labels = np.concatenate([noise[:noise_length], np.full(tail, 200, np.uint8)])
            labels[noise_length - 1] = 200
            table, _, _ = _core.count_dense(labels, 0, 256, 1)
            np.testing.assert_array_equal(table, np.bincount(labels, minlength=256))


@st.composite
def binary_labels(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """{0,1} labels over several 4 KiB blocks (the byte-sum path), perhaps with one larger label
    somewhere, which must send the rest to the general kernel without losing a pixel."""
    dtype = draw(st.sampled_from([np.uint8, np.int8]))
    n = draw(st.integers(0, 5 * 4096 + 100))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    labels = (rng.random(n) < draw(st.floats(0, 1))).astype(dtype)
    if n and draw(st.booleans()):
        larger = draw(st.sampled_from([2, 7, 127, -1, -128]))
        labels[draw(st.integers(0, n - 1))] = larger % 256 if dtype == np.uint8 else larger
    return labels, draw(st.integers(0, 63))


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=100, deadline=None)
@given(case=binary_labels(), threads=st.sampled_from([1, 2]))
def test_binary_masks_equal_bincount(variant: str, case: tuple[np.ndarray, int], threads: int) -> None:
    use_kernel(variant)
    labels, start = case
    buffer = np.zeros(labels.size + start, labels.dtype)
    buffer[start:] = labels
    view = buffer[start:]
    table, below, above = _core.count_dense(view, int(np.iinfo(view.dtype).min), 256, threads)
    np.testing.assert_array_equal(table, bincount_of_bytes(view))
    assert below == above == 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_counts_through_count_are_the_same_with_every_variant(variant: str) -> None:
    rng = np.random.default_rng(4)
    masks = np.repeat(np.repeat(rng.integers(0, 20, (6, 30, 40)).astype(np.uint8), 7, axis=1), 9, axis=2)
    use_kernel(variant)
    got = fastweights.count(masks, stack_axis=0, threads=2)
    np.testing.assert_array_equal(got.pixels, np.bincount(masks.ravel()))


def test_the_environment_variable_forces_a_variant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "portable")
    fastweights.count(np.zeros(4, np.uint8))
    assert active_kernel() == "portable"
    assert fastweights.show_config()["kernel"].startswith("portable")
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "avx9000")
    with pytest.raises(ValueError, match=r"FASTWEIGHTS_KERNEL='avx9000': kernel 'avx9000' is not available"):
        fastweights.count(np.zeros(4, np.uint8))
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "auto")
    fastweights.count(np.zeros(4, np.uint8))
    assert active_kernel() == VARIANTS[-1]  # the best available


def test_an_unavailable_variant_is_refused() -> None:
    with pytest.raises(ValueError, match=r"kernel 'neon' is not available on this CPU; choose one of auto, portable"):
        use_kernel("neon")


WIDE = [np.uint16, np.int16, np.uint32, np.int32, np.int64]


@st.composite
def wide_labels(draw: st.DrawFn) -> tuple[np.ndarray, int, int, int]:
    dtype = np.dtype(draw(st.sampled_from(WIDE)))
    info = np.iinfo(dtype)
    lengths = draw(st.lists(st.one_of(st.integers(1, 3), st.integers(4, 40), st.integers(30, 200)), max_size=30))
    low, high = max(int(info.min), -70_000), min(int(info.max), 70_000)
    values = draw(st.lists(st.integers(low, high), min_size=len(lengths), max_size=len(lengths)))
    labels = np.repeat(np.array(values, dtype), lengths) if lengths else np.zeros(0, dtype)
    lo = draw(st.integers(max(low, -100), 50))
    size = draw(st.integers(1, 65_536))
    return labels, draw(st.integers(0, 15)), lo, size


@st.composite
def mixed_wide_labels(draw: st.DrawFn) -> tuple[np.ndarray, int, int, int]:
    """Wide labels as stretches of runs between stretches of noise (see mixed_labels), some of
    them outside the table's range."""
    dtype = np.dtype(draw(st.sampled_from(WIDE)))
    info = np.iinfo(dtype)
    low, high = max(int(info.min), -70_000), min(int(info.max), 70_000)
    spread = draw(st.sampled_from([3, 300, high - low]))
    first = draw(st.integers(low, high - spread))

    def values(rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(first, first + spread + 1, n)

    labels = runs_between_noise(draw, values, values, most_runs=400, most_noise=700).astype(dtype)
    lo = draw(st.integers(first - 2, first + spread))
    size = draw(st.integers(1, 2 * spread + 2))
    return labels, draw(st.integers(0, 15)), lo, min(size, 65_536)


@pytest.mark.parametrize("variant", VARIANTS)
@settings(max_examples=250, deadline=None)
@given(case=st.one_of(wide_labels(), mixed_wide_labels()))
def test_every_variant_counts_wide_labels_and_what_falls_outside(variant: str, case: tuple) -> None:
    use_kernel(variant)
    labels, start, lo, size = case
    buffer = np.zeros(labels.size + start, labels.dtype)
    buffer[start:] = labels
    view = buffer[start:]
    table, below, above = _core.count_dense(view, lo, size, 1)
    wide = view.astype(np.int64)
    inside = wide[(wide >= lo) & (wide < lo + size)]
    np.testing.assert_array_equal(table, np.bincount(inside - lo, minlength=size))
    assert (below, above) == (int((wide < lo).sum()), int((wide >= lo + size).sum()))


SOURCE = ROOT / "tests" / "cpp" / "kernel_check.cpp"
FLAGS = ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'cpp' / 'include'}"]


def build_and_run(command: list[str], output: Path, runner: list[str] = ()) -> str:
    built = subprocess.run([*command, str(SOURCE), "-o", str(output)], capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    result = subprocess.run([*runner, str(output)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def variants_in(report: str) -> list[str]:
    line = next(line for line in report.splitlines() if line.startswith("variants:"))
    return line.split(":", 1)[1].split()


@pytest.mark.parametrize("openmp", [True, False], ids=["openmp", "no-openmp"])
def test_every_native_variant_equals_a_plain_loop(tmp_path: Path, openmp: bool) -> None:
    report = build_and_run([compiler(), *FLAGS, *(["-fopenmp"] if openmp else [])], tmp_path / "kernel_check")
    assert variants_in(report) == _core.kernel_variants()  # the same variants the extension offers here
    assert "ok: 1820 cases" in report


def test_the_portable_variant_without_sse2(tmp_path: Path) -> None:
    """The portable variant's plain C++ comparison (what it uses on CPUs other than x86-64), natively:
    __SSE2__ undefined, so runs.hpp takes its 64-bit-word path."""
    report = build_and_run([compiler(), *FLAGS, "-U__SSE2__"], tmp_path / "kernel_check_words")
    assert "portable" in variants_in(report)
    assert "ok: 1820 cases" in report


def test_the_neon_variant_under_qemu(tmp_path: Path) -> None:
    cross, qemu = shutil.which("aarch64-linux-gnu-g++"), shutil.which("qemu-aarch64")
    if cross is None or qemu is None:
        pytest.skip("needs aarch64-linux-gnu-g++ and qemu-aarch64 (Debian: g++-aarch64-linux-gnu qemu-user)")
    report = build_and_run([cross, *FLAGS, "-static"], tmp_path / "kernel_check_aarch64", [qemu])
    assert variants_in(report) == ["portable", "neon"]
    assert "ok: 1820 cases" in report
