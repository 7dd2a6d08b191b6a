"""Geometry: the shape of the space over a set of texts (uniformity, anisotropy, effective rank), and alignment
over positive pairs. compare observes it: its texts are the ones drift is measured on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar

import numpy as np

from spacekit.embed import EncodeOptions, Model
from spacekit.errors import InputError
from spacekit.io.pairs import TextPairs
from spacekit.io.texts import Texts
from spacekit.store.vectors import dense
from spacekit.tasks.base import Task, TaskResult, task_name
from spacekit.tasks.options import Option
from spacekit.tasks.registry import register


@dataclass(kw_only=True)
class GeometryResult(TaskResult):
    """Metrics of the space and its vectors; per positive pair the squared distance (per_item["alignment"])."""

    vectors: np.ndarray
    text_ids: list[str]

    def summary(self) -> dict:
        """How many texts the space was measured on."""
        return {"n_texts": len(self.text_ids)}


@register
@dataclass
class GeometryTask(Task[GeometryResult]):
    """Shape of the space over a set of texts: uniformity, anisotropy, effective rank (+ alignment on pairs)."""

    data: Annotated[str | Path, Option("texts (id, text): the space they span", path=True)]
    pairs: Annotated[str | Path | None, Option("positive pairs (for alignment)", path=True)] = None
    text_field: Annotated[str, Option("the text column")] = "text"
    name: str = ""
    kind: ClassVar[str] = "geometry"

    def read_inputs(self) -> tuple[Texts, TextPairs | None]:
        """The texts, and the pairs when given."""
        from spacekit.io.pairs import read_pairs
        from spacekit.io.texts import read_texts

        texts = read_texts(self.data, text_field=self.text_field)
        if len(texts.ids) < 2:
            raise InputError(f"{self.data}: {len(texts.ids)} text; the shape of a space needs at least 2")
        return texts, read_pairs(self.pairs) if self.pairs else None

    def run(self, model: Model, opts: EncodeOptions) -> GeometryResult:
        """Metrics of the space; with pairs, alignment and its per-pair values."""
        from spacekit.ops import geometry

        texts, pairs = self.inputs()
        x = dense(opts.embed(model, texts.ids, texts.texts))
        dev = opts.placement.device
        metrics = {"uniformity": geometry.uniformity(x, device=dev), "anisotropy": geometry.anisotropy(x, device=dev),
                   "effective_rank": geometry.effective_rank(x, device=dev)}
        item_ids, per_item = texts.ids, {}
        if pairs is not None:  # per-item values are then per positive pair
            a, b = (dense(v) for v in opts.embed_unique(model, pairs.first, pairs.second))
            metrics["alignment"] = geometry.alignment(a, b, device=dev)
            item_ids, per_item = pairs.ids, {"alignment": np.linalg.norm(a.astype(np.float64) - b, axis=1) ** 2}
        return GeometryResult(kind=self.kind, name=task_name(self.name, self.data), dataset=str(self.data),
                              model=model.spec, metrics=metrics, item_ids=item_ids, per_item=per_item,
                              space_texts=texts.texts, vectors=x, text_ids=texts.ids)

    def space_changes(self, before: GeometryResult, after: GeometryResult) -> dict[str, tuple[float, float]]:
        """Alignment before and after (the drift section recomputes the other statistics on its own texts)."""
        if "alignment" not in before.metrics:
            return {}
        return {f"alignment ({before.name})": (before.metrics["alignment"], after.metrics["alignment"])}
