"""Progress of a count: a bar on a terminal, or updates handed to a callable."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, TextIO, Union

__all__ = ["Progress", "ProgressSpec", "make_reporter"]


@dataclass(frozen=True)
class Progress:
    """One update: inputs done (counted or skipped) of the total, pixels counted so far."""

    done: int
    total: int
    pixels: int
    skipped: int
    elapsed: float  # seconds since the count started

    @property
    def pixels_per_second(self) -> float:
        return self.pixels / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        if self.done == 0 or self.elapsed <= 0:
            return None
        return self.elapsed * (self.total - self.done) / self.done


ProgressSpec = Union[bool, Callable[[Progress], None], None]
Reporter = Callable[[int, int, int, bool], None]  # (done, pixels, skipped, final)


def make_reporter(spec: ProgressSpec, total: int, stream: TextIO | None = None) -> Reporter | None:
    """None when nothing is to be shown: progress=False, or True while not attached to a terminal."""
    if spec is None or spec is False:
        return None
    if callable(spec):
        return _Reporter(total, spec, interval=0.0)
    if spec is True:
        out = stream if stream is not None else sys.stderr
        if not out.isatty():
            return None
        return _Reporter(total, _TerminalBar(out), interval=0.1)
    raise TypeError(f"progress={spec!r}: expected True, False or a callable taking a fastweights Progress")


class _Reporter:
    def __init__(self, total: int, sink: Callable[[Progress], None], interval: float) -> None:
        self.total, self.sink, self.interval = total, sink, interval
        self.start = time.perf_counter()
        self.last = -1.0

    def __call__(self, done: int, pixels: int, skipped: int, final: bool) -> None:
        now = time.perf_counter()
        if final or now - self.last >= self.interval:
            self.last = now
            self.sink(Progress(done, self.total, pixels, skipped, now - self.start))


class _TerminalBar:
    width = 28

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, progress: Progress) -> None:
        fraction = progress.done / progress.total if progress.total else 1.0
        filled = int(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        left = progress.seconds_left
        eta = "--:--" if left is None else f"{int(left) // 60:02d}:{int(left) % 60:02d}"
        skipped = f"  {progress.skipped} skipped" if progress.skipped else ""
        line = (
            f"\r[{bar}] {100 * fraction:5.1f} %  {progress.done}/{progress.total} files  "
            f"{progress.pixels_per_second / 1e6:7.1f} Mpx/s  {eta} left{skipped}"
        )
        end = "\n" if progress.done == progress.total else ""
        self.stream.write(line + end)
        self.stream.flush()
