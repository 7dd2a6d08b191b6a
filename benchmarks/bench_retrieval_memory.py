"""`eval retrieval` memory with many queries at a deep run: write a generated BEIR folder (Q queries, each with 1-3
relevant documents, over a small corpus), run `spacekit eval retrieval MODEL DIR --depth 1000 --run-out RUN --json`
in a fresh process under /usr/bin/time, and record its peak memory (RSS), wall time and the run file's size.

    python benchmarks/bench_retrieval_memory.py [--queries 100000] [--docs 2000] [--depth 1000] [--model builtin:minilm]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import write_results

VOCABULARY = ("protein cell gene tumor virus drug dose trial patient brain heart lung liver blood immune signal "
              "receptor enzyme mutation therapy vaccine infection memory sleep diet exercise risk rate level growth "
              "response pathway tissue marker cancer kidney bone muscle skin stress age sex model effect")
WORDS = VOCABULARY.split()


def write_beir(folder: Path, queries: int, docs: int, seed: int = 0) -> None:
    """corpus.jsonl, queries.jsonl and qrels/test.tsv of generated texts (each query shares words with its
    relevant documents)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    doc_words = rng.integers(0, len(WORDS), size=(docs, 12))
    with open(folder / "corpus.jsonl", "w", encoding="utf-8") as f:
        for i, row in enumerate(doc_words):
            f.write(json.dumps({"_id": f"d{i}", "title": f"doc {i}", "text": " ".join(WORDS[w] for w in row)}) + "\n")
    relevant = rng.integers(0, docs, size=(queries, 3))
    counts = rng.integers(1, 4, size=queries)
    (folder / "qrels").mkdir(exist_ok=True)
    with open(folder / "queries.jsonl", "w", encoding="utf-8") as fq, \
            open(folder / "qrels" / "test.tsv", "w", encoding="utf-8") as fr:
        fr.write("query-id\tcorpus-id\tscore\n")
        for q in range(queries):
            words = [WORDS[w] for w in doc_words[relevant[q, 0], rng.integers(0, 12, size=4)]]
            fq.write(json.dumps({"_id": f"q{q}", "text": f"{' '.join(words)} {q}"}) + "\n")
            for d in dict.fromkeys(relevant[q, :counts[q]].tolist()):
                fr.write(f"q{q}\td{d}\t1\n")


def main() -> None:
    """Generate the folder, evaluate it under /usr/bin/time -v, record peak RSS and wall time."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--docs", type=int, default=2_000)
    parser.add_argument("--depth", type=int, default=1000)
    parser.add_argument("--model", default="builtin:minilm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder, run_file = Path(tmp) / "beir", Path(tmp) / "run.trec"
        write_beir(folder, args.queries, args.docs)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "SPACEKIT_CACHE": str(Path(tmp) / "cache")}
        t0 = time.perf_counter()
        command = [sys.executable, "-m", "spacekit.cli", "eval", "retrieval", args.model, str(folder), "--depth",
                   str(args.depth), "--run-out", str(run_file), "--json", "--device", "cpu"]
        run = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        if run.returncode != 0:
            raise SystemExit(run.stderr[-3000:])
        peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
        metrics = json.loads(run.stdout)["metrics"]
        with open(run_file, "rb") as f:
            lines = sum(1 for _ in f)
        result = {"queries": args.queries, "docs": args.docs, "depth": args.depth, "model": args.model,
                  "wall_s": round(wall, 1), "peak_rss_bytes": peak_kb * 1024,
                  "run_file_lines": lines, "run_file_bytes": run_file.stat().st_size,
                  "ndcg@10": metrics["ndcg@10"], "recall@1000": metrics.get("recall@1000")}
    print(json.dumps(result, indent=1))
    print(write_results("retrieval_memory", torch.device("cpu"), result))


if __name__ == "__main__":
    main()
