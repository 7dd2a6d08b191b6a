"""Slices (issue 34): a task's main metric tested on slices of its items, corrected across them; the Simpson
warning finds a planted slice that regressed while the whole improved, and stays quiet (family-wise) without one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spacekit.compare.config import CompareConfig
from spacekit.compare.metric_test import MetricTest
from spacekit.compare.paired import paired_test
from spacekit.compare.slices import lexical_overlap, slice_section, slicings, tertiles
from spacekit.compare.suite import TaskSpec
from spacekit.practical import decide
from spacekit.tasks.base import MetricSpec, TaskResult

CONFIG = CompareConfig(resamples=1000)


class MeanTask:
    """A task whose one metric, m, is the mean of its per-item values."""

    name = "t"

    @classmethod
    def metric_spec(cls, metric: str) -> MetricSpec:
        return MetricSpec("mean")


def _result(values: np.ndarray, groups: list[str]) -> TaskResult:
    ids = [f"i{k}" for k in range(len(values))]
    return TaskResult(kind="x", name="t", dataset="d", model="m", metrics={"m": float(values.mean())}, item_ids=ids,
                      per_item={"m": values}, item_fields={"group": groups})


def _sliced(before: np.ndarray, after: np.ndarray, groups: list[str], seed: int):
    b, a = _result(before, groups), _result(after, groups)
    config = CompareConfig(resamples=1000, seed=seed)
    t = paired_test(MeanTask(), "m", b, a, config, seed)
    main = MetricTest.of(t, 0.01)
    main = MetricTest(**{**main.__dict__, "verdict": decide(t.delta, t.ci_low, t.ci_high, t.p_value, t.tost_p, 0.01,
                                                            0.05, True)})
    return main, slice_section(MeanTask(), TaskSpec("t", "x", "in-domain", ["m"]), b, a, main, "m", config, "t")


def test_a_planted_slice_that_regressed_while_the_whole_improved_is_found():
    found = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        groups = ["a"] * 300 + ["b"] * 100
        before = rng.normal(0.5, 0.2, 400)
        after = before + np.where(np.array(groups) == "a", 0.05, -0.05) + rng.normal(0, 0.1, 400)
        main, section = _sliced(before, after, groups, seed)
        assert main.delta == pytest.approx(after.mean() - before.mean())
        b = next(r for r in section.rows if r.group == "b")
        if main.verdict == "improved" and section.simpson and "group b (n=100)" in section.simpson \
                and b.test.delta < 0:
            found += 1
    assert found >= 90


def test_without_an_effect_the_slices_family_rarely_fires():
    fired = 0
    for seed in range(1000):                     # 1,000 A/A comparisons: the family-wise rate within 0.007 (1 sd)
        rng = np.random.default_rng(1000 + seed)
        groups = list(rng.choice(["a", "b", "c"], 300))
        before = rng.normal(0.5, 0.2, 300)
        after = before + rng.normal(0, 0.1, 300)
        _, section = _sliced(before, after, groups, seed)
        fired += any(r.test.p_adjusted is not None and r.test.p_adjusted < 0.05 for r in section.rows)
    assert fired / 1000 <= 0.05


def test_slicings_of_a_retrieval_like_result():
    r = TaskResult(kind="retrieval", name="t", dataset="d", model="m", metrics={}, item_ids=[f"q{i}" for i in range(9)],
                   per_item={}, item_texts={f"q{i}": [" ".join(["word"] * (i + 1))] for i in range(9)},
                   item_targets={f"q{i}": ["word"] if i % 2 else ["other"] for i in range(9)},
                   item_fields={"lang": ["en", "de", "en"] * 3, "id": [str(i) for i in range(9)] * 1})
    found = {s.name: s.groups for s in slicings(r)}
    assert found["length (words)"] == ["low: 1–3"] * 3 + ["middle: 4–6"] * 3 + ["high: 7–9"] * 3
    overlap = found["lexical overlap with the relevant documents"]
    assert overlap.count("middle: 1.00–1.00") == 4          # 5 zeros rank first: the ones start in the second third
    assert found["lang"] == ["en", "de", "en"] * 3
    assert "id" in found                                           # 9 values, under MAX_GROUPS
    assert tertiles(np.array([1.0, 1, 1, 1, 5, 9]), "{:.0f}") == ["low: 1–1"] * 4 + ["high: 5–9"] * 2
    assert lexical_overlap("the cells of the heart", ["Heart muscle", "cells"]) == 1.0
    assert lexical_overlap("the a of", ["x"]) == 0.0


def test_compare_reports_slices_of_a_query_field(tmp_path, tiny_model):
    from helpers import invoke, random_beir

    folder = random_beir(tmp_path / "beir", docs=80, queries=40, words=20, doc_words=6, query_words=3, seed=2,
                         qrels=lambda i: {f"d{(3 * i) % 80}": 1})
    rows = [json.loads(x) for x in (folder / "queries.jsonl").read_text().splitlines()]
    (folder / "queries.jsonl").write_text("".join(
        json.dumps({**r, "metadata": {"topic": "x" if k % 2 else "y"}}) + "\n" for k, r in enumerate(rows)))
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "r"\nkind = "retrieval"\ndata = "{folder}"\n')
    r = invoke("compare", tiny_model, tiny_model, "--suite", suite, "-o", tmp_path / "out", "--json",
               "--resamples", "300")
    assert r.exit_code == 0, r.output
    slices = json.loads(r.stdout)["tasks"][0]["slices"]
    topics = [row for row in slices["rows"] if row["slicing"] == "metadata.topic"]
    assert sorted((row["group"], row["n"]) for row in topics) == [("x", 20), ("y", 20)]
    assert all(row["test"]["delta"] == 0 for row in slices["rows"])     # a model against itself
    assert slices["simpson"] is None
    assert "## Slices of r" in (tmp_path / "out" / "report.md").read_text()
