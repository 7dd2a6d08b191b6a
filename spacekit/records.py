"""Typed records as JSON: one writer (to_json) and one JSON Schema generator (json_schema), both driven by the
dataclass fields and the same annotations, so a record's JSON and its schema cannot disagree.

A field's JSON is its name and value unless its annotation carries a Json marker, `Annotated[T, Json(...)]`:
    key="in-domain"   the JSON key, where it is no Python name
    omit_none=True    the key is left out while the value is None (a key only some records carry)
    flatten=True      a mapping whose items are keys of the enclosing object (names known only at run time);
                      keys=callable giving {key: type} makes them known to the schema (else any key, any value
                      of the mapping's value type)
    skip=True         not part of the JSON (in-memory data: vectors for the plots, say)
Undefined floats (NaN, inf) are written as null, so a float's schema is number or null.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class Json:
    """How one field is written (see the module docstring); the default: under its own name, always."""

    key: str | None = None
    omit_none: bool = False
    flatten: bool = False
    keys: Callable[[], dict[str, Any]] | None = None
    skip: bool = False


PLAIN = Json()


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Json, Any], ...]:
    """(name, its Json marker, its type without the marker) per field of the dataclass, in order."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(cls):
        tp, marker = hints[f.name], PLAIN
        if typing.get_origin(tp) is typing.Annotated:
            marker = next((m for m in tp.__metadata__ if isinstance(m, Json)), PLAIN)
            tp = tp.__origin__
        out.append((f.name, marker, tp))
    return tuple(out)


def to_json(value: Any) -> Any:
    """A record (dataclass), mapping, sequence or scalar as JSON-ready Python: numpy scalars as numbers, arrays as
    lists, paths as strings, NaN and inf as None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for name, meta, _ in _fields(type(value)):
            item = getattr(value, name)
            if meta.skip or (meta.omit_none and item is None):
                continue
            if meta.flatten:
                out.update({str(k): to_json(v) for k, v in (item or {}).items()})
            else:
                out[meta.key or name] = to_json(item)
        return out
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):      # numpy scalars and arrays
        return to_json(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def json_schema(cls: type, title: str | None = None) -> dict:
    """The JSON Schema (draft 2020-12) of what to_json writes for instances of the dataclass cls."""
    defs: dict[str, dict] = {}
    root = _schema(cls, defs)
    return {"$schema": SCHEMA_DRAFT, "title": title or cls.__name__, **root, "$defs": dict(sorted(defs.items()))}


def _schema(tp: Any, defs: dict[str, dict]) -> dict:
    """The schema of one type annotation; dataclasses go to defs once, by name."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return {}
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}                                          # a placeholder: recursion ends here
            defs[tp.__name__] = _record_schema(tp, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    if origin in (typing.Union, types.UnionType):
        options = [_schema(a, defs) for a in args if a is not type(None)]
        if type(None) in args:
            options.append({"type": "null"})
        return options[0] if len(options) == 1 else {"anyOf": options}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if tp is type(None):
        return {"type": "null"}
    simple = {bool: "boolean", int: "integer", str: "string", Path: "string"}
    if tp in simple:
        return {"type": simple[tp]}
    if tp is float:
        return {"type": ["number", "null"]}                                   # NaN and inf are written as null
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        return {"type": "object", "additionalProperties": _schema(args[1], defs) if args else {}}
    if origin is tuple and args and args[-1] is not Ellipsis:
        return {"type": "array", "prefixItems": [_schema(a, defs) for a in args], "minItems": len(args),
                "maxItems": len(args)}
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        return {"type": "array", "items": _schema(args[0], defs) if args else {}}
    raise TypeError(f"no JSON schema for the type {tp!r}")


def _record_schema(cls: type, defs: dict[str, dict]) -> dict:
    """An object with one property per field (its JSON key), every key that is always written required."""
    props: dict[str, dict] = {}
    required: list[str] = []
    extra: dict | bool = False
    for name, meta, tp in _fields(cls):
        if meta.skip:
            continue
        if meta.flatten:
            if meta.keys is not None:
                known = meta.keys()
                props.update({k: _schema(t, defs) for k, t in known.items()})
                required += list(known)
            else:
                extra = _schema(typing.get_args(_strip_none(tp))[1], defs)
            continue
        key = meta.key or name
        props[key] = _schema(tp, defs)
        if not meta.omit_none:
            required.append(key)
    doc = (cls.__doc__ or "").strip().split("\n\n")[0]
    return {"type": "object", "description": " ".join(doc.split()), "properties": props, "required": required,
            "additionalProperties": extra}


def _strip_none(tp: Any) -> Any:
    """X from X | None."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(args) == 1 else tp
