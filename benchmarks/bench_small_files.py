"""Millions of small files: fastweights.count on a folder of tiny masks (64 x 64 PNGs or .npy files)
against the plain loop a script would run (Pillow or np.load, then np.bincount), measured in the
same run, warm page cache, rounds interleaved so that the machine's noise hits every contender.

    python benchmarks/bench_small_files.py --files 100000 --rounds 5 --folder /work/scratch/small --write

Prints the "Small files" section of BENCHMARKS.md (--write: puts it there too): medians, ratios and
issue 23's goals (>= 8x the plain loop on tiny PNGs, two threads >= 1.6x one thread).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from ooc_data import cold
from sections import publish

import fastweights

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "BENCHMARKS.md"
START, END = "<!-- small-files:start -->", "<!-- small-files:end -->"

SIDE = 64
PER_FOLDER = 1000  # tiles are usually kept a thousand or so to a folder


def tiny_masks(count: int, seed: int = 0) -> list[np.ndarray]:
    """Blocky 64 x 64 masks of a few classes each (tiles of a remote-sensing set), 255 at borders."""
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(count):
        mask = np.full((SIDE, SIDE), rng.integers(0, 8), np.uint8)
        for _ in range(3):
            top, left = rng.integers(0, SIDE, 2)
            mask[top : top + rng.integers(4, 40), left : left + rng.integers(4, 40)] = rng.integers(0, 20)
        mask[:, -2:] = 255
        masks.append(mask)
    return masks


def write_set(folder: Path, kind: str, count: int, flat: bool = False) -> list[Path]:
    """`count` masks under `folder` in sub-folders of PER_FOLDER files (flat: all in `folder`);
    written once, reused."""
    from PIL import Image

    done = folder / f".{count}.done"
    paths = [
        folder / (f"{index:07d}.{kind}" if flat else f"{index // PER_FOLDER:04d}/{index:07d}.{kind}")
        for index in range(count)
    ]
    if done.exists():
        return paths
    for path, mask in zip(paths, tiny_masks(count)):
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "png":
            Image.fromarray(mask).save(path)
        else:
            np.save(path, mask)
    done.touch()
    return paths


def plain_loop(folder: Path, kind: str, depth: str = "**/") -> np.ndarray:
    """What the scripts fastweights replaces do: list, read each file, np.bincount, add."""
    total = np.zeros(256, np.int64)
    add_counts(sorted(folder.glob(f"{depth}*.{kind}")), kind, total)
    return total


def add_counts(paths: list[Path], kind: str, total: np.ndarray) -> None:
    """The plain loop's work per file: read it (Pillow or np.load), np.bincount, add to `total`."""
    from PIL import Image

    for path in paths:
        if kind == "png":
            with Image.open(path) as image:
                labels = np.asarray(image)
        else:
            labels = np.load(path)
        total += np.bincount(labels.ravel(), minlength=256)


# This VM pages out file pages idle for about 6 s (a DAMON pageout scheme, docs/performance.md): a
# warm run must read its files within seconds of their warming. The plain loop (seconds a thousand
# files) is timed a chunk at a time, each chunk read just before, untimed.
WARM_CHUNK = 2000


def plain_loop_warm(folder: Path, kind: str) -> float:
    """The plain loop's time over a warm set: the listing, then each chunk of files timed just after
    it was read into the page cache (untimed)."""
    start = time.perf_counter()
    paths = sorted(folder.glob(f"**/*.{kind}"))
    elapsed = time.perf_counter() - start
    total = np.zeros(256, np.int64)
    for first in range(0, len(paths), WARM_CHUNK):
        chunk = paths[first : first + WARM_CHUNK]
        for path in chunk:
            path.read_bytes()
        start = time.perf_counter()
        add_counts(chunk, kind, total)
        elapsed += time.perf_counter() - start
    return elapsed


