"""GPU paths against float64 / CPU references (skipped without CUDA)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import data_path, paired_statistic_cases

from spacekit.ops import topk

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _strict_kernels(monkeypatch):
    """A kernel that fails here fails the test (no silent fallback to the torch path)."""
    monkeypatch.setenv("SPACEKIT_STRICT_KERNELS", "1")


def _exact_check(q: torch.Tensor, c: torch.Tensor, idx: torch.Tensor, scores: torch.Tensor, k: int):
    qn = torch.nn.functional.normalize(q.double().cpu(), dim=1)
    cn = torch.nn.functional.normalize(c.double().cpu(), dim=1)
    ref = qn @ cn.T
    best = torch.topk(ref, k, dim=1).values                        # sorted: the k best values, ties or not
    torch.testing.assert_close(ref.gather(1, idx), best, atol=1e-6, rtol=0)
    torch.testing.assert_close(scores.double(), best, atol=1e-6, rtol=0)


def _dot_check(q: torch.Tensor, c: torch.Tensor, idx: torch.Tensor, k: int):
    """The returned ids carry the float64 top-k dot scores rank by rank, to the cosine check's 1e-6 in units of the
    sum of |q_i c_i| an fp32 dot product rounds against (near-ties within fp32 rounding may come in either order)."""
    ref = q.double() @ c.double().T
    best = torch.sort(ref, dim=1, descending=True, stable=True).values[:, :k]
    scale = (q.double().abs() @ c.double().abs().T).max(dim=1, keepdim=True).values
    assert ((ref.gather(1, idx) - best).abs() <= 1e-6 * scale).all()


@pytest.mark.parametrize("dtype", ["fp32", "tf32", "fp16", "bf16"])
@pytest.mark.parametrize("d", [384, 768, 1024])
@pytest.mark.parametrize("k", [1, 10, 100, 1000])
def test_gpu_topk_equals_float64_reference(dtype, d, k):
    from spacekit.ops import topk

    g = torch.Generator().manual_seed(d + k)
    q, c = torch.randn(301, d, generator=g), torch.randn(20_011, d, generator=g)  # uneven sizes
    scores, idx = topk(q, c, k, device="cuda", candidate_precision=dtype, budget="256M")
    _exact_check(q, c, idx, scores, k)


def test_gpu_topk_over_a_long_corpus_equals_float64_reference():
    """Enough chunks per query (200k rows) that the best chunks are picked through maxima of their groups first."""
    g = torch.Generator().manual_seed(9)
    q, c = torch.randn(300, 128, generator=g), torch.randn(200_000, 128, generator=g)
    for k in (1, 10, 100):
        scores, idx = topk(q, c, k, device="cuda", candidate_precision="fp16")
        _exact_check(q, c, idx, scores, k)


def test_gpu_topk_ties_by_lower_index():
    from spacekit.ops import topk

    base = torch.randn(500, 64)
    c, q = torch.cat([base, base]), torch.randn(50, 64)
    for dtype in ["fp32", "fp16"]:
        _, idx = topk(q, c, 10, device="cuda", candidate_precision=dtype)
        ref = torch.nn.functional.normalize(q.double(), dim=1) @ torch.nn.functional.normalize(c.double(), dim=1).T
        assert torch.equal(idx, torch.sort(ref, dim=1, descending=True, stable=True).indices[:, :10])


def test_gpu_topk_on_scifact_embeddings_equals_cpu():
    from spacekit.embed import EncodeOptions, load_model
    from spacekit.ops import topk

    folder = data_path("scifact")
    docs = [json.loads(x) for x in (folder / "corpus.jsonl").open()]
    texts = [(d["title"] + " " + d["text"]).strip() for d in docs]
    queries = [json.loads(x)["text"] for x in (folder / "queries.jsonl").open()]
    model, opts = load_model("builtin:minilm"), EncodeOptions(device="cuda", dtype="fp16", use_cache=False)
    c = torch.from_numpy(opts.embed(model, [str(i) for i in range(len(texts))], texts))
    q = torch.from_numpy(opts.embed(model, [str(i) for i in range(len(queries))], queries))
    for k in (1, 10, 100, 1000):
        s_gpu, i_gpu = topk(q, c, k, device="cuda", candidate_precision="fp16")
        _exact_check(q, c, i_gpu, s_gpu, k)


@pytest.mark.parametrize(("dtype", "config"), [("fp32", ""), ("fp16", ""), ("bf16", ""), ("fp16", "128,256,64,4,8,0"),
                                          ("bf16", "128,128,64,3,8,1")])
def test_gpu_chunk_top2_kernel_equals_torch(dtype, config, monkeypatch):
    from spacekit.kernels.topk_triton import chunk_top2

    monkeypatch.setenv("SPACEKIT_TOPK_KERNEL_CONFIG", config)        # "...,0": pointer loads, "...,1": persistent TMA

    low = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[dtype]
    g = torch.Generator(device="cuda").manual_seed(1)
    q = torch.nn.functional.normalize(torch.randn(1000, 768, device="cuda", generator=g), dim=1).to(low)
    c = torch.nn.functional.normalize(torch.randn(50_001, 768, device="cuda", generator=g), dim=1).to(low)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)   # restored after the test
    ref = q.double() @ c.double().T                               # the products of the rounded inputs, exactly
    tol = 2e-3 if dtype == "fp32" else 1e-5                       # tf32 rounds fp32 inputs; fp16/bf16 products exact
    from spacekit.kernels.topk_triton import max_chunk

    col_scale = torch.rand(c.shape[0], device="cuda", generator=g) + 0.5
    widths = [sub for sub in (16, 32, 64, 128, 256) if max_chunk(dtype == "fp32", q.device) % sub == 0]
    for sub, scale in [(sub, None) for sub in widths] + [(widths[-1], col_scale)]:
        best, col, runner_up = chunk_top2(q, c, sub, scale)
        m = -(-c.shape[0] // sub)
        padded = torch.full((q.shape[0], m * sub), float("-inf"), device="cuda")
        padded[:, :c.shape[0]] = ref if scale is None else ref * scale.double()
        top2 = padded.view(q.shape[0], m, sub).topk(2, dim=2).values
        torch.testing.assert_close(best, top2[..., 0].float(), atol=tol, rtol=0)
        torch.testing.assert_close(runner_up, top2[..., 1].float(), atol=tol, rtol=0)   # -inf: a 1-column chunk
        assert torch.equal(col.long() // sub, torch.arange(m, device="cuda").expand(q.shape[0], -1))
        assert (padded.gather(1, col.long()) - best).abs().max() < tol


@pytest.mark.parametrize("d", [384, 1500])
def test_gpu_unit_rows_kernel_equals_normalize(d):
    from spacekit.kernels.topk_triton import unit_rows

    x = torch.randn(100_003, d, device="cuda") * 5
    x[7] = 0
    ref = torch.nn.functional.normalize(x, dim=1)
    for dtype, tol in [(torch.float16, 1e-3), (torch.bfloat16, 8e-3)]:
        low, scale = unit_rows(x, dtype)
        assert low.dtype == dtype
        assert (low.float() - ref).abs().max() < tol
        assert (x * scale[:, None] - ref).abs().max() < 1e-6
        assert not low[7].any()


def test_gpu_gather_dot_kernel_equals_float64():
    from spacekit.kernels.topk_triton import gather_dot

    g = torch.Generator(device="cuda").manual_seed(2)
    q = torch.randn(5000, 768, device="cuda", generator=g)
    c = torch.randn(200_000, 768, device="cuda", generator=g)
    cols = torch.randint(0, 200_001, (5000, 42), device="cuda", generator=g)  # 200,000: padding, scores -inf
    ref = (c.double()[cols.clamp(max=199_999)] @ q.double().unsqueeze(2)).squeeze(2)
    got = gather_dot(q, c, cols).double()
    pad = cols == 200_000
    assert torch.isinf(got[pad]).all()
    assert (got - ref)[~pad].abs().max() < 1e-4


def test_gpu_candidate_scores_kernel_equals_float64():
    from spacekit.kernels.topk_triton import candidate_scores

    g = torch.Generator(device="cuda").manual_seed(3)
    q = torch.nn.functional.normalize(torch.randn(3000, 384, device="cuda", generator=g), dim=1)
    c = torch.randn(100_003, 384, device="cuda", generator=g).half()                # fp16 rows, read exactly
    cols = torch.randint(-1, 100_003, (3000, 42), device="cuda", generator=g)       # -1: no column
    spans = torch.randint(-1, 782, (3000, 4), device="cuda", generator=g)           # 781: the ragged last chunk
    scale = torch.rand(100_003, device="cuda", generator=g) + 0.5
    s, i = candidate_scores(q, c, cols, spans, 128, scale)
    want = torch.cat([cols, (spans.unsqueeze(2) * 128 + torch.arange(128, device="cuda")).view(3000, -1)], dim=1)
    listed = torch.cat([cols >= 0, spans.repeat_interleave(128, 1) >= 0], dim=1)
    want = torch.where(listed & (want < 100_003), want, 100_003)
    assert torch.equal(i, want)
    ok = want < 100_003
    rows = c.double()[want.clamp(max=100_002)]
    ref = (rows @ q.double().unsqueeze(2)).squeeze(2) * scale.double()[want.clamp(max=100_002)]
    assert torch.isinf(s[~ok]).all()
    assert (s.double() - ref)[ok].abs().max() < 1e-5


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_gpu_corpus_given_in_fp16_is_searched_as_its_fp32_values(metric):
    """fp16/bf16 rows are used as given (no fp32 copy): the result is the exact search over their fp32 values."""
    g = torch.Generator().manual_seed(5)
    q = torch.randn(301, 768, generator=g)
    for low, dtype in [(torch.float16, "fp16"), (torch.bfloat16, "bf16")]:
        c = torch.randn(50_011, 768, generator=g).to(low)
        c_cuda = c.cuda()
        for k in (1, 10, 100, 1000):
            scores, idx = topk(q, c_cuda, k, metric=metric, device="cuda", candidate_precision=dtype)
            if metric == "cosine":
                _exact_check(q, c.float(), idx, scores, k)
            else:
                _dot_check(q, c.float(), idx, k)                              # |score| up to ~120


@pytest.mark.parametrize("k", [10, 100, 1000])
def test_gpu_fused_kernel_on_clustered_data_equals_the_torch_path(k, monkeypatch):
    """Neighbours stored next to each other put several of the top k in one chunk: those chunks are re-scored in
    full. The kernel must run (a spy counts it) and agree with float64 and with the torch path's scores."""
    import importlib

    tk = importlib.import_module("spacekit.ops.topk_fused")
    guard = importlib.import_module("spacekit.ops.kernel_guard")
    calls = []
    real = tk.kernel_topk
    monkeypatch.setattr(tk, "kernel_topk", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    g = torch.Generator().manual_seed(k)
    groups = torch.randn(5000, 128, generator=g).repeat_interleave(20, dim=0)
    c = groups + 0.05 * torch.randn(groups.shape, generator=g)
    q = groups[::997] + 0.3 * torch.randn(groups[::997].shape, generator=g)
    for dtype in ("fp16", "bf16", "fp32"):
        scores, idx = topk(q, c, k, device="cuda", candidate_precision=dtype)
        _exact_check(q, c, idx, scores, k)
    for dtype in ("fp32", "tf32"):                                    # dot scores: tf32 products in the kernel
        scores, idx = topk(q, c, k, metric="dot", device="cuda", candidate_precision=dtype)
        _dot_check(q, c, idx, k)                                              # |score| ~ 130: fp32 sums
    assert calls
    assert not guard.BROKEN
    s_kernel, _ = topk(q, c, k, device="cuda", candidate_precision="fp16")
    monkeypatch.setenv("SPACEKIT_KERNELS", "0")
    s_torch, i_torch = topk(q, c, k, device="cuda", candidate_precision="fp16")
    _exact_check(q, c, i_torch, s_torch, k)                       # near-twins may swap within fp32 rounding
    torch.testing.assert_close(s_kernel, s_torch, atol=1e-6, rtol=0)


def test_gpu_fp16_encoding_within_cosine_of_fp32(monkeypatch):
    from spacekit.embed import batching, encode, load_model

    monkeypatch.setattr(batching, "BLOCK", 300)                 # several tokenised blocks through the prefetch thread

    texts = [json.loads(x)["text"] for x in (data_path("scifact") / "corpus.jsonl").open()][:2000]
    model = load_model("builtin:minilm")
    ref = encode(model, texts, device="cpu")
    for dtype in ["fp32", "fp16", "bf16"]:
        got = encode(model, texts, device="cuda", dtype=dtype)
        cos = (got * ref).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(ref, axis=1)
        assert cos.min() >= (0.99999 if dtype == "fp32" else 0.9999 if dtype == "fp16" else 0.999), (dtype, cos.min())


def test_gpu_encoder_forward_never_waits_for_the_device():
    """Padded fp16 batches go through the network without a device-to-host read (each would be a wait for the GPU
    on every batch, so the host could not queue forward passes ahead)."""
    from spacekit.embed import load_model
    from spacekit.embed.batching import batches
    from spacekit.embed.encoder import embed_batch, on_device

    model = load_model("builtin:minilm")
    placed = on_device(model, torch.device("cuda"), torch.float16)
    assert placed.full_mask
    texts = [json.loads(x)["text"] for x in (data_path("scifact") / "corpus.jsonl").open()][:300]
    ready = list(batches(model.tokenizer.ids, texts, 0, torch.device("cuda"), 8192))
    assert any(b.padded for b in ready)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with torch.inference_mode():
            for b in ready:
                embed_batch(model, placed, b)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


def test_gpu_geometry_equals_cpu():
    from spacekit.ops import geometry

    x = torch.nn.functional.normalize(torch.randn(20_000, 256, dtype=torch.float64), dim=1)
    cpu = float(torch.log(torch.exp(-2 * torch.pdist(x[:3000]).square()).mean()))
    assert geometry.uniformity(x[:3000], device="cuda", budget="4M") == pytest.approx(cpu, rel=1e-6)
    y = torch.nn.functional.normalize(x + 0.1 * torch.randn_like(x), dim=1)
    a = geometry.knn_overlap(x.float(), y.float(), k=10, device="cuda")
    b = geometry.knn_overlap(x.float(), y.float(), k=10, device="cpu")
    assert (a - b).abs().max() <= 0.1
    assert abs(float(a.mean() - b.mean())) < 1e-3


def test_gpu_tiled_space_statistics_equal_cpu_float64():
    """Alignment, anisotropy, effective rank and CKA on the device, in many tiles, equal the CPU's float64."""
    from spacekit.ops import geometry

    g = torch.Generator().manual_seed(2)
    x = torch.nn.functional.normalize(torch.randn(30_000, 384, generator=g) + 0.5, dim=1)
    y = x @ torch.randn(384, 256, generator=g) + 0.2 * torch.randn(30_000, 256, generator=g)
    for name, fn in [("alignment", lambda **kw: geometry.alignment(x, x.roll(1, 0), **kw)),
                     ("anisotropy", lambda **kw: geometry.anisotropy(x, **kw)),
                     ("effective_rank", lambda **kw: geometry.effective_rank(x, **kw)),
                     ("linear_cka", lambda **kw: geometry.linear_cka(x, y, **kw))]:
        assert fn(device="cuda", budget="8M") == pytest.approx(fn(device="cpu"), rel=1e-9), name


def test_gpu_paired_statistics_equal_cpu():
    """Bootstrap intervals (mean, Spearman, V-measure) and sign-flip p-values on the device, in blocks, equal the
    CPU's: the same seeded draws, sums in another order."""
    from spacekit import stats

    cases = paired_statistic_cases(2000, seed=3)
    for x, y, statistic in cases:
        cpu = stats.paired_bootstrap(x, y, statistic, seed=1, device="cpu")
        gpu = stats.paired_bootstrap(x, y, statistic, seed=1, device="cuda", budget="16M")
        assert (gpu[0], gpu[1]) == pytest.approx((cpu[0], cpu[1]), rel=1e-9, abs=1e-12)
    a, b, _ = cases[0]
    assert stats.sign_flip_test(a, b, seed=2, device="cuda", budget="16M") == stats.sign_flip_test(a, b, seed=2,
                                                                                                   device="cpu")


def test_gpu_kmeans_matches_cpu_quality():
    from sklearn.metrics import adjusted_rand_score

    from spacekit.ops.kmeans import kmeans

    g = torch.Generator().manual_seed(0)
    centers = torch.randn(20, 32, generator=g) * 8
    x = centers.repeat_interleave(100, 0) + torch.randn(2000, 32, generator=g)
    labels, _ = kmeans(x, 20, device="cuda", seed=3)
    assert adjusted_rand_score(torch.arange(20).repeat_interleave(100), labels) > 0.99

