"""The report's models section: each model's settings, the prompts it encoded each task's texts with, and the
settings in which the two models differ (a different max length, pooling or similarity changes what is compared)."""

from __future__ import annotations

from spacekit.compare.config import CompareConfig
from spacekit.compare.suite import TaskSpec
from spacekit.embed import Model
from spacekit.tasks import Task

SETTINGS = ("dim", "max_seq_length", "pooling", "include_prompt", "head", "similarity", "store")


def models_section(models: tuple[Model, Model], planned: list[tuple[TaskSpec, Task]], config: CompareConfig) -> dict:
    """{"before": {...settings, "prompts_used"}, "after": {...}, "differences": [{setting, before, after}]}."""
    out: dict = {}
    for i, (which, model) in enumerate(zip(("before", "after"), models, strict=True)):
        used = {spec.name: {str(role or "text"): model.prompt_for(role, spec.prompts[i].over(config.opts.prompts))
                            for role in task.roles} for spec, task in planned}
        out[which] = {**model.describe(), "prompts_used": used}
    out["differences"] = [{"setting": s, "before": b, "after": a} for s, b, a in setting_rows(out) if b != a]
    return out


def setting_rows(models: dict) -> list[tuple[str, object, object]]:
    """(setting, before, after) for every setting either model has (None where one has none), then each prompt
    used, as "prompt (task, role)"."""
    before, after = models["before"], models["after"]
    rows = [(key, before.get(key), after.get(key)) for key in SETTINGS if key in before or key in after]
    rows += [(f"prompt ({task}, {role})", text, after["prompts_used"][task][role])
             for task, roles in before["prompts_used"].items() for role, text in roles.items()]
    return rows
