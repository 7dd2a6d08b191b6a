"""The CPU's large-k candidate selection (above a threshold) and its re-scoring (a sampled float64 product)."""

from __future__ import annotations

import math

import pytest
import torch

from spacekit.ops import topk, topk_rescore
from spacekit.ops.topk_select import THRESHOLD_K, above_threshold, select
from tests.test_topk import _assert_exact


@pytest.mark.parametrize(("k", "n", "width"), [(256, 6001, 4), (1000, 20_003, 4), (300, 40_000, 32)])
def test_selection_above_a_threshold_gives_topk_values(k, n, width):
    """Values are torch.topk's, ties included (scores drawn from 60 values), each column holds its value, no column
    twice; the ragged tail beyond the last whole chunk competes."""
    g = torch.Generator().manual_seed(k)
    for scores in [torch.randn(9, n, generator=g), torch.randint(0, 60, (9, n), generator=g).float()]:
        scores[0, -1] = 1e9                                                # the best score in the ragged tail
        vals, cols = above_threshold(scores, k, width)
        assert torch.equal(vals, torch.topk(scores, k, dim=1).values)
        assert torch.equal(scores.gather(1, cols), vals)
        assert all(len(set(r)) == k for r in cols.tolist())
        assert cols[0, 0] == n - 1


def test_selection_above_a_threshold_steps_aside_for_nan_scores():
    """A row of NaN scores leaves fewer than k at the threshold: None, and select falls back to the chunk route."""
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(4, 20_000, generator=g)
    scores[2] = math.nan
    assert above_threshold(scores, THRESHOLD_K, 4) is None
    vals, _ = select(scores, THRESHOLD_K, ties=False)
    assert torch.equal(vals[[0, 1, 3]], torch.topk(scores[[0, 1, 3]], THRESHOLD_K, dim=1).values)


def test_sampled_scores_are_the_fp32_rounding_of_float64_dot_products(monkeypatch):
    """Each score is float64(q) . float64(row) rounded to fp32 (the products of fp32 values are exact in float64),
    whatever the blocks of rows (7 here), the other queries in the call, repeated or out-of-range columns."""
    monkeypatch.setattr(topk_rescore, "ROW_BLOCK", 7)
    g = torch.Generator().manual_seed(1)
    q, c = torch.randn(30, 24, generator=g), torch.randn(500, 24, generator=g) * 3
    cols = torch.randint(0, 500, (30, 40), generator=g)
    cols[3, :5] = 17                                                       # one row five times
    cols[4, 0] = 900                                                       # clamped to the last row
    got = topk_rescore.sampled_scores(q, c, cols.clamp(0, 499))
    ref = torch.einsum("bd,bkd->bk", q.double(), c.double()[cols.clamp(0, 499)]).float()
    assert torch.equal(got, ref)
    assert torch.equal(topk_rescore.gathered_scores(q, c, cols, None), ref)  # type: ignore[arg-type]
    alone = torch.cat([topk_rescore.sampled_scores(q[i:i + 1], c, cols[i:i + 1].clamp(0, 499)) for i in range(30)])
    assert torch.equal(alone, got)


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_a_large_k_picked_above_a_threshold_and_rescored_at_once_is_exact(metric, monkeypatch):
    """k = 1,000 of 20,000 rows in one tile: candidates picked above the threshold slice by slice, the query tile
    re-scored in one sampled product; the float64 brute force's top k, equal scores by lower index."""
    picked = []
    real = above_threshold
    monkeypatch.setattr("spacekit.ops.topk_select.above_threshold",
                        lambda *a: picked.append(a[1]) or real(*a))
    g = torch.Generator().manual_seed(7)
    q, c = torch.randn(40, 16, generator=g), torch.randn(20_000, 16, generator=g)
    c[12_000:12_050] = c[100:150]                                          # equal rows: ties by lower index
    scores, idx = topk(q, c, 1000, metric=metric)
    _assert_exact(q, c, 1000, metric, scores, idx)
    assert picked
    assert all(extra > 1000 for extra in picked)
    assert ((idx >= 12_000) & (idx < 12_050)).any()                        # twins made the top k
    for row in range(40):                                                  # a twin never before its original
        pos = {int(i): p for p, i in enumerate(idx[row])}
        assert all(pos.get(t - 11_900, 1000) < p for t, p in pos.items() if 12_000 <= t < 12_050), row
