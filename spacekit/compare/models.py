"""The report's models section: each model's settings, the prompts it encoded each task's texts with, and the
settings in which the two models differ (a different max length, pooling or similarity changes what is compared)."""

from __future__ import annotations

from spacekit.compare.config import CompareConfig
from spacekit.compare.suite import TaskSpec
from spacekit.embed import Model
from spacekit.tasks import Task

COMPARED = ("dim", "max_seq_length", "pooling", "include_prompt", "head", "similarity")


def models_section(models: tuple[Model, Model], planned: list[tuple[TaskSpec, Task]], config: CompareConfig) -> dict:
    """{"before": {...settings, "prompts_used"}, "after": {...}, "differences": [{setting, before, after}]}."""
    out: dict = {}
    for i, (which, model) in enumerate(zip(("before", "after"), models, strict=True)):
        used = {spec.name: {str(role or "text"): model.prompt_for(role, spec.prompts[i].over(config.opts.prompts))
                            for role in task.roles} for spec, task in planned}
        out[which] = {**model.describe(), "prompts_used": used}
    out["differences"] = [{"setting": key, "before": out["before"][key], "after": out["after"][key]}
                          for key in COMPARED if key in out["before"] and key in out["after"]
                          and out["before"][key] != out["after"][key]]
    out["differences"] += [{"setting": f"prompt ({task}, {role})", "before": text,
                            "after": out["after"]["prompts_used"][task][role]}
                           for task, roles in out["before"]["prompts_used"].items() for role, text in roles.items()
                           if out["after"]["prompts_used"][task][role] != text]
    return out
