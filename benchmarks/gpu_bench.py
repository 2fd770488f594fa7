"""GPU benchmark: fastweights' CUDA path against the device's own copy bandwidths, in one run.

    python benchmarks/gpu_bench.py            # prints the table
    python benchmarks/gpu_bench.py --write    # and writes it into BENCHMARKS.md (its GPU section)

Measured in the same run, on the same device:
- the device-to-device copy bandwidth (bytes read + bytes written per second, as CUDA's
  bandwidthTest counts them) and the host-to-device bandwidth from pinned memory;
- `fastweights.count` on device-resident arrays (GB/s of labels, and the share of the copy
  bandwidth) and on host arrays streamed with `device="cuda"` (share of the host-to-device bandwidth),
  for uint8 masks (skewed blocky, binary, uniform random, zeros) and uint16 labels;
- two references on the device-resident uint8 data: the same privatised shared-memory histogram
  without the run-awareness (four atomic adds per 32-bit word), and `cupy.bincount` when CuPy is
  installed.
Every count is checked against the exact counts the data was made with. Timings are medians of
`--rounds` rounds after one warm-up (which also compiles the kernels). Without a usable GPU the
script says why, and with --write records that in BENCHMARKS.md instead of numbers.
"""

from __future__ import annotations

import argparse
import platform
import re
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed_data import SEED, blocky_masks, skewed

import fastweights
from fastweights import cuda as fw_cuda

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "BENCHMARKS.md"
START, END = "<!-- gpu-bench:start -->", "<!-- gpu-bench:end -->"
COMMAND = "python benchmarks/gpu_bench.py --write"


