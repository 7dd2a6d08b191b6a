"""How much two rankings of the same query differ, without relevance labels: overlap@k, rank-biased overlap
(Webber, Moffat & Zobel 2010, the extrapolated RBO_ext of two lists of depth k), and the results that entered the
top k."""

from __future__ import annotations


def overlap_at_k(a: list[str], b: list[str], k: int) -> float:
    """|top-k of a ∩ top-k of b| / k."""
    return len(set(a[:k]) & set(b[:k])) / k


def rbo(a: list[str], b: list[str], p: float = 0.9) -> float:
    """RBO_ext of two rankings cut at the same depth k = min(len(a), len(b)): the agreement at each depth d,
    X_d / d, weighted by p^d, plus the agreement at k extrapolated beyond it; 1 for identical lists, 0 for
    disjoint ones."""
    k = min(len(a), len(b))
    if k == 0:
        return float("nan")
    seen_a: set[str] = set()
    seen_b: set[str] = set()
    overlap, total = 0, 0.0
    for d in range(1, k + 1):
        x, y = a[d - 1], b[d - 1]
        if x == y:
            overlap += 1
        else:
            overlap += (x in seen_b) + (y in seen_a)
        seen_a.add(x)
        seen_b.add(y)
        total += overlap / d * p ** d
    return overlap / k * p ** k + (1 - p) / p * total


def entered(before: list[str], after: list[str], k: int) -> list[str]:
    """The documents in after's top k that were not in before's (as many left it)."""
    old = set(before[:k])
    return [d for d in after[:k] if d not in old]
