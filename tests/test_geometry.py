"""Geometry functions equal naive float64 references, including tiled cases that span many tiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spacekit.errors import InputError
from spacekit.ops import geometry
from spacekit.ops.kmeans import kmeans


def _unit(n: int, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)


@pytest.mark.parametrize(("n", "budget"), [(50, None), (1500, "64K"), (777, "8K")])
def test_uniformity_equals_pdist_reference(n, budget):
    x = _unit(n, 24, n)
    ref = float(torch.log(torch.exp(-2.0 * torch.pdist(x).square()).mean()))
    got = geometry.uniformity(x.float(), budget=budget)
    assert got == pytest.approx(ref, rel=1e-6)


def test_uniformity_sampled_ci_covers_exact():
    x = _unit(600, 16, 1)
    exact = geometry.uniformity(x)
    est, lo, hi = geometry.uniformity_sampled(x, pairs=200_000)
    assert lo <= exact <= hi
    assert hi - lo < 0.05
    assert abs(est - exact) < 0.02


def test_alignment_anisotropy_effective_rank_cka_equal_direct_formulas():
    a, b = _unit(300, 16, 2), _unit(300, 16, 3)
    assert geometry.alignment(a, b) == pytest.approx(float(((a - b).norm(dim=1) ** 2).mean()), rel=1e-12)
    assert geometry.alignment(a, b, alpha=1) == pytest.approx(float((a - b).norm(dim=1).mean()), rel=1e-12)
    cos = a @ a.T
    off = cos[~torch.eye(300, dtype=torch.bool)]
    assert geometry.anisotropy(a) == pytest.approx(float(off.mean()), rel=1e-9)
    s = np.linalg.svd(a.numpy(), compute_uv=False)
    p = s / s.sum()
    assert geometry.effective_rank(a) == pytest.approx(float(np.exp(-(p * np.log(p)).sum())), rel=1e-9)
    # CKA via centred Gram matrices (the n x n definition), against the d x d formula used by spacekit
    h = torch.eye(300, dtype=torch.float64) - 1.0 / 300
    ka, kb = h @ (a @ a.T) @ h, h @ (b[:, :8] @ b[:, :8].T) @ h
    ref = float((ka * kb).sum() / (ka.norm() * kb.norm()))
    assert geometry.linear_cka(a, b[:, :8]) == pytest.approx(ref, rel=1e-6)
    assert geometry.linear_cka(a, a @ torch.linalg.qr(torch.randn(16, 16, dtype=torch.float64))[0]) == \
        pytest.approx(1.0, abs=1e-9)  # invariant to rotations


@pytest.mark.parametrize("budget", ["2K", "20K", None])
def test_tiled_geometry_equals_the_whole_matrix_formulas(budget):
    """Alignment, anisotropy, effective rank and CKA summed tile by tile (a 2K budget: a few rows a tile) equal
    the formulas on the whole float64 matrix, for a space with a large common direction (centring matters) and
    for fewer rows than dimensions (rank-deficient: the tall-skinny QR must keep only the true singular values)."""
    g = torch.Generator().manual_seed(9)
    cone = torch.nn.functional.normalize(torch.randn(500, 12, generator=g, dtype=torch.float64) + 3, dim=1)
    drifted = cone @ torch.randn(12, 7, generator=g, dtype=torch.float64) + 0.1 * torch.randn(500, 7, generator=g,
                                                                                          dtype=torch.float64)
    few = torch.randn(5, 40, generator=g, dtype=torch.float64)
    for x, y in [(cone, drifted), (few, few[:, :9] * 2 + 1)]:
        n = x.shape[0]
        xf, yf = x.float(), y.float()                                      # float32 in, as from encode
        x64, y64 = xf.double(), yf.double()
        assert geometry.alignment(xf, xf.flip(0), budget=budget) == pytest.approx(
            float((x64 - x64.flip(0)).norm(dim=1).square().mean()), rel=1e-12)
        u = torch.nn.functional.normalize(x64, dim=1)
        assert geometry.anisotropy(xf, budget=budget) == pytest.approx(
            float((u @ u.T)[~torch.eye(n, dtype=torch.bool)].mean()), rel=1e-9, abs=1e-12)
        sv = np.linalg.svd(x64.numpy(), compute_uv=False)
        p = sv / sv.sum()
        assert geometry.effective_rank(xf, budget=budget) == pytest.approx(float(np.exp(-(p * np.log(p)).sum())),
                                                                           rel=1e-9)
        h = torch.eye(n, dtype=torch.float64) - 1.0 / n
        ka, kb = h @ (x64 @ x64.T) @ h, h @ (y64 @ y64.T) @ h
        assert geometry.linear_cka(xf, yf, budget=budget) == pytest.approx(
            float((ka * kb).sum() / (ka.norm() * kb.norm())), rel=1e-9)


def test_tiles_stay_under_the_element_cap(monkeypatch):
    """However large the budget, a float64 tile holds at most TILE_ELEMENTS values (32-bit solver indices)."""
    monkeypatch.setattr(geometry, "TILE_ELEMENTS", 1000)
    a, b = torch.randn(777, 30), torch.randn(777, 20)
    tiles = list(geometry._float64_tiles((a, b), "cpu", "1G"))
    assert all(ta.numel() + tb.numel() <= 1000 for ta, tb in tiles)
    assert len(tiles) == 39
    assert torch.equal(torch.cat([ta for ta, _ in tiles]), a.double())


def test_geometry_rejects_too_few_rows():
    empty = torch.zeros(0, 4)
    with pytest.raises(InputError, match="at least 1 pair"):
        geometry.alignment(empty, empty)
    with pytest.raises(InputError, match="at least 1 vector"):
        geometry.effective_rank(empty)
    with pytest.raises(InputError, match="at least 2 items"):
        geometry.linear_cka(torch.ones(1, 4), torch.ones(1, 3))


def test_knn_overlap_is_jaccard_of_neighbour_sets():
    a = _unit(400, 8, 4)
    b = torch.nn.functional.normalize(a + 0.3 * _unit(400, 8, 5), dim=1)
    got = geometry.knn_overlap(a, b, k=5)
    da, db = a @ a.T, b @ b.T
    da.fill_diagonal_(-9), db.fill_diagonal_(-9)
    na, nb = da.topk(5, dim=1).indices, db.topk(5, dim=1).indices
    ref = [len(set(na[i].tolist()) & set(nb[i].tolist())) / len(set(na[i].tolist()) | set(nb[i].tolist()))
           for i in range(400)]
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-12)
    assert torch.all(geometry.knn_overlap(a, a, k=5) == 1)


def test_kmeans_recovers_separated_blobs_and_is_deterministic():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(6, 10, generator=g) * 10
    x = centers.repeat_interleave(50, 0) + torch.randn(300, 10, generator=g)
    labels, inertia = kmeans(x, 6, seed=1)
    gold = torch.arange(6).repeat_interleave(50)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(gold, labels) == 1.0
    again, inertia2 = kmeans(x, 6, seed=1)
    assert torch.equal(labels, again)
    assert inertia == inertia2


def test_kmeans_iterates_lloyd_to_scikit_learns_fixed_point():
    """From the same k-means++ centres, spacekit's Lloyd iterations end where scikit-learn's KMeans does: same
    labels, same inertia (overlapping blobs: the seeding alone is far from it, as a k-means that never iterated)."""
    from sklearn.cluster import KMeans

    from spacekit.ops.kmeans import _kmeans_pp

    g = torch.Generator().manual_seed(0)
    x = (torch.randn(12, 8, generator=g) * 1.5).repeat_interleave(80, 0) + torch.randn(960, 8, generator=g)
    init = _kmeans_pp(x, 12, torch.Generator().manual_seed(5))
    seeded = float(torch.cdist(x, init).square().min(1).values.sum())
    labels, inertia = kmeans(x, 12, n_init=1, seed=5, max_iter=300)
    ref = KMeans(12, init=init.numpy(), n_init=1, max_iter=300, tol=0, algorithm="lloyd").fit(x.numpy())
    assert inertia == pytest.approx(ref.inertia_, rel=1e-5)
    assert inertia < 0.9 * seeded                                   # it moved the centres
    assert (labels.numpy() == ref.labels_).mean() == 1.0


def test_kmeans_many_clusters_each_set_as_scikit_learn_converges_on_it():
    """Every set of a batch reaches a Lloyd fixed point of scikit-learn's KMeans: started from kmeans_many's own
    centres (each cluster's mean), scikit-learn does not move them; the sets are clustered independently."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    from spacekit.ops.kmeans import kmeans_many

    rng = np.random.default_rng(0)
    sets = np.stack([np.repeat(rng.normal(size=(3, 5)) * 6, 20, 0) + rng.normal(size=(60, 5)) for _ in range(8)])
    labels = kmeans_many(sets, 3, seed=2).numpy()
    gold = np.repeat(np.arange(3), 20)
    for x, got in zip(sets, labels, strict=True):
        assert adjusted_rand_score(gold, got) == 1.0
        centres = np.stack([x[got == c].mean(0) for c in range(3)])
        ref = KMeans(3, init=centres, n_init=1, max_iter=300, tol=0).fit(x)
        assert (ref.labels_ == got).all()
        np.testing.assert_allclose(ref.cluster_centers_, centres, atol=1e-9)
    alone = kmeans_many(sets[3:4], 3, seed=2).numpy()[0]
    assert adjusted_rand_score(alone, labels[3]) == 1.0
    with pytest.raises(InputError):
        kmeans_many(sets, 61)


def test_geometry_bad_input():
    with pytest.raises(InputError):
        geometry.uniformity(torch.randn(1, 4))
    with pytest.raises(InputError):
        geometry.knn_overlap(torch.randn(5, 4), torch.randn(5, 4), k=5)
    with pytest.raises(InputError):
        geometry.alignment(torch.randn(5, 4), torch.randn(4, 4))


def test_the_library_api_names_the_geometry_functions():
    """spacekit.ops.alignment / uniformity / knn_overlap / linear_cka / effective_rank / anisotropy, as DESIGN.md
    lists them, are the geometry functions (floats, per-item tensor for knn_overlap)."""
    from spacekit import ops

    a, b = _unit(60, 8, 6), _unit(60, 8, 7)
    assert ops.alignment(a, b) == geometry.alignment(a, b)
    assert ops.uniformity(a) == geometry.uniformity(a)
    assert ops.linear_cka(a, b) == geometry.linear_cka(a, b)
    assert ops.anisotropy(a) == geometry.anisotropy(a)
    assert isinstance(ops.effective_rank(a), float)
    assert ops.effective_rank(a) == geometry.effective_rank(a)
    assert torch.equal(ops.knn_overlap(a, b, 5), geometry.knn_overlap(a, b, 5))
