"""Where a count runs, each given a `Settings` (and what else it needs, e.g. the thread count, as
an argument): this process's threads (`threads`, which drives the engine), a GPU (`placement`, the
count's `fastweights.io.device.Device`, opening `cuda/`), a Dask cluster (`dask`) or MPI ranks
(`mpi`), whose workers and ranks count their shares through `threads`.

May import: `fastweights.base`, `.kernels`, `.model`, `.io`, `.engine` and `fastweights._core`;
never `fastweights.api` or `fastweights.cli`.
"""
