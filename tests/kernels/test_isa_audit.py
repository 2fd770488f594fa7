"""The release check's instruction-set audit (.ci/isa_audit.py) on small libraries built here: it
lets baseline code through (GCC's `rep bsf` for __builtin_ctz included, which objdump shows as
tzcnt) and dispatched code named for its instruction set, and lists any other function that uses
instructions above baseline x86-64."""

from __future__ import annotations

import importlib.util
import platform
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import ROOT, compiler

pytestmark = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64") or shutil.which("objdump") is None,
    reason="the audit reads x86-64 code with binutils' objdump",
)

# Enough named functions that the audit takes the library for an unstripped build.
FILLER = "\n".join(f'extern "C" int filler_{k}(int x) {{ return x * {k + 3} + {k}; }}' for k in range(60))

BASELINE = """
#include <cstdint>
extern "C" unsigned lowest_set_bit(std::uint64_t bits) { return __builtin_ctzll(bits | (std::uint64_t{1} << 63)); }
extern "C" __attribute__((target("popcnt"))) int count_bits_avx2(std::uint64_t bits) {
    return __builtin_popcountll(bits);
}
"""

UNDISPATCHED = """
#include <cstdint>
extern "C" __attribute__((target("popcnt"))) int count_bits(std::uint64_t bits) { return __builtin_popcountll(bits); }
"""


def load_audit():
    spec = importlib.util.spec_from_file_location("isa_audit", ROOT / ".ci" / "isa_audit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.audit


audit = load_audit()


def built_library(tmp_path: Path, source: str) -> str:
    source_path = tmp_path / "library.cpp"
    source_path.write_text(FILLER + source)
    library = tmp_path / "library.so"
    command = [compiler(), "-std=c++17", "-O2", "-fPIC", "-shared", str(source_path), "-o", str(library)]
    built = subprocess.run(command, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stderr
    return str(library)


def test_baseline_and_dispatched_code_pass(tmp_path: Path) -> None:
    library = built_library(tmp_path, BASELINE)
    listing = subprocess.run(["objdump", "-d", library], capture_output=True, text=True, check=True).stdout
    assert "popcnt" in listing  # the dispatched function really uses it
    assert audit(library) == []


def test_code_above_baseline_outside_dispatch_is_listed(tmp_path: Path) -> None:
    found = audit(built_library(tmp_path, UNDISPATCHED))
    assert len(found) == 1 and found[0].startswith("count_bits: popcnt"), found
