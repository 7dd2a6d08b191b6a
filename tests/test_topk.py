"""ops.topk equals a float64 brute force: random data, ties, a streamed store, and a tiny memory budget."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spacekit.errors import InputError
from spacekit.ops import topk
from spacekit.store.read import open_store
from spacekit.store.write import write_store


def _reference(q: torch.Tensor, c: torch.Tensor, metric: str) -> torch.Tensor:
    q, c = q.double(), c.double()
    if metric == "cosine":
        q, c = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(c, dim=1)
    return q @ c.T                                                          # (nq, n) float64


def _assert_exact(q, c, k, metric, scores, idx):
    """DESIGN.md's 'exact': returned ids carry the float64 top-k scores rank by rank (1e-6)."""
    ref = _reference(q, c, metric)
    kk = min(k, c.shape[0])
    best = torch.sort(ref, dim=1, descending=True, stable=True).values[:, :kk]
    assert idx.shape == scores.shape == (q.shape[0], kk)
    assert (idx.sort(dim=1).values[:, 1:] != idx.sort(dim=1).values[:, :-1]).all()  # no id twice in a row
    tol = 1e-6 * max(1.0, float(best.abs().max()))  # fp32 resolution at the scores' scale
    torch.testing.assert_close(ref.gather(1, idx), best, atol=tol, rtol=0)
    torch.testing.assert_close(scores.double(), best, atol=tol, rtol=0)


@pytest.mark.parametrize(("nq", "n", "d", "k"), [(37, 1000, 16, 10), (100, 5000, 32, 100), (50, 3001, 8, 1),
                                      (20, 700, 8, 1000), (64, 20000, 24, 10), (3, 5, 4, 10),
                                      (30, 6000, 16, 300)])                   # k 300: 466 candidates per tile
@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_topk_equals_float64_brute_force(nq, n, d, k, metric, cpu_candidates):
    g = torch.Generator().manual_seed(nq * n + d)
    q, c = torch.randn(nq, d, generator=g), torch.randn(n, d, generator=g) * 3
    scores, idx = topk(q, c, k, metric=metric, budget="256K")  # several tiles
    _assert_exact(q, c, k, metric, scores, idx)


def test_no_queries_give_empty_results():
    scores, idx = topk(torch.zeros(0, 16), torch.randn(500, 16), 1000)
    assert scores.shape == idx.shape == (0, 500)
    assert idx.dtype == torch.long


def test_numpy_inputs_and_whole_corpus_in_one_tile():
    rng = np.random.default_rng(1)
    q, c = rng.standard_normal((10, 12)).astype(np.float32), rng.standard_normal((300, 12)).astype(np.float32)
    scores, idx = topk(q, c, 5)
    _assert_exact(torch.from_numpy(q), torch.from_numpy(c), 5, "cosine", scores, idx)


def test_candidates_decide_almost_every_row_without_an_fp32_redo(cpu_candidates):
    from spacekit.ops import SearchCounters

    g = torch.Generator().manual_seed(5)
    q, c = torch.randn(400, 64, generator=g), torch.randn(30_000, 64, generator=g)
    counters = SearchCounters()
    scores, idx = topk(q, c, 10, budget="4M", counters=counters)
    _assert_exact(q, c, 10, "cosine", scores, idx)
    assert counters.settled >= q.shape[0] * 2                         # every row settled in each of the tiles
    assert counters.redone <= 0.05 * q.shape[0]                      # (15 corpus tiles: 0 seen)


def test_equal_scores_come_by_lower_index_first(cpu_candidates):
    g = torch.Generator().manual_seed(3)
    base = torch.randn(400, 8, generator=g)
    c = torch.cat([base, base, base])                 # every score appears three times: at i, i+400, i+800
    q = torch.randn(40, 8, generator=g)
    for k in (1, 2, 7, 300):
        _, idx = topk(q, c, k, budget="16K")
        ref = _reference(q, c, "cosine")
        want = torch.sort(ref, dim=1, descending=True, stable=True).indices[:, :k]
        assert torch.equal(idx, want), k


