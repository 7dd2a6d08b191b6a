"""The kinds of task: every module in spacekit/tasks/ registers its Task class with @register; looking a kind up
imports them all once, so adding a kind is adding its file."""

from __future__ import annotations

import importlib
import pkgutil
from typing import TypeVar

from spacekit.errors import InputError
from spacekit.tasks.base import Task
from spacekit.tasks.options import option_specs

T = TypeVar("T", bound=Task)
_KINDS: dict[str, type[Task]] = {}
INFRASTRUCTURE = {"base", "registry", "axes", "sections", "options", "catalogue", "side_runs", "retrieval_result"}


def register(cls: type[T]) -> type[T]:
    """Class decorator: make a Task class available under its `kind`, its suite keys (options, required, paths)
    derived from the fields it annotates with an Option."""
    if cls.kind in _KINDS and _KINDS[cls.kind] is not cls:
        raise ValueError(f"task kind {cls.kind!r} is registered twice")
    specs = option_specs(cls)
    cls.options = {s.name: s.toml for s in specs}
    cls.required = tuple(s.name for s in specs if s.required)
    cls.paths = tuple(s.name for s in specs if s.path)
    _KINDS[cls.kind] = cls
    return cls


def kinds() -> dict[str, type[Task]]:
    """{kind: Task class} for every kind, in name order."""
    _load_all()
    return dict(sorted(_KINDS.items()))


def task_class(kind: str) -> type[Task]:
    """The Task class of a kind; an InputError naming the known kinds otherwise."""
    known = kinds()
    if kind not in known:
        raise InputError(f"kind must be one of {', '.join(known)}, got {kind!r}")
    return known[kind]


def _load_all() -> None:
    """Import every kind module of this package (once; importing registers them)."""
    package = importlib.import_module("spacekit.tasks")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in INFRASTRUCTURE and not module.name.startswith("_"):
            importlib.import_module(f"spacekit.tasks.{module.name}")
