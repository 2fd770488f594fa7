"""The full fuzz run (slow: minutes; not collected by pytest): several thousand mutated files per
format, each counted in a worker process under a memory limit and compared with the strict
reference. Prints a table of outcomes per format and the distinct failure causes; with --keep,
writes each failing file (and a JSON line saying what happened) to a folder to reproduce it.

    python tests/fuzz/run_full.py --per-format 3000 --keep /tmp/fuzz-failures
    python tests/fuzz/run_full.py --per-format 500 --formats npy tiff-2d
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fuzz.corpus import FORMATS
from fuzz.runner import FAILURES, OUTCOMES, Result, cases, run


def _generic(text: str) -> str:
    """A message without what varies from file to file: paths, numbers, quoted values."""
    text = re.sub(r"/\S+", "PATH", text)
    text = re.sub(r"b?'[^']*'|\"[^\"]*\"", "'.'", text)
    return re.sub(r"\d+", "#", text)


def cause(result: Result) -> str:
    """A failure's cause: its outcome and what was raised or refused, with what varies from file to
    file left out; for a wrong count, the kind of the last mutation."""
    detail = result.detail
    if result.outcome == "counted-oracle-refused":
        reason = detail.partition("reference: ")[2]
        lenient = "lenient decode equal" if reason.endswith("lenient decode") else "no lenient decode"
        detail = f"{_generic(reason.partition('; equal')[0])[:90]} ({lenient})"
    elif result.outcome == "wrong":
        detail = _generic(result.case.mutation.split(" + ")[-1])[:40]
    elif result.outcome in ("other-exception", "unclear"):
        detail = _generic(detail.partition(" (at ")[0])[:110]
    elif result.outcome == "memory":
        detail = "MemoryError" if detail.startswith("MemoryError") else "resident memory past the allowance"
    return f"{result.outcome} | {detail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-format", type=int, default=3000, help="mutated files per format")
    parser.add_argument("--formats", nargs="*", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="worker processes counting in parallel")
    parser.add_argument("--keep", help="folder for the failing files and failures.jsonl")
    parser.add_argument("--examples", type=int, default=3, help="examples listed per failure cause")
    args = parser.parse_args()
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        log = open(os.path.join(args.keep, "failures.jsonl"), "a")
    tables = {}
    causes: dict[str, list[Result]] = collections.defaultdict(list)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fastweights-fuzz-") as folder:
        for fmt in args.formats:
            began = time.monotonic()
            tally: collections.Counter[str] = collections.Counter()
            for result in run(cases(fmt, args.per_format, args.seed), folder, args.workers):
                tally[result.outcome] += 1
                if result.outcome in FAILURES:
                    causes[f"{fmt} | {cause(result)}"].append(result)
                    if args.keep:
                        name = f"{fmt}_{result.case.name}"
                        with open(os.path.join(args.keep, name), "wb") as file:
                            file.write(result.case.data)
                        record = {
                            "file": name,
                            "format": fmt,
                            "outcome": result.outcome,
                            "mutation": result.case.mutation,
                            "detail": result.detail,
                            "spec": result.case.spec,
                            "truncated_images": result.case.truncated_images,
                            "reference": result.oracle,
                        }
                        log.write(json.dumps(record) + "\n")
                        log.flush()
            tables[fmt] = (tally, time.monotonic() - began)
            print(f"{fmt}: {sum(tally.values())} files in {tables[fmt][1]:.0f} s: {dict(tally)}", flush=True)
    print()
    print(f"{'format':16}{'files':>7}{'s':>6}" + "".join(f"{o[:12]:>13}" for o in OUTCOMES))
    for fmt, (tally, seconds) in tables.items():
        row = "".join(f"{tally.get(o, 0):>13}" for o in OUTCOMES)
        print(f"{fmt:16}{sum(tally.values()):>7}{seconds:>6.0f}{row}")
    print(f"\ntotal {time.monotonic() - started:.0f} s\n\nfailure causes ({len(causes)}):")
    for key, results in sorted(causes.items(), key=lambda item: (item[0].split(" | ")[0], -len(item[1]))):
        print(f"\n[{len(results)}] {key}")
        for result in results[: args.examples]:
            print(f"    {result.case.name}: {result.case.mutation[:150]}")
            print(f"        {result.detail[:300]}")
    return 1 if causes else 0


if __name__ == "__main__":
    sys.exit(main())
