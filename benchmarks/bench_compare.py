"""The whole job, side by side: spacekit compare vs a sentence-transformers script over the same 5-task suite
(SciFact test retrieval, STS-B test, Banking77 classification and clustering, the built-in probes), two models:
builtin:minilm and a copy fine-tuned a few steps here.

    python benchmarks/bench_compare.py [--steps 2] [--device auto] [--dtypes fp32] [--out DIR]

In one process, each way timed (wall clock): spacekit compare with a fresh cache (all its statistics, leakage,
drift, plots and pages: the user's command), the script a user would write with sentence-transformers (its
evaluators for retrieval and STS, scikit-learn on model.encode vectors for classification and clustering, the
probes' cosines: point metrics only, no statistics), and spacekit compare again on the warm cache. Peak memory is
the process's peak RSS after each way (it only grows). Every --dtypes entry gets its own cold and warm compare;
their metrics and verdicts are compared with the first's.
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, device_name, print_table, write_results

from spacekit import backend

SUITE = """
[[task]]
name = "scifact"
kind = "retrieval"
data = "{d}/scifact"
metrics = ["ndcg@10", "recall@100", "mrr@10"]
[[task]]
name = "stsb"
kind = "sts"
data = "{d}/stsbenchmark/sts-test.csv"
tag = "holdout"
[[task]]
name = "banking77"
kind = "classification"
train = "{d}/banking77/train.csv"
test = "{d}/banking77/test.csv"
tag = "holdout"
[[task]]
name = "banking77-clusters"
kind = "clustering"
data = "{d}/banking77/test.csv"
tag = "holdout"
[[task]]
name = "probes"
kind = "probes"
"""


def peak_rss_mb() -> float:
    """The process's peak resident set so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def training_pairs(n: int) -> list[tuple[str, str]]:
    """SciFact's first n training pairs (query, relevant document)."""
    from spacekit.io.beir import read_beir

    train = read_beir(DATA / "scifact", "train")
    text = dict(zip(train.corpus.ids, train.corpus.texts, strict=True))
    pairs = [(q, text[d]) for q, docs in zip(train.queries.texts, train.qrels.values(), strict=True) for d in docs]
    return pairs[:n]


def spacekit_compare(before: str, after: str, suite: Path, train: Path, out: Path, cache: Path, device: str,
                     dtype: str) -> tuple[float, dict]:
    """Seconds for the user's command (compare, report files) and the report."""
    from spacekit.compare import CompareConfig, run_suite
    from spacekit.embed import EncodeOptions
    from spacekit.progress import quiet
    from spacekit.report import write_outputs

    quiet()
    t0 = time.perf_counter()
    config = CompareConfig(train=train, opts=EncodeOptions(device=device, dtype=dtype, cache_dir=str(cache)))
    comparison, _ = write_outputs(run_suite(before, after, suite, config), out)
    return time.perf_counter() - t0, comparison.to_json()


