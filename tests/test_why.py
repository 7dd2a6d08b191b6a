"""Why a task changed (issue 34): clusters of lost queries recover a planted cluster and stay quiet without one,
displacers are classified (a planted hub, a planted unjudged near-duplicate), hubness equals an independent count,
the truncation audit counts as the tokenizer does, and a compare carries it all into report.json, report.md, the
HTML and the judging sheet of an undecidable task."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers import make_tiny_model
from sklearn.metrics import adjusted_rand_score

from spacekit.compare.displacement import displacement, k_occurrence
from spacekit.compare.query_clusters import cluster_changes
from spacekit.ranked_run import RankedRun

WORDS = ["apple", "river", "stone", "cloud", "music", "horse"]


def _planted(seed: int, n: int = 300, d: int = 32, noise_losses: bool = True):
    """Queries in six blobs; every query of blobs 0 and 1 lost, a few others lost or gained at random."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(6, d))
    blob = rng.integers(0, 6, n)
    vectors = centers[blob] + rng.normal(size=(n, d)) * 0.35
    delta = rng.normal(0, 0.05, n) * (rng.random(n) < (0.1 if noise_losses else 0))
    delta[blob < 2] = -0.5
    texts = [f"{WORDS[b]} question about {WORDS[(i * 7) % 6]}" for i, b in enumerate(blob)]
    return vectors, delta, blob, texts


@pytest.mark.parametrize("seed", range(5))
def test_lost_query_clustering_recovers_a_planted_cluster(seed):
    vectors, delta, blob, texts = _planted(seed)
    ids = [f"q{i}" for i in range(len(delta))]
    group = cluster_changes(vectors, delta, ids, texts, "lost", seed=seed)
    assert group is not None
    lost = np.flatnonzero(delta < -1e-12)
    label = np.full(len(delta), -1)
    for c, cluster in enumerate(group.clusters):
        label[[int(m[1:]) for m in cluster.members]] = c
    assert adjusted_rand_score(blob[lost], label[lost]) >= 0.8
    planted = [c for c in group.clusters if c.size >= 0.9 * (blob == 0).sum() or c.size >= 0.9 * (blob == 1).sum()]
    assert len(planted) >= 2
    for cluster in planted[:2]:
        assert cluster.p_value < 0.05
        assert cluster.mean_delta == pytest.approx(-0.5, abs=0.05)
        assert cluster.terms[0] in WORDS[:2]                       # named by its blob's word


def test_without_concentrated_losses_the_clusters_rarely_fire():
    vectors, _, _, texts = _planted(0)
    ids = [f"q{i}" for i in range(len(texts))]
    fired = 0
    for seed in range(100):
        delta = np.where(np.random.default_rng(1000 + seed).random(len(texts)) < 0.2, -0.3, 0.0)
        group = cluster_changes(vectors, delta, ids, texts, "lost", seed=seed)
        fired += any(c.p_value < 0.05 for c in group.clusters)
    assert fired <= 7                                              # family-wise alpha 0.05 over 100 seeds


def test_a_model_against_itself_has_no_clusters():
    vectors, _, _, texts = _planted(0)
    zero = np.zeros(len(texts))
    assert cluster_changes(vectors, zero, [str(i) for i in range(len(texts))], texts, "lost") is None


def _run(ids, doc_ids, rows) -> RankedRun:
    depth = max(len(r) for r in rows)
    codes = np.full((len(rows), depth), -1)
    scores = np.full((len(rows), depth), -np.inf)
    for i, r in enumerate(rows):
        codes[i, :len(r)] = r
        scores[i, :len(r)] = np.arange(len(r), 0, -1)
    return RankedRun(ids, doc_ids, codes, scores, ordered=True)


