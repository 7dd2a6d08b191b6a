"""The verdict on constructed comparisons: real paired tests on per-item changes built to a known mean and spread,
then the family, the rule, the headline and the overfitting statement."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.power import TTestPower

from spacekit import stats
from spacekit.compare.config import CompareConfig
from spacekit.compare.paired import as_cell
from spacekit.compare.verdict import headline, judge, overfitting
from spacekit.practical import adjust, margin_for
from spacekit.report.format import headline_parts, summary_rows


def _cell(metric: str, shift: float, sd: float, n: int, seed: int = 0) -> dict:
    """A tested metric whose per-item changes have exactly this mean and sample sd."""
    rng = np.random.default_rng(seed)
    before = rng.uniform(0.2, 0.8, n)
    z = rng.normal(size=n)
    change = shift + sd * (z - z.mean()) / z.std(ddof=1)
    test = stats.compare_metric(before, before + change, "mean", resamples=4000, seed=seed,
                                margin=margin_for(metric, {}))
    return as_cell(test, margin_for(metric, {}))


def _entry(name: str, tag: str, **cells: dict) -> dict:
    return {"name": name, "tag": tag, "main_metric": next(iter(cells)), "metrics": cells}


def _suite() -> list[dict]:
    """The issue's comparison, rebuilt: an in-domain gain, a tiny holdout drop, a holdout unchanged, an
    underpowered holdout task; three secondary metrics."""
    return [_entry("scifact", "in-domain", **{"ndcg@10": _cell("ndcg@10", 0.023, 0.16, 300, 1),
                                              "recall@100": _cell("recall@100", 0.004, 0.12, 300, 2),
                                              "mrr@10": _cell("mrr@10", 0.012, 0.2, 300, 3)}),
            _entry("stsb", "holdout", spearman=_cell("spearman", -0.003, 0.01, 1379, 4),
                   pearson=_cell("pearson", -0.001, 0.02, 1379, 5)),
            _entry("banking77", "holdout", accuracy=_cell("accuracy", 0.0005, 0.1, 3080, 6)),
            _entry("clusters", "holdout", v_measure=_cell("v_measure", 0.01, 0.2, 40, 7))]


def test_a_gain_beyond_its_margin_with_a_negligible_holdout_drift_is_improved_and_the_drift_named():
    entries = _suite()
    judge(entries, CompareConfig())
    head = headline(entries, CompareConfig())
    verdicts = {r["task"]: r["verdict"] for r in head["rows"]}
    assert verdicts == {"scifact": "improved", "stsb": "negligible change", "banking77": "equivalent",
                        "clusters": "inconclusive"}
    assert head["verdict"] == "improved"
    parts = headline_parts({"headline": head})
    assert parts[0].startswith("improved on scifact ndcg@10 +0.0230 [")
    assert parts[1].startswith("negligible change on stsb spearman -0.0030 [")
    assert parts[2].startswith("equivalent on banking77 accuracy +0.0005")
    assert parts[3].startswith("inconclusive on clusters v_measure +0.0100")
    assert "needs n≈" in parts[3]
    assert "holm correction" in head["rule"]
    assert "ndcg@10 0.01" in head["rule"]
    assert "spearman 0.005" in head["rule"]
    note = overfitting(head["rows"])
    assert not note["over_specialised"]
    assert "stsb spearman -0.0030 (negligible change)" in note["note"]
    assert "by less than its margin" in note["note"]
    assert "no sign" not in note["note"]
    # secondary metrics: a family of their own, marked, never in the headline
    secondary = summary_rows({"tasks": entries}, "secondary")
    assert {r["metric"] for r in secondary} == {"recall@100", "mrr@10", "pearson"}
    assert all(entries[0]["metrics"][m]["family"] == "secondary" for m in ("recall@100", "mrr@10"))


def test_the_gain_the_old_rule_hid_under_secondary_metrics_is_now_reported():
    entries = _suite()
    every_test = [c for e in entries for c in e["metrics"].values()]
    old = adjust([c["p_value"] for c in every_test], "holm")                # one family of all 7 tests
    main_p = entries[0]["metrics"]["ndcg@10"]["p_value"]
    assert 0.05 / 7 < main_p < 0.05 / 3                                       # the scenario the issue describes
    assert old[0] >= 0.05                                                     # old rule: "no significant change"
    judge(entries, CompareConfig())
    assert entries[0]["metrics"]["ndcg@10"]["p_adjusted"] < 0.05
    assert entries[0]["metrics"]["ndcg@10"]["verdict"] == "improved"


def test_a_significant_change_inside_the_margin_is_negligible():
    entries = [_entry("scifact", "in-domain", **{"ndcg@10": _cell("ndcg@10", 0.004, 0.02, 300)})]
    judge(entries, CompareConfig())
    cell = entries[0]["metrics"]["ndcg@10"]
    assert cell["p_adjusted"] < 0.001
    assert cell["ci_low"] > 0
    assert cell["verdict"] == "negligible change"
    assert headline(entries, CompareConfig())["verdict"] == "no meaningful change"


def test_an_underpowered_task_is_inconclusive_with_the_items_it_needs():
    entries = _suite()
    judge(entries, CompareConfig())
    cell = entries[3]["metrics"]["v_measure"]
    assert cell["verdict"] == "inconclusive"
    level = 0.05 / 4                                                          # holm: the strictest of 4 main tests
    expected = TTestPower().solve_power(effect_size=0.01 / 0.2, alpha=level, power=0.8, alternative="two-sided")
    assert cell["needed_n"] == int(np.ceil(expected))
    alone = [_entry("clusters", "holdout", v_measure=_cell("v_measure", 0.01, 0.2, 40, 7))]
    judge(alone, CompareConfig())
    assert headline(alone, CompareConfig())["verdict"] == "inconclusive"


def test_gains_and_losses_are_mixed_and_both_sides_named():
    entries = [_entry("a", "in-domain", **{"ndcg@10": _cell("ndcg@10", 0.05, 0.1, 300)}),
               _entry("b", "holdout", spearman=_cell("spearman", -0.02, 0.05, 1000))]
    judge(entries, CompareConfig())
    head = headline(entries, CompareConfig())
    assert head["verdict"] == "mixed"
    parts = headline_parts({"headline": head})
    assert parts[0].startswith("improved on a ndcg@10")
    assert parts[1].startswith("regressed on b spearman")
    note = overfitting(head["rows"])
    assert note["over_specialised"]
    assert note["note"].endswith("Over-specialised: in-domain improved while holdout "
                                                              "regressed.")


def test_the_leak_free_re_score_is_what_the_verdict_judges():
    entry = _entry("scifact", "in-domain", **{"ndcg@10": _cell("ndcg@10", 0.05, 0.1, 300)})
    entry["leak_free"] = {"n": 211, "leaked": 89, "metrics": {"ndcg@10": _cell("ndcg@10", 0.006, 0.1, 211)}}
    judge([entry], CompareConfig())
    head = headline([entry], CompareConfig())
    assert entry["metrics"]["ndcg@10"]["verdict"] is None                   # all items: shown, not judged
    assert head["rows"][0]["basis"] == "leak-free, n=211"
    assert head["rows"][0]["verdict"] == entry["leak_free"]["metrics"]["ndcg@10"]["verdict"] == "inconclusive"
    assert head["verdict"] == "inconclusive"
    assert "(leak-free, n=211)" in headline_parts({"headline": head})[0]


@pytest.mark.parametrize(("method", "verdict"), [("holm", "improved"), ("bonferroni", "improved"),
                                                 ("bh", "improved"), ("none", "improved")])
def test_every_correction_runs_through_the_family(method, verdict):
    entries = _suite()
    judge(entries, CompareConfig(correction=method))
    head = headline(entries, CompareConfig(correction=method))
    assert head["verdict"] == verdict
    assert f"{method} correction" in head["rule"]
    raw = [e["metrics"][e["main_metric"]]["p_value"] for e in entries]
    assert [e["metrics"][e["main_metric"]]["p_adjusted"] for e in entries] == pytest.approx(adjust(raw, method))


def test_the_terminal_summary_reads_at_80_columns(capsys):
    """Long task names wrap, never cut; every line fits; the verdict names its rows and the rule."""
    from spacekit.report.terminal import print_summary

    entries = _suite()
    entries[2]["name"] = "banking77-intent-classification-holdout"
    judge(entries, CompareConfig())
    head = headline(entries, CompareConfig())
    report = {"before": "./models/all-MiniLM-L6-v2", "after": "./models/all-MiniLM-L6-v2-scifact-finetuned",
              "tasks": entries, "headline": head, "verdict": head["verdict"], "overfitting": overfitting(head["rows"]),
              "leakage": None, "drift": {}}
    print_summary(report, "report", width=80)
    out = capsys.readouterr().err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in out
    words = " ".join(out.split())                                       # wrapped lines joined again
    for family in ("main", "secondary"):
        for r in summary_rows(report, family):                         # every row whole: name, numbers, verdict
            assert f"{r['task']} · {r['metric']} · {r['tag']}" in words
            assert f"Δ {r['delta']} {r['ci']} p adj. {r['p_adj']} {r['arrow']} {r['verdict_text']}" in words
    assert "verdict: improved" in out
    assert any(line.strip().startswith("improved on scifact ndcg@10 +0.0230") for line in lines)
    assert "secondary metrics" in out


def test_a_task_whose_items_all_leaked_is_judged_undecided_never_on_the_leaked_items():
    from spacekit.compare.paired import undecided_cells

    entry = _entry("scifact", "in-domain", **{"ndcg@10": _cell("ndcg@10", 0.05, 0.1, 300)})
    entry["leak_free"] = {"n": 1, "leaked": 299, "metrics": undecided_cells(entry["metrics"])}
    judge([entry], CompareConfig())
    row = headline([entry], CompareConfig())["rows"][0]
    assert row["verdict"] == "inconclusive"
    assert row["basis"] == "leak-free, n=1"
    assert np.isnan(row["delta"])
    assert row["needed_n"] is None
