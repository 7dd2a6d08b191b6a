"""`spacekit compare` and `spacekit demo` (thin: parse, call the library, print)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from spacekit.ab.config import METHODS
from spacekit.cli.common import (
    cache_options,
    device_options,
    emit_json,
    encode_options,
    min_effect_option,
    plain,
    prompt_options,
    ray_options,
    ray_settings,
    setting_option,
)
from spacekit.cli.mteb import languages_option
from spacekit.compare.config import SELECT_ON, CompareConfig
from spacekit.errors import InputError

# compare_options' CompareConfig fields (quiet and profile, its other two, are how the run reports itself)
SETTINGS = ("alpha", "correction", "min_effect", "seed", "resamples", "leak_threshold", "threshold")

if TYPE_CHECKING:
    from spacekit.compare import Comparison, TaskSpec


def run_compare(before: str, after: str, suite: str | Path | list[TaskSpec], out_dir, config: CompareConfig, *,
                quiet: bool = False, profile: bool = False, mteb_out: str | None = None,
                languages: list[str] | None = None, overwrite: bool = False) -> Comparison:
    """Compare over the suite, write the report folder (and MTEB files), print the summary; shared by compare, demo
    and ab replay. The folder is checked first (new, empty or spacekit's, unless overwrite)."""
    from spacekit.compare import run_suite
    from spacekit.progress import quieted
    from spacekit.report import write_outputs
    from spacekit.report.folder import check_report_folder
    from spacekit.report.terminal import print_summary

    check_report_folder(out_dir, overwrite)                       # before anything runs; marked when written
    if mteb_out is not None:
        suite = _checked_for_mteb(suite, Path(mteb_out))
        if any(spec.options.get("first_stage") for spec in suite):
            raise InputError("--mteb-out: MTEB result files hold an embedding model's scores; two rerankers "
                             "compared over a first stage are not written as MTEB results")

    with quieted(quiet):
        comparison, written = write_outputs(run_suite(before, after, suite, config), out_dir, mteb_out=mteb_out,
                                            languages=languages, overwrite=overwrite)
    if mteb_out is not None:
        count = sum(name.startswith("mteb:") for name in written)
        click.echo(f"MTEB result files: {count} under {plain(str(mteb_out))}", err=True)
    print_summary(comparison, str(out_dir))
    if profile:
        _print_profile()
    return comparison


def _print_profile() -> None:
    """Where the run's time went (--profile), and the CPU top-k plan this process measured and used."""
    from spacekit.ops.similarity import describe_cpu_plan
    from spacekit.progress import REPORTER
    from spacekit.report.terminal import print_profile

    print_profile(REPORTER.profile())
    plan = describe_cpu_plan()
    if plan is not None:
        click.echo(plan, err=True)


def run_checkpoints(base: str, checkpoints: list[str], suite_path, out_dir, config: CompareConfig,
                    select_on: float | str, *, quiet: bool = False, profile: bool = False,
                    overwrite: bool = False):
    """Compare every checkpoint with the base (compare.checkpoints), write the report, print the summary."""
    from spacekit.compare.checkpoints import compare_checkpoints
    from spacekit.compare.suite import read_suite
    from spacekit.progress import quieted
    from spacekit.report.checkpoints import print_checkpoint_summary, write_checkpoint_report
    from spacekit.report.folder import check_report_folder

    check_report_folder(out_dir, overwrite)
    with quieted(quiet):
        result, _ = write_checkpoint_report(compare_checkpoints(base, checkpoints, read_suite(suite_path), config,
                                                                select_on), out_dir, overwrite)
    print_checkpoint_summary(result, str(out_dir))
    if profile:
        _print_profile()
    return result


def _share_or_split(value: str) -> float | str:
    """--select-on's value: a share (a number between 0 and 1) or a split's name."""
    try:
        return float(value)
    except ValueError:
        if not value.strip() or any(c in value for c in "/\\"):
            raise InputError(f"--select-on {value!r}: give a share of the items (0.5) or a split's name (dev)"
                             ) from None
        return value


def _checked_for_mteb(suite: str | Path | list[TaskSpec], mteb_out: Path) -> list[TaskSpec]:
    """The suite's tasks, checked before anything runs for what --mteb-out will write: a folder, and one file
    name per task."""
    from spacekit.compare.suite import file_name_clash, read_suite

    if mteb_out.exists() and not mteb_out.is_dir():
        raise InputError(f"--mteb-out {mteb_out}: not a folder")
    specs = suite if isinstance(suite, list) else read_suite(suite)
    clash = file_name_clash([(spec.name, spec.mteb_name) for spec in specs])
    if clash:
        raise InputError(f"--mteb-out: tasks {clash[0]!r} and {clash[1]!r} would write the same MTEB result file; "
                         f"give one another mteb_task")
    return specs


def compare_options(f):
    """Options shared by compare and demo (collected into one `settings` dict: CompareConfig's fields)."""
    f = setting_option(CompareConfig, "alpha")(f)
    f = setting_option(CompareConfig, "correction")(f)
    f = click.option("--min-effect", "min_effect", callback=min_effect_option, default=None,
                     metavar="METRIC=MARGIN,...",
                     help="smallest change that matters per metric or family (ndcg@10=0.01,spearman=0.005; a bare "
                          "number: every metric); default 0.01, correlations 0.005")(f)
    f = setting_option(CompareConfig, "seed")(f)
    f = setting_option(CompareConfig, "resamples")(f)
    f = click.option("--quiet", is_flag=True, help="no progress lines or bars on stderr")(f)
    f = click.option("--profile", is_flag=True, help="print where the time went, stage by stage")(f)
    f = setting_option(CompareConfig, "leak_threshold")(f)
    f = click.option("--threshold", type=float, default=None,
                     help="a similarity cut-off used with the before model: its precision / recall and the after "
                          "model's cut-off at equal precision and recall, per task with pairs (STS, pair "
                          "classification, retrieval; a task's `threshold` key first)")(f)
    f = click.option("--overwrite", is_flag=True,
                     help="write into an -o folder spacekit did not write (its report files replaced)")(f)
    return f


@click.command("compare")
@click.argument("before")
@click.argument("after", nargs=-1, required=True)
@click.option("--suite", "suite_path", required=True, type=click.Path(), help="suite TOML")
@click.option("--select-on", default=str(SELECT_ON), show_default=True,
              help="several checkpoints: the share of the first task's items the best is chosen on (its gain is "
                   "re-estimated on the others), or another split of its data (dev: re-estimated on its own split)")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="report folder")
