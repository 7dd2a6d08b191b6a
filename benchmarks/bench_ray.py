"""Ray's cost and gain on this machine: SciFact documents encoded by the single-process path, then through Ray with 1
and 2 encoder actors, and with the CPU tokeniser stage feeding one encoder (documents/s, and Ray's overhead per shard
block against the single-process path); two stores (two prompts) written at once with the workers split vs one after
the other with all of them; exact top-10 of all SciFact test queries over the store, ops.topk vs sharded across 2
workers. Every Ray store is checked equal to the single-process one, byte for byte.

    python benchmarks/bench_ray.py [--docs 2000] [--shard-rows 250]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _common import DATA, print_table, write_results

from spacekit.distributed.cluster import RaySettings
from spacekit.distributed.embed import EmbedJob, embed_store_ray, embed_stores_ray
from spacekit.distributed.search import sharded_topk
from spacekit.embed import EncodeOptions, load_model
from spacekit.io.texts import read_texts
from spacekit.ops import topk
from spacekit.store.cache import embed_to_store
from spacekit.store.read import open_store


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def main() -> None:
    """Run the three encodings and the two searches; print and record them."""
    import ray

    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--shard-rows", type=int, default=250)
    args = parser.parse_args()
    corpus = read_texts(DATA / "scifact" / "corpus.jsonl")
    ids, texts = corpus.ids[:args.docs], corpus.texts[:args.docs]
    blocks = -(-len(ids) // args.shard_rows)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model("builtin:minilm")
        start = time.perf_counter()
        embed_to_store(model, ids, texts, Path(tmp) / "single", shard_rows=args.shard_rows)
        single = time.perf_counter() - start
        rows.append({"way": "single process", "seconds": single, "docs_per_s": len(ids) / single})
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        reference = open_store(Path(tmp) / "single").manifest
        single_vectors = open_store(Path(tmp) / "single").load()[1]
        for workers, cpus, tokenize in ((1, 2, False), (1, 1, False), (2, 1, False), (1, 1, True)):
            start = time.perf_counter()
            done = embed_store_ray("builtin:minilm", ids, texts, Path(tmp) / f"ray{workers}-{cpus}-{tokenize}",
                                   shard_rows=args.shard_rows, workers=workers, cpus_per_worker=cpus,
                                   tokenize=tokenize)
            took = time.perf_counter() - start
            if cpus == torch.get_num_threads():                     # as many threads as here: the same shard files
                assert done.store.manifest == reference
            else:                                                   # GEMM sums split by thread count: within 1e-5
                assert _cosines(single_vectors, done.store.load()[1]).min() >= 0.99999
            way = f"ray, {workers} worker{'s' if workers > 1 else ''} x {cpus} CPU" + \
                (" + tokeniser stage (1 CPU)" if tokenize else "")
            rows.append({"way": way, "seconds": took, "docs_per_s": len(ids) / took,
                         "overhead_per_block_s": (took - single) / blocks if cpus == 2 else None})
        for together in (True, False):
            jobs = [EmbedJob("builtin:minilm", ids, texts, Path(tmp) / f"{together}-{name}", prompt, args.shard_rows)
                    for name, prompt in (("plain", ""), ("prompted", "query: "))]
            start = time.perf_counter()
            if together:
                embed_stores_ray(jobs, RaySettings(workers=2))
            else:
                for job in jobs:
                    embed_stores_ray([job], RaySettings(workers=2))
            took = time.perf_counter() - start
            way = "at once, 1 worker each" if together else "one after the other, 2 workers"
            rows.append({"way": f"2 stores {way}", "seconds": took, "docs_per_s": 2 * len(ids) / took})
        queries = read_texts(DATA / "scifact" / "queries.jsonl")
        q = EncodeOptions().embed(model, queries.ids, queries.texts, "query")
        _, vectors = open_store(Path(tmp) / "ray2-1-False").load()
        start = time.perf_counter()
        ref = topk(q, vectors, 10)
        local = time.perf_counter() - start
        start = time.perf_counter()
        got = sharded_topk(q, Path(tmp) / "ray2-1-False", 10, workers=2)
        spread = time.perf_counter() - start
        assert torch.equal(ref[1], got[1])
        assert torch.equal(ref[0], got[0])
        rows += [{"way": "top-10, ops.topk", "seconds": local}, {"way": "top-10, sharded on 2 workers",
                                                                 "seconds": spread}]
        ray.shutdown()
    print_table(rows, ["way", "seconds", "docs_per_s", "overhead_per_block_s"])
    path = write_results("ray", torch.device("cpu"), {"docs": len(ids), "shard_rows": args.shard_rows,
                                                      "queries": int(np.shape(q)[0]), "rows": rows})
    print(path)


if __name__ == "__main__":
    main()
