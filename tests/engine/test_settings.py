"""One `Settings` per count: built from count()'s keywords (each checked, naming the argument), and
handed whole to the backend that counts, so that no setting (threads above all) is lost on the way."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest

import fastweights
from fastweights.api.demo import write_demo_masks
from fastweights.backends import threads as local
from fastweights.cli import main
from fastweights.engine import run as engine_run
from fastweights.engine.settings import Settings


def test_count_keywords_are_the_settings_keywords() -> None:
    # An option added to count() and not to Settings (or the reverse) fails here, not silently.
    count_keywords = set(inspect.signature(fastweights.count).parameters) - {"inputs", "client", "comm"}
    assert count_keywords == set(inspect.signature(Settings.build).parameters)


def test_every_setting_reaches_the_local_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_demo_masks(tmp_path, n_images=3)
    received: list[Settings] = []
    original = local.count
    monkeypatch.setattr(
        local, "count", lambda inputs, settings: received.append(settings) or original(inputs, settings)
    )
    fastweights.count(tmp_path, num_classes=12, ignore_index=[255, 254], threads=3, per_image=True, on_error="skip")
    (settings,) = received
    assert settings.threads == 3 and settings.num_classes == 12 and settings.ignore_index == (254, 255)
    assert settings.per_image and settings.on_error == "skip"


def test_the_command_line_hands_its_threads_to_the_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write_demo_masks(tmp_path, n_images=3)
    received: list[int | None] = []
    original = local.count
    monkeypatch.setattr(
        local, "count", lambda inputs, settings: received.append(settings.threads) or original(inputs, settings)
    )
    assert main(["count", str(tmp_path), "--threads", "3", "--ignore-index", "255", "-q"]) == 0
    assert received == [3]


def test_a_big_input_is_counted_with_every_thread_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    kernel_threads: list[int] = []
    original = engine_run._count_work

    def spy(work, settings, threads):  # type: ignore[no-untyped-def]
        kernel_threads.append(threads)
        return original(work, settings, threads)

    monkeypatch.setattr(engine_run, "_count_work", spy)
    big = np.zeros(engine_run.CHUNK_BYTES + 1, np.uint8)
    for threads in (1, 3):
        kernel_threads.clear()
        assert fastweights.count(big, threads=threads).n_pixels == big.size
        assert kernel_threads == [threads]


@pytest.mark.parametrize(
    ("keywords", "error", "message"),
    [
        ({"threads": 0}, ValueError, "threads=0"),
        ({"checkpoint_every": 0}, ValueError, "checkpoint_every=0"),
        ({"on_error": "ignore"}, ValueError, "on_error='ignore'"),
        ({"device": "gpu"}, ValueError, "device='gpu'"),
        ({"unknown_color": "skip"}, ValueError, "unknown_color='skip'"),
        ({"seed": 1.5}, TypeError, "seed=1.5"),
        ({"shard": (0,)}, TypeError, r"shard=\(0,\)"),
        ({"client": object(), "comm": object()}, ValueError, "client= and comm="),
    ],
)
def test_a_wrong_setting_is_refused_by_name(keywords: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        fastweights.count(np.zeros(4, np.uint8), **keywords)
