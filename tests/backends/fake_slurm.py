"""SLURM's sbatch and scancel on one machine, enough of them to run docs/recipes as a cluster would,
for tests/backends/test_recipes.py:

    python fake_slurm.py STATE sbatch [OPTIONS] SCRIPT [ARGS...]
    python fake_slurm.py STATE scancel JOBID...

sbatch reads the script's #SBATCH lines (those above its first command, as sbatch does: one below
it is refused here, since sbatch would silently ignore it), then its command-line options, which
win. An option sbatch does not know, or a value it would refuse, is an error. The job runs now (a
copy of its script made at submission, as with sbatch), in the current folder, with its output in
slurm-%j.out (slurm-%A_%a.out for a task of an array): the tasks of --array all at once, each in
its own process with the variables SLURM sets, and sbatch returns when they are done. A job whose
--dependency=afterok jobs did not all succeed never runs (SLURM would leave it pending for ever).
With FAKE_SLURM_DETACH=1 a job is started and left running, as a Dask worker is, until scancel
ends it. STATE is a folder: jobs.json holds every job."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

# sbatch's options (long name: short name, whether it takes a value), those the recipes and
# dask-jobqueue's job scripts use and their usual neighbours.
OPTIONS: dict[str, tuple[str | None, bool]] = {
    "account": ("A", True),
    "array": ("a", True),
    "chdir": ("D", True),
    "constraint": ("C", True),
    "cpus-per-task": ("c", True),
    "dependency": ("d", True),
    "error": ("e", True),
    "exclusive": (None, False),
    "export": (None, True),
    "gres": (None, True),
    "job-name": ("J", True),
    "mail-type": (None, True),
    "mail-user": (None, True),
    "mem": (None, True),
    "mem-per-cpu": (None, True),
    "nodes": ("N", True),
    "ntasks": ("n", True),
    "output": ("o", True),
    "parsable": (None, False),
    "partition": ("p", True),
    "qos": ("q", True),
    "time": ("t", True),
}
SHORT = {short: name for name, (short, _) in OPTIONS.items() if short}

# What sbatch accepts for the values these tests care about.
VALUES = {
    "array": re.compile(r"\d+(-\d+(:\d+)?)?(,\d+(-\d+(:\d+)?)?)*(%\d+)?"),
    "cpus-per-task": re.compile(r"[1-9]\d*"),
    "mem": re.compile(r"\d+[KMGT]?"),
    "nodes": re.compile(r"[1-9]\d*(-[1-9]\d*)?"),
    "ntasks": re.compile(r"[1-9]\d*"),
    "time": re.compile(r"\d+|\d+:\d{2}|\d+:\d{2}:\d{2}|\d+-\d+|\d+-\d+:\d{2}|\d+-\d+:\d{2}:\d{2}"),
    "dependency": re.compile(r"afterok(:\d+)+"),  # the only kind the fake resolves
}


class Refused(Exception):
    """What sbatch would refuse, with its message."""


def parse_options(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """sbatch's options from the start of `words` (name -> value, "" for a flag), and the rest."""
    options: dict[str, str] = {}
    position = 0
    while position < len(words) and words[position].startswith("-"):
        word = words[position]
        position += 1
        if word.startswith("--"):
            name, equals, value = word[2:].partition("=")
            has_value = bool(equals)
        else:
            name, value = SHORT.get(word[1:2], word), word[2:]
            has_value = bool(value)
        if name not in OPTIONS:
            raise Refused(f"sbatch: unrecognized option '{word}'")
        if OPTIONS[name][1] and not has_value:
            if position == len(words):
                raise Refused(f"sbatch: option '{word}' requires an argument")
            value = words[position]
            position += 1
        elif not OPTIONS[name][1] and has_value:
            raise Refused(f"sbatch: option '--{name}' doesn't allow an argument")
        if name in VALUES and not VALUES[name].fullmatch(value):
            raise Refused(f"sbatch: invalid --{name} value '{value}'")
        options[name] = value
    return options, words[position:]