def test_store_corpus_streamed_shard_by_shard_under_a_tiny_budget(tmp_path):
    g = torch.Generator().manual_seed(5)
    c = torch.randn(5000, 16, generator=g)
    q = torch.randn(33, 16, generator=g)
    ids = [f"d{i}" for i in range(len(c))]
    write_store(tmp_path / "s", ids, lambda lo, hi: c[lo:hi].numpy(), dim=16, key={"k": 1}, shard_rows=700)
    store = open_store(tmp_path / "s")
    seen = []
    tiles = store.tiles
    store.tiles = lambda rows, **kw: (seen.append(rows), tiles(rows, **kw))[1]
    scores, idx = topk(q, store, 25, budget="64K")
    assert seen
    assert seen[0] * 16 * 4 < 5000 * 16 * 4 / 4
    _assert_exact(q, c, 25, "cosine", scores, idx)


def test_reduced_precision_candidates_are_rescored_to_the_fp32_result():
    from spacekit.backend import Budget
    from spacekit.ops.topk_select import select
    from spacekit.ops.topk_tile import CorpusTile
    from spacekit.ops.topk_torch import reduced_precision_topk

    g = torch.Generator().manual_seed(7)
    q = torch.nn.functional.normalize(torch.randn(64, 32, generator=g), dim=1)
    c = torch.nn.functional.normalize(torch.randn(3000, 32, generator=g), dim=1)
    s32, i32 = select(q @ c.T, 10)
    tile = CorpusTile(c, c.bfloat16(), c.norm(dim=1).max())                          # bf16 runs on the CPU
    s16, i16 = reduced_precision_topk(q, tile, 10, "bf16", Budget(1 << 26))
    assert torch.equal(i16, i32)
    torch.testing.assert_close(s16, s32, atol=1e-6, rtol=0)


@pytest.mark.parametrize(("metric", "scale"), [("cosine", 1.0), ("dot", 3.0), ("dot", 1e-3)])
@pytest.mark.parametrize("mode", ["bf16", "fp16"])
def test_the_measured_rounding_bound_holds_for_every_pair(metric, scale, mode):
    """candidate_ceiling is a bound: for every (query, corpus row), the row's exact score (float64 rounded to fp32)
    is at most the ceiling computed from its own reduced-precision product, for rows of mixed scales (a measured
    rounding of the tile, not the elementwise u |row|), and for a typical row it lies well inside the elementwise
    bound."""
    from spacekit.ops.topk_settle import candidate_ceiling, rounding_bound
    from spacekit.ops.topk_tile import corpus_tile

    low = {"bf16": torch.bfloat16, "fp16": torch.float16}[mode]
    g = torch.Generator().manual_seed(11)
    q = torch.randn(50, 96, generator=g) * scale
    c = torch.randn(4000, 96, generator=g) * scale * torch.rand(4000, 1, generator=g).add(0.5)
    c[:50] = q + torch.randn(50, 96, generator=g) * 1e-3 * scale           # near-duplicates: the highest scores
    tile = corpus_tile(c, metric, low, bounded=True)
    qn = torch.nn.functional.normalize(q, dim=1) if metric == "cosine" else q
    assert tile.low_error is not None
    assert tile.low_norm is not None
    q_low = qn.to(low)
    approx = (q_low @ tile.low.T).float()                                 # products rounded to the reduced dtype
    exact = (qn.double() @ tile.exact.double().T).float()
    for col in range(0, c.shape[0], 97):
        ceiling = candidate_ceiling(qn, q_low, tile, approx[:, col], mode)
        assert bool((exact[:, col] <= ceiling).all()), col
    if scale >= 1:                                  # (at 1e-3 the 1e-6 slack for the exact score's rounding rules)
        typical = candidate_ceiling(qn, q_low, tile, approx[:, 200], mode) - approx[:, 200]
        assert bool((typical < 0.6 * rounding_bound(qn, tile, mode)).all())


