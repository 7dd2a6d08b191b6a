"""Texts -> vectors on a device: token batches (spacekit.embed.batching) through the network, pooled as
sentence-transformers pools them, and normalised when the model says so.

On a GPU the host queues forward passes without waiting: vectors stay on the device and reach the host in one copy
per HOLD_BYTES, padded batches get the 4-d mask (no device read per batch), and attention avoids cuDNN's per-shape
plans.
"""

from __future__ import annotations

import copy
import functools
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from spacekit.backend import Placement
from spacekit.embed.batching import Batch, batches
from spacekit.embed.head import pool
from spacekit.embed.tokenizer import token_ids
from spacekit.progress import REPORTER, progress_bar

if TYPE_CHECKING:
    from spacekit.embed.model import TransformerModel

log = logging.getLogger("spacekit")
HOLD_BYTES = 256 << 20  # vectors kept on the device before one copy to the host
ATTENTION_KERNELS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]  # not cuDNN's


def default_batch_tokens(dev: torch.device) -> int:
    """Tokens per forward batch: small on the CPU (cache-friendly), large on a GPU (fills the chip)."""
    return 1024 if dev.type == "cpu" else 65536


def encode_texts(model: TransformerModel, texts: list[str], *, prompt: str = "", placement: Placement | None = None,
                 progress: bool = True) -> np.ndarray:
    """Embed texts, each after the prompt -> (n, dim) float32 numpy array, in input order (placement: None is
    Placement.resolve(), the default device in fp32)."""
    return _encode(model, texts, functools.partial(model.tokenizer.encodings, prompt=prompt), token_ids, prompt,
                   placement, progress)


def encode_tokens(model: TransformerModel, tokens: list[list[int]], *, prompt: str = "",
                  placement: Placement | None = None, progress: bool = True) -> np.ndarray:
    """encode_texts for texts tokenised elsewhere (a Ray CPU stage): tokens are their ids as
    model.tokenizer.ids(texts, prompt) gives them; the batches and vectors are those of the texts."""
    return _encode(model, tokens, lambda block: block, None, prompt, placement, progress)


def _encode(model: TransformerModel, items: list, tokenize, to_ids, prompt: str, placement: Placement | None,
            progress: bool) -> np.ndarray:
    """Texts (or their token ids) -> (n, dim) float32 vectors in input order: tokenize(block) and to_ids as
    batching.batches takes them."""
    if not items:
        return np.zeros((0, model.dim), np.float32)
    where = placement or Placement.resolve()
    dev = where.device
    placed = on_device(model, dev, where.dtype)
    left_out = 0 if model.config.include_prompt else model.tokenizer.prompt_length(prompt)
    out = np.empty((len(items), model.dim), np.float32)
    held, held_bytes = [], 0
    hold = HOLD_BYTES if dev.type == "cuda" else 0       # on the CPU nothing runs ahead: each batch goes out at once
    start = time.perf_counter()
    with progress_bar(len(items), progress) as advance, torch.inference_mode():
        for b in batches(tokenize, items, model.tokenizer.pad_id, dev, where.batch_tokens or default_batch_tokens(dev),
                         to_ids=to_ids, left=model.config.padding_side == "left"):
            vec = embed_batch(model, placed, b, left_out)                    # no sync: the GPU runs ahead
            held.append((b.rows, vec))
            held_bytes += vec.numel() * 4
            if held_bytes >= hold:
                _copy_out(held, out)
                held_bytes = 0
            advance(len(b.rows))
    _copy_out(held, out)
    REPORTER.encoded(time.perf_counter() - start)
    log.info("encoded %d texts in %.1fs (%.0f/s) on %s", len(items), time.perf_counter() - start,
             len(items) / max(1e-9, time.perf_counter() - start), dev)
    return out


def embed_batch(model: TransformerModel, placed: Placed, b: Batch, prompt_length: int = 0) -> torch.Tensor:
    """One forward pass -> (b, dim) vectors on the device: pooled (the first prompt_length tokens left out when
    given), then the model's modules after pooling (Dense, LayerNorm, Normalize)."""
    mask = None if not b.padded else _full_mask(b.mask) if placed.full_mask else b.mask
    hidden = _forward(placed.net, b.ids, mask)
    return placed.head(pool(hidden.float(), b.mask, model.config.pooling, prompt_length))


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
    """The network on a device in a dtype, whether it takes the full (b, 1, t, t) mask (see _full_mask), and the
    modules after pooling (float32)."""

    net: torch.nn.Module
    full_mask: bool
    head: torch.nn.Module


def on_device(model: TransformerModel, dev: torch.device, dtype: torch.dtype) -> Placed:
    """The network on dev in dtype, kept in model.placed_nets (one at a time); fp16/bf16 run on a converted copy, so
    the fp32 weights stay exact."""
    key = (str(dev), dtype)
    if key not in model.placed_nets:
        model.placed_nets.clear()
        net: torch.nn.Module = model.net if dtype == torch.float32 else copy.deepcopy(model.net)
        net = net.to(dev, dtype)
        model.placed_nets[key] = Placed(net, _takes_full_mask(net, dev), model.head.to(dev))
    return model.placed_nets[key]


def _takes_full_mask(net: Any, dev: torch.device) -> bool:
    """Whether the network, given _full_mask(m) instead of m, gives the same hidden states on a small padded batch
    (transformers >= 5 passes a 4-d mask through as it is; older versions or other attention code may not)."""
    vocab = int(net.get_input_embeddings().num_embeddings)
    ids = (torch.arange(32, device=dev).reshape(2, 16) * 7 + 1) % vocab   # 16 wide, like the GPU's batches
    mask = torch.ones(2, 16, dtype=torch.int64, device=dev)
    mask[1, 9:] = 0
    try:
        with torch.inference_mode():
            given, full = _forward(net, ids, mask), _forward(net, ids, _full_mask(mask))
    except Exception:
        return False
    real = mask.bool()
    return given.shape == full.shape and bool(torch.allclose(given[real].float(), full[real].float(),
                                                               rtol=1e-3, atol=1e-3))