def directives(script: Path) -> dict[str, str]:
    """The options of the script's #SBATCH lines."""
    lines = script.read_text().splitlines()
    if not lines or not lines[0].startswith("#!"):
        raise Refused("sbatch: error: This does not look like a batch script: the first line must start with #!")
    words: list[str] = []
    commands_started = False
    for number, line in enumerate(lines[1:], start=2):
        if line.startswith("#SBATCH"):
            if commands_started:
                raise Refused(f"{script}:{number}: #SBATCH below the first command, which sbatch ignores")
            words += shlex.split(line[len("#SBATCH") :])
        elif line.strip() and not line.startswith("#"):
            commands_started = True
    options, rest = parse_options(words)
    if rest:
        raise Refused(f"{script}: #SBATCH line holds {rest[0]!r}, not an option")
    return options


def array_indices(spec: str) -> list[int]:
    indices: list[int] = []
    for part in spec.split("%")[0].split(","):
        first, _, rest = part.partition("-")
        last, _, step = rest.partition(":")
        indices += range(int(first), int(last or first) + 1, int(step or 1))
    return indices


def sbatch(state: Path, words: list[str]) -> str:
    options, rest = parse_options(words)
    if not rest:
        raise Refused("sbatch: error: no batch script given")
    script, arguments = Path(rest[0]), rest[1:]
    options = {**directives(script), **options}
    jobs = load(state)
    job_id = max((int(job) for job in jobs), default=1000) + 1
    indices = array_indices(options["array"]) if "array" in options else []
    job: dict[str, Any] = {"argv": words, "options": options, "state": "PENDING", "pids": []}
    jobs[str(job_id)] = job
    needed = options["dependency"].split(":")[1:] if "dependency" in options else []
    if any(jobs.get(other, {}).get("state") != "COMPLETED" for other in needed):
        job["state"] = "DEPENDENCY_NEVER_SATISFIED"
        save(state, jobs)
        return str(job_id)
    interpreter = shlex.split(script.read_text().splitlines()[0][2:])
    copy = state / f"job-{job_id}.sh"  # as sbatch does: dask-jobqueue deletes its script once submitted
    copy.write_text(script.read_text())
    processes = []
    tasks: list[int | None] = [*indices] or [None]
    for task in tasks:
        env = {**os.environ, "SLURM_JOB_ID": str(job_id), "SLURM_JOB_NAME": options.get("job-name", script.name)}
        env["SLURM_SUBMIT_DIR"] = os.getcwd()
        if "cpus-per-task" in options:
            env["SLURM_CPUS_PER_TASK"] = options["cpus-per-task"]
        log = f"slurm-{job_id}.out"
        if task is not None:
            env.update(
                SLURM_ARRAY_JOB_ID=str(job_id),
                SLURM_ARRAY_TASK_ID=str(task),
                SLURM_ARRAY_TASK_COUNT=str(len(indices)),
                SLURM_ARRAY_TASK_MIN=str(min(indices)),
                SLURM_ARRAY_TASK_MAX=str(max(indices)),
            )
            log = f"slurm-{job_id}_{task}.out"
        with open(log, "w") as output:
            processes.append(
                subprocess.Popen(
                    [*interpreter, str(copy), *arguments],
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # scancel ends the job's whole process group
                )
            )
    job["pids"] = [process.pid for process in processes]
    if os.environ.get("FAKE_SLURM_DETACH") == "1":
        job["state"] = "RUNNING"
    else:
        codes = [process.wait() for process in processes]
        job["state"] = "COMPLETED" if not any(codes) else "FAILED"
        job["exit_codes"] = codes
    save(state, jobs)
    return str(job_id)


def scancel(state: Path, job_ids: list[str]) -> None:
    jobs = load(state)
    for job_id in job_ids:
        job = jobs[job_id]
        if job["state"] == "RUNNING":
            for pid in job["pids"]:
                try:
                    os.killpg(pid, signal.SIGTERM)
                except ProcessLookupError:  # it ended on its own
                    pass
            job["state"] = "CANCELLED"
    save(state, jobs)


def load(state: Path) -> dict[str, Any]:
    path = state / "jobs.json"
    return json.loads(path.read_text()) if path.exists() else {}


def save(state: Path, jobs: dict[str, Any]) -> None:
    (state / "jobs.json").write_text(json.dumps(jobs, indent=1))


def main(argv: list[str]) -> int:
    state, command, words = Path(argv[0]), argv[1], argv[2:]
    try:
        with open(state / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # Dask submits its jobs at once: one at a time here
            if command == "sbatch":
                job_id = sbatch(state, words)
                print(job_id if "--parsable" in words else f"Submitted batch job {job_id}")
            else:
                scancel(state, words)
    except Refused as refused:
        print(refused, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
