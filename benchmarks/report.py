"""Runs the speed benchmarks and writes BENCHMARKS.md from that one run.

    python benchmarks/report.py

Every number in BENCHMARKS.md comes from the pytest-benchmark JSON of the run this script starts;
nothing is carried over from an earlier run, but for the GPU section, which `benchmarks/gpu_bench.py
--write` writes (on a machine with a GPU), and the before/after section, which
`benchmarks/compare_builds.py --write` writes: this script keeps those as they are. If a benchmark fails,
BENCHMARKS.md is left as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

import fastweights

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "BENCHMARKS.md"
COMMAND = "python benchmarks/report.py"
QUICK = "python -m pytest benchmarks -q"

GROUPS = ["masks", "binary", "random", "few", "zeros", "uint16", "int32", "mapped", "mapped-cold", "small-files"]
ROLES = [
    "fastweights",
    "in-memory",
    "decoder",
    "bincount",
    "unique",
    "seed",
    "mapped read",
    "sequential read",
    "ceiling",
    "paired",
    "variants",
]


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "benchmarks.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            "benchmarks",
            "-q",
            "--benchmark-enable",
            f"--benchmark-json={results}",
        ]
        busy_before, steal_before = cpu_times()
        ours_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        completed = subprocess.run(command, cwd=ROOT, check=False)
        elapsed = time.perf_counter() - started
        ours_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        busy_after, steal_after = cpu_times()
        ours = (ours_after.ru_utime - ours_before.ru_utime) + (ours_after.ru_stime - ours_before.ru_stime)
        others = max(0.0, busy_after - busy_before - ours) / elapsed
        steal = (steal_after - steal_before) / elapsed
        if completed.returncode != 0:
            print(f"benchmarks failed (exit {completed.returncode}); {OUTPUT.name} left as it was")
            return completed.returncode
        run = json.loads(results.read_text())
    text = render(run, elapsed, others, steal)
    OUTPUT.write_text(text + kept_sections())
    print(f"wrote {OUTPUT} ({elapsed:.0f} s run)")
    return 0


# ---- the numbers -------------------------------------------------------------------------------


class Group:
    def __init__(self, name: str, rows: list[dict]) -> None:
        self.name = name
        self.rows = sorted(rows, key=lambda row: (ROLES.index(row["role"]), row["variant"]))
        self.data = rows[0]["data"]

    def find(self, role: str, variant_part: str = "") -> dict | None:
        found = [r for r in self.rows if r["role"] == role and variant_part in r["variant"]]
        return found[0] if found else None

    def median(self, role: str, variant_part: str = "") -> float:
        row = self.find(role, variant_part)
        if row is None:
            raise KeyError(f"group {self.name}: no {role} {variant_part}")
        return row["median"]


def groups_of(run: dict) -> dict[str, Group]:
    rows: dict[str, list[dict]] = {}
    for bench in run["benchmarks"]:
        info = bench["extra_info"]
        scale = info.get("scale", 1.0)  # a reference timed on part of the work (see run())
        rows.setdefault(bench["group"], []).append(
            {
                **info,
                "median": bench["stats"]["median"] * scale,
                "min": bench["stats"]["min"] * scale,
                "max": bench["stats"]["max"] * scale,
                "rounds": bench["stats"]["rounds"],
            }
        )
    order = [g for g in GROUPS if g in rows] + sorted(set(rows) - set(GROUPS))
    return {name: Group(name, rows[name]) for name in order}


def down(value: float, digits: int) -> str:
    """Formats without rounding up: 0.6996 at 1 digit is 0.6, never 0.7."""
    scale = 10**digits
    return f"{math.floor(value * scale) / scale:.{digits}f}"


def ratio(value: float) -> str:
    return down(value, 2 if value < 10 else 1) + "x"


def percent(fraction: float) -> str:
    return down(100 * fraction, 1) + " %"


def seconds(value: float) -> str:
    return f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s"


# ---- the page ----------------------------------------------------------------------------------


def targets(groups: dict[str, Group]) -> list[tuple[str, str, bool]]:
    """DESIGN.md §4 goals this suite measures: (goal, measured, met). Single-threaded, as the
    ceiling and np.bincount are."""
    out = []

    def paired(group: str) -> dict:
        found = groups[group].find("paired")
        assert found is not None, f"group {group}: no paired measurement of the goal ratios"
        return found

    def judged(goal: str, value: float, blocks: float, shown: Callable[[float], str], target: float) -> None:
        """A goal met or not by its paired ratio; the separate-block ratio is shown beside it."""
        out.append((goal, f"{shown(value)} (separate blocks: {shown(blocks)})", value >= target))

    def vs_bincount(group: str, goal: float, label: str) -> None:
        g = groups[group]
        blocks = g.median("bincount") / g.median("fastweights", "threads=1")
        judged(f"{label}: ≥ {goal:g}x `np.bincount`", paired(group)["vs_bincount"], blocks, ratio, goal)

    def of_ceiling(group: str, goal: float, label: str) -> None:
        g = groups[group]
        blocks = g.median("ceiling") / g.median("fastweights", "threads=1")
        goal_text = f"{label}: ≥ {100 * goal:g} % of the read ceiling, one core"
        judged(goal_text, paired(group)["of_ceiling"], blocks, percent, goal)

    of_ceiling("masks", 0.70, "uint8 masks")
    vs_bincount("masks", 40, "uint8 masks")
    of_ceiling("binary", 0.85, "{0,1} masks")
    vs_bincount("random", 10, "uniform random uint8 labels")
    vs_bincount("uint16", 10, "uint16 labels")
    vs_bincount("int32", 10, "int32 labels")
    mapped = groups["mapped"]
    judged(
        "memory-mapped .npy, warm cache: ≥ 80 % of the in-memory rate",
        paired("mapped")["file_share"],
        mapped.median("in-memory", "threads=1") / mapped.median("fastweights", "threads=1"),
        percent,
        0.80,
    )
    if "mapped-cold" in groups:
        cold = groups["mapped-cold"]
        judged(
            "memory-mapped .npy, cold cache: ≥ 90 % of a sequential read",
            paired("mapped-cold")["cold_share"],
            cold.median("sequential read") / cold.median("fastweights", "threads=1"),
            percent,
            0.90,
        )
    for name in ("png-camvid", "png-generated"):
        if name not in groups:
            continue
        g = groups[name]
        one = g.median("bincount") / g.median("fastweights", "threads=1")
        out.append((f"{name}: ≥ 3x a Pillow + `np.bincount` loop, one thread", ratio(one), one >= 3))
        paired = g.find("paired")
        assert paired is not None, f"group {name}: no paired measurement of the thread gain"
        two, alone = paired["count_gain"], paired["decoder_gain"]
        measured = f"{ratio(two)} (the C++ reader and decoder alone: {ratio(alone)}; paired, interleaved)"
        out.append((f"{name}: two threads ≥ 1.6x one thread", measured, two >= 1.6))
    return out


def table(group: Group) -> list[str]:
    bincount = group.find("bincount")
    ceiling = group.find("ceiling")
    lines = [
        "| variant | median | min - max | rounds | GB/s | vs np.bincount | of read ceiling |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in group.rows:
        if row["role"] in ("paired", "variants"):  # times of whole paired loops; their ratios are in the notes
            continue
        rate = row["nbytes"] / row["median"] / 1e9
        vs = ratio(bincount["median"] / row["median"]) if bincount else "-"
        of = percent(ceiling["median"] / row["median"]) if ceiling else "-"
        lines.append(
            f"| {row['variant']} | {seconds(row['median'])} | {seconds(row['min'])} - "
            f"{seconds(row['max'])} | {row['rounds']} | {down(rate, 2 if rate >= 0.1 else 3)} | {vs} | {of} |"
        )
    return lines


def group_notes(group: Group) -> list[str]:
    notes = []
    for role, name in (("unique", "np.unique"), ("seed", "the seed's per-pixel loop")):
        if group.find(role) is not None:
            value = group.median(role) / group.median("fastweights", "threads=1")
            notes.append(f"- fastweights threads=1 vs {name}: {ratio(value)}")
    for row in group.rows:
        if "threads=2" in row["variant"]:
            one = group.find(row["role"], row["variant"].replace("threads=2", "threads=1"))
            if one is not None:
                gain = ratio(one["median"] / row["median"])
                notes.append(f"- {row['variant']} vs threads=1: {gain} (above 1x: faster)")
    if group.name == "mapped-cold":
        for threads in (1, 2):
            key = f"threads={threads}"
            value = group.median("sequential read") / group.median("fastweights", key)
            notes.append(f"- cold, {key}: {percent(value)} of the rate of a sequential read of the file")
    if group.name == "mapped":
        for threads in (1, 2):
            key = f"threads={threads}"
            value = group.median("in-memory", key) / group.median("fastweights", key)
            notes.append(f"- from the file, {key}: {percent(value)} of the in-memory rate")
    paired = group.find("paired")
    if paired is not None and "of_ceiling" in paired:
        notes.append(
            f"- paired and interleaved ({paired['paired_rounds']} rounds of fastweights threads=1 then the read "
            f"ceiling, np.bincount in every third): {percent(paired['of_ceiling'])} of the read ceiling, "
            f"{ratio(paired['vs_bincount'])} np.bincount"
        )
    variants = group.find("variants")
    if variants is not None:
        shares = ", ".join(f"{name} {percent(share)}" for name, share in variants["of_ceiling"].items())
        notes.append(
            f"- each kernel variant, paired and interleaved ({variants['paired_rounds']} rounds of each, threads=1, "
            f"then the read ceiling), as a share of the read ceiling: {shares}"
        )
    if paired is not None and "file_share" in paired:
        notes.append(
            f"- paired and interleaved ({paired['paired_rounds']} rounds of the file then the array, threads=1): "
            f"from the file at {percent(paired['file_share'])} of the in-memory rate"
        )
    if paired is not None and "cold_share" in paired:
        notes.append(
            f"- paired and interleaved ({paired['paired_rounds']} rounds of count then read, each cold, threads=1): "
            f"{percent(paired['cold_share'])} of the rate of a sequential read"
        )
    if group.name.startswith("png-"):
        loop = group.median("bincount")
        for threads in (1, 2):
            key = f"threads={threads}"
            notes.append(f"- {key} vs the Pillow + np.bincount loop: {ratio(loop / group.median('fastweights', key))}")
        if paired is not None:
            notes.append(
                f"- paired and interleaved ({paired['paired_rounds']} rounds of threads=1 then threads=2): "
                f"two threads gain {ratio(paired['count_gain'])}; the C++ reader and decoder alone "
                f"{ratio(paired['decoder_gain'])}"
            )
        if group.find("decoder", "threads=2") is not None:
            alone = group.median("decoder", "threads=1") / group.median("decoder", "threads=2")
            notes.append(
                f"- the C++ reader and decoder alone gain {ratio(alone)} from a second thread in this run: "
                "the ceiling of what fastweights.count can gain from it here"
            )
        notes.append("- GB/s here is Gpx/s: pixels decoded and counted per second (one byte per pixel)")
    if group.name == "small-files":
        loop = group.median("bincount")
        for threads in (1, 2):
            key = f"threads={threads}"
            value = loop / group.median("fastweights", key)
            notes.append(f"- {key} vs the np.load + np.bincount loop: {ratio(value)}")
        notes.append("- GB/s counts the label bytes (2,000 x 16 KiB), not the .npy headers")
    return notes


def machine() -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")]
    logical = sum(1 for line in cpuinfo.splitlines() if line.startswith("processor"))
    memory = "?"
    if Path("/proc/meminfo").exists():
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    with contextlib.redirect_stdout(io.StringIO()):
        config = fastweights.show_config()
    lines = [
        f"- CPU: {models[0] if models else platform.processor() or '?'}; {logical or os.cpu_count()} "
        f"logical CPUs in /proc/cpuinfo, {len(os.sched_getaffinity(0))} usable by this process; "
        f"memory {memory}",
        f"- {platform.system()} {platform.release()}, Python {platform.python_version()}, numpy {np.__version__}",
        "- `fastweights.show_config()`: " + ", ".join(f"{key} = `{value}`" for key, value in config.items()),
    ]
    return lines


def cpu_times() -> tuple[float, float]:
    """Seconds of CPU time used on the whole machine (all processes) and stolen by the hypervisor."""
    if not Path("/proc/stat").exists():  # not Linux: no figure
        return math.nan, math.nan
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / tick, steal / tick


def busy_note(others: float, steal: float) -> list[str]:
    """others, steal: CPUs' worth used by processes not ours, and stolen, on average over the run."""
    if math.isnan(others):
        return []
    lines = [
        f"- during the run, other processes on this machine used {others:.2f} CPUs on average "
        f"(all CPU time minus the benchmark's own), and the hypervisor stole {steal:.2f}."
    ]
    if others >= 0.25:
        lines.append(
            "- **The machine was not quiet during this run**: the threads=2 rows compete with "
            "those processes for the second core and are the least reliable numbers here; "
            "single-threaded ratios suffer less."
        )
    return lines


