"""`fastweights.mpi.count`: `fastweights.count(..., comm=)` with the Counts on one rank only.

The program runs on every rank (`mpiexec -n N python script.py`); each rank counts a share of the
files (`fastweights.backends.mpi`).
"""

from __future__ import annotations

from typing import Any

from .api.count import count as _count
from .base._optional import require
from .model.counts import Counts

__all__ = ["count"]


def count(inputs: object, comm: Any = None, root: int = 0, **options: Any) -> Counts | None:
    """`fastweights.count` over the ranks of `comm` (default: MPI.COMM_WORLD), the options being
    count's: the Counts on rank `root`, None on the others."""
    if comm is None:
        comm = require("mpi4py.MPI", "mpi", "fastweights.mpi").COMM_WORLD
    counts = _count(inputs, comm=comm, **options)
    return counts if comm.Get_rank() == root else None
