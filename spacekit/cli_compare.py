"""`spacekit compare` and `spacekit demo` (thin: parse, call the library, print)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from spacekit.cli_common import cache_options, device_options, emit_json, encode_options


def _run_compare(before: str, after: str, suite_path, out_dir, train, alpha, seed, resamples, leak_threshold,
                 opts) -> object:
    from spacekit.compare import CompareConfig, compare
    from spacekit.report import write_report
    from spacekit.report.terminal import print_summary
    from spacekit.suite import read_suite

    suite = read_suite(suite_path)
    config = CompareConfig(alpha=alpha, seed=seed, resamples=resamples, train=train, leak_threshold=leak_threshold,
                           opts=opts)
    comparison = compare(before, after, suite, config)
    write_report(comparison, out_dir)
    print_summary(comparison.report, str(out_dir))
    return comparison


def compare_options(f):
    """Options shared by compare and demo."""
    f = click.option("--alpha", type=float, default=0.05, show_default=True, help="significance level")(f)
    f = click.option("--seed", type=int, default=0, show_default=True, help="resampling seed")(f)
    f = click.option("--resamples", type=int, default=10_000, show_default=True, help="bootstrap resamples")(f)
    f = click.option("--leak-threshold", type=float, default=0.95, show_default=True,
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
def compare_cmd(before, after, suite_path, out_dir, train, fail_on_regression, as_json, alpha, seed, resamples,
                leak_threshold, **opts) -> None:
    """Compare BEFORE and AFTER models over a suite: paired statistics, drift, leakage, report."""
    comparison = _run_compare(before, after, suite_path, out_dir, train, alpha, seed, resamples, leak_threshold,
                              encode_options(**opts))
    if as_json:
        emit_json(comparison.report)
    if fail_on_regression and comparison.has_regression():
        sys.exit(1)


@click.command("demo")
@click.option("-o", "--out", "out_dir", default="demo-report", show_default=True, type=click.Path(file_okay=False))
@click.option("--epochs", type=int, default=3, show_default=True, help="fine-tuning epochs")
@compare_options
@device_options
@cache_options
def demo_cmd(out_dir, epochs, alpha, seed, resamples, leak_threshold, **opts) -> None:
    """The main job end to end on built-in data: fine-tune builtin:minilm, then compare before vs after."""
    import hashlib

    from spacekit.demo_data import write_demo_data
    from spacekit.encode import load_model
    from spacekit.finetune import finetune, read_pairs

    out = Path(out_dir)
    paths = write_demo_data(out / "data")
    digest = hashlib.sha256(paths["train"].read_bytes()).hexdigest()[:16]
    model_dir = out / f"model-finetuned-{digest}"
    if not (model_dir / "modules.json").exists():
        click.echo(f"fine-tuning builtin:minilm on {paths['train']} ({epochs} epochs, CPU) ...", err=True)
        base = load_model("builtin:minilm").path
        finetune(base, read_pairs(paths["train"]), model_dir, epochs=epochs)
    _run_compare("builtin:minilm", str(model_dir), paths["suite"], out, paths["train"], alpha, seed, resamples,
                 leak_threshold, encode_options(**opts))
