"""Pure tensor functions (no file I/O): similarity, top-k search, geometry."""

from spacekit.ops.geometry import alignment, anisotropy, effective_rank, knn_overlap, linear_cka, uniformity
from spacekit.ops.topk import topk
from spacekit.ops.topk_settle import SearchCounters

__all__ = ["SearchCounters", "alignment", "anisotropy", "effective_rank", "knn_overlap", "linear_cka", "topk",
           "uniformity"]
