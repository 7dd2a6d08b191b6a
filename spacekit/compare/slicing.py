"""A slicing of a task's items (compare.slices tests the main metric on each of its groups)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Slicing:
    """One way of cutting the items: its name and each item's group label."""

    name: str
    groups: list[str]
