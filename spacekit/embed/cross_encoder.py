"""Cross-encoder rerankers in sentence-transformers' CrossEncoder layouts, scored exactly as CrossEncoder.predict
scores them: the (query, document) pair tokenised together (padding, truncation "longest_first" at the model's
max length), the sequence-classification head's logit, then the model's activation.

Layouts read: sentence-transformers v6 (modules.json with one Transformer module, config_sentence_transformers.json
holding `activation_fn`), v4-v5 (config.json's `sentence_transformers.activation_fn`) and earlier
(`sbert_ce_default_activation_function`); none named: Sigmoid. Only torch's own activations are run (spacekit runs
no code a model folder carries). Max length: sentence_bert_config.json's max_seq_length when given, else the
tokenizer's model_max_length capped at the model's max_position_embeddings (sentence-transformers' rule). A
reranker gives one score per pair: a head with several labels is refused.

Scores are kept per (reranker fingerprint, query, document) for the process: the before and after models' first
stages share most of their pairs, and each pair is scored once.
"""

from __future__ import annotations

import hashlib
import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spacekit.errors import InputError

if TYPE_CHECKING:
    import torch

    from spacekit.backend import Placement

_LOADED: dict[tuple[str, str], CrossEncoderModel] = {}
CHARS_PER_TOKEN = 4    # a batch's token estimate from its longest pair's characters (batches are sorted by length)
PAIR_BATCH_TOKENS = 8192   # tokens a batch of pairs at least (on a CPU, 32 pairs of 256: CrossEncoder.predict's batch)


