"""compare end to end: a model against itself, against a damaged copy, leakage, the HTML report, the demo."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from report_checks import assert_valid_report

from spacekit.cli import main
from spacekit.demo.data import write_demo_data

pytestmark = pytest.mark.model  # compares builtin:minilm on the demo data

LABELLED_SUITE = """
[[task]]
name = "issue-classification"
kind = "classification"
train = "issues-train.csv"
test = "issues-test.csv"
tag = "in-domain"

[[task]]
name = "issue-clustering"
kind = "clustering"
data = "issues-test.csv"
tag = "in-domain"
metrics = ["v_measure", "ari"]
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """The demo data plus a labelled (article -> issue) classification/clustering split, in one suite."""
    folder = tmp_path_factory.mktemp("demo")
    paths = write_demo_data(folder)
    corpus = [json.loads(x) for x in (paths["beir"] / "corpus.jsonl").read_text().splitlines()]
    for split, keep in [("train", lambda i: int(i.split("-")[1]) < 7), ("test", lambda i: int(i.split("-")[1]) >= 7)]:
        rows = ["text,label"] + [f"\"{c['text']}\",issue{c['_id'].split('-')[2]}" for c in corpus if keep(c["_id"])]
        (folder / f"issues-{split}.csv").write_text("\n".join(rows) + "\n")
    paths["suite"].write_text(paths["suite"].read_text() + LABELLED_SUITE)
    return paths


def _compare(demo: dict, before: str, after: str, out: Path, *extra: str):
    return CliRunner().invoke(main, ["compare", before, after, "--suite", str(demo["suite"]), "-o", str(out),
                                     "--json", "--resamples", "2000", *extra])


def test_model_against_itself_changes_nothing(demo, tmp_path):
    result = _compare(demo, "builtin:minilm", "builtin:minilm", tmp_path / "r", "--fail-on-regression")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verdict"] == "no meaningful change"
    assert_valid_report(report)      # every change 0: inside each margin (TOST)
    kinds = {t["kind"] for t in report["tasks"]}
    assert kinds == {"retrieval", "sts", "classification", "clustering"}
    for task in report["tasks"]:
        for name, m in task["metrics"].items():
            assert m["delta"] == 0, (task["name"], name)
            assert m["before"] == m["after"], (task["name"], name)
            assert m["verdict"] == "equivalent"
            assert m["family"] == ("main" if name == task["main_metric"] else "secondary")
            assert m["p_value"] == 1.0
    assert report["drift"]["knn_overlap"]["mean"] == 1.0
    assert report["drift"]["linear_cka"] == pytest.approx(1.0)
    assert json.loads((tmp_path / "r" / "report.json").read_text())["verdict"] == report["verdict"]
    assert (tmp_path / "r" / "index.html").exists()
    assert (tmp_path / "r" / "report.md").exists()
    import importlib.metadata
    import platform

    import torch

    from spacekit.embed import load_model
    from spacekit.escape import md

    made = report["provenance"]                                           # what produced the numbers
    assert made["libraries"]["torch"] == importlib.metadata.version("torch") == torch.__version__
    assert made["libraries"]["transformers"] == importlib.metadata.version("transformers")
    assert made["fingerprints"] == {"before": load_model("builtin:minilm").fingerprint,
                                    "after": load_model("builtin:minilm").fingerprint}
    assert (made["device"], made["precision"], made["python"]) == (f"cpu ({platform.machine()})", "fp32",
                                                                    platform.python_version())
    assert "<details><summary>Provenance: spacekit " in (tmp_path / "r" / "index.html").read_text()
    assert f"| torch | {md(torch.__version__)} |" in (tmp_path / "r" / "report.md").read_text()


@pytest.fixture(scope="module")
def damaged_model(tmp_path_factory, minilm_path) -> Path:
    """A copy of all-MiniLM-L6-v2 with Gaussian noise (0.6 x each tensor's std) on every weight matrix."""
    import torch
    from safetensors.torch import load_file, save_file

    folder = tmp_path_factory.mktemp("damaged") / "model"
    shutil.copytree(minilm_path, folder)
    weights = load_file(folder / "model.safetensors")
    g = torch.Generator().manual_seed(0)
    noisy = {k: (v + 0.6 * v.float().std() * torch.randn(v.shape, generator=g) if v.ndim == 2 else v).contiguous()
             for k, v in weights.items()}
    save_file(noisy, folder / "model.safetensors")
    return folder


def test_damaged_copy_regresses_and_fails_the_run(demo, tmp_path, damaged_model):
    result = _compare(demo, "builtin:minilm", str(damaged_model), tmp_path / "r", "--fail-on-regression")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    main_verdicts = {t["name"]: t["metrics"][t["main_metric"]]["verdict"] for t in report["tasks"]}
    assert main_verdicts["support-retrieval"] == "regressed", main_verdicts
    assert "improved" not in main_verdicts.values()
    retrieval = next(t for t in report["tasks"] if t["kind"] == "retrieval")
    m = retrieval["metrics"]["ndcg@10"]
    assert m["delta"] < 0
    assert m["ci_high"] < 0
    assert m["p_adjusted"] < 0.05
    assert retrieval["most_regressed"]
    assert retrieval["win_tie_loss"]["loss"] > retrieval["win_tie_loss"]["win"]
    assert report["verdict"] in {"regressed", "mixed"}
    # without the flag a regression still exits 0
    assert _compare(demo, "builtin:minilm", str(damaged_model), tmp_path / "r2").exit_code == 0


