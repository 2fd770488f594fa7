"""Count masks on a SLURM cluster with Dask, whose workers dask-jobqueue starts as SLURM jobs:
`pip install "fastweights[dask]" dask-jobqueue`, then on the cluster's login node
`python dask_slurm.py /data/masks --jobs 10 --ignore-index 255 -o counts.json`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from dask_jobqueue import SLURMCluster
from distributed import Client, SpecCluster

import fastweights


def make_cluster(jobs: int) -> SpecCluster:
    """`jobs` SLURM jobs of one Dask worker each. fastweights counts each task with all its
    worker's threads, so a few workers with many threads, not many single-threaded ones."""
    cluster = SLURMCluster(
        cores=8,  # the worker's threads, and the job's --cpus-per-task
        processes=1,  # one worker per job
        memory="16GB",
        walltime="02:00:00",
        job_name="fastweights-dask",
        # queue="...", account="...": your site's partition and account, if it asks for them
    )
    cluster.scale(jobs=jobs)
    return cluster


def main(argv: Sequence[str] | None = None) -> fastweights.Counts:
    parser = argparse.ArgumentParser(description="count masks on the workers of SLURM jobs")
    parser.add_argument("data", nargs="+")
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--ignore-index", type=int, nargs="+")
    parser.add_argument("-o", "--output", default="counts.json")
    args = parser.parse_args(argv)
    with make_cluster(args.jobs) as cluster, Client(cluster) as client:
        # the inputs are cut into shares for the workers there when the count starts: wait for them
        client.wait_for_workers(args.jobs)
        counts = fastweights.count(args.data, ignore_index=args.ignore_index, client=client)
    counts.save(args.output)
    print(counts)
    return counts


if __name__ == "__main__":
    main()
