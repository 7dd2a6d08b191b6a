"""`spacekit compare` and `spacekit demo` (thin: parse, call the library, print)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from spacekit.cli.common import cache_options, device_options, emit_json, encode_options, prompt_options
from spacekit.compare.config import CompareConfig

if TYPE_CHECKING:
    from spacekit.compare import Comparison


def _run_compare(before: str, after: str, suite_path, out_dir, train, alpha, seed, resamples, leak_threshold,
                 opts, trust_remote_code: bool = False) -> Comparison:
    from spacekit.compare import compare, read_suite
    from spacekit.report import write_report
    from spacekit.report.terminal import print_summary

    suite = read_suite(suite_path)
    config = CompareConfig(alpha=alpha, seed=seed, resamples=resamples, train=train, leak_threshold=leak_threshold,
                           opts=opts, trust_remote_code=trust_remote_code)
    comparison = compare(before, after, suite, config)
    write_report(comparison, out_dir)
    print_summary(comparison.report, str(out_dir))
    return comparison


def compare_options(f):
    """Options shared by compare and demo."""
    f = click.option("--alpha", type=float, default=CompareConfig.alpha, show_default=True,
                     help="significance level")(f)
    f = click.option("--seed", type=int, default=CompareConfig.seed, show_default=True, help="resampling seed")(f)
    f = click.option("--resamples", type=int, default=CompareConfig.resamples, show_default=True,
                     help="bootstrap resamples")(f)
    f = click.option("--leak-threshold", type=float, default=CompareConfig.leak_threshold, show_default=True,
                     help="cosine (before model) at which an evaluation text counts as a near-duplicate")(f)
    return f


@click.command("compare")
@click.argument("before")
@click.argument("after")
@click.option("--suite", "suite_path", required=True, type=click.Path(), help="suite TOML")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="report folder")
@click.option("--train", type=click.Path(), default=None, help="fine-tuning data, to check for leakage")
@click.option("--fail-on-regression", is_flag=True, help="exit 1 when a corrected test finds a regression")
@click.option("--json", "as_json", is_flag=True, help="print report.json's object on stdout")
@compare_options
@device_options
@cache_options
@prompt_options(roles=True)
def compare_cmd(before, after, suite_path, out_dir, train, fail_on_regression, as_json, alpha, seed, resamples,
                leak_threshold, **opts) -> None:
    """Compare BEFORE and AFTER models over a suite: paired statistics, drift, leakage, report. Prompt options apply
    to both models (the suite's [before] / [after] tables and each task's prompt keys come first)."""
    comparison = _run_compare(before, after, suite_path, out_dir, train, alpha, seed, resamples, leak_threshold,
                              encode_options(**opts), opts["trust_remote_code"])
    if as_json:
        emit_json(comparison.report)
    if fail_on_regression and comparison.has_regression():
        sys.exit(1)


@click.command("demo")
@click.option("-o", "--out", "out_dir", default="demo-report", show_default=True, type=click.Path(file_okay=False))
@click.option("--epochs", type=int, default=3, show_default=True, help="fine-tuning epochs")
@click.option("--after", default=None, help="compare against this model instead of fine-tuning one (no demo extra)")
@compare_options
@device_options
@cache_options
def demo_cmd(out_dir, epochs, after, alpha, seed, resamples, leak_threshold, **opts) -> None:
    """The main job end to end on built-in data: fine-tune builtin:minilm, then compare before vs after."""
    from spacekit.demo.data import write_demo_data
    from spacekit.demo.finetune import finetuned_demo_model

    out = Path(out_dir)
    paths = write_demo_data(out / "data")
    if after is None:
        after = str(finetuned_demo_model(paths["train"], out, epochs))
    _run_compare("builtin:minilm", after, paths["suite"], out, paths["train"], alpha, seed, resamples,
                 leak_threshold, encode_options(**opts))


COMMANDS = [compare_cmd, demo_cmd]
