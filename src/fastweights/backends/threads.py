"""Counting in this process, on `settings.threads` threads (and, where the settings place arrays
there, a GPU): the inputs the plan chooses, the checkpoint and the cache opened, the run, the Counts.
Dask workers and MPI ranks count their shares through here too, each with its own threads.
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext

from ..base.errors import InputError
from ..engine.accumulate import Accumulator
from ..engine.cache import Cache
from ..engine.checkpoint import Checkpoint, settings_identity
from ..engine.plan import plan
from ..engine.progress import make_reporter
from ..engine.run import Run
from ..engine.settings import Settings
from ..io.device import placed
from ..kernels.variants import apply_environment
from ..model.counts import Counts
from .placement import Placement

__all__ = ["count"]


def count(inputs: object, settings: Settings) -> Counts:
    """The Counts of `inputs` under `settings`, counted here."""
    workers = settings.workers
    placement = Placement(settings.device, workers)
    apply_environment()
    chosen = plan(inputs, settings)
    store = reuse = None
    if settings.checkpoint is not None or settings.cache is not None:
        identity = {**settings_identity(settings, inputs), **chosen.drawn}
        if settings.checkpoint is not None:
            store = Checkpoint.open(settings.checkpoint, settings.checkpoint_every, identity)
        reuse = None if settings.cache is None else Cache.open(settings.cache, identity)
    items = chosen.items
    n_inputs = len(items) if isinstance(items, list) else None
    report = make_reporter(settings.progress, n_inputs or 0)
    # A map's targets name its classes: those of a data set where some class is absent still count them.
    mapped = settings.label_map.num_classes if settings.label_map is not None else None
    total = Accumulator(settings.num_classes or mapped or 0, settings.per_image, n_inputs, report)
    if store is not None and store.state is not None:
        total.restore(store.state)
    run = Run(settings, workers, total, store, reuse)
    try:
        with store.signals() if store is not None else nullcontext(), placed(placement):
            run.count_all(items)
    except InputError:
        if store is not None:  # what was counted is kept: fix or remove the file, and rerun to resume
            store.write(total.state())
        raise
    finally:
        if reuse is not None:
            reuse.close()
    if total.seen == 0:
        raise ValueError("inputs: nothing to count (an empty list)")
    counts = total.counts(settings)
    if store is not None:
        store.remove()
    counts.params["device"] = placement.used
    if store is not None:
        counts.params["resumed"] = store.resumed
    if reuse is not None:
        counts.params["cache"] = {"reused": reuse.reused, "counted": reuse.stored}
    if chosen.estimate is not None:
        counts.params["estimate"] = chosen.estimate
    if counts.errors:
        warnings.warn(
            f"fastweights: skipped {len(counts.errors)} of {total.seen} inputs (listed in counts.errors)",
            UserWarning,
            stacklevel=3,
        )
    return counts
