"""A/B log analysis on simulated logs with a known truth: power, false positives, coverage with repeated units,
the sample-ratio check, CUPED's variance reduction, and every statistic against an independent computation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from report_checks import assert_valid_report

from spacekit.ab import AbConfig, analyze
from spacekit.ab.simulate import ab_log, ab_rows, success_share
from spacekit.ab.units import ratio_test, sample_ratio, unit_sums
from spacekit.cli import main
from spacekit.io.ab_columns import parse_ab_log


def test_delta_method_equals_a_direct_computation_and_units_are_not_impressions():
    rng = np.random.default_rng(0)
    units = [f"u{i}" for i in rng.integers(0, 300, size=3000)]
    arm_of = {f"u{i}": i % 2 for i in range(300)}
    arm = np.array([arm_of[u] for u in units], dtype=np.int8)
    y = rng.random(3000) < np.array([0.05 + 0.9 * (int(u[1:]) % 7) / 6 for u in units])
    sums = unit_sums(units, arm, y.astype(float), np.ones(3000))
    test = ratio_test(sums)
    for g, value in ((0, test.control), (1, test.treatment)):     # the ratio of sums per arm
        assert value == pytest.approx(y[arm == g].mean(), abs=1e-12)
    var = 0.0                                                         # Var(sum Y / sum N), by the textbook formula
    for g in (0, 1):
        yy, nn = sums.numerator[sums.arm == g], sums.denominator[sums.arm == g]
        m, k = yy.sum() / nn.sum(), len(yy)
        cov = np.cov(yy, nn, ddof=1)
        var += (cov[0, 0] - 2 * m * cov[0, 1] + m * m * cov[1, 1]) / (k * nn.mean() ** 2)
    assert test.se == pytest.approx(np.sqrt(var), rel=1e-9)
    naive = ratio_test(unit_sums([str(i) for i in range(3000)], arm, y.astype(float), np.ones(3000)))
    assert naive.delta == pytest.approx(test.delta, abs=1e-12)
    assert test.se > 1.2 * naive.se                                  # clustered impressions: a wider interval


@pytest.mark.real
def test_the_better_arm_wins_and_an_aa_test_keeps_its_false_positive_rate():
    # success@3 +0.1 x 0.68 = +0.068 against a unit-level SE of ~0.018 (1,000 units, 3 impressions each): power ~0.97
    wins = [analyze(ab_log(1000, lift=0.1, impressions=3, seed=s)[0]).verdict for s in range(200)]
    assert wins.count("improved") / 200 >= 0.85
    assert "regressed" not in wins
    aa = [analyze(ab_log(1000, impressions=3, seed=1000 + s)[0]).verdict for s in range(400)]
    false_positive = sum(v in ("improved", "regressed") for v in aa) / 400
    assert 0.02 <= false_positive <= 0.08, false_positive


@pytest.mark.real
def test_repeated_units_widen_the_interval_and_it_covers_the_truth():
    truth = 0.03 * success_share()
    covered, wider = 0, 0
    for s in range(300):
        log, _ = ab_log(400, lift=0.03, impressions=12, spread=0.9, seed=5000 + s)
        row = analyze(log).metrics[0]
        covered += row.ci_low <= truth <= row.ci_high
        per_impression = ratio_test(unit_sums([str(i) for i in range(len(log))], log.arm, *_success(log)))
        wider += row.se > per_impression.se
    assert 0.92 <= covered / 300 <= 0.98, covered / 300
    assert wider == 300


def _success(log):
    return ((log.best_rank >= 0) & (log.best_rank < 3)).astype(float), np.ones(len(log))


def test_sample_ratio_mismatch_withholds_the_verdict():
    arm = np.r_[np.zeros(52_000, dtype=np.int64), np.ones(48_000, dtype=np.int64)]
    srm = sample_ratio(arm)
    assert srm.mismatch
    from scipy.stats import chisquare

    assert srm.p_value == pytest.approx(chisquare([52_000, 48_000]).pvalue, rel=1e-12)
    assert not sample_ratio(np.r_[np.zeros(50_100, dtype=np.int64), np.ones(49_900, dtype=np.int64)]).mismatch
    log, _ = ab_log(10_000, lift=0.08, impressions=1, seed=3, control_share=0.53)
    report = analyze(log)
    assert report.srm.mismatch
    assert report.verdict.startswith("withheld: sample ratio mismatch")
    assert {m.verdict for m in report.metrics} == {"withheld: sample ratio"}   # no row reads as a verdict


@pytest.mark.real
def test_cuped_reduces_the_variance_by_one_minus_rho_squared():
    plain, adjusted, reductions = [], [], []
    for s in range(150):
        log, pre = ab_log(600, lift=0.0, impressions=6, spread=0.9, seed=9000 + s, pre_period=30)
        a, b = analyze(log), analyze(log, covariate=pre)
        plain.append(a.metrics[0].delta)
        adjusted.append(b.metrics[0].delta)
        reductions.append(b.metrics[0].variance_reduction)
    log, pre = ab_log(20_000, impressions=6, spread=0.9, seed=1, pre_period=30)   # rho from one large sample
    y, n = _success(log)
    sums = unit_sums(None, log.arm, y, n, log.index)
    rho = np.corrcoef(sums.numerator / sums.denominator, [pre[u] for u in sums.ids])[0, 1]
    observed = 1 - np.var(adjusted) / np.var(plain)                  # over 150 experiments
    assert 0.15 < rho ** 2 < 0.9
    assert observed == pytest.approx(rho ** 2, abs=0.08)
    assert np.mean(reductions) == pytest.approx(rho ** 2, abs=0.05)


def _log_file(tmp_path, rows) -> str:
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_ab_analyze_cli_and_malformed_logs(tmp_path):
    rows, pre = ab_rows(300, lift=0.05, seed=2, pre_period=10)
    units = tmp_path / "units.csv"
    units.write_text("unit_id,pre\n" + "".join(f"{u},{v}\n" for u, v in pre.items()), encoding="utf-8")
    result = CliRunner().invoke(main, ["ab", "analyze", _log_file(tmp_path, rows), "--units", str(units),
                                       "--control", "old", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["control"] == "old"
    assert [m["metric"] for m in out["metrics"]][:2] == ["success@3", "mrr"]
    assert out["metrics"][0]["variance_reduction"] > 0
    good = rows[0]
    cases = [({**good, "clicks": ["nope"]}, "clicked 'nope', which is not in 'shown'"),
             ({k: v for k, v in good.items() if k != "unit_id"}, "missing field 'unit_id'"),
             ({**good, "arm": "third"}, "needs exactly two arms, found 3"),
             ({**good, "request_id": rows[1]["request_id"]},
              f"log.jsonl:2: duplicate request_id {rows[1]['request_id']!r} (first at line 1)"),
             ({**good, "shown": "d1 d2"}, "'shown' must be a list of document ids")]
    for bad, message in cases:
        path = _log_file(tmp_path, [bad, *rows[1:]])
        result = CliRunner().invoke(main, ["ab", "analyze", path])
        assert result.exit_code == 2, result.output
        assert message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    result = CliRunner().invoke(main, ["ab", "analyze", _log_file(tmp_path, rows), "--control", "nope"])
    assert result.exit_code == 2
    assert "--control 'nope': unknown arm" in result.output


@pytest.mark.real
def test_a_log_streamed_from_jsonl_or_parquet_in_batches_equals_the_log_built_in_memory(tmp_path, monkeypatch):
    """10^5 impressions (with ts) written as JSONL and as Parquet (read in record batches of 997 rows): the
    analysis (fixed and sequential, with CUPED) equals the one of the same log built in memory (ab_log) to 1e-12."""
    import dataclasses

    import pyarrow as pa
    import pyarrow.parquet as pq

    import spacekit.io.ab_columns as columns
    import spacekit.io.tables as tables
    from spacekit.ab.simulate import timed_ab_log
    from spacekit.io.ab_columns import read_ab_log

    built = timed_ab_log(25_000, impressions=4, lift=0.03, seed=21, pre_period=5)
    _, pre = ab_log(25_000, impressions=4, lift=0.03, seed=21, pre_period=5)
    rows, _ = ab_rows(25_000, impressions=4, lift=0.03, seed=21, pre_period=5)
    assert len(rows) == len(built) > 95_000
    for row, ts in zip(rows, built.ts, strict=True):
        row["ts"] = float(ts)
    jsonl = _log_file(tmp_path, rows)
    parquet = tmp_path / "log.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet, row_group_size=10_000)
    monkeypatch.setattr(columns, "BLOCK", 997)                      # units renumbered 997 at a time
    monkeypatch.setattr(tables, "BATCH_ROWS", 997)                  # Parquet read 997 rows at a time
    flat = lambda a: _flat(dataclasses.asdict(a))
    for config in (AbConfig(), AbConfig(sequential=True, min_effect={"*": 0.01})):
        want = flat(analyze(built, config, pre))
        for path in (jsonl, parquet):
            got = flat(analyze(read_ab_log(path, "old"), config, pre))
            assert got.keys() == want.keys()
            for key, value in want.items():
                if isinstance(value, float):
                    assert got[key] == pytest.approx(value, abs=1e-12, nan_ok=True), (path, key)
                elif key != "log":
                    assert got[key] == value, (path, key)


def _flat(value, prefix="") -> dict:
    """A nested dict / list as {"a.b.0": leaf}."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}{key}.").items()}
    if isinstance(value, (list, tuple)):
        return {k: v for i, item in enumerate(value) for k, v in _flat(item, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): value}


