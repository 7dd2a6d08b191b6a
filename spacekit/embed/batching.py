"""Texts -> padded token batches for the encoder.

Texts are tokenised block by block, length-sorted within a block and cut by a token budget, so almost no padding
is computed. On a GPU a worker thread collates ahead of the forward passes, into pinned host memory that is copied
to the device without blocking, while another tokenises the next block (the fast tokenizer releases the GIL).
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

BLOCK = 8192  # texts tokenised (and length-sorted) together
FIRST_BLOCK = 1024  # a smaller first block: the GPU starts sooner; the last blocks shrink down to it
GPU_WIDTH_MULTIPLE = 16  # on a GPU batch widths are multiples of 16: few distinct shapes, each set up once


@dataclass
class Batch:
    """One forward pass: input rows, padded ids and mask on the device, and whether any row is padded."""

    rows: np.ndarray      # (b,) positions in the input
    ids: torch.Tensor     # (b, t) int64
    mask: torch.Tensor    # (b, t) int64, 1 for real tokens
    padded: bool          # False when every row has t tokens (the encoder may skip the mask)


def token_budget_batches(lengths: np.ndarray, batch_tokens: int, max_batch: int = 1024,
                         multiple: int = 1) -> list[np.ndarray]:
    """Indices sorted by length (longest first), cut so batch size x padded width <= batch_tokens (the width:
    the longest length rounded up to `multiple`)."""
    order = np.argsort(-lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        width = _round_up(max(1, int(lengths[order[start]])), multiple)
        size = max(1, min(max_batch, batch_tokens // width))
        batches.append(order[start:start + size])
        start += size
    return batches


def collate(flat: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, batch: np.ndarray,
            pad_id: int, multiple: int = 1, left: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(ids, mask) int64 arrays of shape (len(batch), longest rounded up to `multiple`) from concatenated token
    ids, vectorised; padding on the left when `left` (the tokenizer's padding_side)."""
    lens = lengths[batch]
    width = _round_up(int(lens.max()), multiple)
    cols = np.arange(width)
    start = (width - lens)[:, None] if left else np.zeros((len(batch), 1), np.int64)
    mask = (cols[None, :] >= start) & (cols[None, :] < start + lens[:, None])
    pos = np.clip(offsets[batch][:, None] + cols[None, :] - start, 0, len(flat) - 1)
    return np.where(mask, flat[pos], pad_id).astype(np.int64), mask.astype(np.int64)


def block_spans(n: int) -> list[tuple[int, int]]:
    """(start, end) of the tokenised blocks: FIRST_BLOCK texts, then BLOCK at a time, and what is left after the
    last whole BLOCK in halves down to FIRST_BLOCK — on a GPU nothing overlaps the last block's collation and
    forward passes, so it is kept small."""
    first = min(n, FIRST_BLOCK, BLOCK)
    sizes, left = [first] if first else [], n - first
    while left > BLOCK:
        sizes.append(BLOCK)
        left -= BLOCK
    while left > FIRST_BLOCK:
        sizes.append(-(-left // 2))
        left -= sizes[-1]
    if left:
        sizes.append(left)
    ends = list(itertools.accumulate(sizes))
    return list(zip([0, *ends], ends, strict=False))


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def batches(tokenize: Callable[[list[str]], list], texts: list[str], pad_id: int, dev: torch.device,
            batch_tokens: int, to_ids: Callable[[list], list[list[int]]] | None = None,
            left: bool = False) -> Iterator[Batch]:
    """Batches covering every text once; on CUDA prepared on a worker thread, a few batches ahead.

    tokenize(block) gives each text's token ids, or with to_ids an intermediate (the fast tokenizer's encodings)
    that to_ids turns into ids: on CUDA tokenize then runs on a thread of its own a block ahead, so its Rust part
    (which releases the GIL) overlaps the id lists and collation of the block before."""
    host = _host_batches(tokenize, texts, pad_id, batch_tokens, gpu=dev.type == "cuda", to_ids=to_ids, left=left)
    if dev.type != "cuda":
        yield from host
        return
    for b in _ahead(host, depth=8):
        yield Batch(b.rows, b.ids.to(dev, non_blocking=True), b.mask.to(dev, non_blocking=True), b.padded)


def _host_batches(tokenize, texts, pad_id, batch_tokens, gpu: bool, to_ids=None,
                  ahead: bool | None = None, left: bool = False) -> Iterator[Batch]:
    """Batches on the host; for a GPU in pinned memory, widths rounded up to GPU_WIDTH_MULTIPLE. ahead (default:
    gpu, when to_ids is given): tokenize the next block on its own thread meanwhile."""
    multiple = GPU_WIDTH_MULTIPLE if gpu else 1
    spans = block_spans(len(texts))
    blocks: Iterator[list] = (tokenize(texts[b0:b1]) for b0, b1 in spans)
    if to_ids is not None and (gpu if ahead is None else ahead):
        blocks = _ahead(blocks, depth=1)
    for (b0, _), block in zip(spans, blocks, strict=True):
        ids = to_ids(block) if to_ids is not None else block
        lengths = np.fromiter(map(len, ids), np.int64, len(ids))
        flat = np.fromiter(itertools.chain.from_iterable(ids), np.int64, int(lengths.sum()))
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        for batch in token_budget_batches(lengths, batch_tokens, multiple=multiple):
            ids_np, mask_np = collate(flat, offsets, lengths, batch, pad_id, multiple, left)
            ids_t, mask_t = torch.from_numpy(ids_np), torch.from_numpy(mask_np)
            if gpu:
                ids_t, mask_t = ids_t.pin_memory(), mask_t.pin_memory()
            yield Batch(b0 + batch, ids_t, mask_t, bool(mask_np.min() == 0))


def _ahead(items: Iterator, depth: int) -> Iterator:
    """Run an iterator on a worker thread, up to `depth` items ahead; its exceptions re-raise here."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((done, None))
        except BaseException as e:  # handed to the consumer
            put((done, e))

    worker = threading.Thread(target=work, daemon=True, name="spacekit-batches")
    worker.start()
    try:
        while True:
            item, err = q.get()
            if item is done:
                if err is not None:
                    raise err
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
