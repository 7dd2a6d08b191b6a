"""Encoding speed: spacekit vs sentence-transformers encode, same model, precision and texts (SciFact corpus).

    python benchmarks/bench_encode.py [--n 600] [--device auto] [--dtypes fp32,fp16]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, device_name, print_table, write_results

from spacekit import backend
from spacekit.embed import encode, load_model


def scifact_texts(n: int) -> list[str]:
    """The first n SciFact documents as (title + " " + text).strip(), the corpus repeated if n is larger."""
    rows = [json.loads(line) for line in (DATA / "scifact" / "corpus.jsonl").open(encoding="utf-8")]
    texts = [(r["title"] + " " + r["text"]).strip() for r in rows]
    return [texts[i % len(texts)] for i in range(n)]


def _sync_time(fn, dev) -> float:
    backend.sync(dev)
    t0 = time.perf_counter()
    out = fn()
    backend.sync(dev)
    return time.perf_counter() - t0, out


def forward_only(model, texts: list[str], dev, dtype: str) -> float:
    """Seconds for the forward passes alone: every batch tokenised, collated and on the device beforehand."""
    from spacekit.embed.batching import batches
    from spacekit.embed.encoder import default_batch_tokens, embed_batch, on_device

    placed = on_device(model, dev, backend.dtype(dtype, dev))
    ready = list(batches(model.tokenizer.ids, texts, model.tokenizer.pad_id, dev, default_batch_tokens(dev)))

    def run():
        with torch.inference_mode():
            for b in ready:
                embed_batch(model, placed, b)

    run()
    seconds, _ = _sync_time(run, dev)
    return seconds


def host_pipeline(model, texts: list[str], dev) -> float:
    """Texts per second through tokenisation and collation alone, the tokenizer a block ahead as on a GPU (the
    CPU-side ceiling of the pipeline; no forward passes, no pinned memory)."""
    from spacekit.embed.batching import _host_batches
    from spacekit.embed.encoder import default_batch_tokens
    from spacekit.embed.tokenizer import token_ids

    t0 = time.perf_counter()
    for _ in _host_batches(model.tokenizer.encodings, texts, model.tokenizer.pad_id, default_batch_tokens(dev),
                           gpu=False, to_ids=token_ids, ahead=True):
        pass
    return len(texts) / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=None, help="documents (default 600 on CPU, 20000 on GPU)")
    p.add_argument("--device", default="auto")
    p.add_argument("--dtypes", default=None, help="default fp32 on CPU, fp32,fp16 on GPU")
    p.add_argument("--out", default=None, help="results folder")
    args = p.parse_args()
    dev = backend.device(args.device)
    n = args.n or (600 if dev.type == "cpu" else 20000)
    dtypes = (args.dtypes or ("fp32" if dev.type == "cpu" else "fp32,fp16")).split(",")
    texts = scifact_texts(n)
    model = load_model("builtin:minilm")
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model.path), device=str(dev))
    rows = []
    model.tokenizer.ids(texts[:64])
    t0 = time.perf_counter()
    model.tokenizer.ids(texts)
    tokenize_per_s = n / (time.perf_counter() - t0)                   # tokeniser and id lists, one after the other
    host_per_s = host_pipeline(model, texts, dev)                     # ... overlapped, and collated: the ceiling
    for name in dtypes:
        st_model = st.half() if name == "fp16" else (st.bfloat16() if name == "bf16" else st.float())
        encode(model, texts[:64], device=str(dev), dtype=name, progress=False)  # warm-up
        st_model.encode(texts[:64], batch_size=128 if dev.type == "cuda" else 32)
        # two passes each: the first pays one-off costs (pinned buffers, allocator growth, kernel selection per
        # batch shape), the second is the steady state; both are reported
        t_st, ref = _sync_time(lambda m=st_model: m.encode(texts, batch_size=128 if dev.type == "cuda" else 32,
                                                             normalize_embeddings=True), dev)
        t_sk, ours = _sync_time(lambda nm=name: encode(model, texts, device=str(dev), dtype=nm, progress=False),
                                dev)
        t_st2, _ = _sync_time(lambda m=st_model: m.encode(texts, batch_size=128 if dev.type == "cuda" else 32,
                                                            normalize_embeddings=True), dev)
        t_sk2, _ = _sync_time(lambda nm=name: encode(model, texts, device=str(dev), dtype=nm, progress=False), dev)
        full = encode(model, texts[:256], device=str(dev), dtype="fp32", progress=False)
        cos_fp32 = float((ours[:256] * full).sum(1).min())
        cos_st = float((ours * np.asarray(ref, np.float32)).sum(1).min())
        rows.append({"dtype": name, "n": n, "sentence_transformers_per_s": n / t_st, "spacekit_per_s": n / t_sk,
                     "ratio": t_st / t_sk, "st_second_pass_per_s": n / t_st2, "spacekit_second_pass_per_s": n / t_sk2,
                     "ratio_second_pass": t_st2 / t_sk2, "tokenize_only_per_s": tokenize_per_s,
                     "host_pipeline_per_s": host_per_s,
                     "forward_only_per_s": n / forward_only(model, texts, dev, name), "min_cos_vs_st": cos_st,
                     "min_cos_vs_fp32": cos_fp32})
    st.float()
    print(f"device: {device_name(dev)}; model all-MiniLM-L6-v2; SciFact documents (max_seq_length 256)")
    print_table(rows, ["dtype", "n", "sentence_transformers_per_s", "spacekit_per_s", "ratio", "st_second_pass_per_s",
                       "spacekit_second_pass_per_s", "ratio_second_pass", "tokenize_only_per_s",
                       "host_pipeline_per_s", "forward_only_per_s", "min_cos_vs_st", "min_cos_vs_fp32"])
    print("wrote", write_results("encode", dev, {"rows": rows, "threads": torch.get_num_threads()}, args.out))


if __name__ == "__main__":
    main()
