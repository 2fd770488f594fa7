"""Checks that a built _core extension uses instructions above baseline x86-64 only inside the
variants chosen at run time (AVX2 kernels, libdeflate's own dispatched routines).

    python .ci/isa_audit.py build/wheel/_core.cpython-311-x86_64-linux-gnu.so

Needs the unstripped library (the build directory's copy: the wheel's is the same code, stripped)
and binutils' objdump. Exits 1, listing the functions, if any other code uses such instructions.
"""

from __future__ import annotations

import re
import subprocess
import sys

# Instructions a baseline x86-64 CPU (SSE2) may lack: AVX / AVX-512 (VEX/EVEX "v" forms, ymm/zmm
# registers), BMI1/2, POPCNT/LZCNT, SSSE3 / SSE4, CRC32, MOVBE.
# Not tzcnt: GCC and Clang emit its encoding, `rep bsf`, for __builtin_ctz in baseline code, and a
# CPU without BMI1 runs it as bsf, which gives the same result for every input __builtin_ctz is
# defined for (not zero). A tzcnt that must count a zero comes from the _tzcnt intrinsics, which
# compilers accept only in code built for BMI1: dispatched code.
MNEMONICS = re.compile(
    r"(v[a-z0-9]+|popcnt|lzcnt|andn|bextr|blsr|blsi|blsmsk|bzhi|shlx|shrx|sarx|rorx|pdep|pext|mulx|"
    r"pshufb|palignr|pabs[bwd]|phadd[wd]|pmaddubsw|pmulhrsw|ptest|pminsd|pmaxsd|pminu[dw]|pmaxu[dw]|pmulld|"
    r"pcmpeqq|pcmpgtq|pextr[bdq]|pinsr[bdq]|pmovzx[a-z]+|pmovsx[a-z]+|pblendw|blendv[a-z]+|crc32[a-z]*|movbe|"
    r"pclmulqdq)"
)
REGISTERS = re.compile(r"%[yz]mm[0-9]+|%k[0-7]\b")
# Code that only runs after a CPU check: the kernels' AVX2 variants and libdeflate's routines,
# whose names say the instruction set they were compiled for.
DISPATCHED = re.compile(r"avx2|avx512|avx_|_avx|bmi2|pclmul|vpclmul|sse4|ssse3|x86_")


def audit(path: str) -> list[str]:
    listing = subprocess.run(
        ["objdump", "-d", "-C", "--no-show-raw-insn", path], capture_output=True, text=True, check=True
    ).stdout
    offenders: dict[str, str] = {}
    function = None
    named = 0
    for line in listing.splitlines():
        header = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if header:
            function = header.group(1)
            named += 1
            continue
        if function is None or "@plt" in function:
            continue
        instruction = line.split("\t", 1)[-1].split("#", 1)[0].split("<", 1)[0].strip()
        mnemonic, _, operands = instruction.partition(" ")
        above = MNEMONICS.fullmatch(mnemonic) is not None or REGISTERS.search(operands) is not None
        if above and not DISPATCHED.search(function):
            offenders.setdefault(function, instruction)
    if named < 50:
        raise SystemExit(f"{path}: only {named} named functions: audit the unstripped build, not the wheel's copy")
    return [f"{function}: {instruction}" for function, instruction in sorted(offenders.items())]


if __name__ == "__main__":
    found = audit(sys.argv[1])
    if found:
        print("instructions above baseline x86-64 outside the run-time-dispatched variants:")
        print("\n".join(f"  {line}" for line in found))
        sys.exit(1)
    print(f"{sys.argv[1]}: above-baseline instructions only in run-time-dispatched code")
