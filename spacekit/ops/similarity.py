"""Vector normalisation and pairwise similarity (pure tensor functions)."""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from spacekit.errors import InputError

METRICS = ("cosine", "dot")


def as_tensor(x, name: str = "input") -> torch.Tensor:
    """numpy array or tensor -> 2-D float tensor (no copy when already one). Finiteness is checked where vectors
    enter (store imports), not here: that would be a pass over every input."""
    t = torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
    if not isinstance(t, torch.Tensor):
        raise InputError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}")
    if t.ndim != 2:
        raise InputError(f"{name}: expected a 2-D (n, d) array, got shape {tuple(t.shape)}")
    if not t.is_floating_point():
        t = t.float()
    return t


def corpus_shape(corpus) -> tuple[int, int]:
    """(rows, dim) of a corpus given as an array/tensor or a spacekit Store."""
    if hasattr(corpus, "manifest"):
        return corpus.count, corpus.dim
    c = as_tensor(corpus, "corpus")
    return c.shape[0], c.shape[1]


def corpus_dtype(corpus) -> torch.dtype:
    """The dtype a corpus (array/tensor or Store) holds its vectors in."""
    if hasattr(corpus, "manifest"):
        return {"float16": torch.float16}.get(corpus.manifest["dtype"], torch.float32)
    return as_tensor(corpus, "corpus").dtype


def corpus_tiles(corpus, rows: int, dev: torch.device, dtype: torch.dtype = torch.float32):
    """(start, (rows, d) tile on dev in dtype) over the corpus; a store streams shard by shard."""
    if hasattr(corpus, "manifest"):
        yield from corpus.tiles(rows, device=dev, dtype=dtype)
        return
    c = as_tensor(corpus, "corpus")
    for start in range(0, c.shape[0], rows):
        yield start, c[start:start + rows].to(dev, dtype)


def check_search(q: torch.Tensor, corpus, k: int) -> int:
    """The corpus's row count, after checking that its dimension matches the queries' and that k >= 1."""
    n, cd = corpus_shape(corpus)
    if cd != q.shape[1]:
        raise InputError(f"dimension mismatch: queries have d={q.shape[1]}, corpus has d={cd}")
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    return n


def check_metric(metric: str) -> str:
    """'cosine' or 'dot', else an InputError."""
    if metric not in METRICS:
        raise InputError(f"metric must be 'cosine' or 'dot', got {metric!r}")
    return metric


