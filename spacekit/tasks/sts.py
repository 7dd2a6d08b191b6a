"""STS: cosine similarity of each sentence pair against gold scores, Spearman and Pearson (scipy's definitions)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

import numpy as np

from spacekit.embed import EncodeOptions, Model
from spacekit.errors import InputError
from spacekit.io.mteb_results import MtebFormat
from spacekit.io.sts import StsPairs
from spacekit.tasks.base import MetricSpec, Task, TaskResult, pair_cosines, require_metric, task_name, texts_per_item
from spacekit.tasks.options import Option
from spacekit.tasks.registry import register

if TYPE_CHECKING:
    from spacekit.metrics.threshold import ScoredPairs

METRICS = ("spearman", "pearson")
MATCH_SHARE = 0.2    # a similarity cut-off's positives: the pairs whose gold score is in the top fifth of the scale


@dataclass(kw_only=True)
class StsResult(TaskResult):
    """Per pair: the cosine (per_item["similarity"]) and the gold score."""

    gold: np.ndarray
    item_meaning: ClassVar[str] = ("an item is a sentence pair; Δ is the change in how close the rank of its cosine "
                                   "lies to the rank of its gold score (as a share of n; +: closer)")
    positive_meaning: ClassVar[str | None] = ("a pair whose gold score is in the top fifth of the range the data "
                                              "spans (STS-B: >= 4 of 5, 'mostly equivalent')")

    def threshold_pairs(self) -> ScoredPairs:
        """Every pair, scored by its cosine; a positive when its gold score is in the top MATCH_SHARE of the gold
        range."""
        from spacekit.metrics.threshold import ScoredPairs

        low, high = float(self.gold.min()), float(self.gold.max())
        positive = self.gold >= high - MATCH_SHARE * (high - low)
        return ScoredPairs(self.per_item["similarity"], positive, np.arange(self.n), np.zeros(self.n, np.int64))

    def paired_inputs(self, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Similarities against gold: the correlation is recomputed on each resample."""
        return self.per_item["similarity"], self.gold

    def quality(self, main_metric: str) -> np.ndarray:
        """How far each pair's similarity rank is from its gold rank (negated: higher is better)."""
        from scipy.stats import rankdata

        sim = self.per_item["similarity"]
        return -np.abs(rankdata(sim) - rankdata(self.gold)) / len(sim)


@register
@dataclass
class StsTask(Task[StsResult]):
    """Cosine similarity of each pair against gold scores: Spearman and Pearson."""

    data: Annotated[str | Path, Option("scored pairs: sentence1, sentence2, score (TSV, CSV, JSONL), or STS-B's own "
                                       "files", path=True)]
    name: str = ""
    kind: ClassVar[str] = "sts"
    vectors: ClassVar[tuple[str, ...]] = ("dense", "sparse")
    scored_pairs: ClassVar[bool] = True
    mteb: ClassVar[MtebFormat | None] = MtebFormat("cosine_spearman", {"spearman": "cosine_spearman",
                                                                "pearson": "cosine_pearson"})
    default_metrics: ClassVar[tuple[str, ...]] = METRICS

    @classmethod
    def metric_spec(cls, metric: str) -> MetricSpec:
        """Spearman or Pearson, recomputed on each paired resample."""
        require_metric(cls.kind, metric, METRICS)
        return MetricSpec(metric)

    def read_inputs(self) -> StsPairs:
        """The scored sentence pairs."""
        from spacekit.io.sts import read_sts

        return read_sts(self.data)

    def run(self, model: Model, opts: EncodeOptions) -> StsResult:
        """Per pair: the cosine and the gold score."""
        from spacekit.metrics.sts import correlations

        pairs = self.inputs()
        sim = pair_cosines(opts, model, pairs.sentence1, pairs.sentence2)         # (n,)
        if np.ptp(sim) <= 1e-9:                                          # equal but for rounding: no ranking
            raise InputError(f"{self.data}: the model gives every pair the same cosine ({sim[0]:.6f}): Spearman "
                             f"and Pearson are undefined")
        return StsResult(kind=self.kind, name=task_name(self.name, self.data), dataset=str(self.data),
                         model=model.spec, metrics=correlations(sim, pairs.score), item_ids=pairs.ids,
                         per_item={"similarity": sim}, gold=pairs.score,
                         item_texts=texts_per_item(pairs.ids, pairs.sentence1, pairs.sentence2))