def test_one_name_per_meaning_the_former_ones_for_one_release(tmp_path):
    """--success-k (ab analyze, ab plan) and --list-size (ab interleave) were --k, eval retrieval's cut-offs;
    --alpha / --correction / --resamples are checked as compare checks them."""
    rows, _ = ab_rows(300, lift=0.05, seed=2)
    log = _log_file(tmp_path, rows)
    new = CliRunner().invoke(main, ["ab", "analyze", log, "--control", "old", "--success-k", "2", "--json"])
    old = CliRunner().invoke(main, ["ab", "analyze", log, "--control", "old", "--k", "2", "--json"])
    assert new.exit_code == old.exit_code == 0, (new.output, old.output)
    assert json.loads(new.stdout)["metrics"][0]["metric"] == "success@2"
    assert json.loads(old.stdout) == json.loads(new.stdout)
    assert "warning: --k is now --success-k" in old.stderr
    assert "--k" not in CliRunner().invoke(main, ["ab", "analyze", "--help"]).output     # hidden, not advertised
    for command, option, value, message in [
            (["ab", "analyze", log], "--alpha", "1.5", "--alpha must be between 0 and 1, got 1.5"),
            (["ab", "interleaved", log], "--alpha", "0", "--alpha must be between 0 and 1, got 0.0"),
            (["ab", "analyze", log], "--correction", "sidak", "--correction must be one of holm, bonferroni"),
            (["compare", "a", "b", "--suite", "s", "-o", str(tmp_path / "o")], "--correction", "sidak",
             "--correction must be one of holm, bonferroni"),
            (["compare", "a", "b", "--suite", "s", "-o", str(tmp_path / "o")], "--alpha", "2", "--alpha must be"),
            (["compare", "a", "b", "--suite", "s", "-o", str(tmp_path / "o")], "--resamples", "0",
             "--resamples must be an integer between 1 and 1,000,000, got 0")]:
        result = CliRunner().invoke(main, [*command, option, value])
        assert result.exit_code == 2, result.output
        assert message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1


