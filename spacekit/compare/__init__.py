"""Before/after comparison: the suite (suite.py), both models through every task (run.py: run_suite), each
metric's paired test (paired.py -> metric_test.MetricTest), the task entries (entry.py), per-item analysis
(analysis.py), the family, verdict and headline (verdict.py), leakage, drift, the models and the MTEB reference ->
one typed, frozen Comparison (comparison.py), whose to_json() is report.json. Layer: above ab and tasks; below
report and cli.

The names below load on first use, so that the CLI can read CompareConfig's defaults without importing the
statistics and models behind them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spacekit.compare.comparison import Comparison
    from spacekit.compare.config import CompareConfig
    from spacekit.compare.run import compare, run_suite
    from spacekit.compare.suite import TaskSpec, read_suite, replay_spec

_WHERE = {"CompareConfig": "config", "Comparison": "comparison", "compare": "run", "run_suite": "run",
          "TaskSpec": "suite", "read_suite": "suite", "replay_spec": "suite"}
__all__ = ["CompareConfig", "Comparison", "TaskSpec", "compare", "read_suite", "replay_spec", "run_suite"]


def __getattr__(name: str):
    """Load a public name from its module on first use."""
    if name not in _WHERE:
        raise AttributeError(f"module 'spacekit.compare' has no attribute {name!r}")
    return getattr(importlib.import_module(f"spacekit.compare.{_WHERE[name]}"), name)
