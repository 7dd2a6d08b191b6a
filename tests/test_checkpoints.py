"""Many checkpoints against their base (issue 35): the family-wise error across checkpoints stays near alpha when
none differs from the base, a truly better checkpoint is found, and the honestly chosen checkpoint's held-out
interval covers its true effect at the nominal rate (while its all-items change is inflated by the pick)."""

from __future__ import annotations

import json

import jsonschema
import numpy as np
import pytest

from spacekit.compare.checkpoints import (
    checkpoint_family,
    checkpoint_step,
    expand_checkpoints,
    honest_selection,
)
from spacekit.compare.config import CompareConfig
from spacekit.compare.suite import TaskSpec
from spacekit.errors import InputError
from spacekit.tasks.base import MetricSpec, TaskResult

SPEC = TaskSpec("t", "x", "in-domain", ["m"])
N = 200


class MeanTask:
    """A task whose one metric, m, is the mean of its per-item values."""

    name = "t"

    @classmethod
    def metric_spec(cls, metric: str) -> MetricSpec:
        return MetricSpec("mean")


def _result(values: np.ndarray) -> TaskResult:
    return TaskResult(kind="x", name="t", dataset="d", model="m", metrics={"m": float(values.mean())},
                      item_ids=[f"i{k}" for k in range(len(values))], per_item={"m": values})


def _run(seed: int, effects: list[float]):
    """The base's per-item values, and one checkpoint per effect: the base plus the effect plus its own noise."""
    rng = np.random.default_rng(seed)
    base = rng.random(N)
    checkpoints = {f"checkpoint-{10 * (c + 1)}": _result(base + effect + rng.normal(0, 0.1, N))
                   for c, effect in enumerate(effects)}
    config = CompareConfig(resamples=1000, seed=seed)
    planned = [(SPEC, MeanTask())]
    family = checkpoint_family(planned, {"t": _result(base)}, {k: {"t": v} for k, v in checkpoints.items()}, config)
    selection = honest_selection(SPEC, MeanTask(), _result(base), checkpoints, family, config)
    return family, selection


def test_with_five_checkpoints_equal_to_the_base_any_improvement_is_rare():
    improved = sum(any(c.verdict == "improved" for c in _run(seed, [0.0] * 5)[0]) for seed in range(200))
    assert improved / 200 <= 0.05 + 0.02


def test_one_truly_better_checkpoint_is_found_and_chosen():
    found = chosen = false = 0
    for seed in range(100):
        family, selection = _run(seed, [0.0, 0.0, 0.03, 0.0, 0.0])
        verdicts = {c.name: c.verdict for c in family}
        found += verdicts["checkpoint-30"] == "improved"
        chosen += selection.chosen == "checkpoint-30"
        false += any(v == "improved" for name, v in verdicts.items() if name != "checkpoint-30")
    assert found >= 80
    assert chosen >= 80
    assert false <= 7                                # the four others: family-wise alpha 0.05


