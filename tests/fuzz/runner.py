"""Runs fuzz cases: each file read by the reference, then counted by fastweights, each in a worker
process under a memory limit, and the outcome classified.

Outcomes: `exact` (the reference's counts), `refused` (an InputError naming the file); failures:
`wrong` (other counts than the reference's), `counted-oracle-refused` (counted where the reference
refuses: some may be legitimate, so kept apart), `unclear` (an InputError that does not name the
file), `other-exception`, `crash` (a signal or an exit), `memory` (MemoryError, the address-space
limit, or resident memory grown past its allowance), `timeout`."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .corpus import FORMATS, Sample, corpus
from .mutate import mutate
from .oracle_common import as_pairs

__all__ = ["FAILURES", "OUTCOMES", "Case", "Result", "Workers", "cases", "run"]

OUTCOMES = (
    "exact",
    "refused",
    "wrong",
    "counted-oracle-refused",
    "unclear",
    "other-exception",
    "crash",
    "memory",
    "timeout",
)
FAILURES = OUTCOMES[2:]

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker.py")
# Resident memory a request may add beyond a few times the file's decoded size: Python objects,
# the decoder's tables, first-use imports.
RSS_BASELINE = 48 << 20
# Address space a request may map beyond its resident allowance: thread stacks, allocator arenas.
VIRTUAL_BASELINE = 512 << 20
TIMEOUT_S = 10.0


@dataclass
class Case:
    fmt: str
    name: str  # file name to write, extension kept
    data: bytes
    spec: dict[str, Any]
    decoded_bytes: int
    mutation: str  # "" for an unmutated corpus file
    expected: list[int] | None = None  # the corpus's own counts, for unmutated files
    truncated_images: bool = False  # count with PIL.ImageFile.LOAD_TRUNCATED_IMAGES set


@dataclass
class Result:
    case: Case
    outcome: str
    detail: str = ""
    oracle: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] = field(default_factory=dict)
    seconds: tuple[float, float] = (0.0, 0.0)  # the reference's, fastweights'


def extension(name: str) -> str:
    lower = name.lower()
    if lower.endswith(".nii.gz"):
        return ".nii.gz"
    ext = os.path.splitext(lower)[1]
    return {".tiff": ".tif", ".hdf5": ".h5"}.get(ext, ext)


def cases(fmt: str, n: int, seed: int = 0, base: int = 24) -> Iterator[Case]:
    """The corpus files of a format unmutated, then `n` mutations of them (one, sometimes two or
    three stacked), the same for the same seed."""
    samples: list[Sample] = corpus(fmt, base, seed)
    for sample in samples:
        yield Case(fmt, sample.name, sample.data, sample.spec, sample.decoded_bytes, "", sample.pixels)
    rng = np.random.default_rng([seed, 1 + FORMATS.index(fmt)])
    for index in range(n):
        sample = samples[int(rng.integers(len(samples)))]
        data, what = sample.data, []
        for _ in range(1 if rng.random() < 0.75 else int(rng.integers(2, 4))):
            data, step = mutate(extension(sample.name), data, rng)
            what.append(step)
        yield Case(
            fmt,
            f"m{index}_{sample.name}",
            data,
            sample.spec,
            sample.decoded_bytes,
            " + ".join(what),
            truncated_images=index % 3 == 0,
        )


class Worker:
    """One worker process, started again whenever it dies or stops answering."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.buffer = b""
        self.restarts = 0

    def _start(self) -> subprocess.Popen[bytes]:
        env = dict(os.environ, MALLOC_ARENA_MAX="2", OMP_NUM_THREADS="1")
        self.process = subprocess.Popen(
            [sys.executable, WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.buffer = b""
        self.restarts += 1
        return self.process

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self._reap(self.process)

    def _reap(self, process: subprocess.Popen[bytes]) -> int:
        code = process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except BrokenPipeError:
                    pass
        self.process = None
        return code

    def request(self, job: dict[str, Any], timeout: float = TIMEOUT_S) -> dict[str, Any]:
        process = self.process if self.process is not None and self.process.poll() is None else self._start()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write((json.dumps(job) + "\n").encode())
            process.stdin.flush()
        except BrokenPipeError:
            return self._died(process)
        deadline = time.monotonic() + timeout
        descriptor = process.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                return {"kind": "timeout", "status": "timeout"}
            ready, _, _ = select.select([descriptor], [], [], left)
            if ready:
                piece = os.read(descriptor, 1 << 16)
                if not piece:
                    return self._died(process)
                self.buffer += piece
        line, _, self.buffer = self.buffer.partition(b"\n")
        return json.loads(line)

    def _died(self, process: subprocess.Popen[bytes]) -> dict[str, Any]:
        code = self._reap(process)
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        return {"kind": "crash", "status": "crash", "how": how}


class Workers:
    """A worker per thread of the runner, warmed up (imports, first counts) before the first case."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.local = threading.local()
        self.all: list[Worker] = []
        self.lock = threading.Lock()

    def get(self) -> Worker:
        worker = getattr(self.local, "worker", None)
        if worker is None:
            worker = Worker()
            with self.lock:
                self.all.append(worker)
            self.local.worker = worker
            self._warm(worker)
        return worker

    def _warm(self, worker: Worker) -> None:
        for fmt in FORMATS:
            sample = corpus(fmt, 1)[0]
            path = os.path.join(self.folder, f"warm{threading.get_ident()}_{sample.name}")
            with open(path, "wb") as file:
                file.write(sample.data)
            for op in ("oracle", "count"):
                worker.request({"op": op, "path": path, "spec": sample.spec, "allow_virtual": 1 << 40}, 120)
            os.unlink(path)

    def close(self) -> None:
        for worker in self.all:
            worker.stop()


def classify(case: Case, path: str, oracle: dict[str, Any], answer: dict[str, Any]) -> tuple[str, str]:
    kind = answer.get("kind")
    allowed = RSS_BASELINE + 4 * max(case.decoded_bytes, len(case.data))
    grew = answer.get("rss_growth", 0)
    if kind in ("crash", "timeout"):
        return kind, answer.get("how", "")
    if kind == "memory":
        return "memory", answer.get("message", "")
    if kind == "exception":
        return "other-exception", f"{answer['type']}: {answer['message']} (at {answer['where']})"
    if grew > allowed:
        return "memory", f"resident memory grew by {grew >> 20} MiB (allowed {allowed >> 20} MiB)"
    if kind == "input-error":
        message = answer["message"]
        named = path in message or os.path.basename(path) in message
        return ("refused" if named else "unclear"), message
    pixels = as_pairs(answer["pixels"])
    if oracle.get("status") == "counts":
        if pixels == as_pairs(oracle["pixels"]):
            return "exact", ""
        return "wrong", f"counted {_show(pixels)}, the reference {_show(oracle['pixels'])}"
    lenient = oracle.get("lenient")
    same = "; equal to the lenient decode" if lenient is not None and as_pairs(lenient) == pixels else ""
    return "counted-oracle-refused", f"counted {_show(pixels)}; reference: {oracle.get('reason')}{same}"


def _show(pixels: Any) -> str:
    text = "{" + ", ".join(f"{c}: {n}" for c, n in as_pairs(pixels)) + "}"
    return text if len(text) < 120 else text[:117] + "...}"


def run_one(case: Case, workers: Workers, folder: str) -> Result:
    worker = workers.get()
    path = os.path.join(folder, case.name)
    with open(path, "wb") as file:
        file.write(case.data)
    try:
        allow = VIRTUAL_BASELINE + 8 * max(case.decoded_bytes, len(case.data))
        started = time.monotonic()
        oracle = worker.request({"op": "oracle", "path": path, "spec": case.spec, "allow_virtual": 1 << 30})
        middle = time.monotonic()
        if oracle.get("status") not in ("counts", "refused"):  # the reference itself died
            oracle = {"status": "refused", "reason": f"reference reader: {oracle.get('kind')}", "lenient": None}
        answer = worker.request(
            {
                "op": "count",
                "path": path,
                "spec": case.spec,
                "allow_virtual": allow,
                "truncated_images": case.truncated_images,
            }
        )
        seconds = (middle - started, time.monotonic() - middle)
    finally:
        os.unlink(path)
    outcome, detail = classify(case, path, oracle, answer)
    if (
        case.expected is not None
        and oracle.get("status") == "counts"
        and as_pairs(oracle["pixels"]) != as_pairs(case.expected)
    ):
        outcome, detail = (
            "wrong",
            f"the reference disagrees with the corpus: {_show(oracle['pixels'])} vs {_show(case.expected)}",
        )
    if case.expected is not None and oracle.get("status") != "counts":
        outcome, detail = "wrong", f"the reference refuses a corpus file: {oracle.get('reason')}"
    return Result(case, outcome, detail, oracle, answer, seconds)


def run(all_cases: Iterable[Case], folder: str, threads: int = 1) -> Iterator[Result]:
    """The results of the cases, in order."""
    workers = Workers(folder)
    try:
        with ThreadPoolExecutor(threads) as pool:
            yield from pool.map(lambda case: run_one(case, workers, folder), all_cases)
    finally:
        workers.close()