def test_displacers_are_classified_and_hubness_equals_an_independent_count():
    """Twelve queries, each with its own relevant document r<i>. After fine-tuning, document 'hub' enters every
    query's top 3 above its relevant one; in query 0 an unjudged near-duplicate of r0 also moves above it."""
    from scipy.stats import skew

    n = 12
    doc_ids = np.array([f"r{i}" for i in range(n)] + ["hub", "dup0"] + [f"x{i}" for i in range(20)], dtype=object)
    code = {d: c for c, d in enumerate(doc_ids)}
    ids = [f"q{i}" for i in range(n)]
    before = _run(ids, doc_ids, [[code[f"r{i}"], code[f"x{i}"], code[f"x{i + 1}"]] for i in range(n)])
    after_rows = [[code["hub"], code[f"r{i}"], code[f"x{i}"]] for i in range(n)]
    after_rows[0] = [code["dup0"], code["hub"], code["r0"]]
    after = _run(ids, doc_ids, after_rows)
    qrels = {q: {f"r{i}": 1, "x0": 0} for i, q in enumerate(ids)}
    delta = np.array([-0.5] + [-0.37] * (n - 1))
    near = {("dup0", "r0")}
    moved = displacement(before, after, qrels, ids, delta, 3, {q: q for q in ids}, {d: d for d in doc_ids},
                         lambda d, relevant: any((d, r) in near for r in relevant), lambda text: text == "x5")
    first = moved.queries[0]
    assert first.id == "q0"
    assert [d.id for d in first.displacers] == ["dup0", "hub"]
    assert set(first.displacers[0].classes) == {"near-duplicate of a relevant document", "unjudged"}
    assert set(first.displacers[1].classes) == {"hub", "unjudged"}
    assert all([d.id for d in q.displacers] == ["hub"] for q in moved.queries[1:])
    assert moved.classes["hub"] == n
    assert moved.classes["near-duplicate of a relevant document"] == 1
    # hubness: N_3 counted in plain Python, skewness by its formula
    for run, got in ((before, moved.hubness.skew_before), (after, moved.hubness.skew_after)):
        count = dict.fromkeys(doc_ids, 0)
        for r in range(len(ids)):
            for c in run.codes[r, :3]:
                count[doc_ids[c]] += 1
        values = np.array(list(count.values()), float)
        m2, m3 = ((values - values.mean()) ** 2).mean(), ((values - values.mean()) ** 3).mean()
        assert got == pytest.approx(m3 / m2 ** 1.5, abs=1e-12)
        assert got == pytest.approx(skew(k_occurrence(run, 3, len(doc_ids))), abs=1e-12)
    assert moved.hubness.rising[0].id == "hub"
    assert (moved.hubness.rising[0].before, moved.hubness.rising[0].after) == (0, n)


def test_the_truncation_audit_counts_tokens_as_the_tokenizer_does(tmp_path, minilm_path):
    from transformers import AutoTokenizer

    from spacekit.compare.truncation import CUT, truncation_audit
    from spacekit.embed import load_model
    from spacekit.tasks.base import TaskResult

    short = load_model(str(make_tiny_model(tmp_path / "short", minilm_path, max_seq_length=12)))
    long = load_model(str(make_tiny_model(tmp_path / "long", minilm_path, max_seq_length=64)))
    queries = ["a short query", "another query with quite a few more words than twelve tokens allow here", "x"]
    documents = ["doc one", "a much longer document " * 5, "doc three is fine"]
    result = TaskResult(kind="retrieval", name="t", dataset="d", model="m", metrics={}, item_ids=["0", "1", "2"],
                        per_item={}, item_texts={str(i): [q] for i, q in enumerate(queries)},
                        item_targets={"0": [documents[1]], "1": [documents[0]], "2": [documents[2]]})
    audit, slicing = truncation_audit((short, long), result, documents, "t")
    counts = [len(AutoTokenizer.from_pretrained(minilm_path)(t)["input_ids"]) for t in queries + documents]
    q_counts, d_counts = np.array(counts[:3]), np.array(counts[3:])
    queries_before, documents_before = audit.before.lengths
    assert queries_before.mean_tokens == pytest.approx(q_counts.mean())
    assert queries_before.share_truncated == pytest.approx((q_counts > 12).mean())
    assert documents_before.share_truncated == pytest.approx((d_counts > 12).mean())
    assert documents_before.mean_tokens_truncated == pytest.approx(d_counts[d_counts > 12].mean())
    assert audit.after.lengths[1].share_truncated == 0
    assert slicing.groups == [CUT, CUT, "not cut"]       # query 0's relevant document, query 1 itself
    assert "max length changed: before 12 tokens, after 64" in audit.changed


