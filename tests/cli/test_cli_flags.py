"""The command line in its own words: every keyword of `Counts.weights` as a flag that changes the
printed weights exactly as the keyword does, errors that name flags (--num-classes) and not Python
keywords (num_classes=), one JSON schema for `count` and `weights`, and --version."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastweights
from fastweights import Counts
from fastweights.api.count import count
from fastweights.cli import _parser, in_flags, keyword_flags, main
from fastweights.export import weights_json

KEYWORD = re.compile(r"\w=")  # keyword=value: the Python spelling, not the command line's


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def masks(tmp_path: Path) -> Path:
    """Four classes, class 2 absent: 10, 4, 0 and 1 pixels over three masks."""
    folder = tmp_path / "masks"
    folder.mkdir()
    np.save(folder / "a.npy", np.array([0, 0, 0, 0, 1, 1, 3], np.uint8))
    np.save(folder / "b.npy", np.array([0, 0, 0, 1], np.uint8))
    np.save(folder / "c.npy", np.array([0, 0, 0, 1], np.uint8))
    return folder


@pytest.fixture
def saved(masks: Path) -> Path:
    path = masks.parent / "counts.json"
    count(masks, num_classes=4).save(path)
    return path


# Each flag with a value, and the keyword of Counts.weights that the flag must equal.
FLAG_CASES: list[tuple[str, list[str], dict[str, Any]]] = [
    ("enet", ["--k", "1.1"], {"k": 1.1}),
    ("effective", ["--beta", "0.9"], {"beta": 0.9}),
    ("log", ["--mu", "3"], {"mu": 3.0}),
    ("median", ["--median-of", "0", "3"], {"median_of": [0, 3]}),
    ("inverse", ["--clip", "2"], {"clip": 2.0}),
    ("inverse", ["--clip", "1.6:4"], {"clip": (1.6, 4.0)}),
    ("inverse", ["--clip", "2:"], {"clip": (2.0, None)}),
    ("inverse", ["--clip", ":4"], {"clip": (None, 4.0)}),
    ("balanced", ["--normalize", "sum"], {"normalize": "sum"}),
    ("sqrt", ["--absent", "max"], {"absent": "max"}),
    ("inverse", ["--absent", "2.5"], {"absent": 2.5}),
    ("enet", ["--k", "1.5", "--normalize", "max", "--clip", "0.5:0.9", "--absent", "max"], {}),
]


@pytest.mark.parametrize(("scheme", "flags", "keywords"), FLAG_CASES)
def test_each_flag_gives_the_weights_of_its_keyword(capsys, masks: Path, saved: Path, scheme, flags, keywords) -> None:
    if not keywords:  # the last case: all of them together
        keywords = {"k": 1.5, "normalize": "max", "clip": (0.5, 0.9), "absent": "max"}
    counts = Counts.load(saved)
    expected = counts.weights(scheme, **keywords).tolist()
    assert expected != counts.weights(scheme).tolist()  # the flag has something to change
    for command in (["weights", saved], ["count", masks, "--num-classes", "4", "-q"]):
        code, out, err = run(capsys, *command, "--scheme", scheme, *flags, "--format", "json")
        assert code == 0, err
        entry = json.loads(out)["weights"]
        assert entry["values"] == expected
        assert entry["scheme"] == scheme
        shown = {key: entry["options"][key] for key in keywords}
        assert shown == {key: list(value) if isinstance(value, tuple) else value for key, value in keywords.items()}


def test_scheme_parameter_flags_show_in_the_table(capsys, saved: Path) -> None:
    code, out, _ = run(capsys, "weights", saved, "--scheme", "enet", "--k", "1.1")
    assert code == 0
    expected = Counts.load(saved).weights("enet", k=1.1)
    assert f"{expected[0]:.4f}" in out and f"{expected[3]:.4f}" in out


@pytest.mark.parametrize(
    ("flags", "takers"),
    [
        (["--k", "1.1"], "enet"),
        (["--beta", "0.9"], "effective"),
        (["--mu", "0.5"], "log"),
        (["--median-of", "0"], "median"),
    ],
)
@pytest.mark.parametrize("command", ["weights", "count"])
def test_a_parameter_of_another_scheme_is_refused_by_its_flag(capsys, saved: Path, flags, takers, command) -> None:
    # count refuses it before counting: the path does not exist, and the error is not about it
    target = saved if command == "weights" else saved.parent / "missing"
    code, out, err = run(capsys, command, target, "--scheme", "inverse", *flags)
    assert code == 2 and out == ""
    assert f"{flags[0]} is a parameter of --scheme {takers}, not of inverse" in err
    assert "missing" not in err and not KEYWORD.search(err)


@pytest.mark.parametrize(
    ("flags", "shown"),
    [
        (["--scheme", "enet", "--k", "0.5"], "--k 0.5: enet's k must be > 1"),
        (["--scheme", "effective", "--beta", "1"], "--beta 1.0: effective's beta must be in [0, 1)"),
        (["--scheme", "log", "--mu", "0"], "--mu 0.0: log's mu must be > 0"),
        (["--median-of", "7"], "--median-of [7]: 7 is not a class id (0..3)"),
        (["--median-of", "2"], "--median-of [2]: classes [2] have no pixels"),
        (["--clip", "5:2"], "--clip (5.0, 2.0): low 5.0 is greater than high 2.0"),
        (["--clip", "-1"], "--clip -1.0: a bound must be >= 0"),
        (["--absent", "-1"], "--absent -1.0: expected a number >= 0"),
        (["--absent", "error"], "classes with no pixels: [2] (--absent error)"),
        (
            ["--scheme", "log", "--normalize", "max", "--median-of", "0"],
            "--median-of is a parameter of --scheme median",
        ),
    ],
)
def test_a_value_out_of_range_is_named_by_its_flag(capsys, saved: Path, flags, shown) -> None:
    code, _, err = run(capsys, "weights", saved, *flags)
    assert code == 2 and shown in err and not KEYWORD.search(err)


def test_count_checks_the_weight_flags_before_counting(capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "count", tmp_path / "missing", "--scheme", "enet", "--k", "0.5")
    assert code == 2 and "--k 0.5: enet's k must be > 1" in err and "missing" not in err


def test_the_counts_are_saved_before_weights_that_fail(capsys, masks: Path) -> None:
    saved = masks.parent / "kept.json"
    code, out, err = run(capsys, "count", masks, "--num-classes", "4", "--absent", "error", "-o", saved, "-q")
    assert code == 2 and out == "" and "classes with no pixels: [2] (--absent error)" in err
    assert Counts.load(saved) == count(masks, num_classes=4)  # `fastweights weights` takes it from there


def test_clip_that_is_not_a_range_is_a_usage_error(capsys, saved: Path) -> None:
    for text in ("a", "1:2:3", "1,2"):
        with pytest.raises(SystemExit) as exit_info:
            main(["weights", str(saved), "--clip", text])
        assert exit_info.value.code == 2
        assert "expected HIGH or LOW:HIGH" in capsys.readouterr().err


# ---- --level: the intervals of an estimate -------------------------------------------------------


@pytest.fixture
def estimate(tmp_path: Path) -> Path:
    """Counts of 10 of 20 masks, every class in every mask (so that the sample sees them all)."""
    folder = tmp_path / "many"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for index in range(20):
        np.save(folder / f"m{index:02d}.npy", np.repeat(np.arange(3, dtype=np.uint8), rng.integers(1, 50, 3)))
    path = tmp_path / "estimate.json"
    count(folder, sample=10, num_classes=3).save(path)
    return path


def test_level_gives_the_intervals_of_its_keyword(capsys, estimate: Path) -> None:
    counts = Counts.load(estimate)
    expected, usual = counts.weights("inverse", level=0.5), counts.weights("inverse")
    assert expected.low.tolist() != usual.low.tolist()
    code, out, _ = run(capsys, "weights", estimate, "--scheme", "inverse", "--level", "0.5", "--format", "json")
    assert code == 0
    entry = json.loads(out)["weights"]
    assert entry["values"] == expected.tolist() and entry["options"]["level"] == 0.5
    assert entry["interval"] == {"level": 0.5, "low": expected.low.tolist(), "high": expected.high.tolist()}
    code, out, _ = run(capsys, "weights", estimate, "--scheme", "inverse", "--level", "0.5")
    assert code == 0 and "50 % interval" in out
    low, high = expected.low[1], expected.high[1]
    assert f"{low:.4f} - {high:.4f}" in out


def test_level_goes_with_an_estimate_and_within_0_and_1(capsys, estimate: Path, saved: Path, masks: Path) -> None:
    code, _, err = run(capsys, "weights", estimate, "--level", "1.5")
    assert code == 2 and "--level 1.5: expected a confidence level between 0 and 1" in err
    code, _, err = run(capsys, "weights", saved, "--level", "0.9")
    assert code == 2 and f"--level: {saved} holds exact counts" in err
    code, _, err = run(capsys, "count", masks, "--level", "0.9")
    assert code == 2 and "it goes with --sample" in err
    with pytest.raises(ValueError, match="level=0"):
        Counts.load(saved).weights(level=0)  # checked estimate or not


# ---- one JSON schema ---------------------------------------------------------------------------


def test_count_and_weights_json_share_one_schema(capsys, masks: Path, saved: Path) -> None:
    _, counted, _ = run(capsys, "count", masks, "--num-classes", "4", "-q", "--format", "json", "--scheme", "enet")
    _, weighed, _ = run(capsys, "weights", saved, "--format", "json", "--scheme", "enet")
    first, second = json.loads(counted), json.loads(weighed)
    assert first.keys() == second.keys() and "weights" in first
    assert first["weights"].keys() == second["weights"].keys() == {"scheme", "options", "values"}
    assert first["weights"] == second["weights"]
    for text in (counted, weighed):  # either document is a Counts file
        document = saved.parent / "document.json"
        document.write_text(text)
        assert Counts.load(document) == Counts.load(saved)
    assert json.loads(weights_json(np.array([1.0, 2.0]), "enet", {"k": 1.1})) == {
        "scheme": "enet",
        "options": {"k": 1.1},
        "values": [1.0, 2.0],
    }


# ---- errors in flags ---------------------------------------------------------------------------


FLAGS = keyword_flags(_parser())
NOT_FLAGS = {"inputs", "progress", "client", "comm"}  # the inputs; -q; Python objects


def test_every_keyword_of_count_and_weights_has_a_flag() -> None:
    keywords = set(inspect.signature(count).parameters) - NOT_FLAGS
    keywords |= {"absent", "normalize", "clip", "level", "k", "beta", "mu", "median_of"}
    assert keywords <= FLAGS.keys()


@pytest.mark.parametrize("keyword", sorted(set(inspect.signature(count).parameters) - NOT_FLAGS))
def test_each_count_keyword_in_a_message_becomes_its_flag(keyword: str) -> None:
    flag = "--" + keyword.replace("_", "-")
    assert FLAGS[keyword] == flag
    assert in_flags(f"{keyword}=7: expected something else", FLAGS) == f"{flag} 7: expected something else"
    assert in_flags(f"x.png: {keyword}='a b' is wrong", FLAGS) == f"x.png: {flag} a b is wrong"
    assert in_flags(f"pass {keyword}=True ({flag}) to count", FLAGS) == f"pass {flag} to count"
    assert in_flags(f"or the default ({keyword}=None)", FLAGS) == f"or the default (no {flag})"
    assert in_flags(f"pass {keyword}= a name", FLAGS) == f"pass {flag} a name"
    # a path holding the keyword is a path, not a keyword
    assert in_flags(f"/data/{keyword}=3/m.png: bad", FLAGS) == f"/data/{keyword}=3/m.png: bad"


def test_flags_that_are_no_keyword_are_left_alone(capsys, tmp_path: Path) -> None:
    assert {"format", "output", "plot", "quiet", "debug"}.isdisjoint(FLAGS)
    (tmp_path / "x.json").write_text('{"format": "other"}')
    code, _, err = run(capsys, "weights", tmp_path / "x.json")
    assert code == 2 and "not a fastweights Counts file (format='other')" in err


def test_count_errors_name_flags(capsys, masks: Path, tmp_path: Path) -> None:
    cases = [
        (["--num-classes", "-3"], "--num-classes -3: expected an integer from 1 to"),
        (["--threads", "0"], "--threads 0: expected a positive integer"),
        (["--stack-axis", "5"], "--stack-axis 5 is out of range"),
        (["--shard", "3/2"], "--shard 3/2: expected 0 <= i < N"),
        (["--sample", "0"], "--sample 0.0: expected a share"),
        (["--checkpoint-every", "0", "--checkpoint", tmp_path / "state.json"], "--checkpoint-every 0.0: expected"),
    ]
    for flags, shown in cases:
        code, _, err = run(capsys, "count", masks, "-q", *flags)
        assert code in (1, 2) and shown in err, (flags, err)
        assert not KEYWORD.search(err), err


def test_a_jpeg_mask_names_the_flag_that_allows_it(capsys, tmp_path: Path) -> None:
    pil = pytest.importorskip("PIL.Image")
    pil.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "mask.jpg")
    code, _, err = run(capsys, "count", tmp_path / "mask.jpg")
    assert code == 1 and "--allow-lossy" in err and "allow_lossy" not in err


def test_debug_keeps_the_library_message(masks: Path) -> None:
    with pytest.raises(ValueError, match="num_classes=-3"):
        main(["--debug", "count", str(masks), "--num-classes", "-3"])


# ---- --version ---------------------------------------------------------------------------------


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"fastweights {fastweights.__version__}\n"
