"""Tasks: data + model -> per-item values + aggregate metrics, one contract for every kind (base.py) and a
registry (registry.py); one file per kind. Layer: above metrics, ops, embed, io and stats; below compare."""

from spacekit.tasks.base import MetricSpec, Task, TaskResult
from spacekit.tasks.registry import kinds, register, task_class

__all__ = ["MetricSpec", "Task", "TaskResult", "kinds", "register", "task_class"]
