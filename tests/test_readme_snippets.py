"""The README's "Use with your framework" snippets, run as they are, in a folder holding `masks/`."""

from __future__ import annotations

import importlib.util
import os
import re
import runpy
from pathlib import Path

import pytest

from fastweights.api.demo import write_demo_masks

README = Path(__file__).resolve().parents[1] / "README.md"


def snippets() -> list[str]:
    text = README.read_text()
    section = text.split("## Use with your framework", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_the_section_has_a_snippet_per_framework() -> None:
    code = "\n".join(snippets())
    for name in ("torch_weight", "keras_sample_weight", "smp_class_weights", "monai_weights", "mmseg_class_weight"):
        assert name in code
    assert "sample=0.25" in code


@pytest.mark.parametrize("index", range(len(snippets())))
def test_snippet_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    code = snippets()[index]
    needs = re.match(r"# needs: (.+)\n", code)
    for module in needs.group(1).split(", ") if needs else ():
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"snippet {index} needs {module}, which is not installed")
    write_demo_masks(tmp_path / "masks")
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "snippet.py"
    script.write_text(code)
    runpy.run_path(os.fspath(script), run_name="__main__")
    assert capsys.readouterr().out.strip() or (tmp_path / "class_weight.json").exists()