def measure_cold(folder: Path, kind: str, files: int, rounds: int) -> dict[str, list[float]]:
    """The first `files` files of the set (whole sub-folders), each run starting with all of them cold."""
    folders = sorted(path for path in folder.iterdir() if path.is_dir())[: max(1, files // PER_FOLDER)]
    paths = [path for sub in folders for path in sorted(sub.iterdir())]
    inputs = [str(sub) for sub in folders]
    os.sync()  # only written-back pages can be dropped (a set just written is not yet)

    def plain() -> np.ndarray:
        return sum((plain_loop(sub, kind, "") for sub in folders), np.zeros(256, np.int64))

    contenders: dict[str, Callable[[], object]] = {
        "plain loop, cold": plain,
        "fastweights, 1 thread, cold": lambda: fastweights.count(inputs, threads=1, progress=False),
        "fastweights, 2 threads, cold": lambda: fastweights.count(inputs, threads=2, progress=False),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            if stayed := cold(paths):
                raise SystemExit(f"{folder}: {stayed:,} bytes stayed in the page cache after DONTNEED: not cold")
            times[name].append(timed(run))
    return times


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def measure(folder: Path, kind: str, rounds: int) -> dict[str, list[float]]:
    expected = plain_loop(folder, kind)
    for threads in (1, 2):
        counts = fastweights.count(str(folder), threads=threads, progress=False)
        got = np.zeros(256, np.int64)
        got[: counts.pixels.size] = counts.pixels
        assert np.array_equal(got, expected), f"{kind}, {threads} threads: counts differ from the plain loop"

    def warm_count(threads: int) -> float:
        """A count timed right after the same count, untimed, read the set into the page cache."""
        fastweights.count(str(folder), threads=threads, progress=False)
        return timed(lambda: fastweights.count(str(folder), threads=threads, progress=False))

    contenders: dict[str, Callable[[], float]] = {
        "plain loop": lambda: plain_loop_warm(folder, kind),
        "fastweights, 1 thread": lambda: warm_count(1),
        "fastweights, 2 threads": lambda: warm_count(2),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            times[name].append(run())
    return times


def main() -> None:
    warnings.simplefilter("ignore")  # 255 is counted as a class here, as the plain loop does
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=Path("/work/scratch/small"))
    parser.add_argument("--kinds", default="png,npy")
    parser.add_argument("--flat-kinds", default="npy", help="kinds also measured with every file in one folder")
    parser.add_argument("--cold-files", type=int, default=20_000, help="files of each set also measured cold (0: none)")
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        START,
        "## Small files",
        "",
        f"`python benchmarks/bench_small_files.py --files {args.files} --rounds {args.rounds} --write` ({when}; "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; a shared machine: only "
        "ratios within one run count)",
        "",
        f"{args.files:,} files a format, 64 x 64 uint8 masks of a few classes in blocks, {PER_FOLDER:,} to a "
        f"folder (*one folder*: all {args.files:,} in one), warm page cache: this VM pages out file pages "
        "idle for about 6 s, so each fastweights count is timed right after the same count, untimed, and "
        f"the plain loop is timed {WARM_CHUNK:,} files at a time, each chunk read (untimed) just before. "
        "*plain loop*: what a script does: "
        "`sorted(folder.glob(...))`, then for each file Pillow (`np.asarray(Image.open(path))`) or `np.load`, "
        "`np.bincount`, add. fastweights: "
        "`fastweights.count(folder, threads=T)`, whose counts are checked equal to the loop's. Medians of "
        f"{args.rounds} rounds, each round timing every contender in turn. *cold*: the first "
        f"{args.cold_files:,} files of the set, their pages dropped (posix_fadvise DONTNEED, fincore checks "
        "none stayed) before every run: "
        "a file read waits for the disk, and fastweights asks the disk for the files after a cold one at once.",
        "",
        "| format | contender | median | files/s | µs per file | vs plain loop | vs 1 thread |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    verdicts = []
    sets = [(kind, False) for kind in args.kinds.split(",") if kind]
    sets += [(kind, True) for kind in args.flat_kinds.split(",") if kind]
    for kind, flat in sets:
        folder = args.folder / f"{kind}{'-flat' if flat else ''}-{args.files}"
        write_set(folder, kind, args.files, flat)
        medians = {name: statistics.median(values) for name, values in measure(folder, kind, args.rounds).items()}
        label = f"{kind}, one folder" if flat else kind
        for name, median in medians.items():
            lines.append(
                f"| {label} | {name} | {median:.3f} s | {args.files / median:,.0f} | {median / args.files * 1e6:.1f} | "
                f"{medians['plain loop'] / median:.2f}x | {medians['fastweights, 1 thread'] / median:.2f}x |"
            )
        best = max(medians["plain loop"] / medians[name] for name in medians if name != "plain loop")
        gain = medians["fastweights, 1 thread"] / medians["fastweights, 2 threads"]
        verdicts.append(f"- {label}: {best:.1f}x the plain loop at best (goal 8x: {'met' if best >= 8 else 'not met'})")
        verdicts.append(f"- {label}: two threads {gain:.2f}x one (goal 1.6x: {'met' if gain >= 1.6 else 'not met'})")
        if args.cold_files and not flat:
            files = max(1, args.cold_files // PER_FOLDER) * PER_FOLDER
            cold = {
                name: statistics.median(values)
                for name, values in measure_cold(folder, kind, files, args.rounds).items()
            }
            for name, median in cold.items():
                lines.append(
                    f"| {kind}, {files:,} cold | {name} | {median:.3f} s | {files / median:,.0f} | "
                    f"{median / files * 1e6:.1f} | {cold['plain loop, cold'] / median:.2f}x | "
                    f"{cold['fastweights, 1 thread, cold'] / median:.2f}x |"
                )
    lines += ["", *verdicts, END]
    publish(OUTPUT, START, END, "\n".join(lines), args.write)


if __name__ == "__main__":
    main()
