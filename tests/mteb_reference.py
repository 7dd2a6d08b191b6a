"""MTEB's own evaluators (the `mteb` package, 2.x) run on given vectors: a stub encoder looks each text up, so the
numbers below come from MTEB's code path (its sampling, scikit-learn calls and averaging), not from ours."""

from __future__ import annotations

import numpy as np


class VectorTable:
    """An mteb EncoderProtocol that returns stored vectors for the texts it is given."""

    mteb_model_meta = None

    def __init__(self, table: dict[str, np.ndarray]):
        self.table = table

    def encode(self, inputs, *, task_metadata, hf_split, hf_subset, prompt_type=None, **kwargs) -> np.ndarray:
        """The stored vector of every text of every batch."""
        return np.stack([self.table[t] for batch in inputs for t in batch["text"]])

    def similarity(self, a, b):
        """Cosine matrix (the vectors are stored unit-length)."""
        return np.asarray(a) @ np.asarray(b).T

    def similarity_pairwise(self, a, b):
        """Row-wise cosine."""
        return (np.asarray(a) * np.asarray(b)).sum(-1)


def _metadata(name: str, kind: str, main_score: str):
    from mteb.abstasks.task_metadata import TaskMetadata

    return TaskMetadata(name=name, description="a local task for a reference run", dataset={
        "path": "local/none", "revision": "none"}, type=kind, category="t2c", eval_splits=["test"],
        eval_langs=["eng-Latn"], main_score=main_score, reference=None, date=None, domains=None, task_subtypes=None,
        license=None, annotations_creators=None, dialect=None, sample_creation=None, bibtex_citation=None)


def _run(task_class, splits: dict[str, dict], table: dict[str, np.ndarray]) -> dict:
    import datasets

    task = task_class()
    task.dataset = {"default": datasets.DatasetDict({k: datasets.Dataset.from_dict(v) for k, v in splits.items()})}
    task.data_loaded = True
    return task.evaluate(VectorTable(table), "test", encode_kwargs={"batch_size": 64})["default"]


def classification(train: dict, test: dict, table: dict, samples_per_label: int = 8, n_experiments: int = 10) -> dict:
    """MTEB's AbsTaskClassification on {text, label} dicts: accuracy, f1, ... (means over experiments)."""
    from mteb.abstasks.classification import AbsTaskClassification

    class LocalClassification(AbsTaskClassification):
        metadata = _metadata("LocalClassification", "Classification", "accuracy")

    LocalClassification.samples_per_label = samples_per_label
    LocalClassification.n_experiments = n_experiments
    return _run(LocalClassification, {"train": train, "test": test}, table)


def clustering_v1(sets: list[dict], table: dict) -> dict:
    """MTEB's AbsTaskClusteringLegacy on rows {sentences: [...], labels: [...]}: v_measure (mean over sets)."""
    from mteb.abstasks.clustering_legacy import AbsTaskClusteringLegacy

    class LocalClusteringV1(AbsTaskClusteringLegacy):
        metadata = _metadata("LocalClusteringV1", "Clustering", "v_measure")
        input_column_name = "text"

    rows = {"text": [s["sentences"] for s in sets], "labels": [s["labels"] for s in sets]}
    return _run(LocalClusteringV1, {"test": rows}, table)


def clustering_v2(texts: list[str], labels: list, table: dict, *, max_fraction: float | None = 0.04,
                  max_documents: int | None = None, subsets: int = 10, subset_size: int = 16_384) -> dict:
    """MTEB's AbsTaskClustering (the fast, bootstrapped one): v_measure (mean over samples)."""
    from mteb.abstasks.clustering import AbsTaskClustering

    class LocalClusteringV2(AbsTaskClustering):
        metadata = _metadata("LocalClusteringV2", "Clustering", "v_measure")
        input_column_name = "text"
        label_column_name = "labels"
        max_fraction_of_documents_to_embed = max_fraction
        max_document_to_embed = max_documents
        n_clusters = subsets
        max_documents_per_cluster = subset_size

    return _run(LocalClusteringV2, {"test": {"text": texts, "labels": labels}}, table)


def pair_classification(first: list[str], second: list[str], labels: list[int], table: dict) -> dict:
    """MTEB's AbsTaskPairClassification on one row of lists (its v1 layout): cosine_ap, dot_f1, ..., max_ap."""
    from mteb.abstasks.pair_classification import AbsTaskPairClassification

    class LocalPairClassification(AbsTaskPairClassification):
        metadata = _metadata("LocalPairClassification", "PairClassification", "max_ap")

    return _run(LocalPairClassification, {"test": {"sentence1": [first], "sentence2": [second], "labels": [labels]}},
                table)
