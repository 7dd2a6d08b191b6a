"""The sentence-transformers settings of a model folder: pooling, normalisation, max_seq_length, lower-casing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from spacekit.errors import InputError

POOLING_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
                "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
                "pooling_mode_lasttoken": "last"}
POOLINGS = {"mean", "cls", "max", "mean_sqrt_len", "last"}


@dataclass(frozen=True)
class ModelConfig:
    """Everything besides the weights that decides a vector (part of the cache key)."""

    pooling: str = "mean"
    normalize: bool = False
    max_seq_length: int = 512
    lower_case: bool = False
    prefix: str = ""


def read_json(path: Path) -> Any:
    """A model file's JSON; an unreadable one is an InputError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: unreadable model file ({e})") from None


def read_st_config(path: Path, prefix: str = "") -> ModelConfig:
    """Pooling, normalisation, max_seq_length, lower-casing from the sentence-transformers files (modules.json,
    the Pooling module's config.json, sentence_bert_config.json); a plain transformers folder gets mean pooling,
    no normalisation and its max_position_embeddings. Every file's shape is checked (one InputError naming it)."""
    pooling, normalize, lower = "mean", False, False
    modules = path / "modules.json"
    for module in module_entries(path) if modules.is_file() else []:
        kind = module.get("type", "")
        if kind.endswith("Normalize"):
            normalize = True
        elif kind.endswith("Pooling"):
            pooling = _pooling(path / module.get("path", "") / "config.json")
        elif kind and not kind.endswith("Transformer"):
            raise InputError(f"{modules}: module type {kind!r} is not supported")
    positions = read_object(path / "config.json").get("max_position_embeddings")
    max_len, source = positions if positions is not None else 512, path / "config.json"
    sbert = path / "sentence_bert_config.json"
    if sbert.is_file():
        cfg = read_object(sbert)
        lower = bool(cfg.get("do_lower_case", False))
        if cfg.get("max_seq_length") is not None:
            max_len, source = cfg["max_seq_length"], sbert
    if not _is_int(max_len) or max_len < 1:
        raise InputError(f"{source}: max_seq_length must be a positive integer, got {max_len!r}")
    if _is_int(positions) and max_len > positions:
        raise InputError(f"{source}: max_seq_length {max_len} is beyond the model's {positions} positions")
    if pooling not in POOLINGS:
        raise InputError(f"{path}: unknown pooling {pooling!r}")
    return ModelConfig(pooling, normalize, max_len, lower, prefix)


def read_object(path: Path) -> dict:
    """A model file that must hold a JSON object."""
    value = read_json(path)
    if not isinstance(value, dict):
        raise InputError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


def module_entries(path: Path) -> list[dict]:
    """modules.json's entries, each an object whose type and path are strings."""
    file = path / "modules.json"
    modules = read_json(file)
    if not isinstance(modules, list) or not all(
            isinstance(m, dict) and isinstance(m.get("type", ""), str) and isinstance(m.get("path", ""), str)
            for m in modules):
        raise InputError(f"{file}: expected a list of modules, each with a type and a path (strings)")
    return modules


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _pooling(cfg_file: Path) -> str:
    """The pooling mode a Pooling module's config.json names (mean when it has none)."""
    cfg = read_object(cfg_file) if cfg_file.is_file() else {}
    modes = [name for key, name in POOLING_KEYS.items() if cfg.get(key)]
    if len(modes) > 1:
        raise InputError(f"{cfg_file}: several pooling modes at once ({modes}) are not supported")
    return modes[0] if modes else cfg.get("pooling_mode", "mean")
