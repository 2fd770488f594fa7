"""The package as a user meets it: imports, the command line, the public surface."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import fastweights
from fastweights.cli import main

OPTIONAL = [
    "numba",
    "torch",
    "dask",
    "distributed",
    "mpi4py",
    "nibabel",
    "h5py",
    "zarr",
    "matplotlib",
    "tqdm",
    "PIL",
    "tifffile",
    "cupy",
    "pycocotools",
    "fsspec",
    "s3fs",
]


def test_import_pulls_in_no_optional_dependency() -> None:
    script = f"import sys, fastweights; print([m for m in {OPTIONAL!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_public_surface() -> None:
    assert sorted(fastweights.__all__) == [
        "Counts",
        "SCHEMES",
        "__version__",
        "coco_category_names",
        "coco_instances",
        "coco_panoptic",
        "count",
        "raw",
        "show_config",
    ]
    assert set(fastweights.SCHEMES) >= {"inverse", "balanced", "median", "enet", "sqrt", "effective", "log"}
    assert all("(" in text or "et al" in text or "." in text for text in fastweights.SCHEMES.values())


def test_show_config(capsys) -> None:  # type: ignore[no-untyped-def]
    config = fastweights.show_config()
    assert config["version"] == fastweights.__version__ and config["threads"] >= 1
    assert isinstance(config["openmp"], bool)
    assert "openmp" in capsys.readouterr().out


def test_demo_prints_the_table_and_weights(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "weight (median)" in out and "person" in out and "30,720 ignored" in out
    assert "enet" in out and "effective" in out


def test_python_dash_m_runs_the_command_line() -> None:
    result = subprocess.run([sys.executable, "-m", "fastweights", "info"], capture_output=True, text=True)
    assert result.returncode == 0 and "openmp" in result.stdout


def test_count_then_weights_from_the_saved_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    np.save(tmp_path / "a.npy", np.array([0, 0, 0, 1, 255], np.uint8))
    saved = tmp_path / "counts.json"
    assert (
        main(["count", str(tmp_path / "a.npy"), "--ignore-index", "255", "--scheme", "inverse", "-o", str(saved)]) == 0
    )
    assert "1 ignored" in capsys.readouterr().out
    assert main(["weights", str(saved), "--scheme", "inverse", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["weights"]["values"] == [4 / 3, 4.0]


def test_errors_are_one_line_with_exit_codes(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["count", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "missing: no such file or folder" in err
    np.save(tmp_path / "neg.npy", np.array([-3], np.int8))
    assert main(["count", str(tmp_path / "neg.npy")]) == 1
    assert "negative label -3" in capsys.readouterr().err
    assert main(["count", str(tmp_path / "neg.npy"), "--threads", "0"]) == 2


def test_ci_runs_exactly_the_readme_test_command_then_the_style_checks() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    blocks = [block.split("```", 1)[0].strip() for block in readme.split("```bash\n")[1:3]]
    install_and_demo, install_and_test = blocks
    assert install_and_demo.endswith("pip install . && fastweights demo")
    assert install_and_test.endswith('pip install ".[test]" && python -m pytest')
    commands = [line for line in (root / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    # In the shell the README command activated, so with the ruff and mypy the test extra installs.
    assert commands[-2:] == [install_and_test, "ruff check . && ruff format --check . && mypy"]
    pyproject = (root / "pyproject.toml").read_text()
    assert "strict = true" in pyproject.split("[tool.mypy]", 1)[1].split("[[tool.mypy.overrides]]", 1)[0]


# The floors of the package, bottom to top: a module may import its own floor and those below.
FLOORS = ["base", "kernels", "model", "io", "engine", "backends", "api", "cli"]


def imported_floors(path: Path, package: list[str]) -> set[str]:
    """The floors (first component below fastweights) a module imports, lazily or not, outside
    `if TYPE_CHECKING:` blocks; `fastweights._core` (compiled, below every floor) left out."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for node in ast.walk(block)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            target = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            names = [target[1:]] if node.module else [[*target[1:], alias.name] for alias in node.names]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            names = [module.split(".")[1:] for module in modules if module.split(".")[0] == "fastweights"]
        else:
            continue
        found.update(name[0] for name in names if name and name[0] != "_core")
    return found


def test_floors_import_only_downward() -> None:
    root = Path(fastweights.__file__).parent
    assert sorted(path.name for path in root.iterdir() if path.is_dir() and path.name != "__pycache__") == sorted(
        FLOORS
    )
    checked = 0
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if len(parts) == 1:  # the package's own __init__ and the public paths: above every floor
            continue
        floor = parts[0]
        package = ["fastweights", *parts[:-1]]
        above = set(FLOORS[FLOORS.index(floor) + 1 :])
        assert not imported_floors(path, package) & above, f"{path.relative_to(root)} imports a floor above {floor}"
        checked += 1
    assert checked > 40
