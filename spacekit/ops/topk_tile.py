"""One corpus tile as top-k needs it: the rows exact scores come from, the reduced-precision rows candidates come
from, and the scales and norm bound that tie the two together; and its fp32 scores."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from spacekit.ops.kernel_guard import kernels_usable, with_kernel
from spacekit.ops.similarity import normalize, scores

EXACT_BLOCK = 65536  # fp16/bf16 corpus rows converted to fp32 at a time for an exact pass
UNIT_NORM = 1 + 1e-5  # the norm bound of unit rows (a float: no copy to the device)


@dataclass
class CorpusTile:
    """One corpus tile: the rows exact scores are computed from (fp32, or fp16/bf16 rows given as such, read as
    their fp32 values), scaled by `scale` when set (exact scores are exact @ q * scale); the rows the candidates
    are scored on in the reduced dtype, scaled by `low_scale` when set; and their largest scaled norm (for the
    rounding bound). Where measured (unscaled fp16/bf16 rows on the CPU): low_error, the largest |row - its reduced
    copy|, and low_norm, the largest norm of a reduced row, which tighten the bound (topk_settle.candidate_ceiling)."""

    exact: torch.Tensor
    low: torch.Tensor
    max_norm: torch.Tensor | float | None
    scale: torch.Tensor | None = None
    low_scale: torch.Tensor | None = None
    low_error: float | None = None
    low_norm: float | None = None


def corpus_tile(c: torch.Tensor, metric: str, low: torch.dtype, bounded: bool,
                scratch: Scratch | None = None) -> CorpusTile:
    """The tile's copies, made once. On CUDA with fp16/bf16 candidates: rows given in that dtype are used as they
    are (cosine: one read for the scales 1 / |row|, applied to both scores); fp32 cosine rows get one kernel that
    writes the unit rows in the reduced dtype and the scales (no normalised fp32 copy). bounded: the rounding bound
    will be needed (reduced-precision candidates), so the largest norm is kept. scratch: the CPU's buffers, which
    the copies of every tile reuse (the previous tile is done with when the next is made)."""
    if c.dtype == low != torch.float32:                                    # the native route (topk planned it)
        return with_kernel("unit-rows", lambda: _native_tile(c, metric, bounded),
                           lambda: corpus_tile(c.float(), metric, low, bounded))
    if metric == "cosine" and low != torch.float32 and kernels_usable(c.device):
        return with_kernel("unit-rows", lambda: _unit_rows_tile(c, low), lambda: _torch_tile(c, metric, low, bounded))
    return _torch_tile(c, metric, low, bounded, scratch)


def _native_tile(c: torch.Tensor, metric: str, bounded: bool) -> CorpusTile:
    """fp16/bf16 rows as given, with their scales 1 / |row| from one kernel (cosine: applied to both scores)."""
    from spacekit.kernels.topk_triton import unit_rows

    _, scale = unit_rows(c, None)
    if metric == "cosine":
        return CorpusTile(c, c, UNIT_NORM, scale, scale)
    return CorpusTile(c, c, (1 / scale).max() * UNIT_NORM if bounded else None)


def _unit_rows_tile(c: torch.Tensor, low: torch.dtype) -> CorpusTile:
    """fp32 cosine rows: one kernel writes their unit rows in the reduced dtype and the scales."""
    from spacekit.kernels.topk_triton import unit_rows

    c_low, scale = unit_rows(c, low)
    return CorpusTile(c, c_low, UNIT_NORM, scale)


def _torch_tile(c: torch.Tensor, metric: str, low: torch.dtype, bounded: bool,
                scratch: Scratch | None = None) -> CorpusTile:
    """Normalised fp32 rows (cosine) and their copy in the reduced dtype (on the CPU: block by block, with the
    copy's measured rounding)."""
    if bounded and low != torch.float32 and c.device.type == "cpu":
        return _cpu_tile(c, metric, low, scratch)
    if metric == "cosine":
        c = normalize(c)
    max_norm = (UNIT_NORM if metric == "cosine" else c.norm(dim=1).max()) if bounded else None
    return CorpusTile(c, c.to(low), max_norm)


def _cpu_tile(c: torch.Tensor, metric: str, low: torch.dtype, scratch: Scratch | None = None,
              block: int = 8192) -> CorpusTile:
    """The CPU tile for reduced-precision candidates in one pass of cache-sized blocks: the unit rows (cosine; the
    very values normalize gives), their reduced copy, and its rounding measured (low_error, low_norm): round to
    nearest moves a row by ~0.45 u |row| in d >= 100 dimensions, not the u |row| the elementwise bound assumes."""
    n, d = c.shape
    exact = tile_buffer(scratch, "unit rows", (n, d), torch.float32) if metric == "cosine" else c
    c_low = tile_buffer(scratch, "reduced rows", (n, d), low)
    back = tile_buffer(scratch, "reduced rows back in fp32", (min(block, n), d), torch.float32)
    error, low_norm, max_norm = 0.0, 0.0, 0.0
    for lo in range(0, n, block):
        rows = slice(lo, lo + block)
        if metric == "cosine":                                                      # as normalize(), per row
            torch.div(c[rows], c[rows].norm(dim=1, keepdim=True).clamp_min(1e-12), out=exact[rows])
        else:
            max_norm = max(max_norm, float(exact[rows].norm(dim=1).max()))
        part = back[:min(block, n - lo)].copy_(c_low[rows].copy_(exact[rows]))
        low_norm = max(low_norm, float(part.norm(dim=1).max()))
        error = max(error, float(part.sub_(exact[rows]).norm(dim=1).max()))
    return CorpusTile(exact, c_low, UNIT_NORM if metric == "cosine" else max_norm, low_error=error, low_norm=low_norm)


@dataclass
class Scratch:
    """Buffers reused by every tile on the CPU, where a fresh multi-MB result costs page faults that can halve a
    product's speed: fp32 scores, the bf16 products when candidates come from bf16, and named buffers grown on
    demand (a corpus tile's unit rows and reduced copy, the gathered candidate rows that re-scoring multiplies)."""

    scores: torch.Tensor
    low: torch.Tensor | None = None
    named: dict[str, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def on_cpu(cls, elements: int, low: torch.dtype | None) -> Scratch:
        """Buffers of `elements` fp32 scores (and as many `low` products)."""
        return cls(torch.empty(elements), torch.empty(elements, dtype=low) if low is not None else None)

    def buffer(self, name: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A tensor of this shape over the buffer called `name` (grown when a call needs more; its values are
        whatever the last user left)."""
        size = math.prod(shape)
        flat = self.named.get(name)
        if flat is None or flat.dtype != dtype or flat.numel() < size:
            flat = self.named[name] = torch.empty(size, dtype=dtype)
        return flat[:size].view(shape)


def tile_buffer(scratch: Scratch | None, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """The scratch's buffer called `name`, else a fresh tensor."""
    return scratch.buffer(name, shape, dtype) if scratch is not None else torch.empty(shape, dtype=dtype)


def exact_scores(q: torch.Tensor, tile: CorpusTile, scratch: Scratch | None = None) -> torch.Tensor:
    """fp32 scores of q against every row of the tile (fp16/bf16 rows: converted block by block, no fp32 copy)."""
    c = tile.exact
    if c.dtype == torch.float32:
        out = scores(q, c, out=scratch.scores if scratch else None)
    else:
        out = torch.empty((q.shape[0], c.shape[0]), device=q.device)
        for lo in range(0, c.shape[0], EXACT_BLOCK):
            out[:, lo:lo + EXACT_BLOCK] = q @ c[lo:lo + EXACT_BLOCK].float().T
    return out if tile.scale is None else out.mul_(tile.scale)


def all_finite(tile: CorpusTile) -> torch.Tensor:
    """0-d bool on the device: whether every row of the tile is finite, or may not be (read off the n row scales
    1 / |row| when the tile has them: a row with NaN has a NaN scale, one with inf a zero scale; else off the row
    sums, one reduction instead of a boolean copy of the tile). No wait for the device."""
    if tile.scale is not None:
        return (torch.isfinite(tile.scale) & (tile.scale > 0)).all()
    return torch.isfinite(tile.exact.sum(dim=1)).all()   # a row sum is finite when every value is (an overflowing
    # sum of finite values says "not finite": the caller's exact check then looks at every value)