def test_reduced_precision_candidates_keep_the_tie_rule():
    """Equal scores straddling the k-th place or inside the top k (duplicate corpus rows) come out lower index
    first after re-scoring, in bf16 and fp16, and rows too close to call still end at the fp32 result."""
    from spacekit.backend import Budget
    from spacekit.ops.topk_select import select
    from spacekit.ops.topk_tile import CorpusTile
    from spacekit.ops.topk_torch import reduced_precision_topk

    g = torch.Generator().manual_seed(5)
    base = torch.randint(-2, 3, (40, 16), generator=g).float()
    c = base[torch.randint(0, 40, (2000,), generator=g)]                       # every row repeated ~50 times
    q = torch.randint(-2, 3, (30, 16), generator=g).float()
    ref_s, ref_i = select(q @ c.T, 10)
    for mode, low in [("bf16", torch.bfloat16), ("fp16", torch.float16)]:
        s, i = reduced_precision_topk(q, CorpusTile(c, c.to(low), c.norm(dim=1).max()), 10, mode, Budget(1 << 26))
        assert torch.equal(i, ref_i), mode
        assert torch.equal(s, ref_s), mode


def test_rows_given_in_fp16_are_searched_as_their_fp32_values(monkeypatch):
    """The GPU's native route keeps fp16 corpus rows as given (cosine through per-row scales); its tile must give
    the fp32 result on every torch path too (a kernel that fails to build falls back to them)."""
    from spacekit.backend import Budget
    from spacekit.ops import topk_tile
    from spacekit.ops.topk_select import select
    from spacekit.ops.topk_settle import exact_rows
    from spacekit.ops.topk_tile import CorpusTile
    from spacekit.ops.topk_torch import reduced_precision_topk

    monkeypatch.setattr(topk_tile, "EXACT_BLOCK", 1000)                          # fp32 conversion block by block
    g = torch.Generator().manual_seed(11)
    q = torch.nn.functional.normalize(torch.randn(40, 24, generator=g), dim=1)
    raw = (torch.randn(3000, 24, generator=g) * 2).half()
    scale = 1 / raw.float().norm(dim=1)
    for tile, ref in [(CorpusTile(raw, raw, 1 + 1e-5, scale, scale), (q @ raw.float().T) * scale),
                      (CorpusTile(raw, raw, raw.float().norm(dim=1).max()), q @ raw.float().T)]:
        ref_s, ref_i = select(ref, 10)
        for s, i in [reduced_precision_topk(q, tile, 10, "fp16", Budget(1 << 26)),
                     exact_rows(q, tile, 10, Budget(1 << 16))]:
            assert torch.equal(i, ref_i)
            torch.testing.assert_close(s, ref_s, atol=1e-6, rtol=1e-6)                # dot scores up to ~6
    s, i = topk(q, raw, 10)                                                     # CPU: fp32 copies, same result
    assert torch.equal(i, select((q @ raw.float().T) * scale, 10)[1])


def test_select_without_the_tie_rule_gives_topk_values():
    """The fused path picks its best chunks by select(..., ties=False), through chunk maxima first: the values
    must be torch.topk's, ties included, and each column must hold its value."""
    from spacekit.ops.topk_select import select

    g = torch.Generator().manual_seed(3)
    for m, n in [(7813, 43), (7810, 43), (4001, 11), (300, 43)]:             # ragged tails; too short to chunk
        for best in [torch.randn(50, m, generator=g), torch.randint(0, 40, (50, m), generator=g).float()]:
            vals, cols = select(best, n, ties=False)                       # (integers: many equal values)
            assert torch.equal(vals, torch.topk(best, n, dim=1).values)
            assert torch.equal(best.gather(1, cols), vals)
            assert all(len(set(r)) == n for r in cols.tolist())


