"""Before/after: the same counts timed with two builds of fastweights, alternating, in one run.

    python benchmarks/compare_builds.py --before OLD/.venv/bin/python [--after python] [--write]

Each interpreter must import its own build of fastweights (a worktree of the older commit with its
own editable install, say). The data is made once; every round times each case with one build,
then the other (the order swapped each round), each in a fresh process that warms up once and then
takes the best of three counts. The ratio is after / before of the per-round medians: above 1.00 is
slower. With --write the table goes into BENCHMARKS.md between its markers (report.py keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sections import write_section

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "BENCHMARKS.md"
START, END = "<!-- compare-builds:start -->", "<!-- compare-builds:end -->"
REAL_DATA = Path(os.environ.get("FASTWEIGHTS_REAL_DATA", ROOT / ".." / "shared" / "data"))

TIMER = textwrap.dedent(
    """
    import json, sys, time, fastweights
    inputs, threads = json.loads(sys.argv[1]), int(sys.argv[2])
    expected = fastweights.count(inputs, threads=threads).pixels.tolist()
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        counts = fastweights.count(inputs, threads=threads)
        best = min(best, time.perf_counter() - started)
    assert counts.pixels.tolist() == expected
    print(json.dumps({"seconds": best, "pixels": expected, "version": fastweights.__file__}))
    """
)


def make_cases(folder: Path) -> dict[str, tuple[str, list[str]]]:
    """case -> (description, inputs)."""
    from PIL import Image

    rng = np.random.default_rng(20241204)
    cases: dict[str, tuple[str, list[str]]] = {}
    camvid = REAL_DATA / "camvid" / "trainannot"
    if camvid.is_dir():
        cases["png-camvid"] = ("CamVid trainannot: 367 PNG masks, 480 x 360, 8-bit gray", [str(camvid)])
    pngs = folder / "png"
    pngs.mkdir()
    for index in range(200):
        low = rng.integers(0, 19, (32, 32), dtype=np.uint8)
        Image.fromarray(np.kron(low, np.ones((32, 32), np.uint8))).save(pngs / f"{index:04d}.png")
    cases["png-generated"] = ("200 PNG masks, 1024 x 1024, 19 classes, blocky", [str(pngs)])
    small = folder / "npy-small"
    small.mkdir()
    for index in range(2000):
        np.save(small / f"{index:05d}.npy", rng.integers(0, 19, (64, 64), dtype=np.uint8))
    cases["npy-small"] = ("2,000 .npy masks, 64 x 64 uint8", [str(small)])
    big = folder / "big.npy"
    low = rng.integers(0, 19, (256, 32, 32), dtype=np.uint8)
    np.save(big, np.kron(low, np.ones((1, 32, 32), np.uint8)))
    cases["npy-big"] = ("one 256 MiB .npy, uint8, 19 classes, blocky (warm page cache)", [str(big)])
    npz = folder / "npz"
    npz.mkdir()
    for index in range(20):
        np.savez(npz / f"{index:03d}.npz", mask=rng.integers(0, 19, (8, 512, 512), dtype=np.uint8))
    cases["npz-stored"] = ("20 stored .npz of 2 MiB (member CRC-32 checked after)", [str(npz)])
    return cases


def time_once(python: str, inputs: list[str], threads: int) -> dict:
    completed = subprocess.run(
        [python, "-c", TIMER, json.dumps(inputs), str(threads)], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{python} failed:\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def compare(before: str, after: str, rounds: int, threads_list: list[int]) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for case, (description, inputs) in make_cases(Path(folder)).items():
            for threads in threads_list:
                times: dict[str, list[float]] = {"before": [], "after": []}
                pixels = {}
                for turn in range(rounds):
                    order = [("before", before), ("after", after)]
                    for name, python in order if turn % 2 == 0 else order[::-1]:
                        result = time_once(python, inputs, threads)
                        times[name].append(result["seconds"])
                        pixels[name] = result["pixels"]
                assert pixels["before"] == pixels["after"], (case, "the two builds count differently")
                medians = {name: statistics.median(values) for name, values in times.items()}
                rows.append(
                    {
                        "case": case,
                        "description": description,
                        "threads": threads,
                        "before": medians["before"],
                        "after": medians["after"],
                        "ratio": medians["after"] / medians["before"],
                        "spread": [
                            min(times["after"]) / max(times["before"]),
                            max(times["after"]) / min(times["before"]),
                        ],
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    return rows


def render(rows: list[dict], rounds: int, label: str) -> str:
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        START,
        f"## Before and after: {label}",
        "",
        f"Written by `python benchmarks/compare_builds.py --before ... --write` on {when} ({platform.node()}): "
        f"{rounds} alternating rounds, each build in a fresh process (best of three counts after a warm-up); "
        "the medians of the rounds, and after / before (above 1.00 is slower). Both builds gave the same "
        "counts on every case.",
        "",
        "| case | threads | before (ms) | after (ms) | after / before | range over rounds |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        low, high = row["spread"]
        lines.append(
            f"| {row['case']}: {row['description']} | {row['threads']} | {row['before'] * 1e3:.1f} | "
            f"{row['after'] * 1e3:.1f} | {row['ratio']:.2f} | {low:.2f}-{high:.2f} |"
        )
    lines.append(END)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the python of the older build")
    parser.add_argument("--after", default=sys.executable, help="the python of the newer build (default: this one)")
    parser.add_argument("--label", default="the integrity checks (issue 20)", help="what changed, for the heading")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--write", action="store_true", help="write the table into BENCHMARKS.md")
    args = parser.parse_args(argv)
    rows = compare(args.before, args.after, args.rounds, args.threads)
    section = render(rows, args.rounds, args.label)
    print(section)
    if args.write:
        write_section(OUTPUT, START, END, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