def test_a_simulated_log_is_a_valid_log():
    rows, _ = ab_rows(50, seed=7)
    built, _ = ab_log(50, seed=7)
    parsed = parse_ab_log(lambda: enumerate(rows, start=1), Path("<rows>"), "old")
    assert list(parsed.unit_ids) == list(built.unit_ids) == sorted({r["unit_id"] for r in rows})
    for column in ("unit", "arm", "shown", "clicks", "first_rank", "best_rank", "repeat_key", "lines"):
        assert np.array_equal(getattr(parsed, column), getattr(built, column)), column
    assert [parsed.unit_ids[u] for u in parsed.unit] == [r["unit_id"] for r in rows]
    assert [r["shown"].index(r["clicks"][0]) if r["clicks"] else -1 for r in rows] == parsed.first_rank.tolist()


def test_default_config_is_the_classic_rule():
    assert AbConfig().min_effect == {}
    log, _ = ab_log(300, seed=4)
    report = analyze(log, AbConfig(min_effect={"*": 0.05}))
    assert report.metrics[0].margin == 0.05
    assert report.metrics[0].verdict in ("equivalent", "inconclusive", "negligible change")


@pytest.mark.real
def test_plan_gives_the_units_that_reach_the_power(tmp_path):
    from spacekit.ab.plan import TREATMENT_VARIANCE_MARGIN, plan_ab

    pilot, _ = ab_log(3000, impressions=3, seed=77)                  # an A/A pilot
    lift = 0.05
    mde = lift * success_share()
    plan = plan_ab(pilot, mde, power=0.8)[0]
    units = plan["units_control"]
    assert 500 < units < 5000
    assert plan["treatment_variance_margin"] == TREATMENT_VARIANCE_MARGIN > 1
    power = {}
    for lift_sd in (0.0, 0.1):                    # the same lift for every unit, or its own per unit (sd 0.1)
        power[lift_sd] = np.mean([analyze(ab_log(2 * units, lift=lift, lift_sd=lift_sd, impressions=3,
                                                 seed=20_000 + s)[0]).verdict == "improved" for s in range(400)])
    assert power[0.1] >= 0.78, power                # 400 experiments drawn from a treatment with its own variance
    assert power[0.0] <= 0.92, power                # the margin does not plan far more units than needed
    rows, _ = ab_rows(400, seed=5)
    path = _log_file(tmp_path, rows)
    result = CliRunner().invoke(main, ["ab", "plan", path, "--mde", "0.03", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["plan"][0]["metric"] == "success@3"


@pytest.mark.model
def test_compare_reports_online_evidence_beside_the_offline_verdict(tmp_path):
    from spacekit.ab.simulate import interleaved_rows
    from spacekit.demo.data import write_demo_data

    paths = write_demo_data(tmp_path / "demo")
    rows, _ = ab_rows(600, lift=0.08, seed=8)
    ab = _log_file(tmp_path, rows)
    inter = tmp_path / "interleaved.jsonl"
    inter.write_text("".join(json.dumps(r) + "\n" for r in interleaved_rows(400, seed=9)), encoding="utf-8")
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["compare", "builtin:minilm", "builtin:minilm", "--suite", str(paths["suite"]),
                                       "-o", str(out), "--resamples", "300", "--ab", ab, "--control", "old",
                                       "--interleaved", str(inter), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert_valid_report(report)
    direct = analyze(parse_ab_log(lambda: enumerate(rows, start=1), Path(ab), "old"))
    assert report["online"]["ab"]["metrics"][0]["delta"] == pytest.approx(direct.metrics[0].delta)
    assert report["online"]["ab"]["verdict"] == direct.verdict
    assert report["online"]["interleaved"]["verdict"] == "b preferred"
    assert "online: A/B test" in result.output
    assert "evidence: the verdict rests on the offline suite" in result.output
    md = (out / "report.md").read_text()
    assert "an A/B log and an interleaved log reported beside it, not folded into it" in md
    assert "## Online evidence" in md
    assert "| success@3 |" in md
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**rows[0], "clicks": ["zz"]}) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["compare", "builtin:minilm", "builtin:minilm", "--suite", str(paths["suite"]),
                                       "-o", str(tmp_path / "r2"), "--ab", str(bad)])
    assert result.exit_code == 2
    assert "bad.jsonl:1: clicked 'zz', which is not in 'shown'" in result.output
    assert not (tmp_path / "r2").exists()


