"""k-means (Lloyd) with k-means++ seeding and restarts, in torch (CPU or GPU), deterministic for a seed."""

from __future__ import annotations

import torch

from spacekit import backend
from spacekit.errors import InputError
from spacekit.ops.similarity import as_tensor


def kmeans(x, k: int, *, n_init: int = 5, max_iter: int = 100, tol: float = 1e-6, seed: int = 42,
           device=None) -> tuple[torch.Tensor, float]:
    """Cluster rows of x into k groups -> (labels (n,) int64 on the CPU, inertia of the best restart)."""
    dev = backend.device(device)
    x = as_tensor(x, "x").to(dev, torch.float32)
    n, _d = x.shape
    if not 1 <= k <= n:
        raise InputError(f"k-means: k must be in 1..{n}, got {k}")
    if n_init < 1 or max_iter < 1:
        raise InputError(f"k-means: n_init and max_iter must be >= 1, got {n_init} and {max_iter}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    runs = []                                                               # (inertia, labels) per restart
    for _ in range(n_init):
        centers = _kmeans_pp(x, k, gen)                                    # (k, d)
        prev = total = float("inf")
        labels = torch.zeros(n, dtype=torch.long, device=dev)
        for _ in range(max_iter):
            dist = torch.cdist(x, centers).square()                         # (n, k)
            inertia, labels = dist.min(dim=1)
            total = float(inertia.sum())
            sums = torch.zeros_like(centers).index_add_(0, labels, x)
            counts = torch.bincount(labels, minlength=k).unsqueeze(1)
            centers = torch.where(counts > 0, sums / counts.clamp(min=1), centers)  # an empty cluster keeps its center
            if prev < float("inf") and prev - total <= tol * max(prev, 1e-12):    # never on the first pass
                break
            prev = total
        runs.append((total, labels))
    best_inertia, best_labels = min(runs, key=lambda run: run[0])             # the first of the lowest
    return best_labels.cpu(), best_inertia


def _kmeans_pp(x: torch.Tensor, k: int, gen: torch.Generator) -> torch.Tensor:
    """k-means++: first center uniform, each next one drawn with probability proportional to D^2."""
    n = x.shape[0]
    first = int(torch.randint(n, (1,), generator=gen))
    centers = [x[first]]
    closest = (x - x[first]).square().sum(1)                               # (n,)
    for _ in range(1, k):
        weights = closest.double().cpu()
        idx = int(torch.multinomial(weights, 1, generator=gen)) if weights.sum() > 0 else \
            int(torch.randint(n, (1,), generator=gen))
        centers.append(x[idx])
        closest = torch.minimum(closest, (x - x[idx]).square().sum(1))
    return torch.stack(centers)


def kmeans_many(x, k: int, *, n_init: int = 4, max_iter: int = 50, seed: int = 0) -> torch.Tensor:
    """k-means on each of B point sets at once (x: (B, m, d), float64 on the CPU; k-means++ seeding, n_init
    restarts each, Lloyd to a fixed point or max_iter) -> labels (B, m) int64 of each set's lowest-inertia restart.
    What a permutation test needs: the same clustering on hundreds of shuffled sets in one pass."""
    x = torch.as_tensor(x, dtype=torch.float64)
    sets, m, _d = x.shape
    if not 1 <= k <= m:
        raise InputError(f"k-means: k must be in 1..{m}, got {k}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    xr = x.repeat_interleave(n_init, 0)                                     # (R, m, d), R = sets x n_init
    rows = torch.arange(len(xr))
    chosen = [xr[rows, torch.randint(m, (len(xr),), generator=gen)]]         # k-means++ on every restart at once
    closest = (xr - chosen[0][:, None]).square().sum(-1)                    # (R, m)
    for _ in range(1, k):
        weights = closest + (closest.sum(1, keepdim=True) <= 0)             # all points on a center: uniform
        chosen.append(xr[rows, torch.multinomial(weights, 1, generator=gen)[:, 0]])
        closest = torch.minimum(closest, (xr - chosen[-1][:, None]).square().sum(-1))
    centers = torch.stack(chosen, 1)                                        # (R, k, d)
    norms = xr.square().sum(-1, keepdim=True)                               # (R, m, 1)
    for _ in range(max_iter):
        inertia, labels = _squared_distances(xr, norms, centers).min(-1)    # (R, m)
        member = torch.nn.functional.one_hot(labels, k).to(xr.dtype)        # (R, m, k)
        counts = member.sum(1).unsqueeze(-1)                                # (R, k, 1)
        moved = torch.where(counts > 0, member.transpose(1, 2) @ xr / counts.clamp(min=1), centers)
        if torch.equal(moved, centers):
            break
        centers = moved
    inertia, labels = _squared_distances(xr, norms, centers).min(-1)
    best = inertia.sum(1).view(sets, n_init).argmin(1)                      # the first of the lowest
    return labels.view(sets, n_init, m)[torch.arange(sets), best]


def _squared_distances(x: torch.Tensor, norms: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """(R, m, k) squared distances of each set's points (their squared norms given) to its centers, by |x|^2 -
    2 x.c + |c|^2 (a batched matmul: torch.cdist is ten times slower on these small batches)."""
    cross = torch.bmm(x, centers.transpose(1, 2))
    return (norms - 2 * cross + centers.square().sum(-1).unsqueeze(1)).clamp(min=0)
