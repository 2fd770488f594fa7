"""The sections of BENCHMARKS.md that scripts other than report.py write (the GPU one, the
before/after one): each between its own start and end markers, replaced in place or appended."""

from __future__ import annotations

import re
from pathlib import Path


def write_section(output: Path, start: str, end: str, section: str) -> None:
    """Puts `section` (which begins with `start` and ends with `end`) in place of the one in `output`."""
    text = output.read_text() if output.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
    output.write_text(text.rstrip("\n") + "\n")


def read_section(output: Path, start: str, end: str) -> str:
    """The section of `output` between `start` and `end`, markers included; "" when there is none."""
    text = output.read_text() if output.exists() else ""
    first, last = text.find(start), text.find(end)
    return text[first : last + len(end)] if 0 <= first < last else ""


def publish(output: Path, start: str, end: str, section: str, write: bool) -> None:
    """Prints a section a script measured and, with its --write, puts it in `output` too."""
    print(section)
    if write:
        write_section(output, start, end, section)