def test_a_dropped_dwell_field_is_not_measured_never_a_regression(tmp_path):
    """The treatment arm's logger drops dwell_s: long_click is not computed (it would "regress" to 0 at p ~ 0), and
    every view says why, with the counts per arm."""
    rows, _ = ab_rows(400, seed=5)
    for r in rows:
        if r["arm"] == "old" or not r["clicks"]:
            r["dwell_s"] = [45.0] * len(r["clicks"])
    log = _log_file(tmp_path, rows)
    clicked_new = sum(1 for r in rows if r["arm"] == "new" and r["clicks"])
    clicked_old = sum(1 for r in rows if r["arm"] == "old" and r["clicks"])
    result = CliRunner().invoke(main, ["ab", "analyze", log, "--control", "old", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert "long_click" not in [m["metric"] for m in out["metrics"]]
    assert out["not_measured"] == [f"long_click: not measured (impressions with a click but no dwell_s: 0 of "
                                   f"{clicked_old:,} in old, {clicked_new:,} of {clicked_new:,} in new)"]
    shown = CliRunner().invoke(main, ["ab", "analyze", log, "--control", "old"])
    assert "long_click: not measured" in shown.output
    for r in rows:                                       # both arms log it: measured again
        r["dwell_s"] = [45.0] * len(r["clicks"])
    measured = CliRunner().invoke(main, ["ab", "analyze", _log_file(tmp_path, rows), "--control", "old", "--json"])
    assert "long_click" in [m["metric"] for m in json.loads(measured.stdout)["metrics"]]
    assert json.loads(measured.stdout)["not_measured"] == []


def test_every_arm_of_a_log_with_three_is_named_with_its_first_line(tmp_path):
    rows, _ = ab_rows(30, seed=6)
    rows[5] = {**rows[5], "arm": "aaa-third"}                   # sorts first: the sorted order named another arm
    first_old = next(n for n, r in enumerate(rows, start=1) if r["arm"] == "old")
    result = CliRunner().invoke(main, ["ab", "analyze", _log_file(tmp_path, rows)])
    assert result.exit_code == 2
    assert result.output.strip().endswith(f"found 3: 'new' (first at line 1), 'aaa-third' (first at line 6), 'old' "
                                          f"(first at line {first_old})"), result.output


def _analyze_rows(tmp_path, rows, *extra):
    result = CliRunner().invoke(main, ["ab", "analyze", _log_file(tmp_path, rows), "--control", "old", "--json",
                                       *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_healthy_log_raises_no_alarm_and_aa_logs_rarely_do():
    alarms = 0
    for seed in range(40):
        log, _ = ab_log(300, seed=200 + seed)
        report = analyze(log)
        alarms += bool(report.health.problems)
    assert alarms <= 1                                           # thresholds at p < 0.001 and gross shares


def test_clicked_impressions_logged_twice_are_flagged_and_the_verdict_withheld(tmp_path):
    rows, _ = ab_rows(400, seed=8)                               # no true effect
    doubled = [*rows, *[{**r, "request_id": r["request_id"] + "-again"} for r in rows
                        if r["arm"] == "new" and r["clicks"]]]
    out = _analyze_rows(tmp_path, doubled)
    problems = out["health"]["problems"]
    assert any(p.startswith("near-duplicate impressions: 0 in old") for p in problems), problems
    assert any(p.startswith("impressions per unit differ between the arms") for p in problems), problems
    assert out["verdict"].startswith("withheld: log health (")
    assert {m["verdict"] for m in out["metrics"]} == {"withheld: log health"}
    assert _analyze_rows(tmp_path, rows)["health"]["problems"] == []          # the log as it was: healthy


def test_a_document_clicked_twice_in_one_impression_is_said_beside_the_metrics(tmp_path):
    rows, _ = ab_rows(300, seed=10)
    twice = [i for i, r in enumerate(rows) if r["clicks"] and r["arm"] == "new"][:7]
    for i in twice:
        rows[i] = {**rows[i], "clicks": rows[i]["clicks"] * 2}
    out = _analyze_rows(tmp_path, rows)
    assert ("impressions that click one document more than once: 0 in old, 7 in new (each click counts in clicks "
            "and ctr; success@k and mrr are unaffected)") in out["health"]["notes"]
    clicks = next(m for m in out["metrics"] if m["metric"] == "clicks")
    assert clicks["treatment"] == pytest.approx(sum(len(r["clicks"]) for r in rows if r["arm"] == "new")
                                                / sum(r["arm"] == "new" for r in rows))
    assert not any("more than once" in n for n in _analyze_rows(tmp_path, ab_rows(300, seed=10)[0])["health"]["notes"])


def test_a_handful_of_units_gets_an_exact_test_never_a_zero_variance_z_test(tmp_path):
    rows = [{"request_id": f"r{u}-{i}", "unit_id": f"u{u}", "arm": "new" if u >= 3 else "old", "query": f"q{i}",
             "shown": ["d1", "d2", "d3"], "clicks": ["d1"] if u >= 3 else []} for u in range(6) for i in range(4)]
    out = _analyze_rows(tmp_path, rows)
    main_row = out["metrics"][0]
    assert main_row["p_value"] == pytest.approx(0.1)            # 2 of the 20 assignments are as extreme
    assert main_row["ci_low"] is None or main_row["ci_low"] == float("-inf")   # unbounded: JSON null
    assert main_row["verdict"] != "improved"
    assert any("exact permutation test over units" in n for n in out["health"]["notes"])


def test_a_bot_unit_is_flagged_with_the_per_unit_means_beside_it(tmp_path):
    rows, _ = ab_rows(300, seed=9)
    bot = [{"request_id": f"bot-{i}", "unit_id": "bot", "arm": "new", "query": f"b{i}", "shown": ["d0", "d1"],
            "clicks": []} for i in range(5000)]
    out = _analyze_rows(tmp_path, [*rows, *bot])
    assert any(p.startswith("heavy units (a bot?): 1, e.g. 'bot' with") for p in out["health"]["problems"])
    assert out["health"]["heavy_units"] == {"old": [], "new": ["bot"]}
    assert any(n.startswith("success@3 over per-unit means") for n in out["health"]["notes"])
    assert out["verdict"].startswith("withheld: log health")


def test_timestamps_are_read_checked_and_their_span_reported(tmp_path):
    rows, _ = ab_rows(200, seed=10)
    day = 1_767_225_600                                          # 2026-01-01 UTC
    timed = [{**r, "ts": day + (n % 500) * 600} for n, r in enumerate(rows)]      # ~3.5 days, both arms
    out = _analyze_rows(tmp_path, timed)
    assert out["health"]["problems"] == []
    assert out["health"]["period"]["old"][0].startswith("2026-01-01T")
    assert any(n.startswith("a fixed-horizon test: deciding at the first significant look") for n in
               out["health"]["notes"])
    sequential = _analyze_rows(tmp_path, timed, "--sequential")
    assert sequential["metrics"][0]["test"].startswith("mSPRT (always valid")
    assert not any(n.startswith("a fixed-horizon test") for n in sequential["health"]["notes"])
    apart = [{**r, "ts": f"2026-0{1 if r['arm'] == 'old' else 3}-01T10:00:00Z"} for r in rows]
    assert any(p.startswith("the arms ran in periods that do not overlap") for p in
               _analyze_rows(tmp_path, apart)["health"]["problems"])
    for bad, message in [({**timed[3], "ts": "yesterday"}, ":4: 'ts' must be a time"),
                         ({**timed[3], "ts": 12}, ":4: 'ts' 12 is not a time between 2000 and 2100"),
                         ({k: v for k, v in timed[3].items() if k != "ts"}, ":4: missing field 'ts' (")]:
        result = CliRunner().invoke(main, ["ab", "analyze", _log_file(tmp_path, [*timed[:3], bad, *timed[4:]])])
        assert result.exit_code == 2, result.output
        assert message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1


def test_ab_analyze_and_interleaved_write_a_report_folder(tmp_path):
    from spacekit.ab.simulate import interleaved_rows

    rows, _ = ab_rows(300, lift=0.05, seed=11)
    hostile = [{**r, "arm": "<b>new</b>" if r["arm"] == "new" else r["arm"]} for r in rows]
    result = CliRunner().invoke(main, ["ab", "analyze", _log_file(tmp_path, hostile), "--control", "old", "-o",
                                       str(tmp_path / "report"), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["verdict"] in ("improved", "no significant change")
    assert json.loads((tmp_path / "report" / "report.json").read_text()) == printed
    page = (tmp_path / "report" / "index.html").read_text()
    assert "&lt;b&gt;new&lt;/b&gt;" in page                                       # data escaped, as compare's
    assert "<b>new</b>" not in page
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert markdown.startswith("# ")
    assert f": {printed['verdict']}" in markdown.splitlines()[0]
    assert "| success@3 |" in markdown
    log = tmp_path / "il.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in interleaved_rows(200, seed=2)), encoding="utf-8")
    result = CliRunner().invoke(main, ["ab", "interleaved", str(log), "-o", str(tmp_path / "il")])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "il" / "report.json").read_text())
    assert saved["verdict"] in result.output
    assert "sign test p" in (tmp_path / "il" / "index.html").read_text()


def test_sequential_rows_carry_the_always_valid_p_and_confidence_sequence(tmp_path):
    """--sequential: each row's p and interval are the mSPRT's over the log's daily looks (recomputed here from the
    looks' delta-method tests), wider than the fixed-horizon interval; no peeking warning."""
    from spacekit.ab.outcomes import outcomes
    from spacekit.ab.sequential import RELATIVE_TAU, always_valid, daily_looks, mixture_ratio
    from spacekit.ab.simulate import timed_ab_log
    from spacekit.ab.units import ratio_test, unit_sums

    log = timed_ab_log(800, days=5, seed=3, impressions=3, lift=0.08)
    fixed, seq = analyze(log), analyze(log, AbConfig(sequential=True))
    main = outcomes(log)[0]
    looks = daily_looks(log)
    assert len(looks) == 5
    units = [log.unit_ids[u] for u in log.unit]
    tests = [ratio_test(unit_sums([u for u, s in zip(units, seen, strict=True) if s], log.arm[seen],
                                  main.numerator[seen], main.denominator[seen])) for seen in looks]
    tau = RELATIVE_TAU * float(main.numerator.sum() / main.denominator.sum())
    want = always_valid(tests, tau, 0.05)
    row = seq.metrics[0]
    assert row.p_value == pytest.approx(min(1.0, min(1 / mixture_ratio(t.delta, t.se ** 2, tau) for t in tests)))
    assert (row.p_value, row.ci_low, row.ci_high) == pytest.approx((want.p_value, want.ci_low, want.ci_high))
    assert row.test.startswith("mSPRT (always valid; tau ")
    assert row.p_value > fixed.metrics[0].p_value
    assert row.ci_low < fixed.metrics[0].ci_low
    assert row.ci_high > fixed.metrics[0].ci_high
    assert not any(n.startswith("a fixed-horizon test") for n in seq.health.notes)
    assert any(n.startswith("a fixed-horizon test") for n in fixed.health.notes)


@pytest.mark.real
def test_daily_peeking_keeps_the_false_positive_rate_only_with_sequential():
    """A/A experiments looked at daily for 14 days, 400 seeds: stopping at the first significant fixed-horizon look
    inflates false positives (well above alpha); the always-valid p stays at or below 0.06."""
    from spacekit.ab.simulate import peeking, timed_ab_log

    runs = [peeking(timed_ab_log(700, seed=s, impressions=3)) for s in range(400)]
    fixed_any = np.mean([r["fixed_any_look"] for r in runs])
    sequential = np.mean([r["sequential"] for r in runs])
    assert sequential <= 0.06
    assert fixed_any > 0.12                                      # what peeking does to the fixed-horizon test
    assert np.mean([r["fixed_final"] for r in runs]) == pytest.approx(0.05, abs=0.03)


def test_a_test_that_finds_nothing_says_what_it_could_find_or_how_many_units_would_decide():
    from scipy import stats as st

    from spacekit.report.online import ab_table

    log, _ = ab_log(300, seed=12)                                   # no effect, a small test
    row = analyze(log).metrics[0]
    assert row.verdict == "no significant change"
    z = st.norm.ppf(0.975) + st.norm.ppf(0.8)
    assert row.detectable == pytest.approx(z * row.se)
    assert row.needed_units is None
    assert f"no significant change (could find ±{row.detectable:.4f})" in ab_table(analyze(log))[1]
    report = analyze(log, AbConfig(min_effect={"*": 0.01}))
    row = report.metrics[0]
    assert row.verdict == "inconclusive"
    units = (report.units["old"], report.units["new"])
    spread2 = row.se ** 2 / (1 / units[0] + 1 / units[1])
    control = row.needed_units / (1 + units[1] / units[0])           # the same split, scaled up
    se_then = np.sqrt(spread2 * (1 / control + 1 / (row.needed_units - control)))
    assert se_then == pytest.approx(0.01 / z, rel=1e-3)               # the margin found at power 0.8 then
    assert f"inconclusive (needs ≈ {row.needed_units:,} units)" in ab_table(report)[1]


def test_the_covariate_balance_across_arms_is_tested_and_shown():
    from scipy import stats as st

    from spacekit.report.online import ab_lines

    rows, pre = ab_rows(600, seed=13, pre_period=10)
    log, _ = ab_log(600, seed=13, pre_period=10)
    cuped = analyze(log, covariate=pre).cuped
    arm = {r["unit_id"]: r["arm"] for r in rows}
    old = [v for u, v in pre.items() if arm[u] == "old"]
    new = [v for u, v in pre.items() if arm[u] == "new"]
    assert cuped.balance_p == pytest.approx(st.ttest_ind(old, new, equal_var=False).pvalue)
    assert (cuped.control_mean, cuped.treatment_mean) == pytest.approx((np.mean(old), np.mean(new)))
    assert cuped.balance_p > 0.001
    skewed = {u: v + (0.3 if arm[u] == "new" else 0.0) for u, v in pre.items()}   # not what randomisation gives
    report = analyze(log, covariate=skewed)
    assert report.cuped.balance_p < 0.001
    assert "(IMBALANCED: randomisation or the covariate is suspect)" in " ".join(ab_lines(report))


def test_plan_takes_an_mde_per_metric_absolute_or_relative(tmp_path):
    from spacekit.ab.plan import parse_mde, plan_ab

    assert parse_mde("0.02") == {"*": (0.02, False)}
    assert parse_mde("success@3=0.01, ctr=5%") == {"success@3": (0.01, False), "ctr": (0.05, True)}
    pilot, _ = ab_log(1000, seed=14)
    rows = plan_ab(pilot, "success@3=0.01,ctr=5%")
    assert [r["metric"] for r in rows] == ["success@3", "ctr"]
    assert rows[0]["mde"] == 0.01
    assert rows[1]["mde"] == pytest.approx(0.05 * rows[1]["pilot_value"])
    whole = {r["metric"]: r for r in plan_ab(pilot, 0.01)}
    assert whole["success@3"]["units_control"] == rows[0]["units_control"]          # the same answer either way
    log = _log_file(tmp_path, ab_rows(300, seed=14)[0])
    for value, message in [("abc", "--mde: 'abc' is not a number"), ("nope=0.1", "--mde: no metric 'nope'"),
                           ("-1%", "--mde: '-1%' must be > 0")]:
        result = CliRunner().invoke(main, ["ab", "plan", log, "--mde", value, "--control", "old"])
        assert result.exit_code == 2, result.output
        assert message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
