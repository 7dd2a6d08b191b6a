"""Make a SPLADE pair on SciFact for the README's sparse example: all-MiniLM-L6-v2's encoder with a masked-language
head (its word embeddings, tied; the head's transform layer fresh, seeded) saved as a SparseEncoder — the "before"
model — and the same model fine-tuned one epoch on SciFact's train pairs with SpladeLoss (sparse multiple-negatives
ranking, FLOPS regularisers 5e-5 / 3e-5), batch 16, seed 42 — the "after" model. The test split is never read.

    python scripts/train_scifact_splade.py ../shared/data/scifact /tmp/splade-scifact
    spacekit compare /tmp/splade-scifact/before /tmp/splade-scifact/after --suite suite.toml -o report
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    """Build the before model, then fine-tune it into the after model."""
    import torch
    import transformers
    from datasets import Dataset
    from sentence_transformers import SparseEncoder, SparseEncoderTrainer, SparseEncoderTrainingArguments
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sparse_encoder.losses import SparseMultipleNegativesRankingLoss, SpladeLoss
    from sentence_transformers.sparse_encoder.modules import SpladePooling

    from spacekit.embed.model import model_folder
    from spacekit.io.beir import read_beir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scifact", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()
    torch.manual_seed(42)
    minilm = model_folder("builtin:minilm")
    mlm = args.out / "mlm"
    net = transformers.BertForMaskedLM.from_pretrained(minilm, local_files_only=True)   # the head: fresh, seeded
    net.save_pretrained(mlm)
    transformers.AutoTokenizer.from_pretrained(minilm, local_files_only=True).save_pretrained(mlm)
    before = SparseEncoder(modules=[Transformer(str(mlm), transformer_task="fill-mask", max_seq_length=args.max_length),
                                    SpladePooling("max")], device="cpu")
    before.save(str(args.out / "before"))
    data = read_beir(args.scifact, "train")
    query = dict(zip(data.queries.ids, data.queries.texts, strict=True))
    document = dict(zip(data.corpus.ids, data.corpus.texts, strict=True))
    pairs = [(query[q], document[d]) for q, docs in data.qrels.items() for d, grade in docs.items() if grade > 0]
    print(f"{len(pairs)} training pairs")
    model = SparseEncoder(str(args.out / "before"), device="cpu")
    loss = SpladeLoss(model, SparseMultipleNegativesRankingLoss(model), query_regularizer_weight=5e-5,
                      document_regularizer_weight=3e-5)
    train = Dataset.from_dict({"anchor": [q for q, _ in pairs], "positive": [d for _, d in pairs]})
    targs = SparseEncoderTrainingArguments(output_dir=str(args.out / "run"), num_train_epochs=1,
                                           per_device_train_batch_size=16, learning_rate=2e-5, warmup_ratio=0.1,
                                           report_to=[], save_strategy="no", use_cpu=True, seed=42)
    SparseEncoderTrainer(model=model, args=targs, train_dataset=train, loss=loss).train()
    model.save(str(args.out / "after"))


if __name__ == "__main__":
    main()
