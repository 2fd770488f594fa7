"""Counting with MPI (mpi4py, an extra): `fastweights.count(paths, comm=MPI.COMM_WORLD)` under
`mpiexec -n N`, or `fastweights count --mpi`.

Every rank lists the inputs (the listing is sorted, so the same on every rank), takes its share,
contiguous and balanced by bytes, and counts it with its own threads (the CPUs the launcher pinned it
to). Then rank `root` gathers the statistics of the classes present (summed exactly), the names
(and the per-image table, when asked for) and returns the Counts: exactly those of one count over
everything; other ranks return None. Without a root, every rank gathers them and returns them. A bad
input on any rank stops every rank with its message.
"""

from __future__ import annotations

from typing import Any

from ..base._optional import require
from ..base.errors import InputError
from ..engine.settings import Settings
from ..engine.shards import split_by_bytes
from ..io.sources import expand, file_paths
from ..model.counts import Counts, sum_statistics
from ..model.per_image import PerImageTable
from ..model.voxels import add_groups
from . import threads as local

__all__ = ["count"]


def count(inputs: object, settings: Settings, comm: Any, root: int | None) -> Counts | None:
    """The Counts of `inputs` under `settings`, shared among the ranks of `comm`: on rank `root`
    (None elsewhere), or on every rank when `root` is None."""
    for option in ("shard", "sample", "checkpoint", "cache"):
        if getattr(settings, option) is not None:
            raise ValueError(f"fastweights.count: {option}= is not available across MPI ranks (comm=)")
    if settings.progress:
        raise ValueError("fastweights.count: progress= is not available across MPI ranks (comm=)")
    require("mpi4py.MPI", "mpi", "fastweights.count(comm=)")
    rank, size = comm.Get_rank(), comm.Get_size()
    share: Counts | None = None
    failure: str | None = None
    try:
        listed = expand(inputs, settings.storage_options)
        mine = split_by_bytes([item.nbytes for item in listed], size)[rank]
        share_bytes = sum(listed[position].nbytes for position in mine)
        if len(mine):
            share = local.count(
                file_paths([listed[position] for position in mine], "fastweights.count(comm=)"), settings
            )
    except (InputError, ValueError, TypeError, OSError, RuntimeError, ImportError) as error:
        failure = f"{type(error).__name__}: {error}"
        share_bytes = 0
    failures = comm.allgather(failure)
    problems = [(where, text) for where, text in enumerate(failures) if text is not None]
    if problems:
        where, text = problems[0]
        kind, message = text.split(": ", 1)
        kinds = {
            "InputError": InputError,
            "TypeError": TypeError,
            "FileNotFoundError": FileNotFoundError,
            "RuntimeError": RuntimeError,
            "MissingDependency": ImportError,
        }
        stop = kinds.get(kind, ValueError)(f"{message} (on MPI rank {where})")
        stop.reported_elsewhere = rank != (root or 0)  # type: ignore[attr-defined]  # the CLI prints it once
        raise stop
    return _reduce(comm, root, share, share_bytes, settings.names)


def _reduce(
    comm: Any, root: int | None, share: Counts | None, share_bytes: int, class_names: tuple[str, ...]
) -> Counts | None:
    # The statistics travel by the classes present, not as arrays of num_classes entries: their
    # size follows the data, whatever the largest label.
    mine = (
        share.sources if share is not None else (),
        share.errors if share is not None else [],
        share.per_image_sparse if share is not None else None,
        share.params if share is not None else None,
        share_bytes,
        None if share is None else (share.num_classes, share.n_images, share.n_pixels, share.ignored),
        None if share is None else share._statistics(),
        {} if share is None else share._voxels,
    )
    if root is None:
        names = comm.allgather(mine)
    else:
        names = comm.gather(mine, root=root)
        if comm.Get_rank() != root:
            return None
    params = next(part[3] for part in names if part[3] is not None)
    shares = [part for part in names if part[5] is not None]
    width = max((part[5][0] for part in shares), default=0)
    classes, sums = sum_statistics([part[6] for part in shares])
    tables = [part[2] for part in names if part[2] is not None]
    per_image = PerImageTable.stack(tables, width) if tables else None
    return Counts._of_classes(
        width,
        classes,
        sums,
        n_images=sum(part[5][1] for part in shares),
        n_pixels=sum(part[5][2] for part in shares),
        ignored=sum(part[5][3] for part in shares),
        per_image=per_image,
        sources=[name for part in names for name in part[0]],
        errors=[error for part in names for error in part[1]],
        params={**params, "mpi": {"ranks": comm.Get_size(), "share_bytes": [part[4] for part in names]}},
        class_names=class_names,
        voxels=add_groups(part[7] for part in names),
    )
