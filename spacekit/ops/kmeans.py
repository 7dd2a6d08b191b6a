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
