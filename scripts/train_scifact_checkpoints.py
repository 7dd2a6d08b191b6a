"""Fine-tune all-MiniLM-L6-v2 one epoch on SciFact's train pairs, saving a checkpoint every 10 steps, for the
README's checkpoint example (`spacekit compare builtin:minilm OUT/checkpoints --suite ...`).

The same fine-tune as the README's other examples (MultipleNegativesRankingLoss, batch 32, seed 42, one epoch over
the 919 (query, relevant abstract) pairs of the train qrels: 29 steps), with checkpoint-10, -20 and -29 kept. The test
split is never read.

    python scripts/train_scifact_checkpoints.py ../shared/data/scifact /tmp/minilm-scifact-ckpt
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    """Read SciFact's train pairs and fine-tune with checkpoints."""
    from spacekit.demo.finetune import finetune
    from spacekit.embed.model import model_folder
    from spacekit.io.beir import read_beir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scifact", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--save-steps", type=int, default=10)
    args = parser.parse_args()
    data = read_beir(args.scifact, "train")
    query = dict(zip(data.queries.ids, data.queries.texts, strict=True))
    document = dict(zip(data.corpus.ids, data.corpus.texts, strict=True))
    pairs = [(query[q], document[d]) for q, docs in data.qrels.items() for d, grade in docs.items() if grade > 0]
    print(f"{len(pairs)} training pairs")
    finetune(model_folder("builtin:minilm"), pairs, args.out, epochs=1, save_steps=args.save_steps)


if __name__ == "__main__":
    main()
