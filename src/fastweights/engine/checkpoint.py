"""Checkpoints of a long count: the partial sums and which inputs are done, written atomically every
`checkpoint_every` seconds and when SIGINT or SIGTERM arrives; a rerun with the same checkpoint
counts only what is left and ends with exactly the Counts of an uninterrupted run. A count that
ends removes its checkpoint; one that fails or is interrupted keeps it. The process that opened
it is the only one that writes or removes it: a checkpoint belongs to one count in one process
(a shard's job has its own; Dask and MPI counts take none).

Inputs are recognised by name (and files by size and modification time as well): files added
since the checkpoint are counted, a file counted and then changed or removed is refused by name,
and the final Counts are those of an uninterrupted run over the inputs as they are now.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..base._atomic import write_json
from ..base.errors import Interrupted

if TYPE_CHECKING:
    from .settings import Settings

__all__ = ["Checkpoint", "settings_identity"]

FORMAT = "fastweights.checkpoint"
# 2: the sums of the classes met only ("classes" names them); version 1 (one sum per class) still resumes.
FORMAT_VERSION = 2
_READS = (1, 2)


def settings_identity(settings: Settings, inputs: object) -> dict[str, Any]:
    """What a checkpoint must agree on with the count resuming it."""
    colormap = settings.colormap
    # Only with a map: the caches and checkpoints of counts without one keep their keys.
    mapped = {} if settings.label_map is None else {"label_map": settings.label_map.identity()}
    return {
        "inputs": _describe(inputs),
        "num_classes": settings.num_classes,
        "ignore_index": list(settings.ignore_index),
        "stack_axis": settings.stack_axis,
        "colormap": None
        if colormap is None
        else [colormap.name, colormap.unknown, colormap.colors.tolist(), colormap.classes.tolist()],
        "allow_lossy": settings.allow_lossy,
        "on_error": settings.on_error,
        "per_image": settings.per_image,
        **mapped,
    }


def _describe(inputs: object) -> list[str]:
    items = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    return [os.fspath(item) if isinstance(item, (str, os.PathLike)) else f"<{type(item).__name__}>" for item in items]


class Checkpoint:
    def __init__(self, path: str, every: float, identity: dict[str, Any]) -> None:
        self.path = path
        self.every = every
        self.identity = identity
        self.state: dict[str, Any] | None = None  # what a previous run left, if anything
        self.resumed = 0  # inputs that run had done
        self.written = time.monotonic()
        self.stop_signal: int | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], every: float, identity: dict[str, Any]) -> Checkpoint:
        """The checkpoint at `path`: a fresh one, or the one a previous run of the same count left."""
        if isinstance(every, bool) or not isinstance(every, (int, float)) or not every > 0:
            raise ValueError(f"checkpoint_every={every!r}: expected a positive number of seconds")
        checkpoint = cls(os.fspath(path), float(every), identity)
        if os.path.exists(checkpoint.path):
            checkpoint._load()
        return checkpoint

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as file:
                data = json.load(file)
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"{self.path}: not a readable fastweights checkpoint ({error})") from error
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{self.path}: not a fastweights checkpoint")
        if data.get("format_version") not in _READS:
            version = data.get("format_version")
            raise ValueError(f"{self.path}: checkpoint format version {version!r}; reads {', '.join(map(str, _READS))}")
        theirs = data.get("identity", {})
        for key in dict.fromkeys([*self.identity, *theirs]):  # a key on one side only differs too
            mine = self.identity.get(key)
            if theirs.get(key) != mine:
                tables = key in ("colormap", "label_map")  # too long to show
                shown = f"a different {key}" if tables else f"{key}={theirs.get(key)!r}"
                raise ValueError(
                    f"{self.path}: this checkpoint was made with {shown}, this count has "
                    f"{'another' if tables else f'{key}={mine!r}'}; use another checkpoint file, "
                    "or delete this one to start over"
                )
        self.state = data["state"]
        self.resumed = len(self.state["inputs"]) + len(self.state["skipped"])

    def due(self) -> bool:
        return time.monotonic() - self.written >= self.every

    def write(self, state: dict[str, Any]) -> None:
        write_json(
            self.path,
            {"format": FORMAT, "format_version": FORMAT_VERSION, "identity": self.identity, "state": state},
        )
        self.written = time.monotonic()

    def remove(self) -> None:
        """Once the count has ended: its Counts hold everything the checkpoint did. A checkpoint
        that cannot be removed is left with a warning; the count it served has succeeded."""
        try:
            os.remove(self.path)
        except FileNotFoundError:  # never written: the count ended before the first write was due
            pass
        except OSError as error:
            warnings.warn(
                f"fastweights: the count ended, and its checkpoint {self.path} could not be removed ({error}); "
                "a count with it again takes every input it holds from it",
                UserWarning,
                stacklevel=4,
            )

    @contextmanager
    def signals(self) -> Iterator[None]:
        """While counting: SIGINT and SIGTERM ask the count to stop at the next input boundary, so
        that the checkpoint holds only whole inputs. A second signal stops at once (the checkpoint
        then holds what the last regular write saved)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}

        def handle(number: int, frame: object) -> None:
            if self.stop_signal is not None:
                raise Interrupted(f"stopped by {signal.Signals(number).name} (a second signal)", number)
            self.stop_signal = number

        for number in previous:
            signal.signal(number, handle)
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def stop_if_asked(self, state: Callable[[], dict[str, Any]], done: int) -> None:
        if self.stop_signal is None:
            return
        self.write(state())
        name = signal.Signals(self.stop_signal).name
        raise Interrupted(
            f"stopped by {name}: checkpoint written to {self.path} ({done} inputs done); "
            "run the same count again to resume",
            self.stop_signal,
        )
