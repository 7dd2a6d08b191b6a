"""Tokenisation speed: spacekit's two shortcuts for BERT-style tokenizers vs the tokenizer as the model ships it.

    python benchmarks/bench_tokenize.py [--n 3000]

The shortcuts: long texts tokenised from their heads, plain texts through a copy with a lighter normaliser and
pre-tokeniser.
SciFact documents as they are (~1,500 characters), three abstracts joined (~4,200 characters; 1,727 texts) and
STS-B sentences (short); all-MiniLM-L6-v2's tokenizer, max_seq_length 256; the ids of every variant are checked
equal before the times are reported (best of 3).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, device_name, print_table, write_results

from spacekit.embed import load_model
from spacekit.embed.tokenizer import plain


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
    sts = [line.split("\t")[5] for line in (DATA / "stsbenchmark" / "sts-train.csv").open(encoding="utf-8")]
    model = load_model("builtin:minilm")
    shortcuts = model.tokenizer.shortcuts
    light_copy = shortcuts.plain
    variants = {"whole_per_s": (False, None), "heads_per_s": (True, None), "spacekit_per_s": (True, light_copy)}
    table = []
    for name, texts in [("scifact documents", docs), ("3 abstracts joined", joined), ("sts-b sentences", sts[:args.n])]:
        rates, ids = {}, {}
        for key, (heads, light) in variants.items():
            shortcuts.cut_heads, shortcuts.plain = heads, light
            ids[key] = model.tokenizer.ids(texts)
            rates[key] = best_rate(lambda t=texts: model.tokenizer.ids(t), len(texts))
        assert ids["heads_per_s"] == ids["whole_per_s"], name
        assert ids["spacekit_per_s"] == ids["whole_per_s"], name
        table.append({"texts": name, "n": len(texts), "mean_chars": sum(map(len, texts)) / len(texts),
                      "plain_share": sum(map(plain, texts)) / len(texts), **rates,
                      "speedup": rates["spacekit_per_s"] / rates["whole_per_s"]})
    print(f"device: {device_name(torch.device('cpu'))}; tokenizer of all-MiniLM-L6-v2, max_seq_length 256")
    print_table(table, ["texts", "n", "mean_chars", "plain_share", "whole_per_s", "heads_per_s",
                        "spacekit_per_s", "speedup"])
    print("wrote", write_results("tokenize", torch.device("cpu"), {"rows": table}, args.out))


if __name__ == "__main__":
    main()
