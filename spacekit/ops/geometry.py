"""Geometry of an embedding space: alignment, uniformity, anisotropy, effective rank, kNN overlap, linear CKA.

Alignment and uniformity as Wang & Isola (2020): alignment = mean ||f(x) - f(y)||^alpha over positive pairs;
uniformity = log mean over all pairs i<j of exp(-t ||f(x_i) - f(x_j)||^2), exact for any n by tiling. Inputs are
used as given (normalise first for the paper's unit-sphere setting).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from spacekit import backend
from spacekit.errors import InputError
from spacekit.ops.similarity import as_tensor, normalize, scores
from spacekit.ops.topk import topk

TILE_ELEMENTS = 1 << 28  # float64 values per tile at most (2 GiB)


def alignment(x, y, alpha: float = 2.0, *, device=None, budget: int | str | None = None) -> float:
    """mean_i ||x_i - y_i||_2^alpha over positive pairs (x_i, y_i), in float64, tile by tile on the device."""
    x, y = as_tensor(x, "x"), as_tensor(y, "y")
    if x.shape != y.shape:
        raise InputError(f"alignment: shapes differ {tuple(x.shape)} vs {tuple(y.shape)}")
    if x.shape[0] < 1:
        raise InputError("alignment needs at least 1 pair, got 0")
    total = sum((tx - ty).norm(dim=1).pow(alpha).sum() for tx, ty in _float64_tiles((x, y), device, budget))
    return float(total / x.shape[0])


def uniformity(x, t: float = 2.0, *, device=None, budget: int | str | None = None,
               dtype: torch.dtype = torch.float32) -> float:
    """log mean_{i<j} exp(-t ||x_i - x_j||^2), exact over all pairs, tiled by the memory budget.

    Row tile [lo, hi) sums its pairs with every j >= hi (a plain rectangle) and, masked, inside its own block.
    dtype sets the matmul precision (fp16/bf16 on a GPU: Gram products in reduced precision, sums in float64).
    """
    dev = backend.device(device)
    x = as_tensor(x, "x").to(dev, dtype)
    n, _d = x.shape
    if n < 2:
        raise InputError(f"uniformity needs at least 2 vectors, got {n}")
    sq = x.float().square().sum(1)                                           # (n,)
    rows = backend.budget(dev, budget).rows(4 * n * 3, at_least=1, at_most=n)
    reduce = _tile_kernel_sum(dev)
    total = torch.zeros((), dtype=torch.float64, device=dev)
    for lo in range(0, n, rows):
        hi = min(lo + rows, n)
        block = reduce(scores(x[lo:hi], x[lo:hi]), sq[lo:hi], sq[lo:hi], t)     # (tile, tile) incl. i = j and j < i
        total += (block - (hi - lo)) / 2                                     # k(i, i) = 1 exactly; symmetric
        if hi < n:
            total += reduce(scores(x[lo:hi], x[hi:]), sq[lo:hi], sq[hi:], t)    # (tile, n - hi): all j > i
    return float(torch.log(total / (n * (n - 1) / 2)))


def _kernel_sum_eager(gram: torch.Tensor, sq_i: torch.Tensor, sq_j: torch.Tensor, t: float) -> torch.Tensor:
    """sum_ij exp(-t * max(0, |x_i|^2 + |x_j|^2 - 2 <x_i, x_j>)) in float64."""
    dist = (sq_i[:, None] + sq_j[None, :] - 2 * gram.float()).clamp_(min=0)
    return torch.exp(dist.mul_(-t)).sum(dtype=torch.float64)


_COMPILED: dict = {}


def _tile_kernel_sum(dev: torch.device):
    """On CUDA, the tile reduction compiled into one fused kernel (one read of the Gram tile); eager elsewhere."""
    if dev.type != "cuda":
        return _kernel_sum_eager
    if "fn" not in _COMPILED:
        compiled = torch.compile(_kernel_sum_eager, dynamic=True)

        def fused(*args):
            try:
                return compiled(*args)
            except Exception:  # no working compiler here: stay correct, just slower
                _COMPILED["fn"] = _kernel_sum_eager
                return _kernel_sum_eager(*args)
        _COMPILED["fn"] = fused
    return _COMPILED["fn"]


def uniformity_sampled(x, t: float = 2.0, *, pairs: int = 1_000_000, seed: int = 0) -> tuple[float, float, float]:
    """Monte-Carlo uniformity from random pairs i != j -> (estimate, ci_low, ci_high), 95% delta-method CI."""
    x = as_tensor(x, "x").double()
    n = x.shape[0]
    gen = torch.Generator().manual_seed(seed)
    i = torch.randint(n, (pairs,), generator=gen)
    j = (i + torch.randint(1, n, (pairs,), generator=gen)) % n               # uniform over j != i
    k = torch.exp(-t * (x[i] - x[j]).square().sum(1))
    mean, se = float(k.mean()), float(k.std() / math.sqrt(pairs))
    return math.log(mean), math.log(max(mean - 1.96 * se, 1e-300)), math.log(mean + 1.96 * se)


def anisotropy(x, *, device=None, budget: int | str | None = None) -> float:
    """Mean cosine similarity over all pairs i != j (0 for an isotropic space, near 1 for a cone): from the sum of
    the unit rows, |sum u|^2 = n + sum_{i != j} cos(i, j), in float64, tile by tile on the device."""
    x = as_tensor(x, "x")
    n = x.shape[0]
    if n < 2:
        raise InputError(f"anisotropy needs at least 2 vectors, got {n}")
    s, self_pairs = _zero(), _zero()
    for (t,) in _float64_tiles((x,), device, budget):
        u = normalize(t)
        s, self_pairs = s + u.sum(0), self_pairs + (u * u).sum()            # zero rows add 0 to both
    return float((s @ s - self_pairs) / (n * (n - 1)))


def effective_rank(x, *, device=None, budget: int | str | None = None) -> float:
    """exp of the entropy of the normalised singular values (Roy & Vetterli 2007). The singular values are those
    of the R factor of x's QR decomposition, built tile by tile (R of [R; next tile]: tall-skinny QR), so memory
    stays at a tile plus d x d, in float64 on the device."""
    x = as_tensor(x, "x")
    if x.shape[0] < 1:
        raise InputError("effective_rank needs at least 1 vector, got 0")
    r = None
    for (t,) in _float64_tiles((x,), device, budget):
        r = torch.linalg.qr(t if r is None else torch.cat([r, t]), mode="r").R
    s = torch.linalg.svdvals(r)
    p = s / s.sum()
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def linear_cka(a, b, *, device=None, budget: int | str | None = None) -> float:
    """Linear CKA (Kornblith et al. 2019) between two representations of the same n items:
    ||B^T A||_F^2 / (||A^T A||_F ||B^T B||_F) over centred columns, the d x d products summed tile by tile in
    float64 on the device (n in the millions in bounded memory)."""
    a, b = as_tensor(a, "a"), as_tensor(b, "b")
    if a.shape[0] != b.shape[0]:
        raise InputError(f"linear_cka: row counts differ ({a.shape[0]} vs {b.shape[0]})")
    if a.shape[0] < 2:
        raise InputError(f"linear_cka needs at least 2 items, got {a.shape[0]}")
    mean_a, mean_b = _zero(), _zero()
    for ta, tb in _float64_tiles((a, b), device, budget):
        mean_a, mean_b = mean_a + ta.sum(0), mean_b + tb.sum(0)
    mean_a, mean_b = mean_a / a.shape[0], mean_b / b.shape[0]
    aa, ba, bb = _zero(), _zero(), _zero()
    for ta, tb in _float64_tiles((a, b), device, budget):
        ta, tb = ta - mean_a, tb - mean_b
        aa, ba, bb = aa + ta.T @ ta, ba + tb.T @ ta, bb + tb.T @ tb
    return float(ba.square().sum() / (aa.norm() * bb.norm()))


def _zero() -> torch.Tensor:
    """A float64 zero to sum tiles into (a 0-d CPU tensor: adding a device tile moves the sum there)."""
    return torch.zeros((), dtype=torch.float64)


def _float64_tiles(arrays: tuple[torch.Tensor, ...], device, budget: int | str | None) -> Iterator[tuple]:
    """The same rows of each array, as float64 tiles on the device, each tile within the memory budget (room for
    two more copies of it: the caller's temporaries) and under TILE_ELEMENTS values (LAPACK / cuSOLVER index
    with 32-bit integers)."""
    dev = backend.device(device)
    n, width = arrays[0].shape[0], sum(x.shape[1] for x in arrays)
    rows = backend.budget(dev, budget).rows(3 * 8 * width, at_most=min(n, max(1, TILE_ELEMENTS // width)))
    for lo in range(0, n, rows):
        yield tuple(x[lo:lo + rows].to(dev, torch.float64) for x in arrays)


def knn_overlap(a, b, k: int = 10, *, metric: str = "cosine", device=None) -> torch.Tensor:
    """Per item: Jaccard of its k nearest neighbours (self excluded) in space a and in space b -> (n,) float64."""
    a, b = as_tensor(a, "a"), as_tensor(b, "b")
    n = a.shape[0]
    if b.shape[0] != n:
        raise InputError(f"knn_overlap: row counts differ ({n} vs {b.shape[0]})")
    if not 1 <= k < n:
        raise InputError(f"knn_overlap: k must be in 1..{n - 1}, got {k}")
    na, nb = _neighbours(a, k, metric, device), _neighbours(b, k, metric, device)   # (n, k) each
    inter = (na.unsqueeze(2) == nb.unsqueeze(1)).any(2).sum(1).double()              # (n,)
    return inter / (2 * k - inter)


def _neighbours(x: torch.Tensor, k: int, metric: str, device) -> torch.Tensor:
    """k nearest other items of each row (self removed even when duplicates tie with it)."""
    _, idx = topk(x, x, k + 1, metric=metric, device=device)                 # (n, k+1)
    own = idx == torch.arange(x.shape[0]).unsqueeze(1)
    drop = torch.where(own.any(1), own.float().argmax(1), torch.full((x.shape[0],), k))  # self, else the last
    keep = torch.ones_like(idx, dtype=torch.bool)
    keep[torch.arange(x.shape[0]), drop] = False
    return idx[keep].view(x.shape[0], k)

