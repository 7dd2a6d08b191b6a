"""Exact top-k similarity search: the plan and the block loop (the routes live beside this file).

The corpus is read tile by tile (a store shard by shard) and each query tile is searched against it; the running
result is merged tile after tile. Two routes, decided once per call (SearchPlan):
- "fused" (CUDA, Triton, k <= 1024): topk_fused.py, a kernel that never writes the score matrix;
- "torch": topk_torch.py, a score tile per query slice, fp32 or reduced-precision candidates.
Either way candidates from fp16/bf16/tf32 scores (on the CPU from bf16 or fp32 products, whichever route this CPU
runs faster) are re-scored in fp32 and proven complete (topk_settle.py, topk_rescore.py), equal scores come by
lower index (topk_select.py): the result is always the fp32 exact search. On the CPU a query tile's candidates are
re-scored at once (each candidate row read once), and after the first corpus tile a large k skips the columns
that cannot reach the k-th score found so far.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from dataclasses import dataclass

import torch

from spacekit import backend
from spacekit.errors import InputError
from spacekit.ops import topk_fused as fused
from spacekit.ops.kernel_guard import broken, kernels_usable, with_kernel
from spacekit.ops.similarity import (
    as_tensor,
    check_metric,
    check_search,
    corpus_dtype,
    corpus_tiles,
    cpu_candidates,
    normalize,
)
from spacekit.ops.topk_select import CHUNK, merge
from spacekit.ops.topk_settle import SearchCounters
from spacekit.ops.topk_tile import CorpusTile, Scratch, all_finite, corpus_tile
from spacekit.ops.topk_torch import candidate_count, score_rows, torch_slices
from spacekit.store.vectors import TokenVectors, is_sparse

log = logging.getLogger("spacekit")
LOW_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}
CPU_SCORE_TILE = 128 << 20  # bytes of fp32 scores per query slice on the CPU
CPU_CORPUS_ROWS = 131072  # corpus rows per tile on the CPU (each tile re-scores its own candidates)
PAIR_BYTES = 64  # bytes per (query, candidate) pair while a CPU query tile is re-scored (topk_rescore)
CPU_RESCORE_QUERIES = 8 << 20  # bytes of float64 query rows re-scored at once on the CPU


def topk(queries, corpus, k: int, *, metric: str = "cosine", device=None, candidate_precision: str | None = None,
         budget: int | str | None = None, counters: SearchCounters | None = None,
         dtype: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k corpus rows per query -> (scores (nq, k) float32, indices (nq, k) int64), both on the CPU.

    queries: (nq, d) array/tensor; corpus: (n, d) array/tensor or a spacekit Store (streamed tile by tile). Sparse
    vectors (scipy matrices, a csr store) are searched by spacekit.ops.sparse, token vectors (TokenVectors, a
    tokens store) by MaxSim (spacekit.ops.maxsim; metric does not apply), with the same result contract.
    metric: "cosine" or "dot". Exact: float32 scores, equal scores by lower index. k is clipped to n.
    candidate_precision: the precision candidates are picked in ("fp16", "bf16", "fp32", "tf32"; None: the search
    plan chooses); the result does not depend on it. dtype: its former name, kept for one release (a warning).
    """
    if isinstance(queries, TokenVectors) or isinstance(corpus, TokenVectors) or \
            getattr(corpus, "layout", "dense") == "tokens":
        from spacekit.ops.maxsim import maxsim_topk  # a multi-vector model's: MaxSim

        return maxsim_topk(queries, corpus.load()[1] if hasattr(corpus, "manifest") else corpus, k, device=device)
    if is_sparse(queries) or is_sparse(corpus) or getattr(corpus, "layout", "dense") == "csr":
        from spacekit.ops.sparse import sparse_topk  # a sparse encoder's vectors

        return sparse_topk(queries, corpus.load()[1] if hasattr(corpus, "manifest") else corpus, k, metric=metric,
                           device=device)
    if dtype is not None:
        warnings.warn("topk(dtype=) is now topk(candidate_precision=): the precision candidates are picked in, not "
                      "the result's (always the exact fp32 search)", DeprecationWarning, stacklevel=2)
        candidate_precision = candidate_precision or dtype
    check_metric(metric)
    dev = backend.device(device)
    backend.check_dtype_name(candidate_precision)                           # the search picks its own precision
    q = as_tensor(queries, "queries").to(dev, torch.float32)                # (nq, d)
    n = check_search(q, corpus, k)
    _check_finite(q, "queries")
    k = min(k, n)
    if not q.shape[0]:                                                     # no queries: empty results, as sparse_topk
        return torch.zeros((0, k)), torch.zeros((0, k), dtype=torch.long)
    q = normalize(q) if metric == "cosine" else q
    plan = dataclasses.replace(plan_search(q.shape[0], n, q.shape[1], k, metric, dev, candidate_precision, budget,
                                           corpus_dtype(corpus)), counters=counters)
    log.debug("top-k: %s", plan)
    best_s = torch.full((q.shape[0], k), -math.inf, device=dev)           # (nq, k) the running result
    best_i = torch.full((q.shape[0], k), -1, dtype=torch.long, device=dev)
    scratch = Scratch.on_cpu(cpu_score_rows(plan) * plan.corpus_rows, None if plan.low == torch.float32 else plan.low) \
        if dev.type == "cpu" else None
    finite = torch.ones((), dtype=torch.bool, device=dev)                  # every corpus row so far
    for start, c in corpus_tiles(corpus, plan.corpus_rows, dev, dtype=plan.read_dtype):
        tile = corpus_tile(c, metric, plan.low, bounded=plan.candidates is not None or plan.route == "fused",
                           scratch=scratch)
        finite &= all_finite(tile)
        for lo in range(0, q.shape[0], plan.query_rows):
            rows = slice(lo, lo + plan.query_rows)
            floor = best_s[rows, -1] if start else None                    # the k-th score of the tiles before
            s, i = tile_topk(q[rows], tile, k, plan, scratch, floor)       # (rows, k) each, tile-local columns
            if start == 0 and s.shape[1] == k:                             # the first corpus tile: nothing to merge
                best_s[rows], best_i[rows] = s, i
            else:
                best_s[rows], best_i[rows] = merge(best_s[rows], best_i[rows], s, i + start, k)
    if not bool(finite) and not hasattr(corpus, "manifest"):  # a store's rows were checked as they were read
        _check_finite(as_tensor(corpus, "corpus"), "corpus")
    return best_s.cpu(), best_i.cpu()


