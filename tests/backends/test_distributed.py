"""Beyond one process: Dask clusters, MPI ranks and job-array shards give the Counts of one local
count, exactly (sums, sources in order, per-image rows)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import mpiexec
from hypothesis import given, settings
from hypothesis import strategies as st

import fastweights
from fastweights import Counts
from fastweights.api.demo import write_demo_masks
from fastweights.engine.shards import parse_shard, split_by_bytes

# Dask's own sockets and clusters warn as they come and go: not this project's to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:.*[Pp]ort.*:UserWarning"),
]


@pytest.fixture(scope="module")
def masks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo masks of uneven sizes (so that balancing by bytes matters)."""
    folder = tmp_path_factory.mktemp("distributed") / "masks"
    write_demo_masks(folder, n_images=30)
    write_demo_masks(folder / "big", n_images=6, shape=(480, 640), seed=1)
    return folder


# ---- shares ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(sizes=st.lists(st.integers(0, 10_000), max_size=60), parts=st.integers(1, 8))
def test_shares_are_contiguous_and_balanced_within_one_input(sizes: list[int], parts: int) -> None:
    shares = split_by_bytes(sizes, parts)
    assert len(shares) == parts and [i for share in shares for i in share] == list(range(len(sizes)))
    if sum(sizes):
        for share in shares:
            assert abs(sum(sizes[i] for i in share) - sum(sizes) / parts) <= max(sizes)


def test_shard_syntax() -> None:
    assert parse_shard("2/5") == (2, 5)
    for bad in ("5/5", "-1/2", "a/b", "3"):
        with pytest.raises(ValueError, match="shard="):
            parse_shard(bad)


