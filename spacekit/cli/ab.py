"""`spacekit ab analyze | plan | interleaved | interleave | qrels | replay` (thin: parse, call spacekit.ab,
print)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from spacekit.ab.config import AbConfig
from spacekit.cli.common import (
    cache_options,
    device_options,
    emit_json,
    encode_options,
    min_effect_option,
    plain,
    renamed_option,
    renamed_value,
    setting_option,
)
from spacekit.compare.config import CompareConfig
from spacekit.errors import InputError

if TYPE_CHECKING:
    from spacekit.ab.analysis import AbAnalysis

ab_group = click.Group("ab", help="Online evidence: A/B logs, interleaving.")

OVERWRITE_HELP = "write into an -o folder spacekit did not write (its report files replaced)"


def report_option(f):
    """-o DIR (report.json, report.md and index.html) and --overwrite."""
    f = click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)(f)
    return click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), default=None,
                        help="also write report.json, report.md and index.html into this folder")(f)


def _check_out(out_dir: str | None, overwrite: bool) -> None:
    """The -o folder checked (new, empty or spacekit's) before anything is read."""
    if out_dir is not None:
        from spacekit.report.folder import check_report_folder

        check_report_folder(out_dir, overwrite)


@ab_group.command("analyze")
@click.argument("log", type=click.Path())
@click.option("--units", "units_path", type=click.Path(), default=None,
              help="per-unit pre-period values (unit_id, pre): CUPED variance reduction")
@click.option("--covariate", default="pre", show_default=True, help="the units table's pre-period column")
@click.option("--control", default=None, help="the control arm's name (default: the first in sorted order)")
@setting_option(AbConfig, "k")
@renamed_option("--k", "--success-k", "k")
@setting_option(AbConfig, "long_click_s")
@setting_option(AbConfig, "expected_share")
@setting_option(AbConfig, "alpha")
@setting_option(AbConfig, "correction")
@click.option("--min-effect", callback=min_effect_option, default=None, metavar="METRIC=MARGIN,...",
              help="smallest change that matters (default 0: the classic rule)")
@click.option("--sequential", is_flag=True,
              help="always-valid p-values and confidence sequences (mSPRT over the log's days): safe to look daily "
                   "and stop at the first significant look; costs power against one look at the planned size")
@report_option
@click.option("--json", "as_json", is_flag=True)
def analyze_cmd(log, units_path, covariate, control, long_click_s, expected_share, alpha, correction, min_effect,
                sequential, out_dir, overwrite, as_json, **renamed) -> None:
    """Per arm: impressions, units, success@k, MRR of the first click, CTR, clicks, abandonment (and long clicks);
    the treatment's change with intervals over units, the sample-ratio check, and the verdict."""
    from spacekit.ab import analyze
    from spacekit.io.ab_columns import read_ab_log
    from spacekit.io.ab_log import read_units

    k = renamed_value(renamed, "k", "--k", "--success-k")
    config = AbConfig(alpha, correction, min_effect, k, long_click_s, expected_share, sequential)
    config.check()                                       # the former --k's value too
    _check_out(out_dir, overwrite)
    impressions = read_ab_log(log, control)
    pre = read_units(units_path, covariate) if units_path else None
    report = analyze(impressions, config, pre)
    _write_report(report, out_dir, overwrite)
    if as_json:
        emit_json(report)
    else:
        _print_ab(report)


def _write_report(result, out_dir: str | None, overwrite: bool) -> None:
    """The result's report folder (spacekit.report.online), when -o was given; said on stderr."""
    if out_dir is None:
        return
    from spacekit.report.online import write_online_report

    written = write_online_report(result, out_dir, overwrite)
    click.echo(plain(f"report: {written['html']}"), err=True)


def _print_ab(report: AbAnalysis) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from spacekit.report.online import ab_lines, ab_table

    console = Console()
    header, *rows = ab_table(report)
    table = Table()
    for name in header:
        table.add_column(Text(plain(name)), justify="left" if name in ("metric", "verdict") else "right")
    for row in rows:
        table.add_row(*(Text(plain(cell)) for cell in row))
    lines = ab_lines(report)
    console.print(Text(plain(f"{report.log}: {lines[0]}")))
    console.print(table)
    for line in lines[1:-1]:
        console.print(Text(plain(line), style="bold red" if line.startswith("log health:") else ""))
    console.print(Text(plain(f"verdict: {report.verdict}"), style="bold"))
    console.print(Text(plain(f"  {lines[-1]}"), style="dim"))


def method_option(what: str):
    """--method: team-draft (the default; its labels checked) or balanced (with its bias caveat)."""
    from spacekit.ab.config import BALANCED_CAVEAT, METHODS

    return click.option("--method", type=click.Choice(METHODS), default="team-draft",
                        show_default=True, help=f"{what}: team-draft | balanced ({BALANCED_CAVEAT})")


@ab_group.command("interleaved")
@click.argument("log", type=click.Path())
@setting_option(AbConfig, "alpha")
@method_option("how the log's lists were interleaved (a team-draft log's labels are checked)")
@report_option
@click.option("--json", "as_json", is_flag=True)
def interleaved_cmd(log, alpha, method, out_dir, overwrite, as_json) -> None:
    """An interleaved log (a team per shown position): clicks credited per team, the preference over units."""
    from spacekit.ab import preference
    from spacekit.io.ab_log import read_log

    _check_out(out_dir, overwrite)
    out = preference(read_log(log, interleaved=True), alpha=alpha, method=method)
    _write_report(out, out_dir, overwrite)
    if as_json:
        emit_json(out)
        return
    click.echo(plain(f"{out.log}: {out.impressions:,} impressions, {out.with_clicks:,} with clicks, "
                     f"{out.units:,} units"))
    click.echo(f"wins b / ties / wins a: {out.wins_b:,} / {out.ties:,} / {out.wins_a:,}")
    click.echo(f"preference for b (per unit, -1..1): {out.preference_b:+.4f} [{out.ci_low:+.4f}, "
               f"{out.ci_high:+.4f}]; share {out.share_b:.3f}")
    click.echo(f"units favouring b / a: {out.units_favouring_b:,} / {out.units_favouring_a:,}; sign test p "
               f"{out.sign_test_p:.3g}")
    click.echo(f"verdict: {out.verdict}")


@ab_group.command("interleave")
@click.argument("before")
@click.argument("after")
@click.argument("queries", type=click.Path())
@click.argument("corpus", type=click.Path())
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="the interleaved lists (JSONL: query_id, query, shown, team)")
@click.option("--list-size", "list_size", type=int, default=10, show_default=True, help="results per list")
@renamed_option("--k", "--list-size", "list_size")
@method_option("how the two rankings are interleaved")
@click.option("--seed", type=int, default=0, show_default=True, help="the coin flips' seed")
@device_options
@cache_options
def interleave_cmd(before, after, queries, corpus, out_path, method, seed, **opts) -> None:
    """Interleave the two models' exact top-k lists for every query, with team labels, for serving; the log that
    comes back is read by `ab interleaved` (team a = BEFORE, b = AFTER)."""
    import json
    import random

    from spacekit.ab import balanced, team_draft
    from spacekit.ab.rankings import both_top_lists
    from spacekit.files import atomic_write

    k = renamed_value(opts, "list_size", "--k", "--list-size")
    tops = both_top_lists(before, after, queries, corpus, k, encode_options(**opts))
    mix, coin = team_draft if method == "team-draft" else balanced, random.Random(seed)
    lines = []
    for i, qid in enumerate(tops[0].item_ids):
        shown, teams = mix(tops[0].top[i], tops[1].top[i], k, coin)
        lines.append(json.dumps({"query_id": qid, "query": tops[0].item_texts[qid][0], "shown": shown,
                                 "team": teams}, ensure_ascii=False))
    atomic_write(out_path, "\n".join(lines) + "\n")
    click.echo(plain(f"{out_path}: {len(lines):,} interleaved lists ({method}, k={k}; team a = {before}, "
                     f"b = {after})"), err=True)