def sentence_transformers_script(models: list[str], device: str) -> tuple[float, dict]:
    """What a user writes by hand: the point metrics of every task for both models, with sentence-transformers'
    evaluators and scikit-learn (no statistics, leakage, drift or plots)."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.evaluation import EmbeddingSimilarityEvaluator, InformationRetrievalEvaluator
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, v_measure_score

    from spacekit.embed.model import model_folder
    from spacekit.io.beir import read_beir
    from spacekit.io.labelled import read_labelled
    from spacekit.io.probes import read_probes
    from spacekit.io.sts import read_sts

    t0 = time.perf_counter()
    sci = read_beir(DATA / "scifact", "test")
    sts = read_sts(DATA / "stsbenchmark" / "sts-test.csv")
    train = read_labelled(DATA / "banking77" / "train.csv")
    test = read_labelled(DATA / "banking77" / "test.csv")
    probes = read_probes("builtin")
    out = {}
    for spec in models:
        model = SentenceTransformer(str(model_folder(spec)), device=device)
        ir = InformationRetrievalEvaluator(dict(zip(sci.queries.ids, sci.queries.texts, strict=True)),
                                           dict(zip(sci.corpus.ids, sci.corpus.texts, strict=True)),
                                           {q: set(d) for q, d in sci.qrels.items()}, show_progress_bar=False)
        ir_scores = ir(model)
        sim = EmbeddingSimilarityEvaluator(sts.sentence1, sts.sentence2, list(np.asarray(sts.score) / 5))(model)
        x_train, x_test = model.encode(train.texts), model.encode(test.texts)
        clf = LogisticRegression(max_iter=100).fit(x_train, train.labels)
        clusters = KMeans(len(set(test.labels)), n_init=5, random_state=42).fit_predict(x_test)
        a, b = model.encode(probes.text_a), model.encode(probes.text_b)
        out[spec] = {"ndcg@10": next(v for k, v in ir_scores.items() if k.endswith("ndcg@10")),
                     "spearman": next(v for k, v in sim.items() if k.endswith("spearman_cosine")),
                     "accuracy": accuracy_score(test.labels, clf.predict(x_test)),
                     "v_measure": v_measure_score(test.labels, clusters),
                     "probe_cosine_mean": float((a * b).sum(1).mean())}
    return time.perf_counter() - t0, out


def main() -> None:
    """Run the three ways and write benchmarks/results/compare-<device>-<date>.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2, help="fine-tuning steps (batches of 32) for the after model")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtypes", default="fp32", help="comma list; the first is the reference")
    parser.add_argument("--out", default=None, help="results folder")
    parser.add_argument("--skip-script", action="store_true", help="leave the sentence-transformers script out")
    args = parser.parse_args()
    dev = backend.device(args.device)
    work = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    (work / "suite.toml").write_text(SUITE.format(d=DATA))
    pairs = training_pairs(32 * args.steps)
    with (work / "train.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("anchor", "positive"), *pairs])
    from spacekit.demo.finetune import finetune
    from spacekit.embed.model import model_folder

    t0 = time.perf_counter()
    after = str(finetune(model_folder("builtin:minilm"), pairs, work / "after", epochs=1))
    rows = [{"way": f"fine-tune {len(pairs)} pairs (setup)", "seconds": time.perf_counter() - t0}]
    reports = {}
    for dtype in args.dtypes.split(","):
        for state in ("cold", "warm"):
            seconds, report = spacekit_compare("builtin:minilm", after, work / "suite.toml", work / "train.csv",
                                               work / f"report-{dtype}-{state}", work / f"cache-{dtype}",
                                               str(dev), dtype)
            rows.append({"way": f"spacekit compare {dtype} {state}", "seconds": seconds, "peak_rss_mb": peak_rss_mb(),
                         "verdict": report["verdict"]})
            reports[dtype] = report
    if not args.skip_script:
        seconds, script = sentence_transformers_script(["builtin:minilm", after], str(dev))
        rows.append({"way": "sentence-transformers script fp32", "seconds": seconds, "peak_rss_mb": peak_rss_mb()})
    else:
        script = {}
    reference = args.dtypes.split(",")[0]
    agreement = {dtype: _agreement(reports[reference], rep) for dtype, rep in reports.items() if dtype != reference}
    print_table(rows, ["way", "seconds", "peak_rss_mb", "verdict"])
    payload = {"rows": rows, "script_metrics": script, "agreement_with_" + reference: agreement,
               "verdict_lines": {d: r["headline"]["rows"] for d, r in reports.items()},
               "threads": torch.get_num_threads(), "device_name": device_name(dev)}
    print(write_results("compare", dev, payload, args.out))


def _agreement(ref: dict, other: dict) -> dict:
    """The largest metric difference and whether every verdict is the same, between two reports."""
    diffs, same = [], True
    for a, b in zip(ref["tasks"], other["tasks"], strict=True):
        for side in ("before", "after"):
            for name, value in a["all_metrics"][side].items():
                if isinstance(value, float) and isinstance(b["all_metrics"][side].get(name), float):
                    diffs.append(abs(value - b["all_metrics"][side][name]))
        same &= all(a["metrics"][m]["verdict"] == b["metrics"][m]["verdict"] for m in a["metrics"])
    same = same and ref["verdict"] == other["verdict"]
    return {"max_metric_difference": max(diffs, default=0.0), "same_verdicts": same}


if __name__ == "__main__":
    main()
