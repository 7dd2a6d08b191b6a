"""Fine-tune a sentence-transformers model on (anchor, positive) pairs with MultipleNegativesRankingLoss.

Used by the demo (and scripts/finetune.py). Needs the `demo` extra: sentence-transformers, datasets, accelerate.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from spacekit.errors import InputError

log = logging.getLogger("spacekit")


def read_pairs(path: str | Path) -> list[tuple[str, str]]:
    """(anchor, positive) pairs from a JSONL file with anchor/positive (or query/positive, sentence1/sentence2)."""
    from spacekit.io.tables import read_rows

    path = Path(path)
    pairs = []
    for lineno, row in read_rows(path):
        keys = next((k for k in [("anchor", "positive"), ("query", "positive"), ("sentence1", "sentence2"),
                                 ("text_a", "text_b")] if k[0] in row and k[1] in row), None)
        if keys is None:
            raise InputError(f"{path}:{lineno}: expected anchor and positive fields")
        pairs.append((str(row[keys[0]]), str(row[keys[1]])))
    if len(pairs) < 2:
        raise InputError(f"{path}: need at least 2 training pairs")
    return pairs


def finetune(base: str | Path, pairs: list[tuple[str, str]], out: str | Path, *, epochs: int = 3,
             batch_size: int = 32, learning_rate: float = 5e-5, seed: int = 42) -> Path:
    """Train on the pairs (in-batch negatives) and save a sentence-transformers folder at `out`."""
    try:
        from datasets import Dataset
        from sentence_transformers import (
            SentenceTransformer,
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
            losses,
        )
        from sentence_transformers.training_args import BatchSamplers
    except ImportError as e:
        raise InputError(f"fine-tuning needs the demo extra (pip install 'spacekit[demo]'): {e}") from None
    os.environ.setdefault("WANDB_DISABLED", "true")
    model = SentenceTransformer(str(base), device="cpu")
    data = Dataset.from_dict({"anchor": [a for a, _ in pairs], "positive": [p for _, p in pairs]})
    out = Path(out)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "checkpoints"), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, warmup_steps=0.1, seed=seed, save_strategy="no", report_to="none",
        logging_steps=10, batch_sampler=BatchSamplers.NO_DUPLICATES, use_cpu=True, disable_tqdm=True)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data,
                                         loss=losses.MultipleNegativesRankingLoss(model))
    trainer.train()
    model.save(str(out))
    (out / "spacekit_finetune.json").write_text(json.dumps({"base": str(base), "pairs": len(pairs),
                                                             "epochs": epochs, "seed": seed}))
    return out