@ab_group.command("qrels")
@click.argument("sheet", type=click.Path())
@click.option("-o", "--out", "out_path", required=True, type=click.Path(dir_okay=False), help="qrels TSV")
def qrels_cmd(sheet, out_path) -> None:
    """A filled-in judging sheet (a queries task's judging-*.csv) as BEIR qrels: query-id, corpus-id, score for
    every row with a label (an integer grade); rows left blank are skipped and counted."""
    from spacekit.files import atomic_write
    from spacekit.io.judging import read_judged
    from spacekit.io.trec import qrels_tsv

    judged = read_judged(sheet)
    atomic_write(out_path, qrels_tsv(judged.judgements, sheet))
    click.echo(plain(f"{out_path}: {len(judged.judgements):,} judgements ({judged.blank:,} rows without a label "
                     f"skipped)"), err=True)


@ab_group.command("plan")
@click.argument("log", type=click.Path())
@click.option("--mde", required=True, metavar="MDE | METRIC=MDE,...",
              help="the smallest change to find: absolute in the metric's units (0.02), relative to the pilot's "
                   "value (5%), or per metric (success@3=0.01,ctr=5%); interleaved: a mean preference on -1..1")
@click.option("--interleaved", is_flag=True, help="LOG is an interleaved pilot: plan an interleaved comparison")
@click.option("--power", type=float, default=0.8, show_default=True)
@setting_option(AbConfig, "alpha")
@setting_option(AbConfig, "expected_share")
@click.option("--control", default=None, help="the control arm's name")
@setting_option(AbConfig, "k")
@renamed_option("--k", "--success-k", "k")
@click.option("--json", "as_json", is_flag=True)
def plan_cmd(log, mde, interleaved, power, alpha, expected_share, control, as_json, **renamed) -> None:
    """Units an experiment needs to find a change of --mde at --power, from a pilot or A/A log's spread."""
    from spacekit.ab.plan import plan_ab, plan_interleaving
    from spacekit.io.ab_columns import read_ab_log
    from spacekit.io.ab_log import read_log

    k = renamed_value(renamed, "k", "--k", "--success-k")
    if interleaved:
        try:
            preference_mde = float(mde)
        except ValueError:
            raise InputError(f"--mde: an interleaved plan takes one number (a mean preference), got {mde!r}") \
                from None
        out: dict | list = plan_interleaving(read_log(log, interleaved=True), preference_mde, alpha=alpha,
                                             power=power)
    else:
        out = plan_ab(read_ab_log(log, control), mde, alpha=alpha, power=power, control_share=expected_share, k=k)
    if as_json:
        emit_json({"plan": out})
        return
    if isinstance(out, dict):
        click.echo(f"interleaving: {out['units_with_clicks']:,} units with clicks (≈ {out['units']:,} units at the "
                   f"pilot's click share {out['click_share']:.2f}) to find a preference of {mde} at power {power:g}"
                   f" (unit sd {out['unit_sd']:.3f})")
        return
    for row in out:
        click.echo(f"{row['metric']:<12} pilot {row['pilot_value']:.4f}, unit sd {row['unit_sd']:.4f}: "
                   f"{row['units_control']:,} + {row['units_treatment']:,} units (≈ "
                   f"{(row['units_control'] + row['units_treatment']) * row['impressions_per_unit']:,.0f} "
                   f"impressions) to find {row['mde']:+.4g} at power {power:g}, alpha {alpha:g}")
    if out:
        click.echo(f"(the treatment arm's variance planned as {out[0]['treatment_variance_margin']:g}x the pilot's: a "
                   f"treatment changes units unevenly)")


