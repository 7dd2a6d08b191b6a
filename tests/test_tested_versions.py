"""scripts/tested_versions.py: the tested set covers what the project asks for, the lower bounds it derives are
pyproject's, and the drift report names each resolved version that differs."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("spacekit_tested_versions", ROOT / "scripts" / "tested_versions.py")
tv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tv)
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _name(requirement: str) -> str:
    return tv.canonical(re.match(r"[A-Za-z0-9_.-]+", requirement)[0])


def test_the_tested_set_pins_every_requirement_but_torch():
    tested = tv.read_tested()
    wanted = {_name(r) for r in PROJECT["dependencies"]}
    for extra in ("dev", "demo"):
        wanted |= {_name(r) for r in PROJECT["optional-dependencies"][extra]}
    assert sorted(wanted - {"torch"} - set(tested)) == []
    assert "torch" not in tested
    assert "spacekit" not in tested
    assert all(re.fullmatch(r"[0-9][0-9a-z.+!-]*", v) for v in tested.values()), tested
    # the set the fix was made for: transformers >= 5.25 with Hugging Face's kernels beside it
    assert tuple(int(x) for x in tested["transformers"].split(".")[:2]) >= (5, 25)
    assert "kernels" in tested


def test_lower_bounds_are_pyprojects_own():
    pins = tv.lower_bounds()
    bounds = {_name(r): r.split(">=")[1].split(",")[0].strip() for r in PROJECT["dependencies"]}
    assert {_name(p): p.split("==")[1] for p in pins} == {n: v for n, v in bounds.items() if n != "torch"}


def test_a_dependency_without_a_lower_bound_is_one_line(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["numpy>=1.26", "rich<14"]\n')
    with pytest.raises(SystemExit, match=r"^pyproject.toml: dependency 'rich<14' has no plain lower bound"):
        tv.lower_bounds(tmp_path / "pyproject.toml")


def test_differences_name_each_drifted_package():
    resolved = {"transformers": "5.25.0", "kernels": "0.19.1", "numpy": "2.4.6"}
    tested = {"transformers": "5.24.0", "numpy": "2.4.6", "rich": "14.0.0"}
    assert tv.differences(resolved, tested) == ["kernels 0.19.1 (not in the tested set)",
                                                "transformers 5.25.0 (tested: 5.24.0)"]
    assert tv.differences(tested, tested) == []
