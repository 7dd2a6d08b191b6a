"""Tokenisation speed: long texts from their heads (spacekit's default for BERT-style tokenizers) vs whole texts.

    python benchmarks/bench_tokenize.py [--n 3000]

SciFact documents as they are (~1,500 characters) and three abstracts joined (~4,200 characters; 1,727 texts),
all-MiniLM-L6-v2's tokenizer, max_seq_length 256; the ids are checked equal before the times are reported (best of 3).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, device_name, print_table, write_results  # noqa: E402

from spacekit.encode import load_model  # noqa: E402
from spacekit.tokenizer import _fast_tokenizer, tokenize  # noqa: E402


def best_rate(fn, n: int, repeat: int = 3) -> float:
    """Texts per second, the best of `repeat` runs."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n / min(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    rows = [json.loads(line) for line in (DATA / "scifact" / "corpus.jsonl").open(encoding="utf-8")]
    docs = [(r["title"] + " " + r["text"]).strip() for r in rows][:args.n]
    abstracts = [r["text"] for r in rows]
    joined = [" ".join(abstracts[i:i + 3]) for i in range(0, len(abstracts) - 2, 3)][:args.n]
    model = load_model("builtin:minilm")
    _fast_tokenizer(model)
    table = []
    for name, texts in [("scifact documents", docs), ("3 abstracts joined", joined)]:
        rates = {}
        for heads in (False, True):
            model._fast["cut_heads"] = heads
            rates[heads] = best_rate(lambda t=texts: tokenize(model, t), len(texts))
        model._fast["cut_heads"] = False
        whole = tokenize(model, texts)
        model._fast["cut_heads"] = True
        assert tokenize(model, texts) == whole, name
        table.append({"texts": name, "n": len(texts), "mean_chars": sum(map(len, texts)) / len(texts),
                      "whole_per_s": rates[False], "heads_per_s": rates[True], "speedup": rates[True] / rates[False]})
    print(f"device: {device_name(torch.device('cpu'))}; tokenizer of all-MiniLM-L6-v2, max_seq_length 256")
    print_table(table, ["texts", "n", "mean_chars", "whole_per_s", "heads_per_s", "speedup"])
    print("wrote", write_results("tokenize", torch.device("cpu"), {"rows": table}, args.out))


if __name__ == "__main__":
    main()