@dataclass(eq=False)
class CrossEncoderModel:
    """A loaded reranker: its folder, fingerprint, tokenizer, network, activation and max length, and the scores
    of the pairs it has seen."""

    spec: str
    path: Path
    fingerprint: str
    tokenizer: Any
    net: Any
    activation: Any
    max_length: int
    scored: dict[bytes, float] = field(default_factory=dict)

    def score(self, queries: list[str], documents: list[str], placement: Placement | None = None) -> np.ndarray:
        """(n,) float32 scores of the pairs (queries[i], documents[i]), as CrossEncoder.predict gives them; pairs
        scored before in this process are not scored again."""
        from spacekit.backend import Placement

        keys = [self._key(q, d) for q, d in zip(queries, documents, strict=True)]
        todo = list(dict.fromkeys(k for k in keys if k not in self.scored))
        if todo:
            first = {k: i for i, k in reversed(list(enumerate(keys)))}
            rows = [first[k] for k in todo]
            values = self._predict([queries[i] for i in rows], [documents[i] for i in rows],
                                   placement or Placement.resolve())
            self.scored.update(zip(todo, values.tolist(), strict=True))
        return np.array([self.scored[k] for k in keys], np.float32)

    def _key(self, query: str, document: str) -> bytes:
        h = hashlib.blake2b(digest_size=16)
        for part in (self.fingerprint, query, document):
            data = part.encode("utf-8", "surrogatepass")
            h.update(len(data).to_bytes(8, "little") + data)
        return h.digest()

    def _predict(self, queries: list[str], documents: list[str], placement: Placement) -> np.ndarray:
        """Scores of new pairs, longest pairs first in batches of about the placement's tokens, in input order."""
        import torch

        from spacekit.embed.encoder import default_batch_tokens
        from spacekit.progress import REPORTER, progress_bar

        dev = placement.device
        net = self.net.to(dev, placement.dtype if dev.type != "cpu" else torch.float32)
        chars = np.array([len(q) + len(d) for q, d in zip(queries, documents, strict=True)])
        order = np.argsort(-chars, kind="stable")
        budget = placement.batch_tokens or max(default_batch_tokens(dev), PAIR_BATCH_TOKENS)
        out = np.empty(len(queries), np.float32)
        start, lo = time.perf_counter(), 0
        with progress_bar(len(queries), True) as advance, torch.inference_mode():
            while lo < len(order):                  # the batch's longest pair (its first) sets how many fit
                tokens = min(self.max_length, int(chars[order[lo]]) // CHARS_PER_TOKEN + 3)
                rows = order[lo:lo + max(1, budget // tokens)]
                lo += len(rows)
                features = self.tokenizer([queries[i] for i in rows], [documents[i] for i in rows], padding=True,
                                          truncation="longest_first", max_length=self.max_length,
                                          return_tensors="pt")
                logits = net(**{k: v.to(dev) for k, v in features.items()}).logits
                out[rows] = self.activation(logits.float()).squeeze(-1).cpu().numpy()
                advance(len(rows))
        REPORTER.encoded(time.perf_counter() - start)
        return out


def check_cross_encoder(spec: str | Path, *, trust_remote_code: bool = False) -> Path:
    """The reranker's folder, checked from its files alone (no weights loaded): a sequence-classification head with
    one label, at most one Transformer module, a torch activation; else an InputError naming the folder."""
    from spacekit.embed.model import _check_remote_code, model_folder

    path = model_folder(str(spec))
    _check_remote_code(path, trust_remote_code)
    config = _read(path / "config.json")
    archs = config.get("architectures") or []
    if not any(str(a).endswith("ForSequenceClassification") for a in archs):
        raise InputError(f"{path}: not a cross-encoder (config.json's architectures {archs} name no "
                         f"ForSequenceClassification head)")
    _check_modules(path)
    labels = int(config.get("num_labels") or len(config.get("id2label") or {}) or 1)
    if labels != 1:
        raise InputError(f"{path}: a reranker gives one score per pair; this cross-encoder has {labels} labels")
    _activation(path, config)
    return path


def load_cross_encoder(spec: str | Path, *, trust_remote_code: bool = False) -> CrossEncoderModel:
    """The reranker in a folder (once per process and fingerprint); an InputError naming the folder when it is not
    a cross-encoder spacekit can score with."""
    from spacekit.embed.model import _fingerprint, _load_hf_tokenizer

    path = check_cross_encoder(spec, trust_remote_code=trust_remote_code)
    fingerprint = _fingerprint(path)
    if (str(path), fingerprint) in _LOADED:
        return _LOADED[str(path), fingerprint]
    import transformers

    config = _read(path / "config.json")
    tokenizer = _load_hf_tokenizer(path, trust_remote_code, "cross-encoder")
    try:
        net = transformers.AutoModelForSequenceClassification.from_pretrained(
            path, local_files_only=True, trust_remote_code=trust_remote_code).eval()
    except Exception as e:  # transformers raises OSError, ValueError, KeyError... for a broken folder
        raise InputError(f"{path}: not a loadable cross-encoder ({type(e).__name__}: "
                         f"{str(e).splitlines()[0]})") from None
    model = CrossEncoderModel(str(spec), path, fingerprint, tokenizer, net, _activation(path, config),
                              _max_length(path, tokenizer, config))
    _LOADED[str(path), fingerprint] = model
    return model


def _read(file: Path) -> dict:
    from spacekit.embed.st_config import read_object

    return read_object(file) if file.is_file() else {}


def _check_modules(path: Path) -> None:
    """A modules.json may hold one Transformer module at the folder's root (sentence-transformers v6), no more."""
    from spacekit.embed.st_config import module_entries

    if not (path / "modules.json").is_file():
        return
    entries = module_entries(path)
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in entries]
    if kinds != ["Transformer"] or entries[0].get("path", "") != "":
        raise InputError(f"{path}: cross-encoder modules {kinds} are not supported (one Transformer module)")


def _activation(path: Path, config: dict) -> torch.nn.Module:
    """The activation the folder names (sentence-transformers' order of places), or Sigmoid."""
    import torch

    named = (_read(path / "config_sentence_transformers.json").get("activation_fn")
             or (config.get("sentence_transformers") or {}).get("activation_fn")
             or config.get("sbert_ce_default_activation_function"))
    if not named:
        return torch.nn.Sigmoid()
    if not isinstance(named, str) or not named.startswith("torch.") or "." not in named:
        raise InputError(f"{path}: activation {named!r} is not one of torch's (spacekit runs no code a model "
                         f"folder carries)")
    module, _, name = named.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)()
    except (ImportError, AttributeError, TypeError):
        raise InputError(f"{path}: activation {named!r} is not a torch activation spacekit can build") from None


def _max_length(path: Path, tokenizer: Any, config: dict) -> int:
    """sentence_bert_config.json's max_seq_length, else the tokenizer's model_max_length capped at the model's
    max_position_embeddings."""
    given = _read(path / "sentence_bert_config.json").get("max_seq_length")
    if isinstance(given, int) and given > 0:
        return given
    length = int(min(tokenizer.model_max_length, 10**9))
    positions = config.get("max_position_embeddings")
    if isinstance(positions, int) and positions > 0:
        length = min(length, positions)
    return length
