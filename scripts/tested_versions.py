"""The tested dependency set, constraints/tested.txt: regenerate it, or say how an environment differs from it.

    python scripts/tested_versions.py update       # a fresh venv resolves the latest releases of spacekit[dev,demo];
                                                   # its versions become constraints/tested.txt (then run `make ci`)
    python scripts/tested_versions.py diff PYTHON  # the packages PYTHON's environment has at versions other than
                                                   # the tested ones (the smoke run prints them when it fails)
    python scripts/tested_versions.py lowest       # constraints holding each dependency of pyproject.toml at its
                                                   # lower bound (SMOKE_RESOLUTION=lowest make smoke tests them)

torch is not in the file: the Makefile and the smoke run install torch==2.13.0 (the CPU build on disk) first and
never let pip choose a torch. spacekit itself is left out too.
"""

from __future__ import annotations

import datetime
import platform
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTED = ROOT / "constraints" / "tested.txt"
TORCH = "torch==2.13.0"
LEFT_OUT = {"torch", "spacekit"}


def canonical(name: str) -> str:
    """A distribution's name as PEP 503 compares names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def frozen(python: str | Path) -> dict[str, str]:
    """{name: version} of every distribution installed for that Python (pip freeze --all), spacekit and torch aside."""
    out = subprocess.run([str(python), "-m", "pip", "freeze", "--all", "--exclude-editable"], check=True,
                         capture_output=True, text=True).stdout
    versions = {}
    for line in out.splitlines():
        name, sep, version = line.partition("==")
        if sep and canonical(name) not in LEFT_OUT:
            versions[canonical(name)] = version.strip()
    return versions


def read_tested(path: Path = TESTED) -> dict[str, str]:
    """{name: version} of the constraints file."""
    versions = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, version = line.split("#")[0].partition("==")
        if sep:
            versions[canonical(name)] = version.strip()
    return versions


def differences(resolved: dict[str, str], tested: dict[str, str]) -> list[str]:
    """One line per package resolved at a version other than the tested one, or not in the tested set at all."""
    lines = []
    for name in sorted(resolved):
        if name not in tested:
            lines.append(f"{name} {resolved[name]} (not in the tested set)")
        elif resolved[name] != tested[name]:
            lines.append(f"{name} {resolved[name]} (tested: {tested[name]})")
    return lines


def lower_bounds(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """`name==lower bound` for each runtime dependency of pyproject.toml (torch aside: the installed build serves)."""
    pins = []
    for requirement in tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", requirement.strip())
        if match is None:
            raise SystemExit(f"pyproject.toml: dependency {requirement!r} has no plain lower bound (name>=version)")
        if canonical(match[1]) not in LEFT_OUT:
            pins.append(f"{match[1]}=={match[2]}")
    return pins


def update() -> None:
    """Resolve spacekit[dev,demo] afresh in a new venv and write its versions to constraints/tested.txt."""
    with tempfile.TemporaryDirectory(prefix="spacekit-constraints-") as work:
        venv = Path(work) / "venv"
        python = venv / "bin" / "python"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, TORCH], check=True)
        subprocess.run([*pip, f"{ROOT}[dev,demo]"], check=True)
        versions = frozen(python)
        py = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"], check=True,
                            capture_output=True, text=True).stdout.strip()
    header = [
        "# The dependency set `make test` and `make demo` install (pip install -c constraints/tested.txt): every",
        "# package of spacekit[dev,demo], transitive ones included, at the versions the last green CI used. Not here:",
        f"# torch (the Makefile installs {TORCH}, the CPU build, first) and spacekit itself.",
        "# Regenerate on purpose with `make constraints` (python scripts/tested_versions.py update), then `make ci`.",
        f"# Resolved {datetime.date.today()} on Python {py}, {platform.system()} {platform.machine()}.",
    ]
    TESTED.parent.mkdir(exist_ok=True)
    TESTED.write_text("\n".join(header + [f"{n}=={v}" for n, v in sorted(versions.items())]) + "\n",
                      encoding="utf-8")
    print(f"wrote {TESTED.relative_to(ROOT)}: {len(versions)} packages")


def diff(python: str) -> None:
    """Print how python's environment differs from the tested set."""
    lines = differences(frozen(python), read_tested())
    tested = TESTED.relative_to(ROOT)
    if not lines:
        print(f"every resolved version is the tested one ({tested})")
    else:
        print(f"{len(lines)} resolved versions differ from {tested}:")
    for line in lines:
        print("  " + line)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "update":
        update()
    elif len(sys.argv) == 3 and sys.argv[1] == "diff":
        diff(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "lowest":
        print("\n".join(lower_bounds()))
    else:
        sys.exit(__doc__)
