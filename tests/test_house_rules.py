"""The rules of the tree, as tests: layers point one way, importing changes nothing, small files, documented public
names, kinds registered by their file alone."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "spacekit").rglob("*.py")) + sorted((ROOT / "kernels").rglob("*.py"))
MAX_LINES = 400


def test_layers_point_one_way():
    """import-linter's layers contract (pyproject.toml), run as `make layers` runs it."""
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if lint_imports is None:
        pytest.fail("lint-imports (import-linter, a dev dependency) is not installed")
    out = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "Contracts: 1 kept, 0 broken." in out.stdout


def test_every_statement_of_the_layer_order_is_the_contracts():
    """The layer order as pyproject.toml's contract has it, word for word in spacekit/__init__.py and the manual."""
    import tomllib

    contract = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    order = " -> ".join(contract["contracts"][0]["layers"])
    flat = lambda text: " ".join(text.replace("→", "->").replace("`", "").split())
    import spacekit

    assert order in flat(spacekit.__doc__ or "")
    assert order in flat((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))


def test_kernels_import_nothing_of_spacekit():
    """kernels/ (shipped as spacekit.kernels, outside import-linter's view) is the lowest layer."""
    for path in (ROOT / "kernels").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith("spacekit"), f"{path}:{node.lineno}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("spacekit") for a in node.names), f"{path}:{node.lineno}"


def test_importing_spacekit_changes_no_environment_variable():
    code = ("import os; b = dict(os.environ); import spacekit, spacekit.ops, spacekit.tasks, spacekit.compare, "
            "spacekit.cli, spacekit.report; spacekit.tasks.kinds(); assert dict(os.environ) == b, "
            "sorted(set(os.environ.items()) ^ set(b.items()))")
    env = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "TOKENIZERS_PARALLELISM",
                                                             "OPENBLAS_THREAD_TIMEOUT"}}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]


def test_the_cli_sets_its_process_defaults():
    code = ("import os; from click.testing import CliRunner; from spacekit.cli import main; "
            "r = CliRunner().invoke(main, ['cache', 'ls', '--cache-dir', 'none-such']); assert r.exit_code == 0; "
            "print(os.environ['HF_HUB_OFFLINE'], os.environ['OPENBLAS_THREAD_TIMEOUT'])")
    env = {k: v for k, v in os.environ.items() if k not in {"HF_HUB_OFFLINE", "OPENBLAS_THREAD_TIMEOUT"}}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "4"]


def test_no_source_file_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in SOURCES if (n := len(p.read_text(encoding="utf-8").splitlines()))
            > MAX_LINES}
    assert not long, long


def test_public_names_have_docstrings():
    """Every module, public class, and public function or method (not nested helpers) says what it does."""
    missing = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if not ast.get_docstring(tree):
            missing.append(f"{path.relative_to(ROOT)}: module")
        scopes = [node for node in tree.body if isinstance(node, ast.ClassDef)]
        for node in [*tree.body, *(n for c in scopes for n in c.body)]:
            if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                    and not node.name.startswith("_") and not ast.get_docstring(node)):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not missing, missing


def test_a_kind_is_registered_by_its_file_alone():
    """Every module in spacekit/tasks/ but the infrastructure (the contract, the registry, the axes, the observed
    sections' protocol) holds exactly one registered kind, named after its file."""
    from spacekit.tasks import kinds
    from spacekit.tasks.registry import INFRASTRUCTURE

    modules = {p.stem for p in (ROOT / "spacekit" / "tasks").glob("*.py")} - {"__init__", *INFRASTRUCTURE}
    found = kinds()
    assert sorted(cls.__module__.rsplit(".", 1)[1] for cls in found.values()) == sorted(modules)
    assert set(found) == modules


def test_every_package_is_installed_by_a_plain_pip_install():
    """pyproject lists the packages one by one: a new folder left out would be missing from `pip install .`."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "spacekit").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)


def test_the_kinds_page_is_generated_from_the_kinds():
    """docs/suite.md's table of every kind's keys is what the kinds' Option fields generate."""
    from spacekit.tasks.catalogue import render

    page = (ROOT / "docs" / "suite.md").read_text(encoding="utf-8")
    assert page == render(page), "docs/suite.md is stale: run `python -m spacekit.tasks.catalogue`"
