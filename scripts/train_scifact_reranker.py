"""Train a small cross-encoder reranker on SciFact's train split, for the README's retrieve-then-rerank example.

No public reranker can be downloaded here, so this makes one: all-MiniLM-L6-v2's encoder with a fresh one-logit
head, trained with binary cross-entropy on each train query's relevant documents (label 1) and 3 BM25 hard negatives
(label 0), one epoch, then saved in sentence-transformers' CrossEncoder layout. The test split is never read.

    python scripts/train_scifact_reranker.py ../shared/data/scifact /tmp/scifact-reranker
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path


def main() -> None:
    """Read SciFact's train queries, mine BM25 negatives, train one epoch, save the cross-encoder."""
    import torch
    import transformers
    from sentence_transformers import CrossEncoder

    from spacekit.embed.model import model_folder
    from spacekit.io.beir import read_beir
    from spacekit.ops.lexical import Bm25

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scifact", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--negatives", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()

    random.seed(0)
    torch.manual_seed(0)
    data = read_beir(args.scifact, "train")
    judged = [(q, t) for q, t in zip(data.queries.ids, data.queries.texts, strict=True) if q in data.qrels]
    code = {d: c for c, d in enumerate(data.corpus.ids)}
    found, _ = Bm25(data.corpus.texts).search([t for _, t in judged], 20)
    examples = []
    for (qid, text), row in zip(judged, found, strict=True):
        relevant = {code[d] for d, grade in data.qrels[qid].items() if grade > 0 and d in code}
        examples += [(text, data.corpus.texts[c], 1.0) for c in relevant]
        negatives = [int(c) for c in row if c >= 0 and int(c) not in relevant][:10]
        examples += [(text, data.corpus.texts[c], 0.0) for c in random.sample(negatives, min(args.negatives,
                                                                                             len(negatives)))]
    random.shuffle(examples)
    base = model_folder("builtin:minilm")
    tokenizer = transformers.AutoTokenizer.from_pretrained(base)
    net = transformers.AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    optimiser = torch.optim.AdamW(net.parameters(), lr=3e-5)
    steps = (len(examples) + 15) // 16
    schedule = transformers.get_linear_schedule_with_warmup(optimiser, steps // 10, steps)
    net.train()
    for step in range(steps):
        batch = examples[step * 16:(step + 1) * 16]
        features = tokenizer([q for q, _, _ in batch], [d for _, d, _ in batch], padding=True,
                             truncation="longest_first", max_length=args.max_length, return_tensors="pt")
        logits = net(**features).logits.squeeze(-1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([y for *_, y in batch]))
        loss.backward()
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
        if step % 50 == 0:
            print(f"step {step}/{steps} loss {loss.item():.4f}", flush=True)
    staged = args.out.with_name(args.out.name + ".hf")
    net.eval().save_pretrained(staged)
    tokenizer.save_pretrained(staged)
    CrossEncoder(str(staged), max_length=args.max_length).save(str(args.out))
    (args.out / "training.json").write_text(json.dumps({"examples": len(examples), "steps": steps,
                                                         "negatives": args.negatives, "split": "train"}))
    print(f"saved {args.out} ({len(examples)} pairs, {steps} steps)")


if __name__ == "__main__":
    main()