@click.option("--train", type=click.Path(), default=None, help="fine-tuning data, to check for leakage")
@click.option("--fail-on-regression", is_flag=True, help="exit 1 when a main metric regressed (the verdict's rule)")
@click.option("--json", "as_json", is_flag=True, help="print report.json's object on stdout")
@click.option("--mteb-out", type=click.Path(file_okay=False), default=None,
              help="also write MTEB result files: DIR/<model>/no_revision_available/<task>.json, both models")
@click.option("--reference", type=click.Path(file_okay=False), default=None,
              help="a folder of MTEB result files (e.g. the base model's published scores): shown beside the "
                   "before model's numbers, a difference > 1e-4 flagged (suite key mteb_task names the task)")
@click.option("--ab", "ab_log", type=click.Path(), default=None,
              help="an A/B log of the two models serving (control arm: the before model): online evidence")
@click.option("--interleaved", "interleaved_log", type=click.Path(), default=None,
              help="an interleaved log (team a: before, b: after; `spacekit ab interleave` makes the lists)")
@click.option("--control", default=None, help="the A/B log's arm that served the before model")
@click.option("--interleaving", type=click.Choice(METHODS), default="team-draft",
              show_default=True, help="how the interleaved log's lists were made (team-draft's labels are checked)")
@ray_options("encode and search retrieval corpora (both models' at once)")
@languages_option
@compare_options
@device_options
@cache_options
@prompt_options(roles=True)
def compare_cmd(before, after, suite_path, select_on, out_dir, train, fail_on_regression, as_json, mteb_out,
                reference, ab_log, interleaved_log, control, interleaving, ray_address, workers, gpus_per_worker,
                mteb_languages, **opts) -> None:
    """Compare BEFORE and AFTER models over a suite: paired statistics, drift, leakage, report. Prompt options apply
    to both models (the suite's [before] / [after] tables and each task's prompt keys come first). Several AFTER
    models (checkpoints; a trainer's output folder holding checkpoint-* folders; a quoted pattern) are each
    compared with BEFORE, corrected as one family, and the best chosen honestly."""
    from spacekit.ab.online import OnlineLogs
    from spacekit.compare.checkpoints import expand_checkpoints
    from spacekit.io.ab_columns import read_ab_log
    from spacekit.io.ab_log import read_log

    settings = {k: opts.pop(k) for k in SETTINGS}
    quiet, profile, trust = opts.pop("quiet"), opts.pop("profile"), opts["trust_remote_code"]
    overwrite = opts.pop("overwrite")
    afters = expand_checkpoints(list(after))
    if len(afters) > 1:
        two = {"--train": train, "--fail-on-regression": fail_on_regression, "--mteb-out": mteb_out,
               "--reference": reference, "--ab": ab_log, "--interleaved": interleaved_log, "--ray": ray_address}
        named = next((flag for flag, value in two.items() if value), None)
        if named is not None:
            raise InputError(f"{named} compares two models; with {len(afters)} checkpoints, compare the base with the "
                             f"best one (`spacekit compare BEFORE BEST ...`) for it")
        config = CompareConfig(**settings, trust_remote_code=trust, opts=encode_options(**opts))
        result = run_checkpoints(before, afters, suite_path, out_dir, config, _share_or_split(select_on), quiet=quiet,
                                 profile=profile, overwrite=overwrite)
        if as_json:
            emit_json(result.to_json())
        return
    after = afters[0]
    online = None
    if ab_log is not None or interleaved_log is not None:                  # read (and checked) before any encoding
        online = OnlineLogs(read_ab_log(ab_log, control) if ab_log else None,
                            read_log(interleaved_log, interleaved=True) if interleaved_log else None,
                            interleaving=interleaving)
    config = CompareConfig(**settings, train=train, reference=reference, trust_remote_code=trust, online=online,
                           ray=ray_settings(ray_address, workers, gpus_per_worker, trust), opts=encode_options(**opts))
    comparison = run_compare(before, after, suite_path, out_dir, config, quiet=quiet, profile=profile,
                             mteb_out=mteb_out, languages=mteb_languages, overwrite=overwrite)
    if as_json:
        emit_json(comparison.to_json())
    if fail_on_regression and comparison.has_regression():
        sys.exit(1)