@pytest.mark.parametrize("k", [100, 1000, 1249])
def test_select_with_a_large_k_pre_selects_in_narrower_chunks(k):
    """A large k on the CPU pre-selects among chunks of fewer columns (1,000 of 20,000: chunks of 4) and still gives
    the exact top k, equal scores by lower column (scores drawn from 50 values: ties everywhere, and at the cut)."""
    from spacekit.ops.topk_select import chunk_width, select

    g = torch.Generator().manual_seed(k)
    scores = torch.randint(0, 50, (7, 20_000), generator=g).float()
    assert chunk_width(20_000, k) == (32 if k == 100 else 4)
    vals, idx = select(scores, k)
    ref_vals, ref_idx = torch.sort(scores, dim=1, descending=True, stable=True)
    assert torch.equal(idx, ref_idx[:, :k])
    assert torch.equal(vals, ref_vals[:, :k])
    vals, idx = select(scores, k, ties=False)
    assert torch.equal(vals, ref_vals[:, :k])
    assert torch.equal(scores.gather(1, idx), vals)


def test_bad_arguments_are_input_errors():
    q, c = torch.randn(2, 4), torch.randn(5, 3)
    with pytest.raises(InputError, match="dimension mismatch"):
        topk(q, c, 2)
    with pytest.raises(InputError, match="k must be"):
        topk(q, torch.randn(5, 4), 0)
    with pytest.raises(InputError, match="metric"):
        topk(q, torch.randn(5, 4), 1, metric="l2")


