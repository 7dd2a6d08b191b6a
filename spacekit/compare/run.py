"""Before/after orchestration: run every suite task for both models, test every metric, and build one typed
Comparison."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path

from spacekit.ab.online import online_section
from spacekit.compare.comparison import Comparison, TaskRun
from spacekit.compare.config import CompareConfig
from spacekit.compare.drift import SpaceSample, drift_section
from spacekit.compare.entry import TaskEntry
from spacekit.compare.label_budget import label_budget
from spacekit.compare.models import Models, SettingDifference, models_section
from spacekit.compare.paired import task_entry
from spacekit.compare.provenance import provenance
from spacekit.compare.reference import reference_files, reference_section
from spacekit.compare.rerankers import reranker_suite
from spacekit.compare.suite import TaskSpec, located
from spacekit.compare.verdict import headline, judge, overfitting
from spacekit.embed import Model, load_model
from spacekit.embed.run_file import load_run_file
from spacekit.progress import stage
from spacekit.store.vectors import dense
from spacekit.tasks import TaskResult, kinds
from spacekit.tasks.base import check_task_model
from spacekit.version import __version__


def run_suite(before: str, after: str, suite: str | Path | list[TaskSpec],
              config: CompareConfig | None = None) -> Comparison:
    """The library's entry point: compare two models (folders, builtin:minilm, store:DIR) over a suite (a TOML file
    or its TaskSpecs); spacekit.report.write_outputs writes the report folder."""
    from spacekit.compare.suite import read_suite

    return compare(before, after, suite if isinstance(suite, list) else read_suite(suite), config)


def compare(before: str, after: str, suite: list[TaskSpec], config: CompareConfig | None = None) -> Comparison:
    """Run the suite for both models and compare them: tested kinds get paired tests, observed kinds (probes,
    queries) their report sections; then leakage, drift, the verdict, and the online evidence of the logs in the
    config. Every input (training data, each task's files, both models) is read before anything is encoded."""
    from spacekit.compare.leakage import is_trained, leakage_section
    from spacekit.io.training import read_training

    config = config or CompareConfig()
    config.check()
    rerankers = reranker_suite(before, after, suite)          # two cross-encoders: over the suite's first stage
    if rerankers is not None:
        first_stage, suite = rerankers
    with stage("reading every input (training data, task files, models)", announce=False):
        training = read_training(config.train) if config.train is not None else None
        planned = [(spec, spec.build()) for spec in suite]
        if config.ray is not None:
            _on_ray(planned, config)
        for spec, task in planned:
            with located(f"task {spec.name}"):
                task.inputs()
        reference = reference_files(config.reference, planned) if config.reference is not None else None
        models: tuple[Model, Model]
        if rerankers is None:
            models = (load_model(before, trust_remote_code=config.trust_remote_code),
                      load_model(after, trust_remote_code=config.trust_remote_code))
        else:
            shared = load_run_file(first_stage) if Path(first_stage).is_file() else \
                load_model(first_stage, trust_remote_code=config.trust_remote_code)
            models = (shared, shared)
        for spec, task in planned:
            for model, prompts in zip(models, spec.prompts, strict=True):
                check_task_model(task, model, config.opts.with_prompts(prompts))
    if config.ray is not None:
        _encode_corpora_on_ray(planned, models, config)
    results: dict[str, tuple[TaskResult, TaskResult]] = {}
    for spec, task in planned:
        pair = []
        for which, model, prompts in zip(("before", "after"), models, spec.prompts, strict=True):
            with stage(f"task {spec.name} ({task.kind}), {which} model"):
                start = time.perf_counter()
                pair.append(task.run(model, task.options_for(which, config.opts.with_prompts(prompts))))
                pair[-1].seconds = time.perf_counter() - start
        results[spec.name] = (pair[0], pair[1])
    with stage(f"paired tests ({config.resamples:,} resamples per metric)"):
        entries: dict[str, TaskEntry] = {spec.name: task_entry(task, spec, *results[spec.name], config)
                                         for spec, task in planned if task.default_metrics}      # the tested kinds
    tasks = [task for _, task in planned]
    leakage = None
    if training:
        with stage("leakage: training texts against every task's items"):
            leakage, entries = leakage_section(models[0], planned, results, entries, training, config)
    tested = judge(list(entries.values()), config)
    trained = is_trained(training.texts if training else [])
    with stage("why: holes, ties, clusters, displacement, truncation; slices"):
        tested = [_diagnosed(e, planned, results, models, config, trained, leakage) for e in tested]
    tested = [dataclasses.replace(e, label_budget=label_budget(e.main, e.leak_free.n if e.leak_free else e.n,
                                                               config.alpha)) for e in tested]
    head = headline(tested, config)
    head = dataclasses.replace(head, warnings=tuple(w for e in tested for w in _warnings(e)))
    with stage("drift: neighbourhoods and geometry of both spaces"):
        drift, space = drift_section(models, tasks, results, config)
    observed: dict[str, list] = {cls.section: [] for cls in kinds().values() if cls.section}
    for task in tasks:                                                     # the observed kinds
        section = task.observe(*results[task.name], trained) if task.section else None
        if task.section and section is not None:
            observed[task.section].append(section)
    if space is not None:
        space = _joined_pairs(models, [pair[0] for pair in results.values()], config, space)
    return Comparison(
        spacekit_version=__version__, created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        before=before, after=after, alpha=config.alpha, seed=config.seed, resamples=config.resamples,
        correction=config.correction, verdict=head.verdict, headline=head,
        models=_with_rerankers(models_section(models, planned, config), before, after, rerankers),
        tasks=tuple(tested), overfitting=overfitting(head.rows),
        leakage=leakage, drift=drift,
        reference=reference_section(reference, planned, results) if reference is not None else None,
        observed={name: tuple(group) for name, group in observed.items()},
        online=online_section(config.online, alpha=config.alpha, correction=config.correction)
        if config.online is not None else None,
        provenance=provenance(models, config.opts, _rerankers(suite)),
        runs=tuple(TaskRun(spec.name, spec.kind, spec.mteb_name, *results[spec.name]) for spec, _ in planned),
        space=space)


def _diagnosed(entry: TaskEntry, planned: list, results: dict[str, tuple[TaskResult, TaskResult]], models,
               config: CompareConfig, trained, leakage) -> TaskEntry:
    """The entry with its diagnosis (compare.diagnosis) and its slices (compare.slices, with the diagnosis's
    slicings), on all its items: a task with leaked items also sliced by them (near-duplicates of training)."""
    from spacekit.compare.diagnosis import diagnose
    from spacekit.compare.slices import slice_section
    from spacekit.compare.slicing import Slicing

    spec, task = next((s, t) for s, t in planned if s.name == entry.name)
    before, after = results[entry.name]
    diagnosis, slicings = diagnose(task, spec, before, after, entry.main_metric, models, config, trained)
    leaks = leakage.tasks.get(entry.name) if leakage is not None else None
    if leaks is not None and leaks.ids:
        leaked = set(leaks.ids)
        slicings.append(Slicing(f"near-duplicate of training (cosine ≥ {config.leak_threshold:g}, before model)",
                                ["near-duplicate" if i in leaked else "not" for i in before.item_ids]))
    # a task judged leak-free: its all-items test, never judged, so no Simpson warning against all-items slices
    main = entry.main if entry.leak_free is None else entry.metrics[entry.main_metric]
    section = slice_section(task, spec, before, after, main, entry.main_metric, config, entry.name, slicings)
    if section is not None and entry.leak_free is not None:
        section = dataclasses.replace(section, items=f"all {entry.n} items, the {entry.leak_free.leaked} leaked "
                                                     f"ones included")
    return dataclasses.replace(entry, slices=section, diagnosis=diagnosis)


def _warnings(entry: TaskEntry) -> list[str]:
    """The headline's warnings a task raises: a Simpson reversal, a verdict its unjudged documents could flip, a
    change whose sign depends on tie order, a max length that changed."""
    out = [entry.slices.simpson] if entry.slices is not None and entry.slices.simpson else []
    d = entry.diagnosis
    if d is not None and d.holes is not None and d.holes.undecidable:
        out.append(f"{entry.name}: {d.holes.undecidable}")
    if d is not None and d.ties is not None and d.ties.sign_depends:
        out.append(f"{entry.name}: the sign of the change in {d.ties.metric} depends on the order of tied scores "
                   f"({d.ties.delta_low:+.4f} to {d.ties.delta_high:+.4f}; {len(d.ties.queries)} queries)")
    if d is not None and d.truncation is not None and d.truncation.changed:
        out.append(d.truncation.changed)
    return out


def _with_rerankers(models: Models, before: str, after: str, rerankers: tuple | None) -> Models:
    """The models section of two rerankers: each side names its reranker beside the shared first stage."""
    if rerankers is None:
        return models
    sides = [dataclasses.replace(d, settings={"reranker": name, "first_stage": rerankers[0], **d.settings})
             for d, name in ((models.before, before), (models.after, after))]
    return dataclasses.replace(models, before=sides[0], after=sides[1],
                               differences=(SettingDifference("reranker", before, after), *models.differences))


def _rerankers(suite: list[TaskSpec]) -> tuple[str, ...]:
    """The reranker folders the suite's retrieval tasks name (rerank, rerank_after)."""
    return tuple(spec.options[key] for spec in suite for key in ("rerank", "rerank_after") if spec.options.get(key))


def _on_ray(planned: list, config: CompareConfig) -> None:
    """Every retrieval task encodes and searches its corpus on the Ray cluster (checked again: not with variants)."""
    from spacekit.tasks.retrieval import RetrievalTask

    for spec, task in planned:
        if isinstance(task, RetrievalTask):
            task.ray = config.ray
            with located(f"task {spec.name}"):
                task.__post_init__()


def _encode_corpora_on_ray(planned: list, models: tuple, config: CompareConfig) -> None:
    """Both models' retrieval corpora written to their stores at once, the workers split between them; each task
    then finds its stores complete and only searches."""
    from spacekit.distributed.retrieval import corpus_job, encode_corpora
    from spacekit.tasks.retrieval import RetrievalTask

    jobs = [corpus_job(model, config.opts.with_prompts(prompts), task.inputs().corpus.ids, task.inputs().corpus.texts)
            for spec, task in planned if isinstance(task, RetrievalTask)
            for model, prompts in zip(models, spec.prompts, strict=True)]
    if jobs and config.ray is not None:
        encode_corpora(jobs, config.ray, config.opts, {model.spec: model for model in models})


def _joined_pairs(models, results: list[TaskResult], config: CompareConfig, space: SpaceSample) -> SpaceSample:
    """The sample with the texts of the pairs the projection plot joins (probes), embedded by both models."""
    pairs = [p for r in results for p in (r.joined_pairs or [])]
    if not pairs:
        return space
    texts = list(dict.fromkeys(t for pair in pairs for t in pair))
    row = {t: i for i, t in enumerate(texts)}
    before, after = (dense(config.opts.embed(m, texts, texts)) for m in models)
    return dataclasses.replace(space, probe_texts=texts, probe_pairs=[(row[a], row[b]) for a, b in pairs],
                               probe_before=before, probe_after=after)
