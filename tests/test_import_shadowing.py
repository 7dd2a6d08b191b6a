"""No name in the repository shadows an installed package when Python runs from the repository root (or a script
from benchmarks/ or scripts/, or pytest with tests/ on sys.path). transformers >= 5.25 imports Hugging Face's
`kernels` package on every model load; a top-level kernels/__init__.py here made every model load fail for any
process started in the clone (`python -m pytest`, `python -c`, a notebook)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folders that Python puts on sys.path: the root (`python -m ...`, `python -c` run in the clone), tests/ (pytest's
# prepend import mode, no __init__.py there), and the folders whose scripts are run by path
SEARCH_PATH_FOLDERS = ("", "tests", "benchmarks", "scripts")
OWN = {"": {"spacekit"}}  # the project's own package, at the root


def importable_names(folder: Path) -> dict[str, str]:
    """The top-level names a folder on sys.path provides: 'module' or 'package' (both shadow) or 'namespace' (a
    folder without __init__.py: a namespace portion, which any installed module or regular package of the name
    wins over, wherever it sits on sys.path)."""
    names = {}
    for path in folder.iterdir():
        if path.name.startswith(".") or not path.stem.isidentifier():
            continue
        if path.is_file() and path.suffix == ".py":
            names[path.stem] = "module"
        elif path.is_dir() and path.name.isidentifier():
            names[path.name] = "package" if (path / "__init__.py").is_file() else "namespace"
    return names


def test_no_top_level_name_shadows_an_installed_or_standard_module():
    installed = importlib.metadata.packages_distributions()
    assert "transformers" in installed  # the environment is the one the tests run in
    assert "numpy" in installed
    clashes = []
    for rel in SEARCH_PATH_FOLDERS:
        for name, kind in importable_names(ROOT / rel).items():
            if kind == "namespace" or name in OWN.get(rel, set()):
                continue
            owners = (["the standard library"] if name in sys.stdlib_module_names else []) + installed.get(name, [])
            if owners:
                clashes.append(f"{rel or '.'}/{name} ({kind}) shadows {', '.join(owners)}")
    assert clashes == []


def test_kernels_folder_is_no_package():
    """kernels/ holds the sources of spacekit.kernels under kernels/src; its top has no __init__.py."""
    assert importable_names(ROOT)["kernels"] == "namespace"
    assert (ROOT / "kernels" / "src" / "__init__.py").is_file()


def _run_from_root(code: str, extra_path: list[Path] | None = None) -> subprocess.CompletedProcess:
    """`python -c code` with the repository root as working directory and first on sys.path (extra_path after it,
    where site-packages would be)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), *map(str, extra_path or [])]))
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_an_installed_kernels_package_wins_over_the_folder(tmp_path):
    """A regular `kernels` package later on sys.path than the root is the one imported; spacekit.kernels is ours."""
    site = tmp_path / "site"
    (site / "kernels").mkdir(parents=True)
    (site / "kernels" / "__init__.py").write_text("CUDAProperties = 'installed'\n")
    out = _run_from_root(
        "import json, sys, kernels, spacekit.kernels as own\n"
        "print(json.dumps({'path0': sys.path[0], 'kernels': kernels.CUDAProperties, 'own': own.__file__,"
        " 'available': callable(own.available)}))", [site])
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout)
    assert got["path0"] == ""  # the working directory (the root) first
    assert got["kernels"] == "installed"
    assert got["available"] is True
    assert Path(got["own"]) == ROOT / "kernels" / "src" / "__init__.py"


@pytest.mark.model
def test_a_model_loads_and_encodes_from_the_repository_root():
    """With Hugging Face's kernels installed (transformers >= 5.25 depends on it), builtin:minilm loads and encodes
    in a process started in the clone, and equals the same encoding in this process."""
    try:
        hf_kernels = importlib.metadata.version("kernels")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("Hugging Face's kernels package is not installed (constraints/tested.txt installs it)")
    from spacekit import load_model

    text = "The kernels package must not be shadowed."
    out = _run_from_root(
        "import json, kernels, transformers, spacekit\n"
        "m = spacekit.load_model('builtin:minilm')\n"
        f"v = m.encode([{text!r}])\n"
        "print(json.dumps({'kernels': kernels.__file__, 'transformers': transformers.__version__,"
        " 'vector': [float(x) for x in v[0]]}))")
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.splitlines()[-1])
    assert not Path(got["kernels"]).is_relative_to(ROOT / "kernels"), got["kernels"]
    here = load_model("builtin:minilm").encode([text])[0]
    assert len(got["vector"]) == 384
    assert max(abs(a - float(b)) for a, b in zip(got["vector"], here, strict=True)) < 1e-6
    assert sum(x * x for x in got["vector"]) == pytest.approx(1.0, abs=1e-5)
    print(f"kernels {hf_kernels}, transformers {got['transformers']}")
