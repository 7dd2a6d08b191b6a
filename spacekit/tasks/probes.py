"""Probes: the cosine of each probe pair, and per group whether every close pair beats every far one. compare
observes them (the report's probes section, pairs seen in training marked) rather than testing them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np

from spacekit.embed import EncodeOptions, Model
from spacekit.escape import html, md, plot_label
from spacekit.io.probes import Probes
from spacekit.tasks.base import Task, TaskResult, pair_cosines, texts_per_item
from spacekit.tasks.options import Option
from spacekit.tasks.registry import register
from spacekit.tasks.sections import BeforeAfter, fixed, wrapped


@dataclass(frozen=True)
class ProbePair:
    """One probe pair's cosine under each model; trained_on: a text of it is in the training data."""

    id: str
    group: str
    text_a: str
    text_b: str
    expect: str
    before: float
    after: float
    delta: float
    trained_on: bool


@dataclass(frozen=True)
class GroupVerdict:
    """One group under one model: its lowest close cosine, highest far cosine, the margin between them, and whether
    every close pair beats every far one (no margin without both kinds of pair)."""

    min_close: float | None
    max_far: float | None
    margin: float | None
    passed: bool


@dataclass(frozen=True)
class GroupChange:
    """One group before and after."""

    before: GroupVerdict
    after: GroupVerdict


@dataclass(frozen=True)
class ProbesSection:
    """The report's section of one probes task: every pair before vs after, each group's verdict, and the share of
    groups passed."""

    name: str
    dataset: str
    pairs: tuple[ProbePair, ...]
    groups: Mapping[str, GroupChange]
    groups_passed: BeforeAfter

    def summary(self) -> str | None:
        """No terminal line: the groups passed are in the HTML and Markdown reports."""
        return None

    def markdown(self) -> list[str]:
        """The pairs as a Markdown table."""
        lines = ["", f"## Probes ({md(self.name)})", "", "| group | pair | expect | before | after | trained on |",
                 "|---|---|---|---:|---:|---|"]
        return lines + [f"| {md(x.group)} | {md(x.text_a)} ⟷ {md(x.text_b)} | {md(x.expect)} | {fixed(x.before)} | "
                        f"{fixed(x.after)} | {'yes' if x.trained_on else ''} |" for x in self.pairs]

    def html(self, figure: str) -> str:
        """The section: groups passed, the figure, the pairs."""
        out = [f"<h2>Probes</h2><p>Your own pairs: each group passes when every close pair beats every far one. "
               f"Groups passed: {fixed(self.groups_passed.before, 2)} → {fixed(self.groups_passed.after, 2)}; pairs "
               f"seen in training are marked †.</p>", figure,
               "<table><tr><th class='l'>group</th><th class='l'>pair</th><th class='l'>expect</th><th>before</th>"
               "<th>after</th></tr>"]
        out += [f"<tr><td>{html(x.group)}</td><td class='l'>{html(x.text_a)} ⟷ {html(x.text_b)}"
                f"{' †' if x.trained_on else ''}</td><td class='l'>{html(x.expect)}</td><td>{fixed(x.before)}</td>"
                f"<td>{fixed(x.after)}</td></tr>" for x in self.pairs]
        return "".join(out) + "</table>"

    def files(self) -> Mapping[str, list[dict[str, str]]]:
        """None: the pairs are in report.json."""
        return {}

    def figure(self) -> Any:
        """Before / after cosine of every probe pair (a matplotlib Figure); labels wrapped, never cut."""
        from matplotlib.figure import Figure

        labels = [plot_label(wrapped(f"{p.group}: {p.text_a} ⟷ {p.text_b} ({p.expect})", 60)) for p in self.pairs]
        lines = sum(label.count("\n") + 1 for label in labels)
        y = np.arange(len(self.pairs))
        fig = Figure(figsize=(12, 0.22 * lines + 0.12 * len(self.pairs) + 1.2), layout="constrained")
        ax = fig.subplots()
        ax.barh(y - 0.2, [p.before for p in self.pairs], 0.4, label="before", color="#8c8c8c")
        ax.barh(y + 0.2, [p.after for p in self.pairs], 0.4, label="after", color="#4c72b0")
        ax.set_yticks(y, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel("cosine")
        ax.legend(fontsize=8)
        return fig


@dataclass(kw_only=True)
class ProbesResult(TaskResult):
    """Per pair its cosine (per_item["cosine"]); per group the verdict; the probes themselves."""

    groups: dict[str, dict]
    probes: Probes


@register
@dataclass
class ProbesTask(Task[ProbesResult]):
    """Cosine of each probe pair, and per group whether every close pair beats every far one."""

    data: Annotated[str | Path, Option("probe pairs: text_a, text_b, expect (close | far), group; builtin: the "
                                       "built-in set", path=True)] = "builtin"
    name: str = ""
    kind: ClassVar[str] = "probes"
    section: ClassVar[str | None] = "probes"
    observed: ClassVar[type | None] = ProbesSection

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

    def observe(self, before: ProbesResult, after: ProbesResult, trained: Callable[[str], bool]) -> ProbesSection:
        """Probe cosines before vs after; pairs with a text the training data holds (trained(text)) are marked."""
        p = before.probes
        pairs = tuple(ProbePair(i, g, a, b, e, float(cb), float(ca), float(ca - cb), trained(a) or trained(b))
                      for i, g, a, b, e, cb, ca in zip(p.ids, p.group, p.text_a, p.text_b, p.expect,
                                                       before.per_item["cosine"], after.per_item["cosine"],
                                                       strict=True))
        groups = {g: GroupChange(GroupVerdict(**before.groups[g]), GroupVerdict(**after.groups[g]))
                  for g in before.groups}
        return ProbesSection(before.name, before.dataset, pairs, groups,
                             BeforeAfter(before.metrics["groups_passed"], after.metrics["groups_passed"]))
