"""Settings declared once: a config dataclass's field annotated `Annotated[T, Setting(help, ...)]` carries its
default (the field's), its range or choices, its help text and its command-line flag. `first_problem` tests a
config against them; the CLI builds its options from the same declarations (spacekit.cli.common.setting_option),
so a default or a range never lives in two places. (Imports nothing of spacekit: the bottom layer.)"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Range:
    """The values a number may take: above low (or at it unless open_low), below high (or at it unless
    open_high), an integer when integer."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    integer: bool = False

    def holds(self, value: Any) -> bool:
        """Whether value is in the range (a bool, a NaN or an infinity never is)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.integer and not isinstance(value, int):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        low_ok = self.low is None or (value > self.low if self.open_low else value >= self.low)
        high_ok = self.high is None or (value < self.high if self.open_high else value <= self.high)
        return low_ok and high_ok

    def words(self) -> str:
        """The range as an error message says it: 'between 0 and 1', 'an integer >= 1', 'an integer between 1 and
        1,000,000'."""
        what = "an integer " if self.integer else ""
        if self.low is not None and self.high is not None:
            return f"{what}between {_number(self.low)} and {_number(self.high)}".strip()
        if self.low is not None:
            return f"{what or 'a number '}{'>' if self.open_low else '>='} {_number(self.low)}"
        if self.high is not None:
            return f"{what or 'a number '}{'<' if self.open_high else '<='} {_number(self.high)}"
        return what.strip() or "a number"


def _number(value: float) -> str:
    """A bound as words show it: whole numbers with thousands separators, others as %g."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class Setting:
    """A config field that is a setting: its help text, the range or choices it must be in, and its flag (None:
    --field-name; cli=False: a library setting the command line does not take)."""

    help: str
    range: Range | None = None
    choices: tuple[str, ...] | None = None
    flag: str | None = None
    cli: bool = True


@dataclass(frozen=True)
class SettingSpec:
    """One field's setting, read from its annotation: the field name, its type and default, and the marker."""

    name: str
    type: type
    default: Any
    setting: Setting

    @property
    def flag(self) -> str:
        """The command-line flag (the field's name in errors for a setting the CLI does not take)."""
        if not self.setting.cli:
            return self.name
        return self.setting.flag or "--" + self.name.replace("_", "-")

    def problem(self, value: Any) -> str | None:
        """What is wrong with value, naming the flag ("--alpha must be between 0 and 1, got 2"), or None."""
        s = self.setting
        if s.range is not None and not s.range.holds(value):
            return f"{self.flag} must be {s.range.words()}, got {value!r}"
        if s.choices is not None and value not in s.choices:
            return f"{self.flag} must be one of {', '.join(s.choices)}, got {value!r}"
        return None


def setting_specs(cls: type) -> dict[str, SettingSpec]:
    """The fields of a config dataclass annotated with a Setting, by name, in field order (only those annotations
    are evaluated: the others may name types imported for type checking only)."""
    names = vars(sys.modules[cls.__module__])
    specs = {}
    for f in dataclasses.fields(cls):
        tp = f.type
        if isinstance(tp, str):
            if not tp.startswith("Annotated["):
                continue
            tp = eval(tp, dict(names))                                   # the class's own annotation
        marker = next((m for m in getattr(tp, "__metadata__", ()) if isinstance(m, Setting)), None)
        if marker is None:
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        specs[f.name] = SettingSpec(f.name, tp.__origin__, default, marker)
    return specs


def first_problem(config: Any) -> str | None:
    """What is wrong with the first setting of the config out of its range or choices, or None."""
    problems = (spec.problem(getattr(config, spec.name)) for spec in setting_specs(type(config)).values())
    return next((p for p in problems if p is not None), None)
