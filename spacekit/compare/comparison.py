"""The comparison of two models: one typed, frozen object holding every section of the report and each task's pair
of results. Comparison.to_json() is the only producer of report.json; report.schema.json is generated from these
types (spacekit.records), so the file and its schema cannot disagree."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from spacekit.ab.online import OnlineEvidence
from spacekit.compare.drift import Drift, SpaceSample
from spacekit.compare.entry import TaskEntry
from spacekit.compare.leakage import Leakage
from spacekit.compare.models import Models
from spacekit.compare.provenance import Provenance
from spacekit.compare.reference import Reference
from spacekit.compare.verdict import Headline, Overfitting
from spacekit.records import Json, json_schema, to_json
from spacekit.tasks import TaskResult, kinds


def observed_sections() -> dict[str, Any]:
    """{report key: tuple of its section type} for every observed kind (probes, queries, ...)."""
    return {cls.section: tuple[cls.observed, ...] for cls in kinds().values()  # type: ignore[name-defined]
            if cls.section and cls.observed}


@dataclass(frozen=True)
class TaskRun:
    """One suite task's results under both models (in memory: MTEB files and replays read them)."""

    name: str
    kind: str
    mteb_name: str
    before: TaskResult
    after: TaskResult


@dataclass(frozen=True)
class Comparison:
    """Before against after over a suite: the settings, the verdict and the headline behind it, both models, every
    tested task, in-domain against holdout, leakage, drift, the MTEB reference, each observed kind's sections
    (probes, queries), the online evidence and the plots written."""

    spacekit_version: str
    created: str
    before: str
    after: str
    alpha: float
    seed: int
    resamples: int
    correction: str
    verdict: str
    headline: Headline
    models: Models
    tasks: tuple[TaskEntry, ...]
    overfitting: Overfitting
    leakage: Leakage | None
    drift: Drift
    reference: Reference | None
    observed: Annotated[Mapping[str, tuple[Any, ...]], Json(flatten=True, keys=observed_sections)]
    online: Annotated[OnlineEvidence | None, Json(omit_none=True)] = None
    plots: Mapping[str, str] = field(default_factory=dict)   # plot name -> its PNG file beside report.json
    provenance: Annotated[Provenance | None, Json(omit_none=True)] = None   # what produced the numbers
    runs: Annotated[tuple[TaskRun, ...], Json(skip=True)] = ()
    space: Annotated[SpaceSample | None, Json(skip=True)] = None

    def to_json(self) -> dict:
        """report.json's object."""
        return to_json(self)

    @classmethod
    def json_schema(cls) -> dict:
        """report.json's JSON Schema, generated from the types."""
        return json_schema(cls, title="spacekit report.json")

    def sections(self) -> list[Any]:
        """Every observed section, kind by kind."""
        return [s for group in self.observed.values() for s in group]

    def has_regression(self) -> bool:
        """True when a main metric regressed by the verdict's rule (secondary metrics never decide)."""
        return any(r.verdict == "regressed" for r in self.headline.rows)

    def with_plots(self, plots: Mapping[str, str]) -> Comparison:
        """The comparison with the plots written beside its report."""
        return dataclasses.replace(self, plots=dict(plots))
