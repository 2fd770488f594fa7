"""Where a count runs: this process's threads (`threads`), a GPU (`cuda`, with `placement`), a Dask
cluster (`dask`) or MPI ranks (`mpi`). Each is handed a `Settings` (and whatever else it needs, e.g.
the thread count) as arguments.

May import: `fastweights.base`, `.kernels`, `.model`, `.io`, `.engine` and `fastweights._core`;
never `fastweights.api` or `fastweights.cli`.
"""
