"""The cluster recipes of docs/recipes, run here as they would run there: the job-array scripts as
SLURM would run their tasks, submit.sh through a stand-in sbatch (fake_slurm.py), the Dask example
on a LocalCluster and on SLURMCluster's own job scripts; each must give the Counts of one local
count. docs/distributed.md shows the files as they are."""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from helpers import ROOT, assert_same_statistics

import fastweights
from fastweights import Counts
from fastweights.api.demo import write_demo_masks

RECIPES = ROOT / "docs" / "recipes"
FAKE_SLURM = Path(__file__).with_name("fake_slurm.py")

# Dask's own sockets and clusters warn as they come and go: not this project's to fix.
pytestmark = [
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:.*[Pp]ort.*:UserWarning"),
]


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def masks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo masks of uneven sizes, so that the shares balanced by bytes hold unequal numbers of files."""
    folder = tmp_path_factory.mktemp("recipes") / "masks"
    write_demo_masks(folder, n_images=9, shape=(60, 80))
    write_demo_masks(folder / "big", n_images=3, shape=(240, 320), seed=1)
    return folder


@pytest.fixture
def cluster_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A bin folder first on PATH with `fastweights` (this Python's, its command lines kept in
    fastweights.log beside jobs.json), and `sbatch` and `scancel` from fake_slurm.py, whose jobs.json
    is returned; the test runs in an empty folder, as a job would."""
    bin_folder, state = tmp_path / "bin", tmp_path / "slurm"
    bin_folder.mkdir()
    state.mkdir()
    commands = {
        "fastweights": f'printf "%s\\n" "$*" >> "{state}/fastweights.log"\nexec "{sys.executable}" -m fastweights "$@"',
        "sbatch": f'exec "{sys.executable}" "{FAKE_SLURM}" "{state}" sbatch "$@"',
        "scancel": f'exec "{sys.executable}" "{FAKE_SLURM}" "{state}" scancel "$@"',
    }
    for name, line in commands.items():
        (bin_folder / name).write_text(f"#!/bin/sh\n{line}\n")
        (bin_folder / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    yield state / "jobs.json"
    jobs = json.loads((state / "jobs.json").read_text()) if (state / "jobs.json").exists() else {}
    for pid in [pid for job in jobs.values() if job["state"] == "RUNNING" for pid in job["pids"]]:
        try:  # a worker's job still running: the test failed before scancel
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def bash(script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(RECIPES / script), *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


# ---- job arrays ----------------------------------------------------------------------------------


def test_array_tasks_and_the_merge_give_the_local_count(masks: Path, cluster_path: Path) -> None:
    """count-array.sbatch run as an array's tasks, all at once with the variables SLURM sets, then
    merge.sbatch: the merged Counts, per-image rows and sources in order included, and the weights."""
    tasks = 3
    running = [
        subprocess.Popen(
            ["bash", str(RECIPES / "count-array.sbatch"), str(masks), "--ignore-index", "255", "--per-image"],
            env={
                **os.environ,
                "SLURM_ARRAY_TASK_ID": str(task),
                "SLURM_ARRAY_TASK_COUNT": str(tasks),
                "SLURM_CPUS_PER_TASK": "2",
            },
            stderr=subprocess.PIPE,
            text=True,
        )
        for task in range(tasks)
    ]
    for task in running:
        _, errors = task.communicate(timeout=120)
        assert task.returncode == 0, errors
    commands = (cluster_path.parent / "fastweights.log").read_text().splitlines()
    options = "--ignore-index 255 --per-image --threads 2"  # the task's CPUs as its threads
    assert sorted(commands) == [
        f"count {masks} {options} --shard {task}/{tasks} -q -o parts/part-{task:05d}.json" for task in range(tasks)
    ]
    parts = sorted(Path("parts").iterdir())
    assert [part.name for part in parts] == [f"part-{task:05d}.json" for task in range(tasks)]
    assert all(Counts.load(part).n_images > 0 for part in parts)

    result = bash("merge.sbatch", "--format", "json", SHARDS=str(tasks))
    assert result.returncode == 0, result.stderr
    expected = fastweights.count(masks, ignore_index=255, per_image=True)
    merged = Counts.load("counts.json")
    assert_same_statistics(merged, expected)
    assert merged.sources == expected.sources and merged == expected
    commands = (cluster_path.parent / "fastweights.log").read_text().splitlines()[tasks:]
    assert commands == [f"merge {' '.join(map(str, parts))} -o counts.json", "weights counts.json --format json"]
    assert json.loads(result.stdout)["weights"]["values"] == pytest.approx(list(expected.weights("median")), rel=1e-12)


def test_the_scripts_refuse_what_would_count_wrongly(masks: Path, cluster_path: Path) -> None:
    # a part missing or left from another run: merged, it would not be the count of the data set
    Path("parts").mkdir()
    fastweights.count(masks, ignore_index=255, shard="0/2").save("parts/part-00000.json")
    result = bash("merge.sbatch", SHARDS="2")
    assert result.returncode == 1 and "1 parts in parts/, expected SHARDS=2" in result.stderr
    assert not Path("counts.json").exists()
    result = bash("merge.sbatch")
    assert result.returncode == 1 and "set SHARDS to the number of array tasks" in result.stderr
    # outside an array, or in one that does not start at 0: refused, not a share no other task counts
    result = bash("count-array.sbatch", str(masks))
    assert result.returncode == 1 and "not an array task" in result.stderr
    result = bash("count-array.sbatch", str(masks), SLURM_ARRAY_TASK_ID="4", SLURM_ARRAY_TASK_COUNT="4")
    assert result.returncode == 2 and "--shard 4/4: expected 0 <= i < N" in result.stderr
    # one task rerun alone counts its share of the whole array, not the whole data set
    result = bash(
        "count-array.sbatch",
        str(masks),
        "--ignore-index",
        "255",
        SLURM_ARRAY_TASK_ID="1",
        SLURM_ARRAY_TASK_COUNT="1",
        SHARDS="2",
    )
    assert result.returncode == 0, result.stderr
    assert Counts.load("parts/part-00001.json") == fastweights.count(masks, ignore_index=255, shard="1/2")


def test_submit_chains_the_array_and_the_merge_through_sbatch(masks: Path, cluster_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(RECIPES / "submit.sh"), str(masks), "3", "--ignore-index", "255"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    jobs = json.loads(cluster_path.read_text())
    (count_id, count), (merge_id, merge) = jobs.items()
    assert result.stdout == f"counting in job {count_id} (3 tasks), then merging in job {merge_id}\n"
    assert count["options"]["array"] == "0-2" and count["exit_codes"] == [0, 0, 0]
    assert merge["options"]["dependency"] == f"afterok:{count_id}" and merge["state"] == "COMPLETED"
    expected = fastweights.count(masks, ignore_index=255)
    assert Counts.load("counts.json") == expected
    log = Path(f"slurm-{merge_id}.out").read_text()
    assert "3 counts merged: 12 images" in log and "weight (median)" in log


def test_a_failed_task_leaves_the_merge_pending(cluster_path: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_demo_masks(data, n_images=4, shape=(60, 80))
    (data / "mask_001.npy").write_bytes(b"not a mask")
    result = subprocess.run(
        ["bash", str(RECIPES / "submit.sh"), str(data), "2"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr  # sbatch submits; the jobs fail or wait later
    (count_id, count), (_, merge) = json.loads(cluster_path.read_text()).items()
    assert count["state"] == "FAILED" and count["exit_codes"] == [1, 0]
    assert "mask_001.npy" in Path(f"slurm-{count_id}_0.out").read_text()
    assert merge["state"] == "DEPENDENCY_NEVER_SATISFIED" and not Path("counts.json").exists()


@pytest.mark.parametrize("script", ["count-array.sbatch", "merge.sbatch"])
def test_sbatch_lines_are_options_sbatch_takes(script: str) -> None:
    fake = load_module(FAKE_SLURM)
    options = fake.directives(RECIPES / script)
    assert options["cpus-per-task"] and options["mem"] and options["time"] and options["job-name"]
    if script == "count-array.sbatch":
        assert options["array"] == "0-15"  # from 0 to N-1, as `--shard i/N` numbers the shares
    else:
        assert "array" not in options


def test_the_fake_sbatch_refuses_what_sbatch_would(tmp_path: Path) -> None:
    """The check above can fail: options sbatch does not know, bad values, and #SBATCH lines it
    would ignore."""
    fake = load_module(FAKE_SLURM)
    script = tmp_path / "job.sbatch"
    for body, message in [
        ("#SBATCH --cpus=8\n", "unrecognized option '--cpus=8'"),
        ("#SBATCH --time=2h\n", "invalid --time value '2h'"),
        ("#SBATCH --array=1..4\n", "invalid --array value"),
        ("#SBATCH --exclusive=yes\n", "doesn't allow an argument"),
        ("echo hi\n#SBATCH --mem=2G\n", "below the first command"),
    ]:
        script.write_text("#!/bin/bash\n" + body)
        with pytest.raises(fake.Refused, match=re.escape(message)):
            fake.directives(script)
    script.write_text("echo no interpreter\n")
    with pytest.raises(fake.Refused, match="first line must start with #!"):
        fake.directives(script)
    assert fake.array_indices("0-4:2,7%2") == [0, 2, 4, 7]


# ---- Dask -----------------------------------------------------------------------------------------


def test_dask_example_on_a_local_cluster(
    masks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask_jobqueue")
    example = load_module(RECIPES / "dask_slurm.py")
    made: list[int] = []

    def local_cluster(jobs: int) -> object:
        made.append(jobs)
        return distributed.LocalCluster(n_workers=jobs, threads_per_worker=1, processes=False, dashboard_address=":0")

    monkeypatch.setattr(example, "make_cluster", local_cluster)
    output = tmp_path / "counts.json"
    counts = example.main([str(masks), "--jobs", "2", "--ignore-index", "255", "-o", str(output)])
    expected = fastweights.count(masks, ignore_index=255)
    assert made == [2] and counts == expected and Counts.load(output) == expected
    assert counts.params["dask"]["workers"] == 2
    assert capsys.readouterr().out == f"{expected}\n"


def test_dask_example_on_slurm_jobs(masks: Path, cluster_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example as it is: SLURMCluster writes its workers' job scripts, which the stand-in sbatch
    checks (options it knows) and starts as processes here, and scancel ends."""
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask_jobqueue")
    example = load_module(RECIPES / "dask_slurm.py")
    monkeypatch.setenv("FAKE_SLURM_DETACH", "1")
    # the example waits for its workers as long as SLURM takes; here they start at once, or never
    wait = functools.partialmethod(distributed.Client.wait_for_workers, timeout=120)
    monkeypatch.setattr(distributed.Client, "wait_for_workers", wait)
    try:
        counts = example.main([str(masks), "--jobs", "2", "--ignore-index", "255", "-o", "counts.json"])
    except TimeoutError:
        logs = "".join(log.read_text() for log in sorted(Path().glob("slurm-*.out")))
        pytest.fail(f"the workers' jobs did not start:\n{logs}")
    assert counts == fastweights.count(masks, ignore_index=255)
    assert counts.params["dask"]["workers"] == 2
    jobs = json.loads(cluster_path.read_text())
    assert len(jobs) == 2 and all(job["state"] == "CANCELLED" for job in jobs.values())
    for job in jobs.values():
        options = job["options"]
        assert options["cpus-per-task"] == "8" and options["time"] == "02:00:00"
        assert options["job-name"] == "fastweights-dask" and options["ntasks"] == "1"
        assert options["mem"] == "15G"  # memory="16GB": 14.9 GiB, in SLURM's units


# ---- the docs ------------------------------------------------------------------------------------


def test_the_docs_show_each_recipe_as_it_is() -> None:
    """Each file of docs/recipes is shown in docs/distributed.md, in the code block after its link."""
    lines = (ROOT / "docs" / "distributed.md").read_text(encoding="utf-8").splitlines()
    shown: dict[str, str] = {}
    for number, line in enumerate(lines):
        link = re.match(r"\[`recipes/([^`]+)`\]\(recipes/\1\)", line)
        if link:
            start = next(n for n in range(number + 1, len(lines)) if lines[n].startswith("```"))
            end = lines.index("```", start + 1)
            shown[link.group(1)] = "\n".join(lines[start + 1 : end]) + "\n"
    files = sorted(path.name for path in RECIPES.iterdir())
    assert sorted(shown) == files
    for name in files:
        assert shown[name] == (RECIPES / name).read_text(encoding="utf-8"), f"docs/distributed.md shows an old {name}"