def normalize(x: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    return torch.nn.functional.normalize(x, p=2, dim=-1, eps=1e-12)


def pairwise_cosine(a, b) -> torch.Tensor:
    """Row-wise cosine between a[i] and b[i] -> (n,) float64 on the CPU (sparse rows: spacekit.ops.sparse)."""
    import scipy.sparse as sp

    if sp.issparse(a) or sp.issparse(b):
        from spacekit.ops.sparse import sparse_pairwise_cosine

        return sparse_pairwise_cosine(a, b)
    a, b = as_tensor(a, "a").double(), as_tensor(b, "b").double()
    if a.shape != b.shape:
        raise InputError(f"pairwise cosine: shapes differ {tuple(a.shape)} vs {tuple(b.shape)}")
    return (normalize(a) * normalize(b)).sum(-1).cpu()


def scores(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """a @ b.T; on the CPU through whichever BLAS multiplies faster on this machine (torch's or numpy's).

    out: optional flat buffer of at least len(a) * len(b) elements, reused across calls (a fresh multi-MB result
    costs page faults that can halve the GEMM's speed on the CPU).
    """
    if out is not None:
        out = out[:a.shape[0] * b.shape[0]].view(a.shape[0], b.shape[0])
    if a.device.type != "cpu" or a.dtype != torch.float32 or cpu_blas() == "torch":
        return a @ b.T if out is None else torch.matmul(a, b.T, out=out)
    if out is None:
        return torch.from_numpy(np.matmul(a.numpy(), b.numpy().T))
    np.matmul(a.numpy(), b.numpy().T, out=out.numpy())
    return out


_BLAS: dict[str, str] = {}
BF16_MARGIN = 1.15  # how much faster the bf16 route must measure to be taken (a margin over timing noise)


def cpu_blas() -> str:
    """'torch' (MKL/oneDNN) or 'numpy' (OpenBLAS): SPACEKIT_CPU_BLAS, else the faster on a small fp32 product,
    timed once per process (MKL's sgemm is slow on some AMD CPUs; OpenBLAS on some Intel ones) where the process
    set OPENBLAS_THREAD_TIMEOUT (the CLI does), else torch: once both libraries had run their products in a process
    whose OpenBLAS threads spin, every later torch operation of top-k ran ~2x slower on the 2-core machine."""
    if "choice" not in _BLAS:
        choice = os.environ.get("SPACEKIT_CPU_BLAS", "auto").lower()
        if choice not in ("torch", "numpy"):
            choice = _time_blas() if "OPENBLAS_THREAD_TIMEOUT" in os.environ else "torch"
        _BLAS["choice"] = choice
    return _BLAS["choice"]


def cpu_candidates() -> str:
    """The precision CPU top-k picks its candidates in, 'bf16' or 'fp32' (either way re-scored in float64: the
    result is the same): SPACEKIT_CPU_CANDIDATES=bf16|fp32, else timed once per process, whatever the CPU's flags
    say: one query slice through each whole route (products, selection, re-scoring) on a 256 x 8,192 x 384 tile,
    and bf16 only where its route is at least BF16_MARGIN x faster (AMX, or AVX512-BF16 on some CPUs; without
    them bf16 products run at about 0.7x fp32's speed)."""
    if "candidates" not in _BLAS:
        choice = os.environ.get("SPACEKIT_CPU_CANDIDATES", "auto").lower()
        if choice not in ("bf16", "fp32"):
            fp32_s, bf16_s = _time_routes()
            _BLAS["bf16_speedup"] = f"{fp32_s / max(bf16_s, 1e-12):.2f}"          # shown by describe_cpu_plan
            choice = "bf16" if bf16_s * BF16_MARGIN <= fp32_s else "fp32"
        _BLAS["candidates"] = choice
    return "bf16" if _BLAS["candidates"] == "bf16" else "fp32"


def use_cpu_candidates(choice: str | None) -> None:
    """Fix this process's CPU candidate precision ('bf16', else fp32), e.g. to a driver's choice in a Ray worker (the
    result does not depend on it: every candidate is re-scored in float64; the speed does)."""
    _BLAS["candidates"] = "bf16" if choice == "bf16" else "fp32"


def cpu_plan() -> dict[str, str]:
    """This process's CPU search choices (the BLAS, the candidate precision), each timed once per process unless
    set: what a Ray worker may take over from the driver (use_cpu_plan) instead of timing its own."""
    return {"choice": cpu_blas(), "candidates": cpu_candidates()}


def describe_cpu_plan() -> str | None:
    """This process's CPU search choices in words (--profile), None when no CPU search has run yet."""
    if "candidates" not in _BLAS:
        return None
    measured = f" (the bf16 route measured {_BLAS['bf16_speedup']}x as fast as the fp32 route here)" \
        if "bf16_speedup" in _BLAS else " (set)"
    picks = f"{_BLAS['candidates']} candidates re-scored in float64"
    return f"CPU top-k: {picks}{measured}; fp32 products through {_BLAS.get('choice', 'torch')}"


def use_cpu_plan(plan: dict[str, str]) -> None:
    """Fix this process's CPU search choices to another process's cpu_plan() (the scores do not depend on them, as
    every candidate is re-scored in float64; a worker then spends no time timing its own)."""
    _BLAS.update({k: v for k, v in plan.items() if k in ("choice", "candidates")})


def _time_routes() -> tuple[float, float]:
    """(seconds of the fp32 route, of the bf16 route) for one 256-query slice against an 8,192-row tile, k = 10,
    each into its reused buffers as top-k runs them."""
    from spacekit.backend import budget
    from spacekit.ops.topk_tile import Scratch, corpus_tile
    from spacekit.ops.topk_torch import torch_topk

    gen = torch.Generator().manual_seed(0)
    q, c = normalize(torch.randn(256, 384, generator=gen)), normalize(torch.randn(8192, 384, generator=gen))
    limit = budget(torch.device("cpu"), None)
    seconds = []
    for name, low in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        tile = corpus_tile(c, "dot", low, bounded=True)
        scratch = Scratch.on_cpu(q.shape[0] * c.shape[0], None if low == torch.float32 else low)
        seconds.append(_best_of(lambda: torch_topk(q, tile, 10, name, limit, scratch)))  # noqa: B023 (run at once)
    return seconds[0], seconds[1]


def _best_of(fn, repeat: int = 3) -> float:
    """The shortest of `repeat` timed calls, after one untimed."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _time_blas() -> str:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(512, 384, generator=gen), torch.randn(8192, 384, generator=gen)
    an, bn = a.numpy(), b.numpy()
    runs = {"torch": lambda: a @ b.T, "numpy": lambda: np.matmul(an, bn.T)}
    best = {name: _best_of(fn) for name, fn in runs.items()}
    return min(best, key=lambda name: best[name])
