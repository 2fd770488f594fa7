"""Counting on a Dask cluster (distributed, an extra): `fastweights.count(paths, client=client)`.

The client lists the inputs and splits them into tasks of contiguous shares balanced by bytes
(a few per worker: one task per file would cost ~2 ms of scheduling each). Each task runs the local
engine on its worker with the worker's thread count, given explicitly (Dask sets OMP_NUM_THREADS=1
in workers; the kernel takes its thread count as an argument and does not read it), one task at a
time per worker so that tasks do not oversubscribe its cores. The shares' Counts are added on the
cluster, pairwise in a tree that keeps their order, so the result is exactly that of one local
count. A task lost with its worker is run again by Dask: the sum stays exact.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from ..base._optional import require
from ..engine.shards import split_by_bytes
from ..io.sources import expand, file_paths
from ..model.counts import Counts

__all__ = ["count"]

# Tasks per worker: enough that a fast worker takes over from a slow one near the end.
TASKS_PER_WORKER = 4
# One task at a time per worker (keyed by its address: an in-process cluster shares one process).
_WORKER_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)


def count(inputs: object, client: Any = None, **options: Any) -> Counts:
    """`fastweights.count` on the workers of `client` (default: the current Dask client)."""
    distributed = require("distributed", "dask", "fastweights.dask")
    for option in ("shard", "sample", "checkpoint", "cache", "threads"):
        if options.pop(option, None) is not None:
            raise ValueError(f"fastweights.dask.count: {option}= is not available on a Dask cluster")
    show_progress = bool(options.pop("progress", False))
    client = distributed.default_client() if client is None else client
    listed = expand(inputs)
    paths = file_paths(listed, "fastweights.dask.count")
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    shares = [share for share in split_by_bytes([item.nbytes for item in listed], workers * TASKS_PER_WORKER) if share]
    parts = [
        client.submit(_count_share, [paths[position] for position in share], options, retries=2, pure=False)
        for share in shares
    ]
    if show_progress:
        distributed.progress(parts)
    while len(parts) > 1:  # a tree of additions, in order: left + right
        pairs = [client.submit(_add, parts[k], parts[k + 1], pure=False) for k in range(0, len(parts) - 1, 2)]
        parts = pairs + ([parts[-1]] if len(parts) % 2 else [])
    total = parts[0].result()
    total.params["dask"] = {"tasks": len(shares), "workers": workers}
    return total


def _count_share(paths: list[str], options: dict[str, Any]) -> Counts:
    """On a worker: the local engine over one share, with the worker's threads."""
    from distributed import get_worker

    from ..engine.run import count as local_count

    worker = get_worker()
    threads = max(1, int(worker.state.nthreads))
    with _WORKER_LOCKS[worker.address]:
        return local_count(paths, threads=threads, **options)


def _add(left: Counts, right: Counts) -> Counts:
    return left + right
