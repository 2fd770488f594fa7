"""Progress where users run: plain lines in a log (no terminal), tqdm's bar in a notebook kernel,
the bar on a terminal; timed by a clock the tests move, never by sleeping."""

from __future__ import annotations

import io
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import fastweights
from fastweights.cli import main
from fastweights.engine import progress
from fastweights.engine.progress import LOG_EVERY, make_reporter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_a_plain_line_every_few_seconds() -> None:
    log, clock = io.StringIO(), Clock()
    report = make_reporter(True, 1000, log, clock)
    assert report is not None
    clock.now += LOG_EVERY / 2
    report(10, 10**6, 0, False)
    assert log.getvalue() == ""  # not yet: a short count writes nothing
    clock.now += LOG_EVERY / 2
    report(400, 8 * 10**8, 0, False)
    clock.now += 1
    report(420, 8.5 * 10**8, 0, False)  # within the interval: no line
    clock.now += LOG_EVERY
    report(900, 18 * 10**8, 3, False)
    clock.now += 1
    report(1000, 20 * 10**8, 3, True)  # the last update always, once a line was written
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 3
    first = LOG_EVERY  # seconds elapsed at the first line: 400 of 1000 files in them
    assert lines[0] == (
        f"fastweights: 400/1,000 files (40.0 %), 800,000,000 pixels, {8e8 / first / 1e6:.1f} Mpx/s, "
        f"00:{int(first):02d} elapsed, 00:{int(first * 600 / 400):02d} left"
    )
    assert lines[1].startswith("fastweights: 900/1,000 files (90.0 %), 3 skipped, 1,800,000,000 pixels")
    assert lines[2].endswith("elapsed, done")


def test_a_count_shorter_than_the_interval_writes_nothing_to_a_log() -> None:
    log, clock = io.StringIO(), Clock()
    report = make_reporter(True, 3, log, clock)
    assert report is not None
    clock.now += LOG_EVERY / 3
    report(3, 100, 0, True)
    assert log.getvalue() == ""


def test_hours_in_the_time_left() -> None:
    log, clock = io.StringIO(), Clock()
    report = make_reporter(True, 10**6, log, clock)
    assert report is not None
    clock.now += 3600
    report(1000, 10**9, 0, False)  # 999 hours left
    assert "1:00:00 elapsed, 999:00:00 left" in log.getvalue()


def test_the_command_line_writes_lines_into_a_log(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for index in range(3):
        np.save(tmp_path / f"m{index}.npy", np.zeros((4, 4), np.uint8))
    monkeypatch.setattr(progress, "LOG_EVERY", 0.0)  # every update a line
    assert main(["count", str(tmp_path), "--threads", "1", "--format", "json"]) == 0
    err = capsys.readouterr().err  # captured: not a terminal
    assert "\r" not in err and "fastweights: 3/3 files (100.0 %), 48 pixels" in err and err.endswith("done\n")
    assert main(["count", str(tmp_path), "--format", "json", "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_a_notebook_kernel_gets_tqdm(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tqdm")
    monkeypatch.setattr(progress, "_in_kernel", lambda: True)
    report = make_reporter(True, 4, io.StringIO(), Clock())
    assert isinstance(report, progress._Reporter) and isinstance(report.sink, progress._TqdmBar)
    bar = report.sink.bar
    report(1, 10, 0, False)
    report(4, 40, 0, True)
    assert bar.n == 4
    assert "4/4" in capsys.readouterr().err  # tqdm.auto outside a real notebook: its text bar


def test_a_notebook_kernel_without_tqdm_gets_the_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "_in_kernel", lambda: True)
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if not installed
    cell = io.StringIO()  # a kernel's stderr is no terminal, and notebooks draw carriage returns
    report = make_reporter(True, 2, cell, Clock())
    assert report is not None
    report(2, 10, 0, True)
    assert cell.getvalue().startswith("\r[") and "2/2 files" in cell.getvalue()


def test_a_kernel_is_told_from_a_terminal_ipython(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not progress._in_kernel()  # pytest: no IPython
    fake = types.ModuleType("IPython")
    shell = types.SimpleNamespace(config={})
    fake.get_ipython = lambda: shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert not progress._in_kernel()  # IPython in a terminal
    shell.config = {"IPKernelApp": {"connection_file": "kernel.json"}}
    assert progress._in_kernel()


def test_import_does_not_load_tqdm() -> None:
    import subprocess

    script = "import sys, fastweights; fastweights.count(__import__('numpy').zeros(3, 'u1'), progress=True); "
    script += "print('tqdm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert fastweights.count(np.zeros(3, np.uint8), progress=True).n_pixels == 3