def test_job_array_shards_merge_to_the_full_count(masks: Path, tmp_path: Path) -> None:
    parts = []
    for index in range(3):
        part = tmp_path / f"part{index}.json"
        command = [sys.executable, "-m", "fastweights", "count", str(masks), "--ignore-index", "255"]
        result = subprocess.run(
            [*command, "--per-image", "--shard", f"{index}/3", "-q", "-o", str(part)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        parts.append(str(part))
    total = tmp_path / "total.json"
    from fastweights.cli import main

    assert main(["merge", *parts, "-o", str(total)]) == 0
    assert Counts.load(total) == fastweights.count(masks, ignore_index=255, per_image=True)
    sizes = [Counts.load(part).n_images for part in parts]
    assert sum(sizes) == 36 and min(sizes) > 0


# ---- MPI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("ranks", [2, 3])  # 3: more ranks than this machine's cores
def test_mpi_ranks_give_the_local_counts(masks: Path, ranks: int) -> None:
    command = [mpiexec(), "-n", str(ranks), sys.executable, "-m", "fastweights", "count", str(masks)]
    result = subprocess.run(
        [*command, "--ignore-index", "255", "--per-image", "--mpi", "--format", "json", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    counts = Counts.from_dict(json.loads(result.stdout))  # rank 0 alone prints
    assert counts == fastweights.count(masks, ignore_index=255, per_image=True)
    shares = counts.params["mpi"]["share_bytes"]
    sizes = [item.nbytes for item in fastweights.io.sources.expand(masks)]
    assert len(shares) == ranks and sum(shares) == sum(sizes)
    assert all(abs(share - sum(sizes) / ranks) <= max(sizes) for share in shares)


def test_a_bad_file_stops_every_rank_with_one_message(masks: Path, tmp_path: Path) -> None:
    folder = tmp_path / "with_a_bad_one"
    shutil.copytree(masks, folder)
    (folder / "zz_bad.npy").write_text("not a mask")
    result = subprocess.run(
        [mpiexec(), "-n", "2", sys.executable, "-m", "fastweights", "count", str(folder), "--mpi", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.count("zz_bad.npy") == 1 and "on MPI rank 1" in result.stderr


# ---- Dask --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local,
        distributed.Client(local) as client,
    ):
        yield client


def test_dask_local_cluster_gives_the_local_counts(cluster, masks: Path) -> None:
    counts = fastweights.count(masks, ignore_index=255, per_image=True, client=cluster)
    assert counts == fastweights.count(masks, ignore_index=255, per_image=True)
    assert counts.params["dask"]["workers"] == 2 and counts.params["dask"]["tasks"] > 2


def test_dask_on_camvid(cluster, real_data: Path) -> None:
    folder = real_data / "camvid" / "trainannot"
    assert fastweights.count(folder, client=cluster) == fastweights.count(folder)


@pytest.fixture(scope="module")
def in_process():
    distributed = pytest.importorskip("distributed")
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0") as client:
        yield client


def test_dask_in_process_cluster(in_process, masks: Path) -> None:
    counts = fastweights.count(masks, client=in_process, ignore_index=255, per_image=True)
    assert counts == fastweights.count(masks, ignore_index=255, per_image=True)


def test_dask_in_process_on_camvid(in_process, real_data: Path) -> None:
    folder = real_data / "camvid" / "trainannot"
    assert fastweights.count(folder, client=in_process) == fastweights.count(folder)


def test_dask_refuses_what_a_cluster_cannot_do(cluster, masks: Path) -> None:
    with pytest.raises(ValueError, match="checkpoint= is not available on a Dask cluster"):
        fastweights.count(masks, client=cluster, checkpoint="state.json")
    with pytest.raises(TypeError, match="not arrays"):
        fastweights.count(np.zeros((4, 4), np.uint8), client=cluster)
    with pytest.raises(fastweights.errors.InputError, match=r"label [45] .*not below num_classes=4"):
        fastweights.count(masks, client=cluster, num_classes=4, ignore_index=255)


def slow_down_counting() -> None:
    """Run on the workers: each task takes a moment longer, so that one can die mid-run."""
    import fastweights.engine.run as engine

    original = engine._count_work

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        return original(*args, **kwargs)

    engine._count_work = slow


def test_a_worker_killed_mid_run_still_gives_the_exact_counts(masks: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as local,
        distributed.Client(local) as client,
    ):
        client.run(slow_down_counting)
        victim = sorted(client.scheduler_info()["workers"])[0]
        killed_at: list[float] = []

        def kill_soon() -> None:
            time.sleep(0.6)
            killed_at.append(time.monotonic())
            try:
                client.run(os._exit, 1, workers=[victim])
            except Exception:  # the worker dies before it can answer: that is the point
                pass

        killer = threading.Thread(target=kill_soon)
        killer.start()
        counts = fastweights.count(masks, ignore_index=255, per_image=True, client=client)
        finished_at = time.monotonic()
        killer.join()
        assert killed_at and killed_at[0] < finished_at  # the worker died while the count ran
        assert victim not in client.scheduler_info()["workers"]  # its nanny started a new one
    assert counts == fastweights.count(masks, ignore_index=255, per_image=True)


# ---- the count's settings reach every rank and worker -------------------------------------------


def spy_on_local_counts(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The `threads` of the Settings each local count (a worker's share, a rank's share) receives."""
    from fastweights.backends import threads as local

    seen: list[int | None] = []
    original = local.count

    def spy(inputs: object, settings):  # type: ignore[no-untyped-def]
        seen.append(settings.threads)
        return original(inputs, settings)

    monkeypatch.setattr(local, "count", spy)
    return seen


def test_dask_workers_count_with_the_threads_asked_for(in_process, masks: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen = spy_on_local_counts(monkeypatch)
    expected = fastweights.count(masks, ignore_index=255)
    seen.clear()
    assert fastweights.count(masks, ignore_index=255, threads=3, client=in_process) == expected
    assert seen and set(seen) == {3}
    seen.clear()
    fastweights.count(masks, ignore_index=255, client=in_process)
    assert seen and set(seen) == {1}  # not asked for: each worker's own threads (threads_per_worker=1)


MPI_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from mpi4py import MPI
    import fastweights, fastweights.mpi
    from fastweights.backends import threads as local
    seen = []
    original = local.count
    def spy(inputs, settings):
        seen.append(settings.threads)
        return original(inputs, settings)
    local.count = spy
    everywhere = fastweights.count(sys.argv[1], ignore_index=255, threads=3, comm=MPI.COMM_WORLD)
    on_root = fastweights.mpi.count(sys.argv[1], ignore_index=255, threads=3)
    rank = MPI.COMM_WORLD.Get_rank()
    with open(f"{sys.argv[2]}/rank{rank}.json", "w") as out:  # one file each: ranks' stdout interleave
        json.dump({"rank": rank, "seen": seen, "pixels": everywhere.pixels.tolist(),
                   "root_only": None if on_root is None else on_root.pixels.tolist()}, out)
    """
)


def test_mpi_from_python_every_rank_gets_the_counts_and_the_threads(masks: Path, tmp_path: Path) -> None:
    script = tmp_path / "ranks.py"
    script.write_text(MPI_SCRIPT)
    result = subprocess.run(
        [mpiexec(), "-n", "2", sys.executable, str(script), str(masks), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    ranks = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    expected = fastweights.count(masks, ignore_index=255).pixels.tolist()
    assert [rank["rank"] for rank in ranks] == [0, 1]
    assert all(rank["pixels"] == expected for rank in ranks)
    assert all(rank["seen"] == [3, 3] for rank in ranks)  # one share per rank, per count
    assert ranks[0]["root_only"] == expected and ranks[1]["root_only"] is None