def _check_finite(x: torch.Tensor, name: str) -> None:
    """An InputError naming the first row of x with a NaN or inf value (NaN would rank first for every query)."""
    bad = ~torch.isfinite(x).all(dim=1)
    if bool(bad.any()):
        raise InputError(f"{name}: row {int(bad.nonzero()[0])} has NaN or inf values")


@dataclass(frozen=True)
class SearchPlan:
    """How one topk call runs, decided once from the inputs, the device and the budget (its repr tells the story).

    route: "fused" (the Triton kernel) or "torch" (a score tile per query slice); candidates: the precision of the
    scores that pick candidates, None for fp32 throughout; native: fp16/bf16 corpus rows searched as given (fused
    route); corpus_rows x query_rows: the tiles; chunk: the fused kernel's columns per chunk (0: torch route).
    """

    route: str
    candidates: str | None
    native: bool
    corpus_rows: int
    query_rows: int
    chunk: int
    budget: backend.Budget
    counters: SearchCounters | None = None

    @property
    def low(self) -> torch.dtype:
        """The dtype candidates are scored in (fp32 for tf32 products and for fp32 throughout)."""
        return low_dtype(self.candidates)

    @property
    def read_dtype(self) -> torch.dtype:
        """The dtype corpus tiles are read in."""
        return self.low if self.native else torch.float32


def plan_search(nq: int, n: int, d: int, k: int, metric: str, dev: torch.device, dtype: str | None,
                budget: int | str | None, stored: torch.dtype) -> SearchPlan:
    """The route, candidate precision and tile sizes of one call (stored: the dtype the corpus holds)."""
    limit = backend.budget(dev, budget)
    reduced = candidate_precision(dtype, metric, dev)
    low = low_dtype(reduced)
    use_fused = k <= fused.KERNEL_MAX_K and kernels_usable(dev)
    chunk = fused.kernel_chunk(k, low, dev) if use_fused else 0
    c_rows, q_rows = tile_sizes(limit, nq, n, d, cpu=dev.type == "cpu", fused_sub=chunk, k=k)
    native = use_fused and low != torch.float32 and stored == low
    return SearchPlan("fused" if use_fused else "torch", reduced, native, c_rows, q_rows, chunk, limit)


