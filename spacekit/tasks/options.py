"""A kind's options are its dataclass fields: a field annotated `Annotated[T, Option("what it is")]` is a suite key
(and its default the key's default), so the suite reader (which keys a kind takes, their TOML types, which are
required, which hold paths), the generic from_suite and the documentation table (docs/suite.md) all read one
declaration. @register derives the kind's `options`, `required` and `paths` from it."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacekit.settings import Range


@dataclass(frozen=True)
class Option:
    """A suite key: what it is (the docs table's text), whether it holds a path (resolved against the suite file),
    and its TOML type where the annotation does not say it (a path is a string, a tuple an array)."""

    help: str
    path: bool = False
    toml: type | None = None
    range: Range | None = None          # the values a number may take (counts and sizes: an upper bound too)


@dataclass(frozen=True)
class OptionSpec:
    """One suite key of a kind, as read from its field."""

    name: str
    toml: type
    default: Any
    required: bool
    path: bool
    help: str
    range: Range | None = None


def option_specs(cls: type) -> list[OptionSpec]:
    """The suite keys of a kind's dataclass, in field order."""
    hints = typing.get_type_hints(cls, include_extras=True)
    specs = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if typing.get_origin(tp) is not typing.Annotated:
            continue
        marker = next((m for m in tp.__metadata__ if isinstance(m, Option)), None)
        if marker is None:
            continue
        factory = f.default_factory
        missing = f.default is dataclasses.MISSING and factory is dataclasses.MISSING
        default = f.default if f.default is not dataclasses.MISSING else factory() if callable(factory) else None
        specs.append(OptionSpec(f.name, marker.toml or toml_type(tp.__origin__), default, missing, marker.path,
                                marker.help, marker.range))
    return specs


def check_ranges(task: Any) -> None:
    """Every option of the task with a declared range holds a value in it (None: not set), else an InputError
    naming the kind, the key and the range."""
    from spacekit.errors import InputError

    for spec in option_specs(type(task)):
        value = getattr(task, spec.name)
        if spec.range is not None and value is not None and not spec.range.holds(value):
            raise InputError(f"{task.kind} {spec.name} must be {spec.range.words()}, got {value!r}")


def toml_type(tp: Any) -> type:
    """The TOML value type of an annotation: str (paths too), int, float, bool, list (tuples and lists)."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return str if Path in args or str in args else toml_type(args[0])
    if typing.get_origin(tp) in (tuple, list) or tp in (tuple, list):
        return list
    if tp in (str, int, float, bool):
        return tp
    if tp is Path:
        return str
    raise TypeError(f"no TOML type for the option annotation {tp!r}")


def from_options(cls: type, name: str, options: dict) -> Any:
    """The kind's task from a suite table's options: each given key into its field (arrays as tuples where the
    field is a tuple), the rest at their defaults."""
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in options.items():
        tp = hints[key]
        values[key] = tuple(value) if isinstance(value, list) and _is_tuple(tp) else value
    return cls(name=name, **values)


def _is_tuple(tp: Any) -> bool:
    return typing.get_origin(tp) is tuple or any(typing.get_origin(a) is tuple for a in typing.get_args(tp))
