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
    whatever the blocks of rows (7 here), the other queries in the call, repeated or out-of-range columns (-1: no
    candidate, -inf)."""
    monkeypatch.setattr(topk_rescore, "ROW_BLOCK", 7)
    g = torch.Generator().manual_seed(1)
    q, c = torch.randn(30, 24, generator=g), torch.randn(500, 24, generator=g) * 3
    cols = torch.randint(0, 500, (30, 40), generator=g)
    cols[3, :5] = 17                                                       # one row five times
    got = topk_rescore.sampled_scores(q, c, cols)
    ref = torch.einsum("bd,bkd->bk", q.double(), c.double()[cols]).float()
    assert torch.equal(got, ref)
    cols[4, 0], cols[5, 2] = 900, -1                                       # clamped to the last row; no candidate
    ref[4, 0], ref[5, 2] = (q[4].double() @ c[499].double()).float(), -math.inf
    assert torch.equal(topk_rescore.gathered_scores(q, c, cols, None), ref)  # type: ignore[arg-type]
    alone = torch.cat([topk_rescore.gathered_scores(q[i:i + 1], c, cols[i:i + 1], None)  # type: ignore[arg-type]
                       for i in range(30)])
    assert torch.equal(alone, ref)


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


@pytest.mark.parametrize(("metric", "scale"), [("cosine", 1.0), ("dot", 3.0), ("dot", 1e-3)])
@pytest.mark.parametrize("mode", ["bf16", "fp32"])
def test_a_column_below_the_candidate_floor_cannot_reach_the_floor(metric, scale, mode):
    """candidate_floor inverts candidate_ceiling: every (query, row) whose reduced-precision score is below the floor
    it gives for f has an exact score below f, for f anywhere in the row's scores (negative ones too); and the
    ceiling of the floor is at most f."""
    from spacekit.ops.topk_settle import candidate_ceiling, candidate_floor
    from spacekit.ops.topk_tile import corpus_tile

    low = {"bf16": torch.bfloat16, "fp32": torch.float32}[mode]
    g = torch.Generator().manual_seed(13)
    q = torch.randn(40, 64, generator=g) * scale
    c = torch.randn(3000, 64, generator=g) * scale * torch.rand(3000, 1, generator=g).add(0.5)
    tile = corpus_tile(c, metric, low, bounded=True)
    qn = torch.nn.functional.normalize(q, dim=1) if metric == "cosine" else q
    q_low = qn.to(low)
    approx = (q_low @ tile.low.T).float()
    exact = (qn.double() @ tile.exact.double().T).float()
    ranked = exact.sort(dim=1, descending=True).values
    for rank in (0, 10, 300, 1500, 2999):
        f = ranked[:, rank]
        lowest = candidate_floor(qn, q_low, tile, f, mode)
        assert bool((candidate_ceiling(qn, q_low, tile, lowest, mode) <= f).all()), rank
        below = approx < lowest.unsqueeze(1)
        assert bool((exact.masked_fill(~below, -math.inf).amax(dim=1) < f).all()), rank


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_later_corpus_tiles_skip_the_columns_below_the_kth_score_so_far(metric, cpu_candidates, monkeypatch):
    """k = 300 over three corpus tiles: after the first, a tile picks only columns that can reach the k-th exact
    score found so far (far fewer than the 466 candidates), and the result is still the float64 brute force's,
    rows equal to earlier ones (in another tile) after them."""
    from spacekit.ops import topk_select

    kept = []
    real = topk_select._packed_topk

    def spy(scores, above, k, **limits):
        kept.append(int(above.sum(dim=1).max()))
        return real(scores, above, k, **limits)

    monkeypatch.setattr(topk_select, "_packed_topk", spy)
    g = torch.Generator().manual_seed(17)
    q, c = torch.randn(50, 16, generator=g), torch.randn(60_000, 16, generator=g)
    c[40_000:40_100] = c[:100]                                             # twins in the third tile
    scores, idx = topk(q, c, 300, metric=metric, budget="8M")              # tiles of 20,000 rows
    _assert_exact(q, c, 300, metric, scores, idx)
    assert len(kept) >= 3
    assert min(kept) < 466 / 2                                             # a later tile picked far fewer
    for row in range(50):
        pos = {int(i): p for p, i in enumerate(idx[row])}
        assert all(pos.get(t - 40_000, 300) < p for t, p in pos.items() if 40_000 <= t < 40_100), row