def cpu_score_rows(plan: SearchPlan) -> int:
    """Query rows per score slice on the CPU: scores of at most 128 MB, so the selection's temporaries stay small
    (no page faults); the slices of a query tile pick candidates one after another into one buffer."""
    c_rows = plan.corpus_rows
    return min(plan.query_rows, score_rows(plan.budget, c_rows), max(16, CPU_SCORE_TILE // (4 * c_rows)))


def low_dtype(candidates: str | None) -> torch.dtype:
    """The dtype candidates in this precision are scored in: fp16/bf16, else fp32 (tf32 products, fp32)."""
    return LOW_DTYPES.get(candidates or "", torch.float32)


def tile_topk(qt: torch.Tensor, tile: CorpusTile, k: int, plan: SearchPlan, scratch: Scratch | None = None,
              floor: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One query tile against one corpus tile: the fused kernel when the plan says so and the tile has enough
    chunks for it, else (or when the kernel fails) the torch route in budget-sized query slices (floor: the k-th
    score so far, which spares the CPU route the columns that cannot reach it)."""
    def torch_route():
        return torch_slices(qt, tile, k, plan.candidates, plan.budget, scratch, plan.counters, floor)

    enough_chunks = plan.chunk and fused.kernel_candidates(k) < tile.exact.shape[0] // plan.chunk
    if plan.route == "fused" and enough_chunks and not broken():
        return with_kernel("fused top-k", lambda: fused.kernel_topk(qt, tile, k, plan.candidates or "fp32",
                                                                     plan.budget, plan.counters), torch_route)
    return torch_route()


def candidate_precision(dtype: str | None, metric: str, dev: torch.device) -> str | None:
    """Precision of the scores that pick candidates (always re-scored in fp32, so the result does not depend on it):
    on the CPU bf16 or fp32 products, whichever route runs faster here (cpu_candidates); on CUDA the dtype asked
    for, except that fp32/tf32 cosine search uses fp16 (unit vectors fit fp16's range, and its products round like
    tf32's at twice the speed)."""
    name = (dtype or "fp32").lower()
    if dev.type != "cuda":
        return cpu_candidates()
    if metric == "cosine" and name in ("fp32", "tf32"):
        return "fp16"
    return None if name == "fp32" else name


def tile_sizes(limit: backend.Budget, nq: int, n: int, d: int, *, cpu: bool = False,
               fused_sub: int = 0, k: int = 1) -> tuple[int, int]:
    """(corpus rows, query rows) per tile within the budget. With a score tile (torch route): on a GPU the corpus
    tile at most 1/8 of the budget and the score tile in the rest; on the CPU as few equal corpus tiles as half the
    budget holds (at most 131,072 rows: each tile re-scores its own candidates, so fewer tiles re-score less) and
    query tiles whose candidates the other half holds and whose float64 rows take at most 8 MB (re-scored at once;
    their scores come in slices of at most 128 MB, cpu_score_rows). The fused kernel writes no score tile: the
    corpus takes half the budget (its fp32, normalised and reduced copies), each query its per-chunk results (12
    bytes per fused_sub columns) and its candidates (12 bytes each, with the chunk bookkeeping), twice."""
    if fused_sub:
        c_rows = min(n, max(CHUNK, limit.rows(20 * d) // CHUNK * CHUNK))
        per_query = (12 * (c_rows // fused_sub + 1) + 32 * fused.kernel_candidates(k)
                     + 12 * fused.candidate_width(k, fused_sub))
        q_rows = min(nq, limit.rows(2 * per_query, at_least=1, at_most=16384))
        return c_rows, q_rows
    if cpu:                       # the tile's fp32 and bf16 copies (and a converted input) in half the budget
        most = max(CHUNK, limit.rows(24 * d, at_most=CPU_CORPUS_ROWS) // CHUNK * CHUNK)
        c_rows = min(n, math.ceil(n / math.ceil(n / most) / CHUNK) * CHUNK)  # tiles of equal size, <= most
        # the query tile re-scored at once: its candidates' pairs (~64 bytes each) in half the budget, its float64
        # rows in 8 MB (they stay in cache while each candidate row meets them: 10k x 100k x 384, k 1000: 7.5 s, not
        # 11.5 s with 5,533-query tiles)
        pairs = limit.rows(2 * PAIR_BYTES * candidate_count(k, "bf16", torch.device("cpu")))
        return c_rows, min(nq, pairs, max(1, CPU_RESCORE_QUERIES // (8 * d)))
    c_rows = limit.rows(4 * d * 8) // CHUNK * CHUNK
    c_rows = min(n, max(CHUNK, c_rows))                                    # a multiple of CHUNK: no ragged tail
    return c_rows, min(nq, score_rows(limit, c_rows))
