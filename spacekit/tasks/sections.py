"""What an observed kind (probes, queries: compared by observation, not tested) gives the report: a typed section
that renders itself, so adding such a kind touches nothing outside its own file. The report writes each section's
to_json() (spacekit.records) into report.json under the kind's `section` key and calls these hooks for the terminal,
Markdown, HTML and figures."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class ObservedSection(Protocol):
    """One observed task's section of the report (a frozen dataclass: its fields are its JSON)."""

    @property
    def name(self) -> str:
        """The task's name."""
        ...

    def summary(self) -> str | None:
        """One line for the terminal summary (None: none)."""
        ...

    def markdown(self) -> list[str]:
        """Its lines of report.md (a heading first), every data string escaped (spacekit.escape.md)."""
        ...

    def html(self, figure: str) -> str:
        """Its part of index.html, every data string escaped (spacekit.escape.html); figure: the <img> of
        figure() ('' when it has none)."""
        ...

    def figure(self) -> Any:
        """A matplotlib Figure (object interface, no pyplot) drawn for the section, or None."""
        ...

    def files(self) -> Mapping[str, list[dict[str, str]]]:
        """Tables the report writes beside its pages as CSV (file stem -> rows), e.g. a judging sheet."""
        ...


@dataclass(frozen=True)
class BeforeAfter:
    """One number under each model."""

    before: float
    after: float


def fixed(x: float | None, digits: int = 4) -> str:
    """A number with `digits` decimals, '–' for None."""
    return "–" if x is None else f"{x:.{digits}f}"


def wrapped(text: str, width: int) -> str:
    """Text broken into lines of at most `width` characters (never cut)."""
    return "\n".join(textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False)) or text
