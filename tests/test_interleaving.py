"""Team-draft and balanced interleaving, and the analysis of interleaved logs on simulated clicks."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from spacekit.ab import balanced, preference, team_draft
from spacekit.ab.simulate import interleaved_rows
from spacekit.cli import main
from spacekit.io.ab_log import parse_log


def _in_order(sub: list[str], ranking: list[str]) -> bool:
    pos = [ranking.index(d) for d in sub]
    return pos == sorted(pos)


@pytest.mark.parametrize("method", [team_draft, balanced])
def test_interleaved_lists_hold_no_duplicate_and_keep_each_rankers_order(method):
    rng = random.Random(0)
    for trial in range(500):
        docs = [f"d{i}" for i in range(15)]
        a = rng.sample(docs, 12)
        b = rng.sample(docs, 12)
        k = rng.randint(1, 20)
        shown, teams = method(a, b, k, random.Random(trial))
        assert len(shown) == len(set(shown)) == len(teams)
        assert len(shown) == min(k, len(set(a) | set(b)))
        assert _in_order([d for d, t in zip(shown, teams, strict=True) if t == "a"], a)
        assert _in_order([d for d, t in zip(shown, teams, strict=True) if t == "b"], b)
        if method is team_draft:
            first_pairs = teams[:2 * (min(teams.count("a"), teams.count("b")))]
            assert abs(first_pairs.count("a") - first_pairs.count("b")) <= 1


def test_team_draft_matches_the_papers_example():
    """Radlinski et al. (2008): each round both teams pick once, in coin order, each its best unshown document."""
    a, b = ["1", "2", "3", "4"], ["2", "5", "1", "6"]
    seen_orders = set()
    for seed in range(50):
        shown, teams = team_draft(a, b, 4, random.Random(seed))
        seen_orders.add(tuple(shown))
        for r in range(0, 4, 2):                                  # each round: one a, one b
            assert sorted(teams[r:r + 2]) == ["a", "b"]
    assert ("1", "2", "5", "3") in seen_orders                   # a first: a picks 1, b picks 2; then 5 / 3
    assert ("2", "1", "5", "3") in seen_orders                   # b first: b picks 2, a picks 1; then b 5, a 3


def _log(rows):
    return parse_log(enumerate(rows, start=1), "<rows>", interleaved=True)


def test_the_better_ranker_is_preferred_and_an_aa_run_is_not():
    out = preference(_log(interleaved_rows(800, quality=(1.0, 1.6), seed=1)))
    assert out.preference_b > 0
    assert out.ci_low > 0
    assert out.sign_test_p < 0.01
    false = 0
    for seed in range(100):
        aa = preference(_log(interleaved_rows(300, quality=(1.2, 1.2), seed=100 + seed)))
        false += aa.sign_test_p < 0.05
    assert false / 100 <= 0.1


def test_ab_interleaved_cli_and_bad_team_labels(tmp_path):
    rows = interleaved_rows(300, quality=(0.5, 2.0), seed=3)
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = CliRunner().invoke(main, ["ab", "interleaved", str(log), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["verdict"] == "b preferred"
    assert out["wins_b"] > out["wins_a"]
    bad = dict(rows[0], team=["a"] * (len(rows[0]["shown"]) - 1))
    log.write_text("".join(json.dumps(r) + "\n" for r in [bad, *rows[1:]]), encoding="utf-8")
    result = CliRunner().invoke(main, ["ab", "interleaved", str(log)])
    assert result.exit_code == 2
    assert "'team' must give 'a' or 'b' for each of the" in result.output


@pytest.mark.model
def test_ab_interleave_writes_team_draft_lists_of_both_models(tmp_path, tiny_model):
    from spacekit.demo.data import write_demo_data
    from spacekit.embed import EncodeOptions, load_model
    from spacekit.tasks.queries import QueriesTask

    beir = write_demo_data(tmp_path / "demo")["beir"]
    out = tmp_path / "lists.jsonl"
    result = CliRunner().invoke(main, ["ab", "interleave", "builtin:minilm", str(tiny_model),
                                       str(beir / "queries.jsonl"), str(beir / "corpus.jsonl"), "-o", str(out),
                                       "--list-size", "6"])
    assert result.exit_code == 0, result.output
    lists = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    task = QueriesTask(beir / "queries.jsonl", beir / "corpus.jsonl", 6)
    tops = [task.run(load_model(m), EncodeOptions()) for m in ("builtin:minilm", str(tiny_model))]
    assert [x["query_id"] for x in lists] == tops[0].item_ids
    for i, x in enumerate(lists):
        assert len(x["shown"]) == len(set(x["shown"])) == 6
        for team, top in zip("ab", tops, strict=True):
            assert _in_order([d for d, t in zip(x["shown"], x["team"], strict=True) if t == team], top.top[i])


@pytest.mark.model
def test_ab_replay_turns_clicks_into_qrels_and_counts_what_the_log_never_showed(tmp_path, tiny_model):
    import numpy as np

    from spacekit.demo.data import write_demo_data
    from spacekit.embed import EncodeOptions, load_model
    from spacekit.io.trec import read_qrels
    from spacekit.tasks.queries import QueriesTask

    beir = write_demo_data(tmp_path / "demo")["beir"]
    qrels, _ = read_qrels(next((beir / "qrels").glob("*.tsv")))
    served = QueriesTask(beir / "queries.jsonl", beir / "corpus.jsonl", 10).run(load_model("builtin:minilm"),
                                                                                EncodeOptions())
    rng = np.random.default_rng(0)
    rows = []
    for i, qid in enumerate(served.item_ids):                       # the old model served; users click relevant docs
        shown = served.top[i]
        clicks = [d for d in shown if qrels.get(qid, {}).get(d, 0) > 0 and rng.random() < 0.8]
        rows.append({"request_id": f"r{i}", "unit_id": f"u{i % 7}", "query": served.item_texts[qid][0],
                     "shown": shown, "clicks": clicks})
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "replay"
    result = CliRunner().invoke(main, ["ab", "replay", str(log), "builtin:minilm", str(tiny_model), "--corpus",
                                       str(beir / "corpus.jsonl"), "-o", str(out), "--resamples", "300"])
    assert result.exit_code == 0, result.output
    judged, _ = read_qrels(out / "replay-data" / "qrels" / "test.tsv")
    assert sum(len(v) for v in judged.values()) == sum(len(r["clicks"]) for r in rows)
    shares = json.loads((out / "replay.json").read_text())["unjudged@10"]
    assert shares["before"] == 0.0                                  # the serving model's lists were all shown
    assert shares["after"] > 0.3
    assert "the model that served the log is favoured" in result.output
    assert (out / "report" / "report.json").exists()
    rows[0]["shown"] = [*rows[0]["shown"], "not-a-doc"]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = CliRunner().invoke(main, ["ab", "replay", str(log), "builtin:minilm", str(tiny_model), "--corpus",
                                       str(beir / "corpus.jsonl"), "-o", str(tmp_path / "r2")])
    assert result.exit_code == 2
    assert "log.jsonl:1: shown document 'not-a-doc' is not in the corpus" in result.output


def test_team_labels_team_draft_cannot_give_are_one_line_exit_2(tmp_path):
    rows = interleaved_rows(200, quality=(1.0, 1.0), seed=4)
    log = tmp_path / "log.jsonl"
    all_b = [dict(r, team=["b"] * len(r["shown"])) for r in rows]          # "b preferred, +1.000" before
    log.write_text("".join(json.dumps(r) + "\n" for r in all_b), encoding="utf-8")
    result = CliRunner().invoke(main, ["ab", "interleaved", str(log)])
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (f"error: {log}:1: team labels {'b' * len(rows[0]['shown'])!r} cannot come "
                                     f"from team-draft interleaving (each round gives one position to each team); "
                                     f"a balanced log takes --method balanced")
    broken = dict(rows[0], team=["a", "b", "a", "a", "b", *rows[0]["team"][5:]])   # a pair of a's, then b again
    log.write_text("".join(json.dumps(r) + "\n" for r in [broken, *rows[1:]]), encoding="utf-8")
    assert CliRunner().invoke(main, ["ab", "interleaved", str(log)]).exit_code == 2
    tail = dict(rows[0], team=["b", "a", "a", "a", *["a"] * (len(rows[0]["shown"]) - 4)])  # b's ranker ran out
    log.write_text("".join(json.dumps(r) + "\n" for r in [tail, *rows[1:]]), encoding="utf-8")
    assert CliRunner().invoke(main, ["ab", "interleaved", str(log)]).exit_code == 0
    for seed in range(20):                                   # every list team-draft makes passes the check
        for q in range(5):
            _, teams = team_draft([f"a{i}" for i in range(q + 3)], [f"a{i}" for i in range(q + 3)][::-1], 10,
                                  random.Random(seed))
            preference(_log([dict(rows[0], shown=[f"x{i}" for i in range(len(teams))], team=teams, clicks=[])]))
    help_text = CliRunner().invoke(main, ["ab", "interleaved", "--help"]).output
    assert "balanced is biased" in " ".join(help_text.split())
    assert "balanced is biased" in " ".join(CliRunner().invoke(main, ["ab", "interleave", "--help"]).output.split())