@pytest.mark.real
def test_fused_kernel_path_in_the_triton_interpreter():
    """The GPU kernel path (chunk maxima from the Triton kernel + fp32 re-scoring), run by Triton's CPU interpreter."""
    pytest.importorskip("triton", reason="triton not installed: the fused-kernel path is checked on GPUs only")
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import os
        import importlib
        import torch
        from spacekit import backend
        from spacekit.ops import topk_fused, topk_settle, topk_torch
        from spacekit.ops.topk_fused import kernel_topk
        from spacekit.ops.topk_select import select
        from spacekit.ops.topk_tile import CorpusTile
        from spacekit.kernels.topk_triton import candidate_scores, chunk_top2, gather_dot, unit_rows
        redone, passes = [], []
        exact_rows, rescore_chunks = topk_settle.exact_rows, topk_fused.rescore_chunks
        topk_settle.exact_rows = lambda q, *a: redone.append(q.shape[0]) or exact_rows(q, *a)   # the fp32 fallback
        topk_fused.rescore_chunks = lambda q, *a: passes.append(q.shape[0]) or rescore_chunks(q, *a)  # every pass
        g = torch.Generator().manual_seed(0)
        low = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}
        budget = backend.Budget(1 << 26)
        unit = lambda *shape: torch.nn.functional.normalize(torch.randn(*shape, generator=g), dim=1)

        def check(q, tile, k, mode, ref_scores):
            redone.clear(), passes.clear()
            s, i = kernel_topk(q, tile, k, mode, budget)
            rs, ri = select(ref_scores, k)
            tol = 1e-6 * max(1.0, float(rs.abs().max()))             # fp32 sums in another order: near-twins swap
            assert (s - rs).abs().max() < tol, (q.shape, tile.exact.shape, k, mode)
            swapped = i != ri
            rows = torch.where(swapped)[0]
            gaps = (ref_scores[rows, i[swapped]] - ref_scores[rows, ri[swapped]]).abs()
            assert not gaps.numel() or gaps.max() < tol, gaps
            assert swapped.float().mean() < 0.01, (q.shape, tile.exact.shape, k, mode)
            return s, i

        def native(c, cosine=True):                                # fp16/bf16 rows searched as given
            _, scale = unit_rows(c, None)
            return CorpusTile(c, c, 1 + 1e-5, scale, scale) if cosine else CorpusTile(c, c, c.float().norm(dim=1).max())

        for b, n, d, k, mode in [(37, 6000, 32, 10, "fp16"), (20, 5001, 64, 5, "fp32"), (9, 7000, 16, 100, "bf16"),
                                 (5, 4500, 8, 1, "fp16"), (3, 10_000, 8, 300, "fp16")]:
            q, c = unit(b, d), unit(n, d)
            check(q, CorpusTile(c, c.to(low[mode]), c.norm(dim=1).max()), k, mode, q @ c.T)
            if mode != "bf16":                          # fp16/tf32 margins decide ~all rows of random data
                assert sum(redone) <= 1, (b, n, d, k, mode, redone)   # (bf16's bound, 3 * 2^-8, often cannot)
            if k <= 10:                                 # few of the top k share a chunk: one pass does every row
                assert len(passes) == 1, passes
            if mode != "fp32" and k <= 100:             # the same rows given in fp16/bf16, unnormalised
                raw, q = (c * 3).to(low[mode]), q[:5]
                scale = 1 / raw.float().norm(dim=1)
                check(q, native(raw), k, mode, (q @ raw.float().T) * scale)
                check(q, native(raw, cosine=False), k, mode, q @ raw.float().T)
        groups = torch.randn(700, 16, generator=g).repeat_interleave(8, dim=0)    # neighbours share a chunk
        clustered = torch.nn.functional.normalize(groups + 0.01 * torch.randn(5600, 16, generator=g), dim=1)
        q = unit(6, 16)
        check(q, CorpusTile(clustered, clustered.half(), 1.0), 20, "fp16", q @ clustered.T)
        assert passes == [6, 6], passes                 # ~20 expanded chunks a row: more than the 8 slots
        check(q, CorpusTile(clustered * 3, (clustered * 3).bfloat16(), 3.0), 7, "bf16", q @ (clustered * 3).T)
        q = q[:4]
        for slots in (0, 1):                            # too few slots: those rows take a second pass
            topk_fused.expansion_slots = lambda sub: slots
            check(q, CorpusTile(clustered, clustered.half(), 1.0), 8, "fp16", q @ clustered.T)
            assert len(passes) == 2 and 0 < passes[1] <= 4, passes
            c16 = clustered.half()
            check(q, native(c16), 8, "fp16", (q @ c16.float().T) / c16.float().norm(dim=1))
        topk_fused.expansion_slots = lambda sub: max(2, 512 // sub)
        base = torch.randn(3000, 16, generator=g)
        twins = torch.cat([base[:1500].repeat_interleave(2, dim=0), base])        # twins in one chunk and apart
        c = torch.nn.functional.normalize(twins, dim=1)                           # exact twins: lower index first
        q = unit(7, 16)
        for tile in [CorpusTile(c, c.half(), 1.0), native(twins.half())]:
            s, i = kernel_topk(q, tile, 6, "fp16", budget)
            exact = q @ tile.exact.float().T * (tile.scale if tile.scale is not None else 1)
            assert torch.equal(i, torch.sort(exact, dim=1, descending=True, stable=True).indices[:, :6])

        q, c = unit(37, 32).half(), unit(1000, 32).half()
        ref = q.float() @ c.float().T
        c_twins = c.clone()
        c_twins[1::2] = c_twins[::2]                                              # equal scores in every chunk
        col_scale = torch.rand(1000, generator=g) + 0.5
        for sub, config in [(16, ""), (32, ""), (64, ""), (128, ""), (256, ""), (32, "32,128,32,2,4,1"),
                            (128, "64,256,32,2,4,1")]:
            os.environ["SPACEKIT_TOPK_KERNEL_CONFIG"] = config             # "...,1": the persistent TMA kernel
            for corpus, scores, scale in [(c, ref, None), (c_twins, q.float() @ c_twins.float().T, None),
                                          (c, ref * col_scale, col_scale)]:
                best, col, runner_up = chunk_top2(q, corpus, sub, scale)
                m = -(-1000 // sub)
                padded = torch.full((37, m * sub), float("-inf"))
                padded[:, :1000] = scores
                top2 = padded.view(37, m, sub).topk(2, dim=2)
                assert (best - top2.values[..., 0]).abs().max() < 1e-5, (sub, config)
                assert (runner_up - top2.values[..., 1]).abs().max() < 1e-5, (sub, config)
                first = padded.view(37, m, sub).argmax(dim=2) + torch.arange(m) * sub   # twins: the lower column
                assert torch.equal(col.long(), first), (sub, config)
        os.environ["SPACEKIT_TOPK_KERNEL_CONFIG"] = "32,128,32,2,4"
        try:
            chunk_top2(q, c, 256)                                          # 256 does not divide BLOCK_N = 128
            raise AssertionError("a chunk wider than the column block was accepted")
        except ValueError:
            pass
        del os.environ["SPACEKIT_TOPK_KERNEL_CONFIG"]

        raw = torch.randn(6000, 48, generator=g) * 3                              # a cosine tile kept unnormalised
        raw[5] = 0
        low16, scale = unit_rows(raw, torch.float16)
        assert (low16.float() - torch.nn.functional.normalize(raw, dim=1)).abs().max() < 1e-3
        assert unit_rows(raw.half(), None)[0] is None
        assert (unit_rows(raw.half(), None)[1] - 1 / raw.half().float().norm(dim=1).clamp(min=1e-12)).abs().max() < 1e-6
        scaled = CorpusTile(raw, low16, torch.tensor(1 + 1e-5), scale)
        qn = unit(23, 48)
        ref_s, ref_i = select(qn @ torch.nn.functional.normalize(raw, dim=1).T, 10)
        for s, i in [kernel_topk(qn, scaled, 10, "fp16", budget),
                     topk_torch.reduced_precision_topk(qn, scaled, 10, "fp16", budget)]:
            assert torch.equal(i, ref_i) and (s - ref_s).abs().max() < 1e-6

        q32, c16 = unit(13, 200), unit(900, 200).half()
        cols = torch.randint(-1, 901, (13, 37), generator=g, dtype=torch.int32)    # -1 and 900: no column
        spans = torch.tensor([[3, -1], [-1, -1], [28, 0]] + [[-1, 5]] * 10)       # chunk 28 holds 896..899 only
        col_scale = torch.rand(900, generator=g) + 0.5
        s, i = candidate_scores(q32, c16, cols, spans, 32, col_scale)
        want = torch.cat([cols.long(), (spans.unsqueeze(2) * 32 + torch.arange(32)).view(13, -1)], dim=1)
        listed = torch.cat([cols >= 0, spans.repeat_interleave(32, 1) >= 0], 1)
        want = torch.where((want >= 0) & (want < 900) & listed, want, 900)
        assert torch.equal(i, want)
        full = (q32 @ c16.float().T) * col_scale
        ref = torch.cat([full, torch.full((13, 1), float("-inf"))], dim=1).gather(1, want)
        assert torch.equal(torch.isinf(s), torch.isinf(ref)) and (s - ref)[~torch.isinf(ref)].abs().max() < 1e-5
        c32 = c16.float()
        ref = torch.where(cols >= 0, (c32[cols.long().clamp(0, 899)] @ q32.unsqueeze(2)).squeeze(2), float("-inf"))
        ref[cols == 900] = float("-inf")
        got = gather_dot(q32, c32, cols.long())
        assert torch.equal(torch.isinf(got), torch.isinf(ref)) and (got - ref)[~torch.isinf(ref)].abs().max() < 1e-5
        print("ok")
    """)
    env = {**__import__("os").environ, "TRITON_INTERPRET": "1"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_a_kernel_that_fails_to_build_falls_back_to_the_torch_path(monkeypatch, caplog):
    from spacekit import backend
    from spacekit.ops import kernel_guard, topk_fused, topk_torch
    from spacekit.ops.topk import SearchPlan, tile_topk
    from spacekit.ops.topk_select import select
    from spacekit.ops.topk_tile import CorpusTile

    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(topk_fused, "kernel_topk", broken)
    monkeypatch.setattr(kernel_guard, "BROKEN", [])
    monkeypatch.delenv("SPACEKIT_STRICT_KERNELS", raising=False)
    g = torch.Generator().manual_seed(11)
    q, c = torch.randn(8, 16, generator=g), torch.randn(500, 16, generator=g)
    plan = SearchPlan("fused", None, False, 500, 300, 8, backend.Budget(1 << 20))     # 62 chunks of 8 columns
    _, i = tile_topk(q, CorpusTile(c, c, None), 5, plan)
    assert torch.equal(i, select(q @ c.T, 5)[1])
    assert kernel_guard.BROKEN == ["fused top-k"]
    assert "using the torch path" in caplog.text
    # a query tile sized for the fused path (no score tile) is cut into slices whose score tile fits the budget
    q = torch.randn(300, 16, generator=g)
    slices = []
    real = topk_torch.torch_topk
    monkeypatch.setattr(topk_torch, "torch_topk", lambda qt, *a: slices.append(qt.shape[0]) or real(qt, *a))
    _s, i = tile_topk(q, CorpusTile(c, c, None), 5, SearchPlan("fused", None, False, 500, 300, 8,
                                                              backend.Budget(100_000)))
    assert len(slices) > 1
    assert max(slices) * 500 * 4 * 2 <= 100_000
    assert sum(slices) == 300
    assert torch.equal(i, select(q @ c.T, 5)[1])


def test_a_kernel_failure_is_raised_when_kernels_are_strict(monkeypatch):
    """SPACEKIT_STRICT_KERNELS=1 (the GPU tests set it): a failing kernel fails loud instead of falling back."""
    from spacekit.ops import kernel_guard

    monkeypatch.setattr(kernel_guard, "BROKEN", [])
    monkeypatch.setenv("SPACEKIT_STRICT_KERNELS", "1")

    def kernel():
        raise RuntimeError("no compiler here")

    with pytest.raises(RuntimeError, match="no compiler here"):
        kernel_guard.with_kernel("fused top-k", kernel, lambda: "fallback")
    assert kernel_guard.BROKEN == []
    monkeypatch.setenv("SPACEKIT_STRICT_KERNELS", "0")
    assert kernel_guard.with_kernel("fused top-k", kernel, lambda: "fallback") == "fallback"
    assert kernel_guard.BROKEN == ["fused top-k"]


def test_cuda_out_of_memory_in_a_kernel_leaves_the_kernels_on(monkeypatch):
    """An out-of-memory error is the caller's (as any torch op's), not a broken kernel: nothing is switched off."""
    from spacekit.ops import kernel_guard

    monkeypatch.setattr(kernel_guard, "BROKEN", [])
    monkeypatch.delenv("SPACEKIT_STRICT_KERNELS", raising=False)

    def kernel():
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    with pytest.raises(torch.cuda.OutOfMemoryError, match="Tried to allocate"):
        kernel_guard.with_kernel("fused top-k", kernel, lambda: "fallback")
    assert kernel_guard.BROKEN == []
    assert not kernel_guard.broken()


@pytest.mark.parametrize("blas", ["torch", "numpy"])
def test_cpu_scores_through_either_blas_into_a_reused_buffer(blas, monkeypatch):
    from spacekit.ops import similarity

    monkeypatch.setitem(similarity._BLAS, "choice", blas)
    g = torch.Generator().manual_seed(8)
    a, b = torch.randn(37, 24, generator=g), torch.randn(101, 24, generator=g)
    buf = torch.full((50 * 120,), float("nan"))
    out = similarity.scores(a, b, out=buf)
    torch.testing.assert_close(out, a @ b.T, atol=1e-5, rtol=0)
    assert out.data_ptr() == buf.data_ptr()
    assert out.shape == (37, 101)
    torch.testing.assert_close(similarity.scores(a[:5], b[:7], out=buf), a[:5] @ b[:7].T, atol=1e-5, rtol=0)
    _s, i = topk(a, b, 4)
    assert torch.equal(i, torch.sort(torch.nn.functional.normalize(a, dim=1) @ torch.nn.functional.normalize(
        b, dim=1).T, dim=1, descending=True, stable=True).indices[:, :4])


def test_candidate_precision_and_fused_tile_sizes(monkeypatch):
    from spacekit.backend import Budget
    from spacekit.ops import similarity
    from spacekit.ops.topk import candidate_precision, tile_sizes

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert candidate_precision("fp32", "cosine", cuda) == "fp16" == candidate_precision(None, "cosine", cuda)
    assert candidate_precision("tf32", "cosine", cuda) == "fp16"
    assert candidate_precision("bf16", "cosine", cuda) == "bf16"
    assert candidate_precision("fp32", "dot", cuda) is None
    assert candidate_precision("tf32", "dot", cuda) == "tf32"
    for choice, expected in [("bf16", "bf16"), ("fp32", "fp32")]:                  # the CPU: as cpu_candidates()
        monkeypatch.setenv("SPACEKIT_CPU_CANDIDATES", choice)
        monkeypatch.setattr(similarity, "_BLAS", {})
        assert candidate_precision("fp16", "cosine", cpu) == expected == candidate_precision(None, "dot", cpu)
    limit = Budget(1 << 30)
    c_rows, q_rows = tile_sizes(limit, 10_000, 1_000_000, 768, fused_sub=128)
    assert c_rows * 20 * 768 <= limit.bytes
    assert q_rows * 48 * (c_rows // 128 + 1) <= limit.bytes
    assert c_rows % 32 == 0
    assert q_rows >= 1
    assert tile_sizes(limit, 10, 100, 8, fused_sub=16) == (100, 10)                # everything in one tile


def test_the_former_dtype_argument_still_works_with_a_deprecation_warning():
    """topk(dtype=) is topk(candidate_precision=) for one release: the same search, and a DeprecationWarning."""
    g = torch.Generator().manual_seed(5)
    q, c = torch.randn(7, 16, generator=g), torch.randn(300, 16, generator=g)
    s_new, i_new = topk(q, c, 5, candidate_precision="fp32")
    with pytest.warns(DeprecationWarning, match="candidate_precision"):
        s_old, i_old = topk(q, c, 5, dtype="fp32")
    assert torch.equal(i_old, i_new)
    assert torch.equal(s_old, s_new)


@pytest.mark.parametrize(("bf16_seconds", "expected"), [(1.43, "fp32"), (1.0, "fp32"), (0.9, "fp32"), (0.8, "bf16"),
                                                        (0.5, "bf16")])
def test_the_cpu_plan_takes_bf16_candidates_only_where_they_are_measured_faster(monkeypatch, bf16_seconds,
                                                                                expected):
    """The candidate precision follows the measured routes, whatever the CPU's flags: bf16 only where its whole route
    takes at most 1/1.15 of the fp32 route's time (a CPU with AVX512-BF16 but no AMX can run bf16 products at about
    0.7x fp32's speed: 1.43 s for fp32's 1 s, and gets fp32); the plan of a search says so, and --profile prints it."""
    from spacekit.ops import similarity
    from spacekit.ops.topk import plan_search

    monkeypatch.delenv("SPACEKIT_CPU_CANDIDATES", raising=False)
    monkeypatch.setattr(similarity, "_BLAS", {})
    timings = iter([1.0, bf16_seconds])                                    # the fp32 route's, then the bf16 route's
    monkeypatch.setattr(similarity, "_best_of", lambda fn, repeat=3: next(timings))
    plan = plan_search(100, 10_000, 384, 10, "cosine", torch.device("cpu"), None, None, torch.float32)
    assert plan.candidates == expected
    assert plan.low == (torch.bfloat16 if expected == "bf16" else torch.float32)
    said = similarity.describe_cpu_plan()
    assert said.startswith(f"CPU top-k: {expected} candidates re-scored in float64")
    assert f"{1.0 / bf16_seconds:.2f}x" in said