def test_the_held_out_interval_covers_the_chosen_checkpoints_true_effect_and_the_pick_inflates_all_items():
    effects = [0.0, 0.01, 0.02, 0.0, 0.015]
    covered, inflation = 0, []
    for seed in range(200):
        _, selection = _run(seed, effects)
        truth = effects[int(selection.chosen.rsplit("-", 1)[1]) // 10 - 1]
        covered += selection.held_out.ci_low <= truth <= selection.held_out.ci_high
        inflation.append(selection.deltas[selection.chosen] - truth)
        assert selection.selection_items == selection.estimation_items == N // 2
    assert covered / 200 >= 0.91                     # nominal 95%, less 2.5 binomial sd over 200 seeds
    assert np.mean(inflation) > 0.002                # the selection items' change of the pick is biased upward


def test_checkpoints_are_named_by_step_and_a_trainer_folder_expands(tmp_path):
    for step in (100, 20, 3):
        (tmp_path / "out" / f"checkpoint-{step}").mkdir(parents=True)
        (tmp_path / "out" / f"checkpoint-{step}" / "config.json").write_text("{}")
    (tmp_path / "out" / "runs").mkdir()
    assert expand_checkpoints([str(tmp_path / "out")]) == [str(tmp_path / "out" / f"checkpoint-{s}")
                                                            for s in (3, 20, 100)]
    assert expand_checkpoints([str(tmp_path / "out" / "checkpoint-*")]) == \
        [str(tmp_path / "out" / f"checkpoint-{s}") for s in (3, 20, 100)]
    assert checkpoint_step("a/checkpoint-20/") == 20
    assert checkpoint_step("my-model") is None
    with pytest.raises(InputError, match="matches no folder"):
        expand_checkpoints([str(tmp_path / "nothing-*")])
    with pytest.raises(InputError, match="named twice"):
        expand_checkpoints([str(tmp_path / "out" / "checkpoint-3"), str(tmp_path / "out" / "checkpoint-3")])


def test_compare_with_checkpoints_writes_its_report(tmp_path, tiny_model, minilm_path):
    from helpers import invoke, make_tiny_model, random_beir

    folder = random_beir(tmp_path / "beir", docs=60, queries=30, words=20, doc_words=6, query_words=3, seed=4,
                         qrels=lambda i: {f"d{(3 * i) % 60}": 1})
    for step in (5, 10):
        make_tiny_model(tmp_path / "run" / f"checkpoint-{step}", minilm_path, seed=step)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "r"\nkind = "retrieval"\ndata = "{folder}"\n')
    r = invoke("compare", tiny_model, tmp_path / "run", "--suite", suite, "-o", tmp_path / "out", "--json",
               "--resamples", "300")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert [c["step"] for c in report["checkpoints"]] == [5, 10]
    assert report["selection"]["task"] == "r"
    assert report["selection"]["selection_items"] + report["selection"]["estimation_items"] == 30
    assert report["headline"].startswith("best honest checkpoint: ")
    assert json.loads((tmp_path / "out" / "report.json").read_text()) == report
    from spacekit.report.schema import CHECKPOINTS_SCHEMA_FILE

    jsonschema.validate(report, json.loads(CHECKPOINTS_SCHEMA_FILE.read_text()))     # the committed schema holds
    assert "checkpoints.png" in report["plots"].values()
    assert (tmp_path / "out" / "checkpoints.png").stat().st_size > 0
    assert "best honest checkpoint" in (tmp_path / "out" / "report.md").read_text()
    assert "best honest checkpoint" in r.stderr


def test_checkpoint_mode_refuses_what_needs_two_models(tmp_path, tiny_model):
    from helpers import invoke, one_line_exit_2

    r = invoke("compare", tiny_model, tmp_path / "checkpoint-1", tmp_path / "checkpoint-2", "--suite",
               tmp_path / "s.toml", "-o", tmp_path / "o", "--ab", tmp_path / "log.jsonl")
    one_line_exit_2(r, "--ab compares two models")
    assert not (tmp_path / "o").exists()


def test_checkpoints_chosen_on_another_split_are_judged_on_the_tasks_own(tmp_path, tiny_model, minilm_path):
    """--select-on dev: every checkpoint's change on the dev qrels picks the best; its gain is tested on the test
    queries, which the pick never saw (the chosen checkpoint is the one with the best dev delta)."""
    from helpers import invoke, make_tiny_model, one_line_exit_2, random_beir

    folder = random_beir(tmp_path / "beir", docs=60, queries=40, words=20, doc_words=6, query_words=3, seed=5,
                         qrels=lambda i: {f"d{(3 * i) % 60}": 1} if i < 24 else {})
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"q{i}\td{(3 * i) % 60}\t1\n" for i in range(24)))
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"q{i}\td{(5 * i) % 60}\t1\n" for i in range(24, 40)))
    for step in (5, 10):
        make_tiny_model(tmp_path / "run" / f"checkpoint-{step}", minilm_path, seed=step)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "r"\nkind = "retrieval"\ndata = "{folder}"\n')
    r = invoke("compare", tiny_model, tmp_path / "run", "--suite", suite, "-o", tmp_path / "out", "--json",
               "--resamples", "300", "--select-on", "dev")
    assert r.exit_code == 0, r.output
    selection = json.loads(r.stdout)["selection"]
    assert selection["split"] == "dev"
    assert (selection["selection_items"], selection["estimation_items"]) == (16, 24)
    best = max(selection["deltas"], key=lambda name: selection["deltas"][name])
    assert selection["chosen"] == best
    family = {c["name"]: c for c in json.loads(r.stdout)["checkpoints"]}
    assert selection["held_out"]["delta"] == pytest.approx(family[best]["tasks"][0]["test"]["delta"], abs=1e-12)
    assert "chosen on its dev split" in json.loads(r.stdout)["headline"]
    one_line_exit_2(invoke("compare", tiny_model, tmp_path / "run", "--suite", suite, "-o", tmp_path / "x",
                           "--select-on", "test"), "that is task r's own split")
    one_line_exit_2(invoke("compare", tiny_model, tmp_path / "run", "--suite", suite, "-o", tmp_path / "x",
                           "--select-on", "train"), "--select-on train (task r)")
