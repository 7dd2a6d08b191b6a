"""Probes: the cosine of each probe pair, and per group whether every close pair beats every far one. compare
observes them (the report's probes section, pairs seen in training marked) rather than testing them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from spacekit.embed import EncodeOptions, Model
from spacekit.io.probes import Probes
from spacekit.tasks.base import Task, TaskResult, pair_cosines, texts_per_item
from spacekit.tasks.registry import register


@dataclass(kw_only=True)
class ProbesResult(TaskResult):
    """Per pair its cosine (per_item["cosine"]); per group the verdict; the probes themselves."""

    groups: dict[str, dict]
    probes: Probes


@register
@dataclass
class ProbesTask(Task[ProbesResult]):
    """Cosine of each probe pair, and per group whether every close pair beats every far one."""

    data: str | Path = "builtin"
    name: str = ""
    kind: ClassVar[str] = "probes"
    required: ClassVar[tuple[str, ...]] = ()
    section: ClassVar[str | None] = "probes"

    @classmethod
    def from_suite(cls, name: str, metrics: list[str], options: dict) -> ProbesTask:
        """data (default: the built-in probes) from the suite table."""
        return cls(options.get("data", "builtin"), name=name)

    def read_inputs(self) -> Probes:
        """The probe pairs."""
        from spacekit.io.probes import read_probes

        return read_probes(self.data)

    def run(self, model: Model, opts: EncodeOptions) -> ProbesResult:
        """Per pair cosine; per-group verdicts."""
        from spacekit.metrics.probes import group_verdicts

        probes = self.inputs()
        cos = pair_cosines(opts, model, probes.text_a, probes.text_b)             # (n,)
        groups = group_verdicts(probes.group, probes.expect, cos)
        close = np.array([e == "close" for e in probes.expect])
        metrics = {"groups_passed": sum(g["passed"] for g in groups.values()) / len(groups),
                   "mean_close_cosine": float(cos[close].mean()) if close.any() else 0.0,
                   "mean_far_cosine": float(cos[~close].mean()) if (~close).any() else 0.0}
        return ProbesResult(kind=self.kind, name=self.name or str(self.data), dataset=str(self.data),
                            model=model.spec, metrics=metrics, item_ids=probes.ids, per_item={"cosine": cos},
                            item_texts=texts_per_item(probes.ids, probes.text_a, probes.text_b),
                            joined_pairs=list(zip(probes.text_a, probes.text_b, strict=True)), groups=groups,
                            probes=probes)

    def observe(self, before: ProbesResult, after: ProbesResult, trained: Callable[[str], bool]) -> dict:
        """Probe cosines before vs after; pairs with a text the training data holds (trained(text)) are marked."""
        p = before.probes
        pairs = [{"id": i, "group": g, "text_a": a, "text_b": b, "expect": e, "before": float(cb), "after": float(ca),
                  "delta": float(ca - cb), "trained_on": trained(a) or trained(b)}
                 for i, g, a, b, e, cb, ca in zip(p.ids, p.group, p.text_a, p.text_b, p.expect,
                                                   before.per_item["cosine"], after.per_item["cosine"], strict=True)]
        groups = {g: {"before": before.groups[g], "after": after.groups[g]} for g in before.groups}
        return {"name": before.name, "dataset": before.dataset, "pairs": pairs, "groups": groups,
                "groups_passed": {"before": before.metrics["groups_passed"], "after": after.metrics["groups_passed"]}}
