"""The C++ kernels on their own (tests/cpp/kernel_check.cpp), against a plain loop: natively with and
without OpenMP (and without SSE2, for the portable variant's plain C++ path), and built for aarch64
and run under qemu where a cross compiler and qemu-user are installed, since the NEON variant cannot
run on an x86-64 machine otherwise."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import compiler

from fastweights import _core

ROOT = Path(__file__).resolve().parents[1]
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
