"""The scaling model: what one more file and one more byte cost, per format, and the time for a
terabyte derived from them.

    python benchmarks/scaling_model.py           # measures (about 4 minutes), prints the section
    python benchmarks/scaling_model.py --write   # and writes it into BENCHMARKS.md

For each format two sets of the same masks, one of many small files and one of few big ones, are
counted with `fastweights.count` (median of a few runs, each set warm, and cold for local files);
t = files * a + bytes * b through the two points gives a, the cost of a file (listing, opening,
Python, the batch's share), and b, the cost of a byte of labels (reading, decoding, counting).
Objects on S3 are served by moto's server in this process (moto[server], in the test extra): a,
b there are those of a loopback server, with the model of real S3 on top (stated in the output).
The merge of N shards' counts is timed with `fastweights merge`, as a job array's last step runs it.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from ooc_data import drop_cache
from sections import publish

import fastweights

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "BENCHMARKS.md"
START, END = "<!-- scaling-model:start -->", "<!-- scaling-model:end -->"
COMMAND = "python benchmarks/scaling_model.py --write"
TB = 10**12
ROUNDS = 5
TEMPLATES = 16
CLASSES = 8
NODES = (1, 8, 64)
# Real S3, per node: stated, not measured here (a loopback server has neither its latency nor its limits).
S3_LATENCY_S = 0.030  # first byte of a GET
S3_CONNECTION_BPS = 100e6  # one connection's throughput
S3_NODE_BPS = 1.25e9  # a 10 Gbit/s NIC
S3_PREFIX_GETS = 5500  # GET requests per second per prefix (AWS's documented rate)
BATCH = 32  # objects one worker thread fetches at once (engine/run.py BATCH_INPUTS)


@dataclass(frozen=True)
class Set:
    """`files` masks of `side` x `side` uint8 labels in one format, local or on S3."""

    kind: str  # "png" or "npy"
    side: int
    files: int
    remote: bool = False

    @property
    def labels(self) -> int:
        return self.files * self.side * self.side


# format -> (its set of small files, its set of big files)
FORMATS: dict[str, tuple[Set, Set]] = {
    "PNG": (Set("png", 64, 4000), Set("png", 1024, 300)),
    ".npy": (Set("npy", 64, 4000), Set("npy", 4096, 32)),
    # Objects big enough that their bytes, not the server's cost per request, take most of the time.
    "PNG on S3 (local moto)": (Set("png", 64, 400, True), Set("png", 4096, 24, True)),
    ".npy on S3 (local moto)": (Set("npy", 64, 400, True), Set("npy", 4096, 16, True)),
}


def region_masks(side: int, count: int, seed: int) -> list[np.ndarray]:
    """Masks of a few classes in regions with straight and slanted edges (the nearest of a few
    seeds, as in a scene's label map), not noise: what PNG compresses as it would real masks."""
    rng = np.random.default_rng(seed)
    step = max(1, side // 1024)  # bigger masks drawn at 1024² and scaled up: their bytes cost alike
    low = side // step
    rows, columns = np.mgrid[0:low, 0:low].astype(np.float32)
    masks = []
    for _ in range(count):
        nearest = np.full((low, low), np.inf, np.float32)
        mask = np.zeros((low, low), np.uint8)
        for row, column in rng.uniform(0, low, (12, 2)):
            distance = (rows - row) ** 2 + (columns - column) ** 2
            closer = distance < nearest
            nearest[closer], mask[closer] = distance[closer], rng.integers(0, CLASSES)
        masks.append(np.repeat(np.repeat(mask, step, axis=0), step, axis=1) if step > 1 else mask)
    return masks


def encoded(kind: str, mask: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    if kind == "npy":
        np.save(buffer, mask)
    else:
        from PIL import Image

        Image.fromarray(mask, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def files_of(dataset: Set) -> list[bytes]:
    templates = [encoded(dataset.kind, mask) for mask in region_masks(dataset.side, TEMPLATES, dataset.side)]
    return [templates[index % TEMPLATES] for index in range(dataset.files)]


@dataclass
class Timed:
    dataset: Set
    disk_bytes: int
    seconds: dict[tuple[int, str], float]  # (threads, "warm" or "cold") -> median seconds


def time_count(target: str, threads: int, options: dict[str, Any] | None, before: Any = None) -> float:
    times = []
    for _ in range(ROUNDS):
        if before is not None:
            before()
        start = time.perf_counter()
        fastweights.count(target, threads=threads, storage_options=options)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_local(dataset: Set, folder: Path) -> Timed:
    folder.mkdir()
    paths = []
    for index, data in enumerate(files_of(dataset)):
        path = folder / f"m_{index:06d}.{dataset.kind}"
        path.write_bytes(data)
        paths.append(path)
    os.sync()  # written back, so that DONTNEED can drop them
    fastweights.count(folder)  # warm
    seconds = {}
    for threads in (1, 2):
        seconds[threads, "warm"] = time_count(str(folder), threads, None)
        seconds[threads, "cold"] = time_count(str(folder), threads, None, lambda: drop_cache(paths))
    return Timed(dataset, sum(path.stat().st_size for path in paths), seconds)


def measure_remote(dataset: Set, server: Any, prefix: str) -> Timed:
    client, options = server
    disk = 0
    for index, data in enumerate(files_of(dataset)):
        client.put_object(Bucket="masks", Key=f"{prefix}/m_{index:06d}.{dataset.kind}", Body=data)
        disk += len(data)
    url = f"s3://masks/{prefix}/"
    seconds = {(threads, "warm"): time_count(url, threads, options) for threads in (1, 2)}
    return Timed(dataset, disk, seconds)


def fit(small: Timed, big: Timed, key: tuple[int, str]) -> tuple[float, float]:
    """(a seconds per file, b seconds per byte of labels) through the two sets."""
    matrix = np.array([[small.dataset.files, small.dataset.labels], [big.dataset.files, big.dataset.labels]], float)
    a, b = np.linalg.solve(matrix, [small.seconds[key], big.seconds[key]])
    # A cost below the noise of the other can come out negative: it is then taken as none.
    return max(float(a), 0.0), max(float(b), 0.0)


def merge_seconds(folder: Path, shards: int) -> float:
    """`fastweights merge` of the counts of `shards` shares of a set, as the job array's last task runs it."""
    parts = []
    for index in range(shards):
        part = folder / f"part_{shards}_{index}.json"
        fastweights.count(folder / "npy-small", shard=(index, shards), threads=1).save(part)
        parts.append(str(part))
    command = [sys.executable, "-m", "fastweights", "merge", *parts, "-o", str(folder / f"merged_{shards}.json")]
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def start_s3() -> tuple[subprocess.Popen[bytes], Any, dict[str, Any]]:
    """moto's server in a process of its own: in this one, its Python would take the GIL from the count."""
    import boto3

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    client = boto3.client("s3", endpoint_url=endpoint, **keys)
    for _ in range(100):
        try:
            client.create_bucket(Bucket="masks")
            break
        except Exception:  # not listening yet
            time.sleep(0.1)
    options = {"key": "testing", "secret": "testing", "client_kwargs": {"endpoint_url": endpoint}}
    return server, client, options


@dataclass(frozen=True)
class Scenario:
    name: str
    format: str  # a key of FORMATS
    files: int
    labels: int  # bytes of uint8 labels
    disk: int  # bytes on disk (what S3 sends)


def scenarios(timed: dict[str, tuple[Timed, Timed]]) -> list[Scenario]:
    big_png = timed["PNG"][1]
    png_bytes = big_png.disk_bytes / big_png.dataset.files * (1024 / big_png.dataset.side) ** 2
    return [
        Scenario("(a) 1,000,000 PNGs of 1024 x 1024", "PNG", 10**6, 10**6 * 1024**2, round(10**6 * png_bytes)),
        Scenario("(b) 10,000 .npy volumes of 100 MB", ".npy", 10**4, 10**4 * 10**8, 10**4 * 10**8),
    ]


def seconds_of(scenario: Scenario, fitted: tuple[float, float]) -> float:
    a, b = fitted
    return scenario.files * a + scenario.labels * b


def real_s3_seconds(scenario: Scenario, moto: tuple[float, float], local: tuple[float, float], threads: int) -> float:
    """One node: the cost of an object as measured on moto (the client's requests, and moto's own
    work, so an upper bound), waiting for S3 (latency per request over the requests in flight, bytes
    over the bandwidth of the connections, at most the NIC's), and counting the bytes from memory
    (the local warm b: the same C++ path)."""
    in_flight = threads * (BATCH if scenario.disk / scenario.files < 16 << 20 else 1)
    wait = scenario.files * S3_LATENCY_S / in_flight + scenario.disk / min(in_flight * S3_CONNECTION_BPS, S3_NODE_BPS)
    return scenario.files * moto[0] + wait + scenario.labels * local[1]


def on_nodes(one_node: float, scenario: Scenario, nodes: int, merge: dict[int, float], s3: bool) -> float:
    floor = scenario.files / S3_PREFIX_GETS if s3 else 0.0  # one prefix's request rate bounds real S3
    return max(one_node / nodes, floor) + (merge[nodes] if nodes > 1 else 0.0)


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def section(timed: dict[str, tuple[Timed, Timed]], merge: dict[int, float]) -> str:
    fits = {(name, key): fit(small, big, key) for name, (small, big) in timed.items() for key in small.seconds}
    lines = [
        START,
        "## Scaling model",
        "",
        f"`{COMMAND}` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; a shared machine: each figure is a median of "
        f"{ROUNDS} runs, and they move by 10-30 % from run to run)",
        "",
        "Two sets per format, the same kind of masks (a few classes in regions, uint8), one of many small "
        "files and one of few big ones, each counted with `fastweights.count(folder or s3://prefix/, threads=T)`; "
        "*cold*: every file's pages dropped (posix_fadvise DONTNEED) before each run. The disk behind this "
        "virtual machine keeps a cache of its own, which repeated runs warm: *cold* here is a fast disk's "
        "(Data larger than memory: a set read at about a third of that rate the first time). S3: moto's "
        "server on this machine (loopback HTTP, no latency), through fsspec/s3fs.",
        "",
        "| format | set | files | labels | on disk | threads | warm | cold |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, pair in timed.items():
        for one in pair:
            for threads in (1, 2):
                cold = one.seconds.get((threads, "cold"))
                lines.append(
                    f"| {name} | {one.dataset.side}² | {one.dataset.files:,} | {one.dataset.labels / 1e6:,.0f} MB "
                    f"| {one.disk_bytes / 1e6:,.1f} MB | {threads} | {one.seconds[threads, 'warm']:.3f} s "
                    f"| {'-' if cold is None else f'{cold:.3f} s'} |"
                )
    lines += [
        "",
        "t = files x a + bytes of labels x b, through each format's two sets:",
        "",
        "| format | threads | cache | a: per file | b: per GB of labels (1/b) |",
        "|---|---|---|---|---|",
    ]
    for (name, (threads, cache)), (a, b) in fits.items():
        per_gb = f"{b * 1e9:.2f} s ({1 / b / 1e9:.2f} GB/s)" if b > 0 else "below the noise of a: taken as 0"
        lines.append(f"| {name} | {threads} | {cache} | {a * 1e6:,.1f} µs | {per_gb} |")
    lines += ["", "`fastweights merge` of N shards' counts (a process, as the job array's last task runs it):", ""]
    lines += [f"- N = {n}: {seconds:.2f} s" for n, seconds in merge.items()]
    lines += [
        "",
        "### One terabyte",
        "",
        "Local disk: t = files x a + labels x b with the *cold* a, b (a terabyte is not in the page cache). "
        "N nodes (the shard recipe, docs/recipes/: each node counts 1/N of the files, balanced by bytes, "
        "then one merge): t / N + merge(N).",
        "",
        "S3 on moto: the same with the a, b measured on the local server. Real S3 differs: it has latency, "
        "and bandwidth per connection and per node, that a loopback server has not. The model, per node: "
        "t = files x a(moto) + files x L / C + bytes on disk / min(C x B, NIC) + labels x b(local, warm): "
        "a(moto) the measured cost of an object (the client's request and moto's own work: an upper bound), "
        "b the bytes counted from memory on the same C++ path as local files, with C requests in flight (a worker "
        f"thread fetches a batch of up to {BATCH} small objects at once, one object above 16 MiB), and the "
        f"assumptions L = {S3_LATENCY_S * 1000:.0f} ms to the first byte, B = {S3_CONNECTION_BPS / 1e6:.0f} MB/s "
        f"per connection, NIC = {S3_NODE_BPS / 1e9:.2f} GB/s; on N nodes, no faster than one prefix's "
        f"{S3_PREFIX_GETS:,} GET/s. Fetching and counting are added, not overlapped: an upper bound.",
        "",
        "| data | where | threads | " + " | ".join(f"{n} node{'s' if n > 1 else ''}" for n in NODES) + " |",
        "|---|---|---|" + "---|" * len(NODES),
    ]
    for scenario in scenarios(timed):
        remote = f"{scenario.format} on S3 (local moto)"
        for threads in (1, 2):
            rows = {
                "local disk": seconds_of(scenario, fits[scenario.format, (threads, "cold")]),
                "S3, local moto": seconds_of(scenario, fits[remote, (threads, "warm")]),
                "S3, model": real_s3_seconds(
                    scenario, fits[remote, (threads, "warm")], fits[scenario.format, (threads, "warm")], threads
                ),
            }
            for where, one_node in rows.items():
                cells = [duration(on_nodes(one_node, scenario, n, merge, where == "S3, model")) for n in NODES]
                lines.append(f"| {scenario.name} | {where} | {threads} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "(a): " + f"{scenarios(timed)[0].labels / 1e12:.2f} TB of labels, "
        f"{scenarios(timed)[0].disk / 1e9:,.0f} GB as PNG (the measured bytes of a 1024² region mask); "
        "(b): 1 TB of labels, as much on disk.",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args()
    timed: dict[str, tuple[Timed, Timed]] = {}
    server, client, options = start_s3()
    try:
        with tempfile.TemporaryDirectory(dir=os.environ.get("SCALING_DIR")) as scratch:
            root = Path(scratch)
            for name, (small, big) in FORMATS.items():
                measured = []
                for label, dataset in (("small", small), ("big", big)):
                    where = f"{dataset.kind}-{label}"
                    if dataset.remote:
                        measured.append(measure_remote(dataset, (client, options), where))
                    else:
                        measured.append(measure_local(dataset, root / where))
                    print(name, label, measured[-1].seconds, file=sys.stderr, flush=True)
                timed[name] = (measured[0], measured[1])
            merge = {n: merge_seconds(root, n) for n in NODES if n > 1}
    finally:
        server.terminate()
        server.wait()
    text = section(timed, merge)
    publish(OUTPUT, START, END, text, args.write)


if __name__ == "__main__":
    main()
