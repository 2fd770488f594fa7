"""Long counts that stop and go on: checkpoints (in-process signals, and real processes killed with
SIGTERM and SIGKILL), the incremental cache (also shared by two processes), faults in workers, and
the same Counts whatever the thread count or input order."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import CAMVID_IMAGES, CAMVID_PIXELS, stop_after

import fastweights
from fastweights import Counts
from fastweights.errors import Interrupted


def write_masks(folder: Path, n: int, start: int = 0) -> list[Path]:
    folder.mkdir(exist_ok=True)
    paths = []
    for index in range(start, start + n):
        mask = np.random.default_rng(index).integers(0, 6, (24, 32)).astype(np.uint8)
        mask[0, :3] = 255  # a few ignored pixels in every mask
        path = folder / f"mask_{index:05d}.npy"
        np.save(path, mask)
        paths.append(path)
    return paths


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    write_masks(tmp_path / "masks", 300)
    return tmp_path / "masks"


# ---- checkpoints, in-process -------------------------------------------------------------------


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_a_checkpoint_and_the_rerun_resumes_exactly(
    folder: Path, tmp_path: Path, threads: int, number: int
) -> None:
    full = fastweights.count(folder, ignore_index=255, per_image=True, threads=threads)
    state = tmp_path / "state.json"
    options = {"ignore_index": 255, "per_image": True, "threads": threads, "checkpoint": state}
    with pytest.raises(Interrupted, match=f"stopped by {signal.Signals(number).name}") as stop:
        fastweights.count(folder, progress=stop_after(100, number), **options)
    assert stop.value.signal_number == number and str(state) in str(stop.value)
    saved = json.loads(state.read_text())
    done = len(saved["state"]["inputs"])
    assert 100 <= done < 300
    assert not list(tmp_path.glob("state.json.tmp*"))
    resumed = fastweights.count(folder, **options)
    assert resumed == full  # sources, per-image rows and every sum, in the order of the listing
    np.testing.assert_array_equal(resumed.per_image, full.per_image)
    assert resumed.params["resumed"] == done
    assert not state.exists()  # the count ended: its checkpoint is gone
    again = fastweights.count(folder, **options)  # so the same count again counts everything
    assert again == full and again.params["resumed"] == 0 and not state.exists()


def test_checkpoints_are_written_as_the_count_goes(folder: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    seen: list[int] = []

    def look(progress: fastweights.progress.Progress) -> None:
        if state.exists():
            seen.append(len(json.loads(state.read_text())["state"]["inputs"]))

    fastweights.count(folder, ignore_index=255, threads=1, checkpoint=state, checkpoint_every=1e-9, progress=look)
    # A checkpoint after each batch (a quarter of the inputs here), not only at the end.
    assert len(seen) > 2 and seen == sorted(seen) and seen[-1] < 300
    assert not state.exists()
    with pytest.raises(ValueError, match="checkpoint_every=0"):
        fastweights.count(folder, checkpoint=state, checkpoint_every=0)


def test_a_checkpoint_that_cannot_be_removed_leaves_the_counts_and_a_warning(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state.json"

    def refuse(path: str) -> None:
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr("fastweights.engine.checkpoint.os.remove", refuse)
    with pytest.warns(UserWarning, match=f"checkpoint {state} could not be removed"):
        counts = fastweights.count(folder, ignore_index=255, threads=1, checkpoint=state, checkpoint_every=1e-9)
    assert counts == fastweights.count(folder, ignore_index=255) and state.exists()


def test_a_checkpoint_of_other_settings_or_inputs_is_refused(folder: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with pytest.raises(Interrupted):
        fastweights.count(folder, ignore_index=255, checkpoint=state, progress=stop_after(50))
    with pytest.raises(ValueError, match=r"ignore_index=\[255\].*ignore_index=\[\]"):
        fastweights.count(folder, checkpoint=state)
    with pytest.raises(ValueError, match=r"num_classes=None.*num_classes=300"):
        fastweights.count(folder, ignore_index=255, num_classes=300, checkpoint=state)
    with pytest.raises(ValueError, match="inputs="):
        fastweights.count([folder / "mask_00000.npy"], ignore_index=255, checkpoint=state)
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not a fastweights checkpoint"):
        fastweights.count(folder, checkpoint=tmp_path / "other.json")


def test_resuming_counts_added_files_and_refuses_changed_or_removed_ones(folder: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with pytest.raises(Interrupted):
        fastweights.count(folder, ignore_index=255, threads=1, checkpoint=state, progress=stop_after(50))
    write_masks(folder, 5, start=1000)  # added after the checkpoint: counted when resuming
    resumed = fastweights.count(folder, ignore_index=255, threads=1, checkpoint=state)
    assert resumed == fastweights.count(folder, ignore_index=255) and resumed.n_images == 305

    with pytest.raises(Interrupted):
        fastweights.count(folder, ignore_index=255, threads=1, checkpoint=tmp_path / "b.json", progress=stop_after(50))
    counted = folder / "mask_00003.npy"
    np.save(counted, np.full((24, 32), 5, np.uint8))
    os.utime(counted, ns=(1, 1))
    with pytest.raises(ValueError, match=r"mask_00003\.npy: changed since the checkpoint counted it"):
        fastweights.count(folder, ignore_index=255, threads=1, checkpoint=tmp_path / "b.json")

    with pytest.raises(Interrupted):
        fastweights.count(folder, ignore_index=255, threads=1, checkpoint=tmp_path / "c.json", progress=stop_after(50))
    (folder / "mask_00007.npy").unlink()
    with pytest.raises(ValueError, match=r"no longer among the inputs.*mask_00007\.npy"):
        fastweights.count(folder, ignore_index=255, threads=1, checkpoint=tmp_path / "c.json")


def test_a_bad_file_keeps_the_work_done_and_the_rerun_goes_on(folder: Path, tmp_path: Path) -> None:
    bad = folder / "mask_00150.npy"
    good = bad.read_bytes()
    bad.write_bytes(b"broken")
    state = tmp_path / "state.json"
    with pytest.raises(fastweights.errors.InputError, match=r"mask_00150\.npy"):
        fastweights.count(folder, ignore_index=255, threads=1, checkpoint=state)
    assert len(json.loads(state.read_text())["state"]["inputs"]) >= 100
    bad.write_bytes(good)
    resumed = fastweights.count(folder, ignore_index=255, threads=1, checkpoint=state)
    assert resumed == fastweights.count(folder, ignore_index=255) and resumed.params["resumed"] >= 100
    assert not state.exists()


def test_a_resumed_count_of_camvid_gives_the_published_counts(real_data: Path, tmp_path: Path) -> None:
    folder = real_data / "camvid" / "trainannot"
    state = tmp_path / "camvid.json"
    with pytest.raises(Interrupted):
        fastweights.count(folder, checkpoint=state, progress=stop_after(120))
    resumed = fastweights.count(folder, checkpoint=state)
    assert 120 <= resumed.params["resumed"] < 367
    assert resumed.pixels.tolist() == CAMVID_PIXELS and resumed.images.tolist() == CAMVID_IMAGES
    assert resumed.n_images == 367


# ---- checkpoints, real processes -----------------------------------------------------------------

# The CLI in a child process whose batches each take a little longer, so that a signal lands mid-run.
SLOW_CLI = textwrap.dedent(
    """
    import sys, time
    import fastweights.engine.run as engine
    from fastweights.cli import main
    count_work = engine._count_work
    def slow(work, *args, **kwargs):
        time.sleep(0.005 * (len(work) if isinstance(work, list) else 1))  # 5 ms per input
        return count_work(work, *args, **kwargs)
    engine._count_work = slow
    sys.exit(main(sys.argv[1:]))
    """
)


def start_slow_count(folder: Path, state: Path, *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-c", SLOW_CLI, "count", str(folder), "--ignore-index", "255", "--threads", "2"]
    command += ["--checkpoint", str(state), "--checkpoint-every", "0.05", "-q", *extra]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for_progress(state: Path, process: subprocess.Popen[str], inputs: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the count ended before it could be stopped"
        try:
            done = len(json.loads(state.read_text())["state"]["inputs"])
        except (OSError, ValueError, KeyError):  # not written yet (never half-written: see below)
            done = 0
        if done >= inputs:
            return done
        time.sleep(0.01)
    raise AssertionError("no checkpoint progress within 60 s")


def test_a_process_killed_with_sigkill_resumes_from_its_checkpoint(folder: Path, tmp_path: Path) -> None:
    state, result = tmp_path / "state.json", tmp_path / "counts.json"
    process = start_slow_count(folder, state)
    wait_for_progress(state, process, 60)
    process.kill()  # SIGKILL: no handler runs, only the regular checkpoints survive
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    saved = json.loads(state.read_text())  # whole, because it is written by rename
    assert 60 <= len(saved["state"]["inputs"]) < 300
    command = [sys.executable, "-m", "fastweights", "count", str(folder), "--ignore-index", "255", "--threads", "2"]
    resumed = subprocess.run(
        [*command, "--checkpoint", str(state), "-q", "-o", str(result)], capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    counts = Counts.load(result)
    assert counts == fastweights.count(folder, ignore_index=255)
    assert counts.params["resumed"] >= len(saved["state"]["inputs"])
    assert not state.exists()  # the process that counted removed it, once the count ended


def test_sigterm_writes_a_checkpoint_and_exits_with_a_message(folder: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    process = start_slow_count(folder, state)
    before = wait_for_progress(state, process, 60)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM
    assert f"stopped by SIGTERM: checkpoint written to {state}" in err and "Traceback" not in err
    done = len(json.loads(state.read_text())["state"]["inputs"])
    assert before <= done < 300
    resumed = fastweights.count(folder, ignore_index=255, checkpoint=state)
    assert resumed == fastweights.count(folder, ignore_index=255) and resumed.params["resumed"] == done
    assert not state.exists()


# ---- the cache ---------------------------------------------------------------------------------


def test_a_rerun_counts_only_new_and_changed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "masks"
    write_masks(folder, 1000)
    cache = tmp_path / "cache.sqlite"
    first = fastweights.count(folder, ignore_index=255, cache=cache)
    assert first.params["cache"] == {"reused": 0, "counted": 1000}
    write_masks(folder, 10, start=5000)
    read: list[str] = []
    original = fastweights.engine.run.tally_small_files

    def counting_reads(paths: list[str], *arguments: object) -> object:
        read.extend(paths)
        return original(paths, *arguments)  # type: ignore[arg-type]

    monkeypatch.setattr("fastweights.engine.run.tally_small_files", counting_reads)
    second = fastweights.count(folder, ignore_index=255, cache=cache)
    assert second.params["cache"] == {"reused": 1000, "counted": 10}
    assert sorted(read) == sorted(str(folder / f"mask_{index:05d}.npy") for index in range(5000, 5010))
    assert second == fastweights.count(folder, ignore_index=255)

    changed = folder / "mask_00042.npy"
    np.save(changed, np.zeros((24, 32), np.uint8))
    os.utime(changed, ns=(10**9, 10**9))
    third = fastweights.count(folder, ignore_index=255, cache=cache)
    assert third.params["cache"] == {"reused": 1009, "counted": 1}
    assert third == fastweights.count(folder, ignore_index=255)
    other = fastweights.count(folder, num_classes=256, cache=cache)  # other settings: their own entries
    assert other.params["cache"] == {"reused": 0, "counted": 1010}


def test_cached_counts_are_checked_against_num_classes(tmp_path: Path) -> None:
    folder = tmp_path / "masks"
    write_masks(folder, 3)
    cache = tmp_path / "cache.sqlite"
    fastweights.count(folder, ignore_index=255, cache=cache)
    with pytest.raises(fastweights.errors.InputError, match="not below num_classes=3"):
        fastweights.count(folder, ignore_index=255, num_classes=3, cache=cache)


def test_two_processes_share_one_cache(folder: Path, tmp_path: Path) -> None:
    cache, outputs = tmp_path / "cache.sqlite", [tmp_path / "a.json", tmp_path / "b.json"]
    command = [sys.executable, "-m", "fastweights", "count", str(folder), "--ignore-index", "255", "-q"]
    processes = [subprocess.Popen([*command, "--cache", str(cache), "-o", str(out)]) for out in outputs]
    assert [process.wait(timeout=120) for process in processes] == [0, 0]
    expected = fastweights.count(folder, ignore_index=255)
    assert all(Counts.load(out) == expected for out in outputs)
    with sqlite3.connect(cache) as connection:
        assert connection.execute("SELECT COUNT(*) FROM counts").fetchone() == (300,)
    assert fastweights.count(folder, ignore_index=255, cache=cache).params["cache"]["reused"] == 300


def test_a_file_that_is_not_a_cache_is_named(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "cache.sqlite").write_text("not a database " * 100)
    with pytest.raises(ValueError, match=r"cache\.sqlite: not a usable fastweights cache"):
        fastweights.count(folder, cache=tmp_path / "cache.sqlite")


# ---- faults and determinism --------------------------------------------------------------------


def test_a_worker_that_fails_stops_the_pool_cleanly(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = fastweights.engine.run._count_work
    calls = []

    def failing(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("a worker fails")
        return original(*args, **kwargs)

    monkeypatch.setattr(fastweights.engine.run, "_count_work", failing)
    before = threading.active_count()
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="a worker fails"):
        fastweights.count(folder, threads=4)
    assert time.monotonic() - started < 30
    assert threading.active_count() == before  # no worker left behind
    assert not [thread for thread in threading.enumerate() if thread.name.startswith("fastweights")]


def test_counts_do_not_depend_on_threads_or_input_order(folder: Path) -> None:
    paths = sorted(folder.glob("*.npy"))
    reference = fastweights.count(paths, ignore_index=255, threads=1, per_image=True)
    for threads in (2, 8):
        assert fastweights.count(paths, ignore_index=255, threads=threads, per_image=True) == reference
    shuffled = paths[:]
    random.Random(7).shuffle(shuffled)
    other = fastweights.count(shuffled, ignore_index=255, threads=8, per_image=True)
    for field in ("pixels", "images", "image_pixels"):
        np.testing.assert_array_equal(getattr(other, field), getattr(reference, field))
    totals = ("n_images", "n_pixels", "ignored")
    assert [getattr(other, name) for name in totals] == [getattr(reference, name) for name in totals]
    assert other.sources == tuple(str(path) for path in shuffled)  # the order it was given
    rows = {name: row for name, row in zip(other.sources, other.per_image)}
    for name, row in zip(reference.sources, reference.per_image):
        np.testing.assert_array_equal(rows[name], row)
