"""Progress of a count, shown where the user runs it: a bar on a terminal, tqdm's bar in a notebook
(when tqdm is installed), a plain line every few seconds in a log (a batch job's stderr, which is
no terminal), or updates handed to a callable."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, TextIO, Union

__all__ = ["LOG_EVERY", "Progress", "ProgressSpec", "make_reporter"]

# Seconds between two lines in a log: a count of hours writes a few thousand lines, a short one none.
LOG_EVERY = 10.0


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
Clock = Callable[[], float]


def make_reporter(
    spec: ProgressSpec, total: int, stream: TextIO | None = None, clock: Clock = time.perf_counter
) -> Reporter | None:
    """What progress=`spec` shows while `total` inputs are counted: None for nothing (False).

    True shows it on `stream` (default stderr): tqdm.auto's bar in a Jupyter kernel when tqdm is
    installed, a bar redrawn in place on a terminal (and in a kernel without tqdm: notebooks draw
    carriage returns), and otherwise, a log, one line every LOG_EVERY seconds, the first once
    that much time has passed (a short count writes nothing) and a last one when the count ends.
    """
    if spec is None or spec is False:
        return None
    if callable(spec):
        return _Reporter(total, spec, 0.0, clock)
    if spec is not True:
        raise TypeError(f"progress={spec!r}: expected True, False or a callable taking a fastweights Progress")
    out = stream if stream is not None else sys.stderr
    kernel = _in_kernel()
    if kernel and importlib.util.find_spec("tqdm") is not None:
        return _Reporter(total, _TqdmBar(total), 0.1, clock)
    if kernel or out.isatty():
        return _Reporter(total, _TerminalBar(out), 0.1, clock)
    return _Reporter(total, _LogLines(out), LOG_EVERY, clock, wait_first=True)


def _in_kernel() -> bool:
    """Whether this runs in a Jupyter (IPython) kernel; asks IPython only when it is loaded already."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


class _Reporter:
    """Hands an update to `sink` at most every `interval` seconds, and the last one always; with
    wait_first, only once `interval` has passed, and the last one only after an earlier one."""

    def __init__(
        self, total: int, sink: Callable[[Progress], None], interval: float, clock: Clock, wait_first: bool = False
    ) -> None:
        self.total, self.sink, self.interval, self.clock = total, sink, interval, clock
        self.start = clock()
        self.last = self.start if wait_first else -float("inf")
        self.shown = not wait_first

    def __call__(self, done: int, pixels: int, skipped: int, final: bool) -> None:
        now = self.clock()
        if (final and self.shown) or now - self.last >= self.interval:
            self.last, self.shown = now, True
            self.sink(Progress(done, self.total, pixels, skipped, now - self.start))


def _clock_time(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    whole = int(seconds)
    hours, minutes = divmod(whole // 60, 60)
    return f"{hours}:{minutes:02d}:{whole % 60:02d}" if hours else f"{minutes:02d}:{whole % 60:02d}"


class _TerminalBar:
    width = 28

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, progress: Progress) -> None:
        fraction = progress.done / progress.total if progress.total else 1.0
        filled = int(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        skipped = f"  {progress.skipped} skipped" if progress.skipped else ""
        line = (
            f"\r[{bar}] {100 * fraction:5.1f} %  {progress.done}/{progress.total} files  "
            f"{progress.pixels_per_second / 1e6:7.1f} Mpx/s  {_clock_time(progress.seconds_left)} left{skipped}"
        )
        end = "\n" if progress.done == progress.total else ""
        self.stream.write(line + end)
        self.stream.flush()


class _LogLines:
    """One whole line per update, for a log file: no carriage returns, no bar."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, progress: Progress) -> None:
        files = f"{progress.done:,} files"
        if progress.total:  # known once the inputs are listed
            files = f"{progress.done:,}/{progress.total:,} files ({100 * progress.done / progress.total:.1f} %)"
        skipped = f", {progress.skipped:,} skipped" if progress.skipped else ""
        if progress.done == progress.total:
            left = ", done"
        elif progress.total:
            left = f", {_clock_time(progress.seconds_left)} left"
        else:
            left = ""
        self.stream.write(
            f"fastweights: {files}{skipped}, {progress.pixels:,} pixels, "
            f"{progress.pixels_per_second / 1e6:.1f} Mpx/s, {_clock_time(progress.elapsed)} elapsed{left}\n"
        )
        self.stream.flush()


class _TqdmBar:
    """tqdm.auto's bar (a widget in a notebook), advanced to each update's count of inputs."""

    def __init__(self, total: int) -> None:
        tqdm: Any = importlib.import_module("tqdm.auto").tqdm
        self.bar = tqdm(total=total, unit="file", desc="fastweights")

    def __call__(self, progress: Progress) -> None:
        self.bar.set_postfix_str(f"{progress.pixels_per_second / 1e6:.1f} Mpx/s", refresh=False)
        self.bar.update(progress.done - self.bar.n)
        if progress.done == progress.total:
            self.bar.close()