def test_a_compare_reports_why_in_every_output(tmp_path, tiny_model, minilm_path):
    from helpers import invoke, random_beir

    folder = random_beir(tmp_path / "beir", docs=80, queries=40, words=20, doc_words=6, query_words=3, seed=2,
                         qrels=lambda i: {f"d{(3 * i) % 80}": 1})
    other = make_tiny_model(tmp_path / "other", minilm_path, seed=7, max_seq_length=32)
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "r"\nkind = "retrieval"\ndata = "{folder}"\n')
    r = invoke("compare", tiny_model, other, "--suite", suite, "-o", tmp_path / "out", "--json", "--resamples", "300")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    why = report["tasks"][0]["diagnosis"]
    assert why["metric"] == "ndcg@10"
    assert set(why["holes"]["readings"]) == {"unjudged non-relevant", "judged only", "unjudged relevant"}
    assert 0 < why["holes"]["judged_before"] < 1
    assert why["truncation"]["before"]["max_length"] == 64
    assert why["truncation"]["after"]["max_length"] == 32
    assert any("max length changed" in w for w in report["headline"]["warnings"])
    assert why["displacement"]["hubness"]["documents"] == 80
    html = (tmp_path / "out" / "index.html").read_text()
    md = (tmp_path / "out" / "report.md").read_text()
    for title in ("Judged holes", "Tie sensitivity", "Hubness", "Truncation"):
        assert title in html
        assert title in md
    standard = why["holes"]["readings"]["unjudged non-relevant"]
    assert standard["delta"] == pytest.approx(report["tasks"][0]["metrics"]["ndcg@10"]["delta"], abs=1e-12)
    assert standard["verdict"] == "inconclusive"
    assert why["holes"]["undecidable"] is None          # nothing decided under the standard reading to overturn


def test_an_undecidable_tasks_documents_go_to_a_judging_sheet_that_comes_back_as_qrels(tmp_path, tiny_model):
    """The compare's own comparison, its holes made undecidable (the case itself: test_holes_and_ties), written out:
    the sheet lists the pairs; filled in, `ab qrels` reads it back."""
    import csv
    import dataclasses

    from helpers import invoke, random_beir

    from spacekit.compare import run_suite
    from spacekit.compare.config import CompareConfig
    from spacekit.report import write_outputs

    folder = random_beir(tmp_path / "beir", docs=40, queries=12, words=20, doc_words=6, query_words=3, seed=3,
                         qrels=lambda i: {f"d{i}": 1})
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "r/1"\nkind = "retrieval"\ndata = "{folder}"\n')
    comparison = run_suite(str(tiny_model), str(tiny_model), suite, CompareConfig(resamples=200))
    entry = comparison.tasks[0]
    rows = tuple({"query_id": f"q{i}", "query": "=cmd()", "doc_id": f"d{i + 1}", "document": "text, with a comma",
                  "shown_by": "after", "label": ""} for i in range(3))
    holes = dataclasses.replace(entry.diagnosis.holes, undecidable="undecidable without judging 3 more documents",
                                sheet="holes-r_1.csv", sheet_rows=rows)
    entry = dataclasses.replace(entry, diagnosis=dataclasses.replace(entry.diagnosis, holes=holes))
    _, written = write_outputs(dataclasses.replace(comparison, tasks=(entry,)), tmp_path / "out")
    sheet = written["sheet:r/1:holes"]
    with open(sheet, newline="", encoding="utf-8") as f:
        listed = list(csv.DictReader(f))
    assert [(r["query_id"], r["doc_id"]) for r in listed] == [("q0", "d1"), ("q1", "d2"), ("q2", "d3")]
    assert listed[0]["query"] != "=cmd()"                       # a formula kept as text
    listed[0]["label"], listed[1]["label"] = "1", "0"
    with open(sheet, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(listed[0]))
        writer.writeheader()
        writer.writerows(listed)
    r = invoke("ab", "qrels", sheet, "-o", tmp_path / "qrels.tsv")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "qrels.tsv").read_text().splitlines()[1:] == ["q0\td1\t1", "q1\td2\t0"]
