"""Matryoshka truncation and quantised vectors, as sentence-transformers defines them, and exact search over them.

- truncate: the first `dim` coordinates, re-normalised (sentence-transformers' truncate_dim, then cosine).
- quantize: sentence-transformers' quantize_embeddings: int8 / uint8 cut each coordinate's [min, max] range (from
  the corpus, the calibration set) into 256 buckets; binary / ubinary keep the sign bit, packed 8 to a byte.
- quantized_topk: queries quantised with the corpus's ranges and scored against the codes: int8 / uint8 by the dot
  product of the codes, binary / ubinary by the dot product of the ±1 vectors (dim - 2 x Hamming distance), exactly
  (float64); equal scores by lower index. With rescore = m > 0, as the sentence-transformers / Hugging Face recipe:
  the top k x m candidates are scored again with the float query against the dequantised codes (the bits, 0/1,
  for binary), and the best k of those kept.
"""

from __future__ import annotations

import numpy as np
import torch

from spacekit.errors import InputError


def truncate(vectors: np.ndarray, dim: int) -> np.ndarray:
    """(n, d) -> (n, dim) float32: the first dim coordinates, re-normalised to unit length (zero rows stay zero)."""
    if not 1 <= dim <= vectors.shape[1]:
        raise InputError(f"dimension {dim} is outside 1..{vectors.shape[1]} (the model's dimension)")
    cut = np.asarray(vectors[:, :dim], np.float32)
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return cut / np.where(norms == 0, 1, norms)


def quantization_ranges(calibration: np.ndarray) -> np.ndarray:
    """(2, d): each coordinate's minimum and maximum over the calibration vectors."""
    return np.vstack((calibration.min(axis=0), calibration.max(axis=0)))


def quantize(vectors: np.ndarray, precision: str, ranges: np.ndarray | None = None) -> np.ndarray:
    """sentence-transformers' quantize_embeddings: int8/uint8 codes (ranges: from quantization_ranges) or packed
    sign bits (binary: int8 bytes offset by -128; ubinary: uint8 bytes)."""
    if precision.endswith("int8"):
        if ranges is None:
            raise InputError(f"{precision} quantisation needs calibration ranges")
        starts = ranges[0].astype(np.float32)
        steps = (ranges[1].astype(np.float32) - starts) / 255
        steps = np.where(steps == 0, 1, steps)
        codes = np.clip(np.floor((vectors - starts) / steps), 0, 255)
        return codes.astype(np.uint8) if precision == "uint8" else (codes - 128).astype(np.int8)
    bits = np.packbits(vectors > 0, axis=-1)
    return (bits - 128).astype(np.int8) if precision == "binary" else bits


def code_values(codes: np.ndarray, precision: str, dim: int) -> np.ndarray:
    """The vectors the codes are scored as (float64): int8/uint8 codes as they are, bits as ±1."""
    if precision.endswith("int8"):
        return codes.astype(np.float64)
    raw = codes.view(np.uint8) ^ np.uint8(0x80 if precision == "binary" else 0)
    bits = np.unpackbits(raw.astype(np.uint8), axis=-1)[:, :dim]
    return bits.astype(np.float64) * 2 - 1


def dequantize(codes: np.ndarray, precision: str, ranges: np.ndarray | None, dim: int) -> np.ndarray:
    """What re-scoring multiplies the float query with: int8/uint8 codes mapped back to their bucket starts; the
    bits (0/1) of binary codes (sentence-transformers' rescoring)."""
    if precision.endswith("int8"):
        assert ranges is not None
        steps = (ranges[1].astype(np.float32) - ranges[0].astype(np.float32)) / 255
        steps = np.where(steps == 0, 1, steps)
        return (codes.astype(np.float64) + (128 if precision == "int8" else 0)) * steps + ranges[0]
    return (code_values(codes, precision, dim) + 1) / 2


def quantized_topk(queries: np.ndarray, corpus: np.ndarray, k: int, precision: str, *, rescore: int = 0,
                   device: str | torch.device = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """Top-k corpus rows per query over quantised vectors -> (scores (nq, k) float64, indices (nq, k) int64); see
    the module docstring. Ranges are calibrated on the corpus."""
    if rescore < 0:
        raise InputError(f"rescore multiplier must be >= 0, got {rescore}")
    dim = corpus.shape[1]
    ranges = quantization_ranges(corpus) if precision.endswith("int8") else None
    c_codes = quantize(corpus, precision, ranges)
    q_values = code_values(quantize(queries, precision, ranges), precision, dim)
    c_values = code_values(c_codes, precision, dim)
    k = min(k, len(corpus))
    depth = min(len(corpus), k * rescore) if rescore else k
    scores, idx = _exact_integer_topk(q_values, c_values, depth, device)
    if not rescore:
        return scores, idx
    restored = dequantize(c_codes, precision, ranges, dim)
    out_s, out_i = np.empty((len(queries), k)), np.empty((len(queries), k), np.int64)
    rows = max(1, (256 << 20) // (8 * depth * dim))
    for lo in range(0, len(queries), rows):
        cand = idx[lo:lo + rows]
        again = np.einsum("qd,qkd->qk", queries[lo:lo + rows].astype(np.float64), restored[cand])
        order = np.lexsort((cand, -again), axis=1)[:, :k]                        # by score, then lower index
        out_s[lo:lo + rows] = np.take_along_axis(again, order, 1)
        out_i[lo:lo + rows] = np.take_along_axis(cand, order, 1)
    return out_s, out_i


def _exact_integer_topk(q: np.ndarray, c: np.ndarray, k: int, device) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of q @ c.T for integer-valued q and c, exactly: float64 products (integers below 2^53 are exact) with
    the index folded into the key as a fraction below 1, so equal scores come by lower index."""
    n = c.shape[0]
    bound = np.abs(q).max(initial=0) * np.abs(c).max(initial=0) * c.shape[1]
    if bound * n >= 2.0 ** 50:
        raise InputError(f"quantised scores up to {bound:.3g} over {n:,} rows exceed float64's exact range")
    dev = torch.device(device)
    ct = torch.from_numpy(c).to(dev)
    tie = torch.arange(n, dtype=torch.float64, device=dev) / n                     # < 1: never reorders scores
    out_s, out_i = np.empty((len(q), k)), np.empty((len(q), k), np.int64)
    rows = max(1, (64 << 20) // (8 * max(n, 1)))
    for lo in range(0, len(q), rows):
        key = torch.from_numpy(q[lo:lo + rows]).to(dev) @ ct.T - tie
        best, idx = torch.topk(key, k, dim=1)
        out_s[lo:lo + rows] = torch.round(best + tie[idx]).cpu().numpy()
        out_i[lo:lo + rows] = idx.cpu().numpy()
    return out_s, out_i
