"""The sentence-transformers settings of a model folder: pooling, normalisation, max_seq_length, lower-casing."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    no normalisation and its max_position_embeddings."""
    pooling, normalize, max_len, lower = "mean", False, None, False
    modules = path / "modules.json"
    if modules.is_file():
        for module in read_json(modules):
            kind = str(module.get("type", ""))
            if kind.endswith("Normalize"):
                normalize = True
            elif kind.endswith("Pooling"):
                pooling = _pooling(path / module.get("path", "") / "config.json")
            elif kind and not kind.endswith("Transformer"):
                raise InputError(f"{modules}: module type {kind!r} is not supported")
    sbert = path / "sentence_bert_config.json"
    if sbert.is_file():
        cfg = read_json(sbert)
        max_len, lower = cfg.get("max_seq_length"), bool(cfg.get("do_lower_case", False))
    if max_len is None:
        max_len = int(read_json(path / "config.json").get("max_position_embeddings", 512))
    if pooling not in POOLINGS:
        raise InputError(f"{path}: unknown pooling {pooling!r}")
    return ModelConfig(pooling, normalize, int(max_len), lower, prefix)


def _pooling(cfg_file: Path) -> str:
    """The pooling mode a Pooling module's config.json names (mean when it has none)."""
    cfg = read_json(cfg_file) if cfg_file.is_file() else {}
    modes = [name for key, name in POOLING_KEYS.items() if cfg.get(key)]
    if len(modes) > 1:
        raise InputError(f"{cfg_file}: several pooling modes at once ({modes}) are not supported")
    return modes[0] if modes else cfg.get("pooling_mode", "mean")
