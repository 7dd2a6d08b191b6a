"""FAISS as an optional search backend: an exact flat inner-product index, on GPUs when this faiss has them.

Never required: spacekit's own top-k is the default. FAISS keeps the whole corpus in memory (a store is read tile
by tile into the index) and does not promise an order among equal scores; rows are re-sorted so equal scores come
by lower index, but a tie that straddles the k-th place may keep a higher index.
"""

from __future__ import annotations

import numpy as np
import torch

from spacekit.errors import InputError
from spacekit.ops.similarity import as_tensor, check_metric, check_search, corpus_tiles, normalize


def faiss_topk(queries, corpus, k: int, *, metric: str = "cosine") -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k through faiss IndexFlatIP -> (scores (nq, k) float32, indices (nq, k) int64) on the CPU."""
    faiss = _import_faiss()
    check_metric(metric)
    q = as_tensor(queries, "queries").float().cpu()
    check_search(q, corpus, k)
    index = faiss.IndexFlatIP(q.shape[1])
    if faiss.get_num_gpus() > 0:
        index = faiss.index_cpu_to_all_gpus(index)
    for _, tile in corpus_tiles(corpus, 65536, torch.device("cpu")):
        index.add(np.ascontiguousarray((normalize(tile) if metric == "cosine" else tile).numpy()))
    q = normalize(q) if metric == "cosine" else q
    found_scores, found = index.search(np.ascontiguousarray(q.numpy()), min(k, index.ntotal))   # (nq, k) each
    order = torch.from_numpy(np.lexsort((found, -found_scores), axis=1))  # score desc, then lower index
    scores, idx = torch.from_numpy(found_scores), torch.from_numpy(found).long()
    return scores.gather(1, order), idx.gather(1, order)


def _import_faiss():
    try:
        import faiss
    except ImportError:
        raise InputError("--backend faiss: faiss is not installed (pip install faiss-cpu, or faiss-gpu-cu12)") from None
    return faiss
