"""Vector normalisation and pairwise similarity (pure tensor functions)."""

from __future__ import annotations

import numpy as np
import torch

from spacekit.errors import InputError

METRICS = ("cosine", "dot")


def as_tensor(x, name: str = "input") -> torch.Tensor:
    """numpy array or tensor -> 2-D float tensor (no copy when already one), checked finite."""
    t = torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
    if not isinstance(t, torch.Tensor):
        raise InputError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}")
    if t.ndim != 2:
        raise InputError(f"{name}: expected a 2-D (n, d) array, got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        t = t.float()
    return t


def check_metric(metric: str) -> str:
    """'cosine' or 'dot', else an InputError."""
    if metric not in METRICS:
        raise InputError(f"metric must be 'cosine' or 'dot', got {metric!r}")
    return metric


def normalize(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    return torch.nn.functional.normalize(x, p=2, dim=-1, eps=1e-12)


def pairwise_cosine(a, b) -> torch.Tensor:
    """Row-wise cosine between a[i] and b[i] -> (n,) float64 on the CPU."""
    a, b = as_tensor(a, "a").double(), as_tensor(b, "b").double()
    if a.shape != b.shape:
        raise InputError(f"pairwise cosine: shapes differ {tuple(a.shape)} vs {tuple(b.shape)}")
    return (normalize(a) * normalize(b)).sum(-1).cpu()
