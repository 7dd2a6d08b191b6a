"""The report's models section: each model's settings, the prompts it encoded each task's texts with, and the
settings in which the two models differ (a different max length, pooling or similarity changes what is compared)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from spacekit.compare.config import CompareConfig
from spacekit.compare.suite import TaskSpec
from spacekit.embed import Model
from spacekit.records import Json
from spacekit.tasks import Task

SETTINGS = ("dim", "max_seq_length", "pooling", "include_prompt", "head", "similarity", "store")


@dataclass(frozen=True)
class ModelDescription:
    """One model's settings as it describes them (dim, max_seq_length, pooling, ...; a store's folder), and the
    prompt it encoded each task's texts with, per role ("query", "document", "text")."""

    settings: Annotated[Mapping[str, Any], Json(flatten=True)]
    prompts_used: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class SettingDifference:
    """A setting (or a prompt used) in which the two models differ."""

    setting: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Models:
    """Both models' descriptions and where they differ."""

    before: ModelDescription
    after: ModelDescription
    differences: tuple[SettingDifference, ...]


def models_section(models: tuple[Model, Model], planned: list[tuple[TaskSpec, Task]], config: CompareConfig) -> Models:
    """Both models' settings and prompts used, and the settings in which they differ."""
    described = []
    for i, model in enumerate(models):
        used = {spec.name: {str(role or "text"): model.prompt_for(role, spec.prompts[i].over(config.opts.prompts))
                            for role in task.roles} for spec, task in planned}
        described.append(ModelDescription(model.describe(), used))
    pair = (described[0], described[1])
    return Models(*pair, tuple(SettingDifference(s, b, a) for s, b, a in setting_rows(*pair) if b != a))


def setting_rows(before: ModelDescription, after: ModelDescription) -> list[tuple[str, object, object]]:
    """(setting, before, after) for every setting either model has (None where one has none), then each prompt
    used, as "prompt (task, role)"."""
    rows = [(key, before.settings.get(key), after.settings.get(key)) for key in SETTINGS
            if key in before.settings or key in after.settings]
    rows += [(f"prompt ({task}, {role})", text, after.prompts_used[task][role])
             for task, roles in before.prompts_used.items() for role, text in roles.items()]
    return rows
