"""The keys that address stores: a store's cache key (the model's half, the input fingerprint, spacekit's version),
the text cache's key and its texts' ids, and the folder name the cache gives a key; and what a store needs of a
model (the Encoder protocol: spacekit.embed's models have it)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Protocol

from spacekit.version import __version__

if TYPE_CHECKING:
    from spacekit.backend import Placement
    from spacekit.store.vectors import Vectors

LAYOUT = "by-text/1"   # the text cache's layout: one growing store per model setting, ids = sha256 of each text


class Encoder(Protocol):
    """What the stores and the cache need of a model: its dimension, whether its vectors may be cached, the half of
    a cache key it decides (weights, settings, the prompt), and encode."""

    @property
    def dim(self) -> int:
        """The vectors' dimension."""
        ...

    @property
    def cacheable(self) -> bool:
        """Whether its vectors may be cached (a store: model's are stored already)."""
        ...

    def cache_key(self, prompt: str = "") -> dict:
        """The model's half of a store's key."""
        ...

    def encode(self, texts: list[str], *, ids: list[str] | None = None, prompt: str = "",
               placement: Placement | None = None, progress: bool = True) -> Vectors:
        """(n, dim) float32 vectors (sparse or token vectors for those kinds of model)."""
        ...


def input_fingerprint(ids: list[str], texts: list[str]) -> str:
    """sha256 over the (id, text) pairs in order."""
    h = hashlib.sha256()
    for i, t in zip(ids, texts, strict=True):
        h.update(json.dumps([i, t], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def store_key(model: Encoder, ids: list[str], texts: list[str], prompt: str = "", precision: str = "fp32") -> dict:
    """The full cache key of a store: model half (with the prompt) + the precision it was computed in + input
    fingerprint + spacekit version (a store resumed in another precision is refused, not mixed)."""
    return {**model.cache_key(prompt), "precision": precision, "input_fingerprint": input_fingerprint(ids, texts),
            "spacekit_version": __version__}


def text_id(text: str) -> str:
    """The id a text has in the cache: the sha256 of its UTF-8 bytes (the prompt is in the store's key)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def text_cache_key(model: Encoder, prompt: str, precision: str = "fp32") -> dict:
    """The key of the store that holds this model's vectors of texts after this prompt, computed in this
    precision."""
    return {**model.cache_key(prompt), "precision": precision, "layout": LAYOUT, "spacekit_version": __version__}


def cache_name(key: dict) -> str:
    """The folder name the cache gives the store of a key (so a folder the cache made names its own key)."""
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