def cases(nbytes: int) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """key -> (description, labels, exact counts), each about `nbytes` (1024 x 1024 images; 128 x 128
    ones for the simulator's smoke test)."""
    rng = np.random.default_rng(SEED)
    height = width = 1024 if nbytes >= 1 << 20 else 128
    images = max(1, nbytes // (height * width))
    masks, masks_counts = blocky_masks(rng, images, height, width, skewed(20, 0.70), np.uint8)
    binary, binary_counts = blocky_masks(rng, images, height, width, skewed(2, 0.70), np.uint8)
    random = rng.integers(0, 256, masks.shape, np.uint8)
    zeros = np.zeros(masks.shape, np.uint8)
    wide, wide_counts = blocky_masks(rng, max(1, images // 2), height, width, skewed(1000, None), np.uint16)
    return {
        "masks": ("uint8 masks: 20 classes, class 0 at 70 %, blocky", masks, masks_counts),
        "binary": ("{0,1} uint8 masks, 30 % foreground, blocky", binary, binary_counts),
        "random": ("uniform random uint8 labels", random, np.bincount(random.ravel(), minlength=256).astype(np.uint64)),
        "zeros": ("all zeros, uint8 (one hot bin)", zeros, np.array([zeros.size], np.uint64)),
        "uint16": ("uint16 labels: 1000 classes (Zipf), blocky", wide, wide_counts),
    }


def median_seconds(run: Callable[[], Any], rounds: int) -> float:
    run()  # warm-up: compiles the kernels, allocates the staging buffers
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def event_seconds(cuda: Any, run: Callable[[], Any], rounds: int) -> float:
    """Median device time of `run` between two CUDA events."""
    run()
    times = []
    for _ in range(rounds):
        start, end = cuda.event(), cuda.event()
        start.record()
        run()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def plain_kernel() -> Any:
    """The reference: a per-block shared-memory histogram, four atomic adds per 32-bit word.
    (numba's names are module globals inside the kernel: the simulator swaps them for its own.)"""
    global cuda, uint32, uint64
    from numba import cuda, uint32, uint64

    @cuda.jit
    def plain(words, table):
        hist = cuda.shared.array(256, dtype=uint32)
        tid = cuda.threadIdx.x
        for slot in range(tid, 256, cuda.blockDim.x):
            hist[slot] = uint32(0)
        cuda.syncthreads()
        index = cuda.grid(1)
        while index < words.size:
            word = uint32(words[index])
            for shift in range(0, 32, 8):
                cuda.atomic.add(hist, (word >> uint32(shift)) & uint32(0xFF), uint32(1))
            index += cuda.gridsize(1)
        cuda.syncthreads()
        for slot in range(tid, 256, cuda.blockDim.x):
            if hist[slot]:
                cuda.atomic.add(table, slot, uint64(hist[slot]))

    return plain


def bandwidths(cuda: Any, nbytes: int, rounds: int) -> tuple[float, float]:
    """(device-to-device copy, host-to-device from pinned memory), bytes per second."""
    source = cuda.to_device(np.ones(nbytes, np.uint8))
    target = cuda.device_array(nbytes, np.uint8)
    d2d = 2 * nbytes / event_seconds(cuda, lambda: target.copy_to_device(source), rounds)
    pinned = cuda.pinned_array(nbytes, np.uint8)
    pinned[:] = 1
    h2d = nbytes / event_seconds(cuda, lambda: target.copy_to_device(pinned), rounds)
    return d2d, h2d


def row(case: str, description: str, where: str, nbytes: int, seconds: float, ceiling: float) -> dict[str, Any]:
    rate = nbytes / seconds
    return {"case": case, "description": description, "where": where, "gbps": rate / 1e9, "share": rate / ceiling}


def measure(mib: float, rounds: int) -> dict[str, Any]:
    from numba import cuda

    counter = fw_cuda.open_counter()
    nbytes = int(mib * (1 << 20))
    d2d, h2d = bandwidths(cuda, nbytes, rounds)
    plain = plain_kernel()
    launch = plain[counter.max_blocks, counter.threads_per_block]
    try:
        import cupy
    except ImportError:
        cupy = None
    rows = []
    for key, (description, labels, expected) in cases(nbytes).items():
        device = cuda.to_device(labels)
        expected_pixels = expected[: int(np.flatnonzero(expected).max()) + 1]
        for where, data, options in (("device-resident", device, {}), ("host-streamed", labels, {"device": "cuda"})):
            counted = fastweights.count(data, **options)
            assert np.array_equal(counted.pixels, expected_pixels), (key, where)
            seconds = median_seconds(lambda data=data, options=options: fastweights.count(data, **options), rounds)
            ceiling = d2d if where == "device-resident" else h2d
            rows.append(row(key, description, where, labels.nbytes, seconds, ceiling))
        if labels.dtype != np.uint8:
            continue
        words = device.reshape(labels.size).view(np.uint32)
        table = cuda.to_device(np.zeros(256, np.uint64))
        launch(words, table)
        assert np.array_equal(table.copy_to_host()[: expected_pixels.size], expected_pixels), (key, "reference")
        seconds = event_seconds(cuda, lambda words=words, table=table: launch(words, table), rounds)
        rows.append(row(key, description, "reference: no run-awareness", labels.nbytes, seconds, d2d))
        if cupy is not None:
            array = cupy.asarray(labels.reshape(-1))
            found = cupy.bincount(array, minlength=256).get()
            assert np.array_equal(found[: expected_pixels.size], expected_pixels), (key, "cupy")
            seconds = event_seconds(cuda, lambda array=array: cupy.bincount(array, minlength=256), rounds)
            rows.append(row(key, description, "reference: cupy.bincount", labels.nbytes, seconds, d2d))
    return {"device": counter.name, "d2d": d2d, "h2d": h2d, "rows": rows, "mib": mib, "rounds": rounds}


def render(result: dict[str, Any]) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        START,
        '## GPU (`device="cuda"`)',
        "",
        f"Written by `{COMMAND}` on {when}, on **{result['device']}** ({platform.node()}), "
        f"{result['mib']} MiB per case, median of {result['rounds']} rounds after a warm-up. Every count was "
        "checked against the exact counts the data was made with.",
        "",
        f"- device-to-device copy bandwidth: {result['d2d'] / 1e9:.0f} GB/s (bytes read + written per second)",
        f"- host-to-device bandwidth from pinned memory: {result['h2d'] / 1e9:.1f} GB/s",
        "- *share*: the labels' GB/s over the copy bandwidth (device-resident, references) or over the "
        "host-to-device bandwidth (host-streamed). Goals (DESIGN §4): device-resident uint8 masks ≥ 70 %, "
        "host-streamed ≥ 80 %.",
        "",
        "| case | counted | GB/s | share |",
        "|---|---|---:|---:|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['case']}: {row['description']} | {row['where']} | {row['gbps']:.1f} | {row['share']:.0%} |"
        )
    lines.append(END)
    return "\n".join(lines)


def no_gpu(reason: str) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            START,
            '## GPU (`device="cuda"`)',
            "",
            f"No GPU could be used when `{COMMAND}` last ran ({when}, on {platform.node()}): {reason}. "
            "There are no GPU figures: none is guessed. The CUDA path is tested for exact parity with the CPU on "
            "numba-cuda's simulator (`tests/test_cuda.py`), and its kernels are compiled to PTX for Volta and Hopper "
            "by the same tests where the CUDA toolkit's NVVM and NVRTC are installed.",
            END,
        ]
    )


def write_section(section: str) -> None:
    text = OUTPUT.read_text() if OUTPUT.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    OUTPUT.write_text(text.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=1024, help="MiB of labels per case (default 1024)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write the GPU section of BENCHMARKS.md")
    parser.add_argument(
        "--simulator", action="store_true", help="run on numba-cuda's simulator (a smoke test: no figures)"
    )
    args = parser.parse_args(argv)
    reason = fw_cuda.unusable_reason()
    if reason is None and fw_cuda.open_counter().simulated and not args.simulator:
        reason = "only numba-cuda's simulator is available (NUMBA_ENABLE_CUDASIM=1)"
    if reason is not None:
        print(f"no GPU: {reason}")
        if args.write:
            write_section(no_gpu(reason))
        return 0
    result = measure(args.mib, args.rounds)
    section = render(result)
    print(section)
    if args.write and not args.simulator:
        write_section(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
