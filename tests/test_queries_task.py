"""The `queries` task (unlabelled queries, both models' top-k lists compared) and its judging sheet round trip."""

from __future__ import annotations

import csv
import json
import logging
import random

import pytest
from click.testing import CliRunner
from report_checks import assert_valid_report

from spacekit.cli import main
from spacekit.demo.data import write_demo_data
from spacekit.metrics.ranking_change import entered, overlap_at_k, rbo


def _rbo_direct(a: list[str], b: list[str], p: float) -> float:
    """RBO_ext by its definition (Webber et al. 2010, eq. 32): overlaps of prefixes as sets, depth by depth."""
    k = min(len(a), len(b))
    x = [len(set(a[:d]) & set(b[:d])) for d in range(1, k + 1)]
    return x[-1] / k * p ** k + (1 - p) / p * sum(x[d - 1] / d * p ** d for d in range(1, k + 1))


def test_rbo_and_overlap_equal_their_definitions():
    rng = random.Random(0)
    for _ in range(300):
        docs = [f"d{i}" for i in range(30)]
        k = rng.randint(1, 15)
        a, b = rng.sample(docs, k), rng.sample(docs, k)
        p = rng.choice([0.5, 0.8, 0.9, 0.95])
        assert rbo(a, b, p) == pytest.approx(_rbo_direct(a, b, p), abs=1e-12)
        assert overlap_at_k(a, b, k) == len(set(a) & set(b)) / k
        assert len(entered(a, b, k)) == k - len(set(a) & set(b))
    assert rbo(list("abcdefghij"), list("abcdefghij")) == pytest.approx(1.0)
    assert rbo(list("abcde"), list("vwxyz")) == 0.0
    # the `rbo` package (0.1.3, RankingSimilarity(a, b).rbo_ext(p=0.9)) gives 0.8276785656428571 for these lists;
    # it pins numpy < 2, so it is not installed here: its value is quoted as a published reference
    assert rbo(list("abcdefghij"), list("bacdjihgfe"), 0.9) == pytest.approx(0.8276785656428571, abs=1e-15)