@ab_group.command("replay")
@click.argument("log", type=click.Path())
@click.argument("before")
@click.argument("after")
@click.option("--corpus", required=True, type=click.Path(), help="the documents the log's ids name (id, text)")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="the replay task (replay-data/) and compare's report (report/)")
@click.option("--overwrite", is_flag=True, help=OVERWRITE_HELP)
@setting_option(CompareConfig, "resamples")
@device_options
@cache_options
def replay_cmd(log, before, after, corpus, out_dir, overwrite, resamples, **opts) -> None:
    """The log's queries, with its clicks as relevance, compared for BEFORE and AFTER; beside the metrics, the share
    of each model's top 10 the log never showed (unjudged: counted as not relevant, which favours the model that
    served the log)."""
    import json

    from spacekit.ab import replay
    from spacekit.cli.compare import run_compare
    from spacekit.compare import replay_spec
    from spacekit.files import atomic_write
    from spacekit.io.ab_log import read_log
    from spacekit.io.texts import read_texts
    from spacekit.report.folder import check_report_folder, claim_report_folder

    check_report_folder(out_dir, overwrite)                       # refused before anything is read or written
    impressions, texts = read_log(log, replay=True), read_texts(corpus)
    out = claim_report_folder(out_dir, overwrite)
    prepared = replay(impressions, texts, out / "replay-data")
    config = CompareConfig(resamples=resamples, opts=encode_options(**opts))
    comparison = run_compare(before, after, [replay_spec(prepared)], out / "report", config, overwrite=overwrite)
    unjudged = prepared.unjudged(comparison.runs[0].before, comparison.runs[0].after)
    atomic_write(out / "replay.json", json.dumps(unjudged.as_json()))
    click.echo(f"unjudged@10 (results the log never showed for the query): before {unjudged.before:.3f}, after "
               f"{unjudged.after:.3f}. They count as not relevant, so the model that served the log is favoured"
               + ("; the after model's metrics are a lower bound." if unjudged.after > unjudged.before else "."))


COMMANDS = [ab_group]