def test_leakage_catches_verbatim_and_paraphrased_queries(demo, tmp_path):
    queries = [json.loads(x)["text"] for x in (demo["beir"] / "queries.jsonl").read_text().splitlines()]
    verbatim = queries[:4]
    paraphrased = [q.replace("can't", "cannot").replace("won't", "will not") + "." for q in queries[10:14]]
    train = tmp_path / "train.jsonl"
    rows = [{"anchor": q, "positive": "x"} for q in verbatim + paraphrased]
    rows += [{"anchor": "an unrelated sentence about gardening tools", "positive": "rakes and hoes"}]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _compare(demo, "builtin:minilm", "builtin:minilm", tmp_path / "r", "--train", str(train))
    assert result.exit_code == 0, result.output
    leak = json.loads(result.stdout)["leakage"]["tasks"]["support-retrieval"]
    assert leak["exact"] >= 4, leak
    assert leak["near"] >= 3, leak
    assert {e["text"] for e in leak["pairs"] if e["kind"] == "exact"} <= set(verbatim)
    retrieval = next(t for t in json.loads(result.stdout)["tasks"] if t["kind"] == "retrieval")
    assert retrieval["leak_free"]["n"] == 160 - leak["total"]
    assert retrieval["leak_free"]["leaked"] == leak["total"]
    row = next(r for r in json.loads(result.stdout)["headline"]["rows"] if r["task"] == "support-retrieval")
    assert row["basis"] == f"leak-free, n={160 - leak['total']}"             # the verdict judges the leak-free items
    assert row["delta"] == retrieval["leak_free"]["metrics"]["ndcg@10"]["delta"]
    page = (tmp_path / "r" / "index.html").read_text()
    assert "without leaked items" in page
    assert page.count("<td class='l'>ndcg@10 ") == 1                        # the all-items change, shown beside
    near = [r for r in retrieval["slices"]["rows"] if r["slicing"].startswith("near-duplicate of training")]
    assert {r["group"]: r["n"] for r in near} == {"near-duplicate": leak["total"], "not": 160 - leak["total"]}
    assert retrieval["slices"]["items"] == f"all 160 items, the {leak['total']} leaked ones included"
    assert retrieval["slices"]["simpson"] is None
    assert retrieval["metrics"]["ndcg@10"]["verdict"] is None       # the all-items test it was sliced against
    assert len(leak["ids"]) == leak["total"]
    assert {e["item_id"] for e in leak["pairs"]} <= set(leak["ids"])


def test_html_report_renders_in_headless_chromium(demo, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (Debian package chromium)")
    result = _compare(demo, "builtin:minilm", "builtin:minilm", tmp_path / "r")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r" / "index.html").resolve()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    assert 'id="summary"' in dom
    assert "support-retrieval" in dom
    assert "data:image/png;base64," in dom
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, *flags, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists()
    assert shot.stat().st_size > 20_000
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"))
    assert pixels.std() > 10  # not a blank page


@pytest.mark.real
def test_demo_fine_tunes_and_improves_in_domain(tmp_path):
    result = CliRunner().invoke(main, ["demo", "-o", str(tmp_path / "demo"), "--resamples", "2000"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert_valid_report(report)
    retrieval = next(t for t in report["tasks"] if t["tag"] == "in-domain")
    row = report["headline"]["rows"][0]                # the training file carries test queries: judged without them
    assert row["basis"] == f"leak-free, n={retrieval['leak_free']['n']}"
    assert retrieval["leak_free"]["metrics"]["ndcg@10"]["verdict"] == "improved"
    assert retrieval["metrics"]["ndcg@10"]["verdict"] is None          # all items: shown, not judged
    assert row["verdict"] == "improved"
    assert report["leakage"]["tasks"]["support-retrieval"]["exact"] >= 3
    assert {"projection", "deltas", "probes"} <= set(report["plots"])


def test_models_that_differ_in_prompts_and_similarity_are_compared_per_dimension_and_precision(demo, tmp_path,
                                                                                               minilm_path):
    """The after model carries E5-style prompts and a dot similarity; the suite gives it its own query prompt and
    scores the retrieval at 128 dimensions and in int8 too: every variant gets its paired test, and the report
    says which prompts each model used and where the models differ."""
    after = tmp_path / "after"
    shutil.copytree(minilm_path, after)
    (after / "config_sentence_transformers.json").write_text(json.dumps(
        {"prompts": {"query": "query: ", "document": "passage: "}, "similarity_fn_name": "dot"}))
    suite = tmp_path / "suite.toml"
    suite.write_text(f"""
[after]
query_prompt = "question: "

[[task]]
name = "support"
kind = "retrieval"
data = "{demo['beir']}"
metrics = ["ndcg@10", "ndcg@10/128d/int8"]
dims = [128]
quantize = ["int8"]
""")
    result = CliRunner().invoke(main, ["compare", "builtin:minilm", str(after), "--suite", str(suite), "-o",
                                       str(tmp_path / "r"), "--json", "--resamples", "500"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    task = report["tasks"][0]
    assert {"ndcg@10", "ndcg@10/int8", "ndcg@10/128d", "ndcg@10/128d/int8"} <= set(task["metrics"])
    for m in task["metrics"].values():
        assert m["ci_low"] <= m["delta"] <= m["ci_high"]
    models = report["models"]
    assert models["before"]["prompts_used"]["support"] == {"query": "", "document": ""}
    assert models["after"]["prompts_used"]["support"] == {"query": "question: ", "document": "passage: "}
    assert {d["setting"] for d in models["differences"]} == {"similarity", "prompt (support, query)",
                                                             "prompt (support, document)"}
    text = (tmp_path / "r" / "report.md").read_text()
    assert "## Models" in text
    assert "'question: '" in text
    assert "similarity" in text
    # the after model's vectors really were prompted: its query prompt moved the main metric
    assert task["metrics"]["ndcg@10"]["delta"] != 0
