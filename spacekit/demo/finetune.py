"""Fine-tune a sentence-transformers model on (anchor, positive) pairs with MultipleNegativesRankingLoss.

The demo's step, and a helper for your own pairs (docs/cli.md, "Fine-tuning with the demo's helper"). Needs the `demo`
extra: sentence-transformers, datasets, accelerate.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from spacekit.errors import InputError

log = logging.getLogger("spacekit")


def finetune(base: str | Path, pairs: list[tuple[str, str]], out: str | Path, *, epochs: int = 3,
             batch_size: int = 32, learning_rate: float = 5e-5, seed: int = 42, save_steps: int = 0) -> Path:
    """Train on the pairs (in-batch negatives) and save a sentence-transformers folder at `out`; with save_steps,
    also a checkpoint every that many steps (out/checkpoints/checkpoint-STEP, the trainer's layout)."""
    try:
        from datasets import Dataset
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise InputError(f"fine-tuning needs the demo extra (pip install 'spacekit[demo]'; or `spacekit demo "
                         f"--after MODEL` compares against a model you have): {e}") from None
    try:                                   # sentence-transformers 6 moved these; 3.x-5.x have the older paths
        from sentence_transformers.sentence_transformer import (
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
            losses,
        )
        from sentence_transformers.sentence_transformer.training_args import BatchSamplers
    except ImportError:
        from sentence_transformers import (  # type: ignore[attr-defined,no-redef]  # losses: a lazy submodule
            SentenceTransformerTrainer,
            SentenceTransformerTrainingArguments,
            losses,
        )
        from sentence_transformers.training_args import BatchSamplers  # type: ignore[no-redef]
    model = SentenceTransformer(str(base), device="cpu")
    data = Dataset.from_dict({"anchor": [a for a, _ in pairs], "positive": [p for _, p in pairs]})
    out = Path(out)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "checkpoints"), num_train_epochs=epochs, per_device_train_batch_size=batch_size,
        learning_rate=learning_rate, warmup_steps=0.1, seed=seed, report_to="none",
        save_strategy="steps" if save_steps else "no", save_steps=save_steps or 500, save_only_model=True,
        logging_steps=10, batch_sampler=BatchSamplers.NO_DUPLICATES, use_cpu=True, disable_tqdm=True)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data,
                                         loss=losses.MultipleNegativesRankingLoss(model))
    trainer.train()
    model.save(str(out))
    (out / "spacekit_finetune.json").write_text(json.dumps({"base": str(base), "pairs": len(pairs),
                                                             "epochs": epochs, "seed": seed}))
    return out


def finetuned_demo_model(train: Path, out: Path, epochs: int) -> Path:
    """builtin:minilm fine-tuned on the demo's training pairs, kept under `out` by the training file's hash (made
    once; later demos reuse it)."""
    from spacekit.embed.model import model_folder
    from spacekit.files import file_digest
    from spacekit.io.pairs import read_pairs

    model_dir = out / f"model-finetuned-{file_digest(train)[:16]}"
    if not (model_dir / "modules.json").exists():
        log.warning("fine-tuning builtin:minilm on %s (%d epochs, CPU) ...", train, epochs)
        pairs = read_pairs(train, minimum=2)
        finetune(model_folder("builtin:minilm"), list(zip(pairs.first, pairs.second, strict=True)), model_dir,
                 epochs=epochs)
    return model_dir
