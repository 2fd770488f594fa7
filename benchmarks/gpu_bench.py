"""GPU benchmark: fastweights' CUDA path against the device's own copy bandwidths, in one run.

    python benchmarks/gpu_bench.py            # prints the table
    python benchmarks/gpu_bench.py --write    # and writes it into BENCHMARKS.md (its GPU section)

Measured in the same run, on the same device:
- the device-to-device copy bandwidth (bytes read + bytes written per second, as CUDA's
  bandwidthTest counts them) and the host-to-device bandwidth from pinned memory;
- `fastweights.count` on device-resident arrays (GB/s of labels, and the share of the copy
  bandwidth), on host arrays and on warm `.npy` files streamed with `device="cuda"` (share of the
  host-to-device bandwidth), for uint8 masks ({0,1}, 19 classes, 256 uniform random, all zeros),
  uint16 labels (1000 classes) and int32 labels;
- references on the same device-resident data: `cupy.bincount` and `torch.bincount` (what a user
  would call instead), and for bytes the same privatised shared-memory histogram without the
  run-awareness (four atomic adds per 32-bit word).
Every count is checked against the exact counts the data was made with. Timings are medians of
`--rounds` rounds after one warm-up (which also compiles the kernels). Without a usable GPU the
script says why, and with --write records that in BENCHMARKS.md instead of numbers.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sections import write_section
from speed_data import SEED, blocky_masks, skewed

import fastweights
from fastweights.backends import cuda as fw_cuda

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "BENCHMARKS.md"
START, END = "<!-- gpu-bench:start -->", "<!-- gpu-bench:end -->"
COMMAND = "python benchmarks/gpu_bench.py --write"
# The threads that fill the staging buffers in a count with the default threads.
COPY_THREADS = min(fw_cuda.COPY_THREADS, fastweights.engine.settings.default_threads())


def cases(nbytes: int) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """key -> (description, labels, exact counts), each about `nbytes` (1024 x 1024 images; 128 x 128
    ones for the simulator's smoke test)."""
    rng = np.random.default_rng(SEED)
    height = width = 1024 if nbytes >= 1 << 20 else 128
    images = max(1, nbytes // (height * width))
    masks, masks_counts = blocky_masks(rng, images, height, width, skewed(19, 0.70), np.uint8)
    binary, binary_counts = blocky_masks(rng, images, height, width, skewed(2, 0.70), np.uint8)
    random = rng.integers(0, 256, masks.shape, np.uint8)
    zeros = np.zeros(masks.shape, np.uint8)
    wide, wide_counts = blocky_masks(rng, max(1, images // 2), height, width, skewed(1000, None), np.uint16)
    int32, int32_counts = blocky_masks(rng, max(1, images // 4), height, width, skewed(19, 0.70), np.int32)
    return {
        "masks": ("uint8 masks: 19 classes, class 0 at 70 %, blocky", masks, masks_counts),
        "binary": ("{0,1} uint8 masks, 30 % foreground, blocky", binary, binary_counts),
        "random": (
            "uniform random uint8 labels (256 classes)",
            random,
            np.bincount(random.ravel(), minlength=256).astype(np.uint64),
        ),
        "zeros": ("all zeros, uint8 (one hot bin)", zeros, np.array([zeros.size], np.uint64)),
        "uint16": ("uint16 labels: 1000 classes (Zipf), blocky", wide, wide_counts),
        "int32": ("int32 labels: 19 classes, class 0 at 70 %, blocky", int32, int32_counts),
    }


def median_seconds(run: Callable[[], Any], rounds: int) -> float:
    """Median wall-clock seconds of `run` (which must wait for the device itself), after a warm-up
    that also compiles the kernels and allocates the staging buffers."""
    run()
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


def on_device(cuda: Any, labels: np.ndarray, repeat: int) -> Any:
    """`labels` (flattened) `repeat` times over, as one device array: big enough that a count's
    fixed costs (Python, launches, copying the table back) do not hide the device's rate."""
    flat = labels.reshape(-1)
    device = cuda.device_array(flat.size * repeat, flat.dtype)
    for copy in range(repeat):
        device[copy * flat.size : (copy + 1) * flat.size].copy_to_device(flat)
    return device


def bincount_references(cuda: Any, device: Any, minlength: int) -> dict[str, Callable[[], np.ndarray]]:
    """What a user of CuPy or PyTorch would call instead, on the same device memory (no copy), each
    returning its counts on the host; torch.bincount takes no uint16, so that case is cast first, as
    a user would have to. Empty on the simulator."""
    if fw_cuda.open_counter().simulated:
        return {}
    found: dict[str, Callable[[], np.ndarray]] = {}
    try:
        import cupy
    except ImportError:
        cupy = None
    if cupy is not None:
        array = cupy.asarray(device)

        def with_cupy() -> np.ndarray:
            return cupy.bincount(array, minlength=minlength).get()

        found["cupy.bincount"] = with_cupy
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None and torch.cuda.is_available():
        tensor = torch.as_tensor(device, device="cuda")
        name = "torch.bincount"
        if tensor.dtype == torch.uint16:
            tensor, name = tensor.to(torch.int32), "torch.bincount (after a cast to int32)"

        def with_torch(tensor: Any = tensor) -> np.ndarray:
            return torch.bincount(tensor, minlength=minlength).cpu().numpy()

        found[name] = with_torch
    return found


def row(case: str, description: str, where: str, nbytes: int, seconds: float, ceiling: float) -> dict[str, Any]:
    rate = nbytes / seconds
    return {"case": case, "description": description, "where": where, "gbps": rate / 1e9, "share": rate / ceiling}


def host_staging_rate(counter: Any, nbytes: int, rounds: int) -> float:
    """Bytes per second at which the CPU fills the pinned staging buffers from host memory (what
    streaming does before each host-to-device copy), with the counter's copy threads."""
    from fastweights import _core

    source = np.random.default_rng(SEED).integers(0, 256, nbytes, np.uint8)
    pinned = counter.slots()[0].host
    step = pinned.size

    def fill() -> None:
        for start in range(0, nbytes, step):
            piece = source[start : start + step]
            _core.copy_bytes(pinned[: piece.size], piece, COPY_THREADS)

    return nbytes / median_seconds(fill, rounds)


def failed_row(case: str, description: str, where: str, error: Exception) -> dict[str, Any]:
    reason = " ".join(f"{type(error).__name__}: {error}".split())[:120]
    return {"case": case, "description": description, "where": f"{where}: failed ({reason})", "gbps": 0.0, "share": 0.0}


def measure(mib: float, rounds: int, repeat: int) -> dict[str, Any]:
    import tempfile

    from numba import cuda

    counter = fw_cuda.open_counter()
    nbytes = int(mib * (1 << 20))
    d2d, h2d = bandwidths(cuda, nbytes * min(repeat, 4), rounds)
    plain = plain_kernel()
    launch = plain[counter.max_blocks, counter.threads_per_block]
    rows = []
    speedups = []
    staging = host_staging_rate(counter, nbytes, rounds)
    with tempfile.TemporaryDirectory() as folder:
        for key, (description, labels, expected) in cases(nbytes).items():
            expected_pixels = expected[: int(np.flatnonzero(expected).max()) + 1]
            device = on_device(cuda, labels, repeat)
            resident_bytes = labels.nbytes * repeat
            counted = fastweights.count(device)
            assert np.array_equal(counted.pixels, expected_pixels * np.uint64(repeat)), (key, "device-resident")
            resident = median_seconds(lambda device=device: fastweights.count(device), rounds)
            rows.append(row(key, description, "device-resident", resident_bytes, resident, d2d))
            path = Path(folder) / f"{key}.npy"
            np.save(path, labels)
            for where, data in (("host-streamed", labels), ("file-streamed (.npy, page cache)", str(path))):
                counted = fastweights.count(data, device="cuda")
                assert np.array_equal(counted.pixels, expected_pixels), (key, where)
                seconds = median_seconds(lambda data=data: fastweights.count(data, device="cuda"), rounds)
                rows.append(row(key, description, where, labels.nbytes, seconds, h2d))
            path.unlink()
            if labels.dtype == np.uint8:
                words = device.view(np.uint32)
                table = cuda.to_device(np.zeros(256, np.uint64))
                launch(words, table)
                cuda.synchronize()
                assert np.array_equal(table.copy_to_host()[: expected_pixels.size], expected_pixels * np.uint64(repeat))
                seconds = event_seconds(cuda, lambda words=words, table=table: launch(words, table), rounds)
                rows.append(row(key, description, "reference: no run-awareness", resident_bytes, seconds, d2d))
            best = None
            for name, reference in bincount_references(cuda, device, expected.size).items():
                try:
                    found = reference()
                except Exception as error:  # a reference that cannot count this case is reported as such
                    rows.append(failed_row(key, description, f"reference: {name}", error))
                    continue
                assert np.array_equal(found[: expected_pixels.size], expected_pixels * np.uint64(repeat)), (key, name)
                seconds = median_seconds(reference, rounds)
                rows.append(row(key, description, f"reference: {name}", resident_bytes, seconds, d2d))
                best = seconds if best is None else min(best, seconds)
            if best is not None:
                speedups.append({"case": key, "speedup": best / resident})
            del device
    return {
        "device": counter.name,
        "d2d": d2d,
        "h2d": h2d,
        "rows": rows,
        "speedups": speedups,
        "staging": staging,
        "copy_threads": COPY_THREADS,
        "mib": mib,
        "repeat": repeat,
        "rounds": rounds,
    }


def render(result: dict[str, Any]) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    resident_mib = result["mib"] * result["repeat"]
    lines = [
        START,
        '## GPU (`device="cuda"`)',
        "",
        f"Written by `{COMMAND}` on {when}, on **{result['device']}** ({platform.node()}): "
        f"{resident_mib:g} MiB per case on the device ({result['mib']:g} MiB of labels made on the host, "
        f"{result['repeat']} times over), {result['mib']:g} MiB per case streamed from the host; median of "
        f"{result['rounds']} rounds after a warm-up. Every count was checked against the exact counts the "
        "data was made with. fastweights and the bincount references are timed the same way: wall-clock, "
        "from the Python call until the counts are on the host.",
        "",
        f"- device-to-device copy bandwidth: {result['d2d'] / 1e9:.0f} GB/s (bytes read + written per second)",
        f"- host-to-device bandwidth from pinned memory: {result['h2d'] / 1e9:.1f} GB/s",
        f"- the CPU filling the pinned staging buffers from host memory ({result['copy_threads']} threads): "
        f"{result['staging'] / 1e9:.1f} GB/s",
        "- *share*: the labels' GB/s over the copy bandwidth (device-resident, references) or over the "
        "host-to-device bandwidth (host- and file-streamed). Goals (DESIGN §4, issue 24): device-resident "
        "≥ 70 %, streamed ≥ 80 %, and device-resident fastweights ≥ 3x the faster of `cupy.bincount` and "
        "`torch.bincount`.",
        "",
        "| case | counted | GB/s | share |",
        "|---|---|---:|---:|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['case']}: {row['description']} | {row['where']} | {row['gbps']:.1f} | {row['share']:.0%} |"
        )
    if result["speedups"]:
        lines += ["", "| case | device-resident fastweights / the faster bincount |", "|---|---:|"]
        lines += [f"| {item['case']} | {item['speedup']:.1f}x |" for item in result["speedups"]]
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
            "numba-cuda's simulator (`tests/backends/test_cuda.py`), and its kernels are compiled to PTX for Volta "
            "and Hopper by the same tests where the CUDA toolkit's NVVM and NVRTC are installed.",
            END,
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=float, default=512, help="MiB of labels made per case (default 512)")
    parser.add_argument(
        "--repeat", type=int, default=16, help="times the labels are laid end to end on the device (default 16)"
    )
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
            write_section(OUTPUT, START, END, no_gpu(reason))
        return 0
    result = measure(args.mib, args.rounds, 1 if args.simulator else args.repeat)
    section = render(result)
    print(section)
    if args.write and not args.simulator:
        write_section(OUTPUT, START, END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