def kept_sections() -> str:
    """The sections of the current BENCHMARKS.md that other scripts write, to keep: the GPU one
    (gpu_bench.py, on a machine with a GPU), the before/after one (compare_builds.py), data larger
    than memory (bench_out_of_core.py), the scaling model (scaling_model.py) and small files
    (bench_small_files.py)."""
    import bench_out_of_core
    import bench_small_files
    import compare_builds
    import gpu_bench
    import scaling_model
    from sections import read_section

    writers = (gpu_bench, compare_builds, bench_out_of_core, scaling_model, bench_small_files)
    kept = [read_section(OUTPUT, module.START, module.END) for module in writers]
    return "".join(f"\n{section}\n" for section in kept if section)


def render(run: dict, elapsed: float, others: float, steal: float) -> str:
    groups = groups_of(run)
    with contextlib.redirect_stdout(io.StringIO()):
        kernel = fastweights.show_config()["kernel"]
    when = datetime.fromisoformat(run["datetime"]).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rounds = sorted({row["rounds"] for g in groups.values() for row in g.rows})
    out = [
        "# Benchmarks",
        "",
        f"Kernel: `{kernel}` (from `show_config()`): {{0,1}} bytes summed 4 KiB at a time while the "
        "largest byte stays at most 1; then, while they hold at most eight labels, 4 KiB blocks counted by "
        "comparing every vector with every label; then run by run (each block of labels is compared with itself "
        "shifted by one label, the positions where runs start are recorded a batch at a time, and each "
        "run then costs one add: a block inside a run costs none; a block where more than 3/8 of the "
        "labels start a run begins a span counted label by label over four replicated uint32 "
        "sub-histograms), AVX2 chosen at run time where the CPU has it (the portable variant, rows "
        "'each kernel variant', runs the same run algorithm with SSE2 comparisons and plain C++ bit "
        "operations, and no few-label step). Wider labels: run by run too, over "
        "a table over a range guessed from a sample of the chunk, recounted exactly if a label falls outside. "
        "The table of goals records where each stands, met or not.",
        "",
        f"Written by `{COMMAND}` (run from the repository root, in the project's environment) on "
        f"{when}; the suite took {elapsed:.0f} s. Every number below comes from that one run. "
        f"A quick correctness-only pass (every benchmark once, no timing): `{QUICK}`.",
        "",
        "## Machine",
        "",
        *machine(),
        "- The machine is shared and noisy: compare ratios within one group, not absolute times across runs.",
        *busy_note(others, steal),
        "",
        "## Method",
        "",
        f"- `benchmark.pedantic(fn, rounds=N, iterations=1, warmup_rounds=1)`, N = {' or '.join(map(str, rounds))}"
        " (fewer for the slow np.bincount); the median is reported.",
        "- Data generated in the benchmarks with fixed seeds (`benchmarks/speed_data.py`). Every "
        "benchmark asserts its result: fastweights and np.bincount against exact counts known from "
        "how the data was made, the read ceiling against a checksum computed another way.",
        "- GB/s = bytes of the labels / median (10^9 bytes). *vs np.bincount* = np.bincount's median "
        "/ this variant's median (`np.bincount(arr.ravel(), minlength=...)`, single-threaded; in "
        "*small-files* it is a loop of `np.load` + `np.bincount` over the files). *of read ceiling* "
        "= the ceiling's median / this variant's median, i.e. this variant's rate as a share of a "
        "plain read of the same bytes.",
        "- The read ceiling is `np.add.reduce` over a uint64 view of the array: one vectorised add "
        "per 8 bytes, single-threaded. `arr.sum(dtype=np.uint64)` is not used: on uint8 it widens "
        "every byte to 64 bits first, which is compute-bound (several times slower here) and would "
        "understate the ceiling.",
        "- `np.unique(arr, return_counts=True)` sorts (seconds per 128 MiB here): it is timed on the "
        "first 16 MiB of each array and scaled linearly to the whole, which flatters it (sorting grows "
        "faster than linearly). The seed approach (a per-pixel Python loop over `PIL.Image.load()`) is "
        "timed on two images of a folder and scaled to the folder.",
        "- Cold cache: before every round the file's pages are dropped with `posix_fadvise(DONTNEED)` "
        "and util-linux `fincore` confirms that at most 1 MiB of it stayed cached (the benchmark skips "
        "itself otherwise). The reference is `read()` of the same file in 16 MiB blocks, also cold.",
        "- Ratios are truncated, never rounded up.",
        "- Two-thread gains on this shared 2-vCPU machine move by ±20 % between separate blocks of rounds "
        "(1.3x to 1.8x were seen for the same PNG code in one afternoon), so the PNG goals use a paired "
        "measurement: threads=1 and threads=2 alternating, 15 times, medians of each; the C++ reader and "
        "decoder alone, measured the same way, show what the second core gave that run.",
        "- The goals are judged on paired measurements for the same reason: fastweights (one thread) and "
        "its reference timed in turn within each round, medians of each (15 rounds in memory, np.bincount "
        "in every third; the file and the array alternating; 5 rounds cold, count and read alternating, "
        "the cache dropped before each). The tables below time each variant in a block of rounds of its "
        "own, minutes apart from its references, which a slow spell of this shared machine can skew "
        "either way; the goals table gives that ratio too, as *separate blocks*.",
        "",
        "## DESIGN.md §4 goals (single-threaded, against references from the same run)",
        "",
        "| goal | measured | met |",
        "|---|---:|---|",
    ]
    for goal, measured, met in targets(groups):
        out.append(f"| {goal} | {measured} | {'yes' if met else '**no**'} |")
    out += [
        "",
        "Not measured by this suite: the GPU goals. Flat memory (peak RSS counting a 1 GiB and a "
        "4 GiB .npy) is asserted by `tests/io/test_readers.py`, not timed here.",
        "",
        "## Results",
    ]
    for group in groups.values():
        out += ["", f"### {group.name}: {group.data}", "", *table(group)]
        notes = group_notes(group)
        if notes:
            out += ["", *notes]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