@pytest.mark.model
def test_compare_observes_unlabelled_queries_and_the_sheet_comes_back_as_qrels(tmp_path, tiny_model, caplog):
    paths = write_demo_data(tmp_path / "demo")
    beir = paths["beir"]
    suite = tmp_path / "suite.toml"
    suite.write_text(f"""
[[task]]
name = "user-queries"
kind = "queries"
queries = "{beir / 'queries.jsonl'}"
corpus = "{beir / 'corpus.jsonl'}"
k = 5
""")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["compare", "builtin:minilm", str(tiny_model), "--suite", str(suite), "-o",
                                       str(out), "--json", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert_valid_report(report)
    assert report["verdict"] == "nothing tested"          # an observed kind alone decides nothing
    section = report["queries"][0]
    n = len((beir / "queries.jsonl").read_text(encoding="utf-8").splitlines())
    assert section["n"] == n
    assert 0 <= section["rbo"] < 1                       # a random tiny model ranks differently
    assert section["entered_per_query"] == pytest.approx(5 * (1 - section["overlap@5"]))
    changed = section["most_changed"][0]
    assert len(changed["before"]) == len(changed["after"]) == 5
    assert changed["rbo"] == min(x["rbo"] for x in section["most_changed"])
    sheet = out / section["sheet"]
    with open(sheet, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["shown_by"] for r in rows} <= {"before", "after", "both"}
    per_query = {}
    for r in rows:
        per_query.setdefault(r["query_id"], []).append(r)
    assert len(per_query) == n                            # every query, each document once per query
    assert all(5 <= len(v) <= 10 and len({r["doc_id"] for r in v}) == len(v) for v in per_query.values())
    changed_rows = per_query[changed["id"]]
    assert {r["doc_id"] for r in changed_rows} == {d for d, _ in changed["before"]} | {d for d, _ in changed["after"]}
    for i, r in enumerate(rows[:40]):                     # a person fills in some labels
        r["label"] = str(i % 3)
    with open(sheet, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    qrels = tmp_path / "qrels.tsv"
    result = CliRunner().invoke(main, ["ab", "qrels", str(sheet), "-o", str(qrels)])
    assert result.exit_code == 0, result.output
    lines = qrels.read_text().splitlines()
    assert lines[0] == "query-id\tcorpus-id\tscore"
    assert lines[1:] == [f"{r['query_id']}\t{r['doc_id']}\t{i % 3}" for i, r in enumerate(rows[:40])]
    rows[0]["label"] = "relevant"
    with open(sheet, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = CliRunner().invoke(main, ["ab", "qrels", str(sheet), "-o", str(qrels)])
    assert result.exit_code == 2
    assert "label must be an integer grade >= 0, got 'relevant'" in result.output
    assert (out / "report.md").read_text().count("## Actual queries") == 1
    rows[0]["label"] = "0"
    with open(sheet, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with caplog.at_level(logging.WARNING, logger="spacekit"):
        again = CliRunner().invoke(main, ["compare", "builtin:minilm", str(tiny_model), "--suite", str(suite), "-o",
                                          str(out), "--resamples", "200"])        # the same folder, run again
    assert again.exit_code == 0, again.output
    assert "40 filled-in labels carried into the new sheet" in caplog.text
    with open(sheet, newline="", encoding="utf-8") as f:
        labels = {(r["query_id"], r["doc_id"]): r["label"] for r in csv.DictReader(f) if r["label"]}
    assert labels == {(r["query_id"], r["doc_id"]): r["label"] for r in rows[:40]}      # not one label lost


def test_judging_sheet_cells_never_run_as_formulas_and_ids_round_trip(tmp_path):
    from spacekit.escape import cell_value, spreadsheet_cell
    from spacekit.report import write_section_files
    from spacekit.tasks.queries import QueriesSection

    for text in ('=HYPERLINK("http://x")', "+1", "-evil", "@SUM(A1)", "plain", "'quoted"):
        assert cell_value(spreadsheet_cell(text)) == text
        assert not spreadsheet_cell(text).startswith(("=", "+", "-", "@"))
    row = {"query_id": "-q1", "query": "=cmd|' /C calc'!A0", "doc_id": "@d1", "document": "+doc", "shown_by": "both",
           "label": ""}
    section = QueriesSection(name="hostile", k=1, n=1, rbo_p=0.9, overlap={"overlap@1": 0.0}, rbo=0.0,
                             entered_per_query=1.0, unchanged_queries=0, most_changed=(),
                             sheet="judging-hostile.csv", sheet_rows=(row,))
    written = write_section_files([section], tmp_path)
    sheet = tmp_path / "judging-hostile.csv"
    assert written == {"sheet:hostile": sheet}
    with open(sheet, newline="", encoding="utf-8") as f:
        cells = next(iter(csv.DictReader(f)))
    assert cells["query"].startswith("'=")
    assert cells["document"] == "'+doc"
    cells["label"] = "2"
    with open(sheet, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(cells))
        writer.writeheader()
        writer.writerow(cells)
    result = CliRunner().invoke(main, ["ab", "qrels", str(sheet), "-o", str(tmp_path / "qrels.tsv")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "qrels.tsv").read_text().splitlines()[1] == "-q1\t@d1\t2"


@pytest.mark.model
def test_a_model_that_compares_by_euclidean_distance_is_refused_by_both_searching_kinds(tmp_path, minilm_path):
    import shutil

    from spacekit.embed import EncodeOptions, load_model
    from spacekit.errors import InputError
    from spacekit.tasks.queries import QueriesTask
    from spacekit.tasks.retrieval import RetrievalTask

    folder = tmp_path / "m"
    shutil.copytree(minilm_path, folder)
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"similarity_fn_name": "euclidean"}))
    model = load_model(folder)
    beir = write_demo_data(tmp_path / "demo")["beir"]
    tasks = [QueriesTask(str(beir / "queries.jsonl"), str(beir / "corpus.jsonl"), k=5), RetrievalTask(str(beir))]
    for task in tasks:          # ranking by cosine would be a different model's ranking: refused, not substituted
        with pytest.raises(InputError, match="the model's similarity 'euclidean' is not searchable yet"):
            task.run(model, EncodeOptions())
    assert RetrievalTask(str(beir), similarity="cosine").run(model, EncodeOptions()).metrics["ndcg@10"] > 0
