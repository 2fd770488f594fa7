"""Counting on a Dask cluster (distributed, an extra): `fastweights.count(paths, client=client)`.

The client lists the inputs and splits them into tasks of contiguous shares balanced by bytes
(a few per worker: one task per file would cost ~2 ms of scheduling each). Each task runs the local
engine on its worker with the count's `threads`, or else the worker's thread count, given explicitly
(Dask sets OMP_NUM_THREADS=1 in workers; the kernel takes its thread count as an argument), one task at a
time per worker so that tasks do not oversubscribe its cores. The shares' Counts are added on the
cluster, pairwise in a tree that keeps their order, so the result is exactly that of one local
count. A task lost with its worker is run again by Dask: the sum stays exact.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import replace
from typing import Any

from ..base._optional import require
from ..engine.settings import Settings
from ..engine.shards import split_by_bytes
from ..io.sources import expand, file_paths
from ..model.counts import Counts
from . import threads as local

__all__ = ["count"]

# Tasks per worker: enough that a fast worker takes over from a slow one near the end.
TASKS_PER_WORKER = 4
# One task at a time per worker (keyed by its address: an in-process cluster shares one process).
_WORKER_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)


def count(inputs: object, settings: Settings, client: Any = None) -> Counts:
    """The Counts of `inputs` under `settings`, counted on the workers of `client` (None: the
    current Dask client)."""
    distributed = require("distributed", "dask", "fastweights.count(client=)")
    for option in ("shard", "sample", "checkpoint", "cache"):
        if getattr(settings, option) is not None:
            raise ValueError(f"fastweights.count: {option}= is not available on a Dask cluster (client=)")
    client = distributed.default_client() if client is None else client
    listed = expand(inputs, settings.storage_options)
    paths = file_paths(listed, "fastweights.count(client=)")
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    shares = [share for share in split_by_bytes([item.nbytes for item in listed], workers * TASKS_PER_WORKER) if share]
    on_workers = replace(settings, progress=False)  # the progress shown is the cluster's, here
    parts = [
        client.submit(_count_share, [paths[position] for position in share], on_workers, retries=2, pure=False)
        for share in shares
    ]
    if settings.progress:
        distributed.progress(parts)
    while len(parts) > 1:  # a tree of additions, in order: left + right
        pairs = [client.submit(_add, parts[k], parts[k + 1], pure=False) for k in range(0, len(parts) - 1, 2)]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    total: Counts = parts[0].result()
    total.params["dask"] = {"tasks": len(shares), "workers": workers}
    return total


def _count_share(paths: list[str], settings: Settings) -> Counts:
    """On a worker: the local engine over one share, with the threads asked for, or the worker's."""
    from distributed import get_worker

    worker = get_worker()
    if settings.threads is None:
        settings = replace(settings, threads=max(1, int(worker.state.nthreads)))
    with _WORKER_LOCKS[worker.address]:
        return local.count(paths, settings)


def _add(left: Counts, right: Counts) -> Counts:
    return left + right