@click.command("demo")
@click.option("-o", "--out", "out_dir", default="demo-report", show_default=True, type=click.Path(file_okay=False))
@click.option("--epochs", type=int, default=3, show_default=True, help="fine-tuning epochs")
@click.option("--after", default=None, help="compare against this model instead of fine-tuning one (no demo extra)")
@compare_options
@device_options
@cache_options
def demo_cmd(out_dir, epochs, after, **opts) -> None:
    """The main job end to end on built-in data: fine-tune builtin:minilm, then compare before vs after (with a
    simulated A/B test and interleaving over both models' real rankings, labelled simulated)."""
    from spacekit.demo.data import write_demo_data
    from spacekit.demo.finetune import finetuned_demo_model
    from spacekit.report.folder import claim_report_folder

    overwrite = opts.pop("overwrite")
    out = claim_report_folder(out_dir, overwrite)
    paths = write_demo_data(out / "data")
    if after is None:
        after = str(finetuned_demo_model(paths["train"], out, epochs))
    from spacekit.ab.online import OnlineLogs
    from spacekit.demo.online import simulated_logs
    from spacekit.io.ab_columns import read_ab_log
    from spacekit.io.ab_log import read_log

    settings = {k: opts.pop(k) for k in SETTINGS}
    quiet, profile = opts.pop("quiet"), opts.pop("profile")
    options = encode_options(**opts)
    ab, interleaved = simulated_logs("builtin:minilm", after, paths["beir"], out / "data", options)
    online = OnlineLogs(read_ab_log(ab, "before"), read_log(interleaved, interleaved=True), simulated=True)
    config = CompareConfig(**settings, train=paths["train"], opts=options, online=online)
    run_compare("builtin:minilm", after, paths["suite"], out, config, quiet=quiet, profile=profile, overwrite=overwrite)


COMMANDS = [compare_cmd, demo_cmd]
