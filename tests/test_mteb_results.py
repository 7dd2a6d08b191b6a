"""MTEB result files out (--mteb-out, loaded back by the mteb package's own TaskResult) and in (--reference: MTEB's
published all-MiniLM-L6-v2 files, tests/data/mteb-published, beside spacekit's numbers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import data_path
from report_checks import assert_valid_report

from spacekit.cli import main
from spacekit.demo.data import write_demo_data
from spacekit.tasks import task_class

# MTEB's published files for sentence-transformers/all-MiniLM-L6-v2 (embeddings-benchmark/results, revision folder
# 8b3219a9…; mteb 1.12.75): STSBenchmark.json and Banking77Classification.json as published (Banking77's per-
# experiment scores left out); SciFact.json holds the five SciFact values of ../shared/data/README.md.
PUBLISHED = Path(__file__).parent / "data" / "mteb-published"


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.model
def test_compare_writes_mteb_files_that_mteb_loads_and_reads_them_back_as_a_reference(tmp_path):
    from mteb.results import TaskResult

    paths = write_demo_data(tmp_path / "demo")
    out, ref = tmp_path / "mteb", tmp_path / "report"
    result = _invoke("compare", "builtin:minilm", "builtin:minilm", "--suite", str(paths["suite"]), "-o", str(ref),
                     "--resamples", "500", "--json", "--mteb-out", str(out))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert_valid_report(report)
    files = sorted(out.rglob("*.json"))
    by_task = {t["name"]: t for t in report["tasks"]}
    assert len(files) == 2 * len(by_task)                # retrieval and STS, one file per model (probes: none)
    for path in files:
        loaded = TaskResult.from_disk(path)               # mteb's own loader and schema
        task = by_task[loaded.task_name]
        scores = loaded.scores["test"][0]
        assert scores["hf_subset"] == "default"
        assert scores["languages"] == ["eng-Latn"]
        for metric, values in task["metrics"].items():
            assert scores[task_class(task["kind"]).mteb.key(metric)] == pytest.approx(values["before"], abs=1e-12)
        assert scores["main_score"] == scores[{"retrieval": "ndcg_at_10", "sts": "cosine_spearman"}[task["kind"]]]
        assert loaded.evaluation_time > 0
    assert {p.parent.parent.name for p in files} == {"sentence-transformers__all-MiniLM-L6-v2__before",
                                                      "sentence-transformers__all-MiniLM-L6-v2__after"}
    lineage_file = out / "sentence-transformers__all-MiniLM-L6-v2__after" / "no_revision_available" / \
        "spacekit_lineage.jsonl"
    (lineage,) = [json.loads(line) for line in lineage_file.read_text().splitlines()]
    assert lineage["adapted_from"] == "builtin:minilm"
    assert lineage["model"] == "builtin:minilm"
    assert lineage["adapted_from_fingerprint"] == report["provenance"]["fingerprints"]["before"]
    assert lineage["verdict"] == report["verdict"]
    rows = {r["task"]: r for r in report["headline"]["rows"]}
    assert {t["task"] for t in lineage["tasks"]} == set(rows)
    for t in lineage["tasks"]:
        assert (t["delta"], t["ci_low"], t["ci_high"], t["verdict"]) == (
            rows[t["task"]]["delta"], rows[t["task"]]["ci_low"], rows[t["task"]]["ci_high"], rows[t["task"]]["verdict"])
    from mteb.cache import ResultCache  # MTEB's own loader passes the lineage file by

    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "results").symlink_to(out)
    loaded = ResultCache(tmp_path / "cache")
    results = loaded.load_results(require_model_meta=False, include_remote=False)
    assert sum(len(m.task_results) for m in results.model_results) == len(files)

    before = out / "sentence-transformers__all-MiniLM-L6-v2__before"
    again = _invoke("compare", "builtin:minilm", "builtin:minilm", "--suite", str(paths["suite"]), "-o",
                    str(tmp_path / "r2"), "--resamples", "500", "--json", "--reference", str(before))
    assert again.exit_code == 0, again.output
    section = json.loads(again.stdout)["reference"]
    assert section["flagged"] == 0
    assert {t["task"] for t in section["tasks"]} == set(by_task)
    assert all(abs(r["difference"]) <= 1e-12 for t in section["tasks"] for r in t["rows"])
    checked = sum(len(t["rows"]) for t in section["tasks"])
    assert checked >= 4                                  # ndcg@10, recall@10, mrr@10, spearman at least
    assert f"all {checked} metrics of 2 tasks within 0.0001" in again.output

    tampered = before / "no_revision_available" / "support-retrieval.json"
    doc = json.loads(tampered.read_text())
    doc["scores"]["test"][0]["ndcg_at_10"] += 0.01
    tampered.write_text(json.dumps(doc))
    flagged = _invoke("compare", "builtin:minilm", "builtin:minilm", "--suite", str(paths["suite"]), "-o",
                      str(tmp_path / "r3"), "--resamples", "500", "--reference", str(before))
    assert flagged.exit_code == 0, flagged.output
    assert f"1 of {checked} metrics differ from the reference by more than 0.0001" in flagged.output
    assert "differs" in (tmp_path / "r3" / "report.md").read_text()
    assert "Reproducibility (MTEB reference)" in (tmp_path / "r3" / "index.html").read_text()


@pytest.mark.model
def test_reference_problems_are_one_line_exit_2_before_any_work(tmp_path):
    paths = write_demo_data(tmp_path / "demo")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "X.json").write_text(json.dumps({"task_name": "X", "scores": {"test": [{"a": 1}]}}))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "Y.json").write_text("{not json")
    cases = [(["--reference", str(tmp_path / "other")], "no MTEB result for task 'support-retrieval' (found: x)"),
             (["--reference", str(tmp_path / "broken")], "Y.json: not a JSON file"),
             (["--reference", str(tmp_path / "none")], "not a folder"),
             (["--mteb-languages", "english"], "--mteb-languages: expected codes like eng-Latn")]
    for extra, message in cases:
        out = tmp_path / "report"
        result = _invoke("compare", "builtin:minilm", "builtin:minilm", "--suite", str(paths["suite"]), "-o",
                         str(out), *extra)
        assert result.exit_code == 2, result.output
        assert message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
        assert not out.exists()                                # nothing written, nothing encoded


@pytest.mark.real
def test_published_minilm_sts_and_banking77_are_reproduced_within_1e4():
    sts = _invoke("eval", "sts", "builtin:minilm", str(data_path("stsbenchmark", "sts-test.csv")), "--mteb-task",
                  "STSBenchmark", "--reference", str(PUBLISHED), "--json")
    assert sts.exit_code == 0, sts.output
    rows = json.loads(sts.stdout)["reference"]
    assert {r["metric"] for r in rows} == {"spearman", "pearson"}
    assert all(abs(r["difference"]) <= 1e-4 and not r["flagged"] for r in rows)
    bank = _invoke("eval", "classification", "builtin:minilm", "--train", str(data_path("banking77", "train.csv")),
                   "--test", str(data_path("banking77", "test.csv")), "--mteb-task", "Banking77Classification",
                   "--reference", str(PUBLISHED))
    assert bank.exit_code == 0, bank.output
    assert "beside the MTEB reference" in bank.output
    assert "differs" not in bank.output
    assert "accuracy           0.80042    0.80042   +0.000000" in bank.output
    assert "f1_macro           0.79379    0.79379   +0.000000" in bank.output


def _pairs_file(tmp_path: Path) -> Path:
    """Pairs of the demo's support articles: duplicates (the same issue) and non-duplicates (another issue)."""
    paths = write_demo_data(tmp_path / "demo")
    corpus = [json.loads(x) for x in (paths["beir"] / "corpus.jsonl").read_text().splitlines()]
    issue = lambda doc: doc["_id"].split("-")[2]
    pairs = [{"sentence1": a["text"], "sentence2": b["text"], "label": int(issue(a) == issue(b))}
             for a, b in zip(corpus[:60], corpus[16:46] + corpus[42:72], strict=True)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    return path


@pytest.mark.model
def test_pair_classification_result_files_load_in_mteb_and_read_back(tmp_path):
    """eval pair-classification --mteb-out wrote nothing (it failed after the whole evaluation: MTEB's formats were
    keyed 'pair-classification', the kind is 'pair_classification'), and --reference skipped the kind."""
    from mteb.results import TaskResult

    pairs, out = _pairs_file(tmp_path), tmp_path / "mteb"
    result = _invoke("eval", "pair-classification", "builtin:minilm", str(pairs), "--json", "--mteb-out", str(out),
                     "--mteb-task", "SupportDuplicates")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)["metrics"]
    [path] = out.rglob("*.json")
    loaded = TaskResult.from_disk(path)                   # mteb's own loader and schema
    scores = loaded.scores["test"][0]
    assert loaded.task_name == "SupportDuplicates"
    assert scores["main_score"] == scores["max_ap"] == pytest.approx(metrics["max_ap"], abs=1e-12)
    assert scores["cosine_ap"] == pytest.approx(metrics["ap"], abs=1e-12)
    assert scores["cosine_f1"] == pytest.approx(metrics["f1"], abs=1e-12)
    assert 0.5 < scores["cosine_ap"] <= 1.0

    again = _invoke("eval", "pair-classification", "builtin:minilm", str(pairs), "--json", "--mteb-task",
                    "SupportDuplicates", "--reference", str(out))
    assert again.exit_code == 0, again.output
    rows = {r["metric"]: r for r in json.loads(again.stdout)["reference"]}
    assert {"ap", "accuracy", "f1", "max_ap", "dot_ap", "euclidean_ap", "manhattan_ap"} <= set(rows)
    assert all(r["difference"] == 0.0 for r in rows.values())

    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "SupportDuplicates"\nkind = "pair_classification"\ndata = "{pairs}"\n')
    both = tmp_path / "both"
    compared = _invoke("compare", "builtin:minilm", "builtin:minilm", "--suite", str(suite), "-o",
                       str(tmp_path / "report"), "--resamples", "200", "--json", "--mteb-out", str(both),
                       "--reference", str(out))
    assert compared.exit_code == 0, compared.output
    assert len(list(both.rglob("SupportDuplicates.json"))) == 2         # before and after
    assert_valid_report(json.loads(compared.stdout))
    section = json.loads(compared.stdout)["reference"]
    assert [t["task"] for t in section["tasks"]] == ["SupportDuplicates"]
    assert len(section["tasks"][0]["rows"]) >= 7
    assert section["flagged"] == 0
