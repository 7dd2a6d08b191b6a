"""Retrieval end to end: MTEB's published SciFact numbers, run files, and bad BEIR / TREC input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers import TINY_CORPUS, TINY_QUERIES, data_path, write_beir

from spacekit.cli import main

# MTEB results for all-MiniLM-L6-v2 on SciFact test (mteb 1.12.75, fp32, max_seq_length 256, top 1000).
MTEB_SCIFACT = {"ndcg@10": 0.64508, "recall@100": 0.925, "recall@10": 0.78333, "map@10": 0.59593,
                "mrr@10": 0.6047249}


@pytest.mark.real
def test_scifact_reproduces_mteb_published_numbers(tmp_path):
    folder = data_path("scifact")
    run_file = tmp_path / "run.trec"
    result = CliRunner().invoke(main, ["eval", "retrieval", "builtin:minilm", str(folder), "--split", "test",
                                       "--json", "--device", "cpu", "--run-out", str(run_file)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["task"] == "retrieval"
    assert out["n"] == 300
    assert out["skipped_queries"] == 0
    for name, want in MTEB_SCIFACT.items():
        assert out["metrics"][name] == pytest.approx(want, abs=5e-5), name
    # the run written to disk scores the same through `eval run` (the trec_eval path)
    again = CliRunner().invoke(main, ["eval", "run", str(folder / "qrels" / "test.tsv"), str(run_file), "--json"])
    assert again.exit_code == 0, again.output
    for name in MTEB_SCIFACT:
        assert json.loads(again.stdout)["metrics"][name] == pytest.approx(out["metrics"][name], abs=1e-12)
    # a second evaluation of the same model encodes nothing: every embedding comes from the cache
    import spacekit.embed.encoder as enc

    calls = []
    original = enc.encode_texts
    enc.encode_texts = lambda *a, **k: calls.append(1) or original(*a, **k)
    try:
        from spacekit.embed import load_model

        load_model("builtin:minilm").encode(["a text no cache holds"], progress=False)
        assert calls == [1]                                          # the spy sees the encoder the CLI uses
        calls.clear()
        second = CliRunner().invoke(main, ["eval", "retrieval", "builtin:minilm", str(folder), "--json"])
    finally:
        enc.encode_texts = original
    assert second.exit_code == 0
    assert calls == []
    assert json.loads(second.stdout)["metrics"] == out["metrics"]




def test_tiny_beir_folder_evaluates_and_writes_a_trec_run(tmp_path, tiny_model):
    folder = write_beir(tmp_path / "b", TINY_CORPUS, TINY_QUERIES, "query-id\tcorpus-id\tscore\nq0\td1\t1\nq1\td2\t2\n")
    run_file = tmp_path / "run.txt"
    r = CliRunner().invoke(main, ["eval", "retrieval", str(tiny_model), str(folder), "--json", "--k", "1,5",
                                  "--run-out", str(run_file)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["n"] == 2
    assert set(out["metrics"]) >= {"ndcg@1", "ndcg@5", "recall@5", "mrr@5", "hit@1"}
    lines = run_file.read_text().splitlines()
    assert len(lines) == 2 * 6
    assert lines[0].split()[1] == "Q0"
    assert lines[0].split()[3] == "1"
    assert out["metrics"]["recall@5"] == pytest.approx(
        sum(("d1" in [x.split()[2] for x in lines if x.startswith("q0 ")][:5],
             "d2" in [x.split()[2] for x in lines if x.startswith("q1 ")][:5])) / 2)


def test_queries_searched_in_blocks_give_the_run_and_metrics_of_one_block(tmp_path, tiny_model, monkeypatch):
    import spacekit.tasks.retrieval as retrieval

    corpus = "".join(json.dumps({"_id": f"d{i}", "text": f"document {i} on topic {i % 7}"}) + "\n" for i in range(40))
    queries = "".join(json.dumps({"_id": f"q{i}", "text": f"topic {i % 7} question {i}"}) + "\n" for i in range(23))
    qrels = "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{(3 * i) % 40}\t{1 + i % 2}\n" for i in range(23))
    folder = write_beir(tmp_path / "b", corpus, queries, qrels)
    outputs = []
    for cells in (retrieval.BLOCK_CELLS, 5 * 30):                      # one block; blocks of 5 queries at depth 30
        monkeypatch.setattr(retrieval, "BLOCK_CELLS", cells)
        run_file = tmp_path / f"run-{cells}.trec"
        r = CliRunner().invoke(main, ["eval", "retrieval", str(tiny_model), str(folder), "--json", "--depth", "30",
                                      "--dims", "16", "--quantize", "int8", "--run-out", str(run_file)])
        assert r.exit_code == 0, r.output
        outputs.append((json.loads(r.stdout), run_file.read_bytes()))
    (whole, whole_run), (blocks, blocks_run) = outputs
    assert whole_run == blocks_run
    assert len(whole_run.splitlines()) == 23 * 30
    assert whole["metrics"] == blocks["metrics"]
    assert whole["n"] == blocks["n"] == 23
    assert {"ndcg@10/16d", "ndcg@10/int8", "ndcg@10/16d/int8"} <= set(blocks["metrics"])


def test_a_result_keeps_each_querys_top_results_and_the_run_file_all(tmp_path, tiny_model):
    from spacekit.embed import EncodeOptions, load_model
    from spacekit.tasks.retrieval import RUN_KEPT, RetrievalTask

    corpus = "".join(json.dumps({"_id": f"d{i}", "text": f"document {i}"}) + "\n" for i in range(RUN_KEPT + 20))
    qrels = "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\td{i}\t1\n" for i in range(3))
    folder = write_beir(tmp_path / "b", corpus, TINY_QUERIES, qrels)
    run_file = tmp_path / "run.trec"
    result = RetrievalTask(folder, depth=RUN_KEPT + 20, run_out=run_file).run(load_model(str(tiny_model)),
                                                                               EncodeOptions(use_cache=False))
    assert result.run.codes.shape == (3, RUN_KEPT)
    lines = [line.split() for line in run_file.read_text().splitlines()]
    assert len(lines) == 3 * (RUN_KEPT + 20)
    assert [d for q, _, d, *_ in lines if q == "q2"][:RUN_KEPT] == result.run.doc_ids[result.run.codes[2]].tolist()


@pytest.mark.parametrize(("qrels", "message"), [
    ("query-id\tcorpus-id\tscore\nq0\td1\t1\nq9\td2\t1\n", "test.tsv:3: query id 'q9' is not in queries.jsonl"),
    ("query-id\tcorpus-id\tscore\nq0\td77\t1\n", "test.tsv:2: document id 'd77' is not in corpus.jsonl"),
    ("query-id\tcorpus-id\tscore\nq0\td1\n", "test.tsv:2: expected 'qid 0 docid rel'"),
    ("query-id\tcorpus-id\tscore\nq0\td1\tx\n", "test.tsv:2: relevance must be an integer"),
    ("query-id\tcorpus-id\tscore\nq0\td1\t1\nq0\td1\t1\n", "test.tsv:3: duplicate judgement"),
])
def test_bad_qrels_are_one_line_exit_2(tmp_path, tiny_model, qrels, message):
    folder = write_beir(tmp_path, TINY_CORPUS, TINY_QUERIES, qrels)
    r = CliRunner().invoke(main, ["eval", "retrieval", str(tiny_model), str(folder)])
    assert r.exit_code == 2, r.output
    assert message in r.stderr, r.output
    assert len(r.stderr.strip().splitlines()) == 1


def test_duplicate_corpus_id_and_missing_files(tmp_path, tiny_model):
    corpus = TINY_CORPUS + json.dumps({"_id": "d0", "text": "again"}) + "\n"
    folder = write_beir(tmp_path, corpus, TINY_QUERIES, "q0\t0\td1\t1\n")
    r = CliRunner().invoke(main, ["eval", "retrieval", str(tiny_model), str(folder)])
    assert r.exit_code == 2
    assert "corpus.jsonl:7: duplicate id 'd0'" in r.stderr
    r = CliRunner().invoke(main, ["eval", "retrieval", str(tiny_model), str(folder), "--split", "dev"])
    assert r.exit_code == 2
    assert "qrels/dev.tsv: missing" in r.stderr


@pytest.mark.parametrize(("run", "message"), [
    ("q0 Q0 d1 1 0.5\n", "run.txt:1: expected 'qid Q0 docid rank score tag'"),
    ("q0 Q0 d1 1 0.5 t\nq0 Q0 d1 2 0.4 t\n", "run.txt:2: document 'd1' appears twice"),
    ("q0 Q0 d1 1 high t\n", "run.txt:1: score must be a number"),
    ("", "run.txt: empty file"),
])
def test_bad_runs_are_one_line_exit_2(tmp_path, run, message):
    (tmp_path / "qrels.txt").write_text("q0 0 d1 1\n")
    (tmp_path / "run.txt").write_text(run)
    r = CliRunner().invoke(main, ["eval", "run", str(tmp_path / "qrels.txt"), str(tmp_path / "run.txt")])
    assert r.exit_code == 2, r.output
    assert message in r.stderr, r.output


def test_eval_run_matches_pytrec_eval_on_a_trec_file(tmp_path):
    pytrec_eval = pytest.importorskip("pytrec_eval")
    qrels = {"q1": {"a": 1, "b": 2, "c": 0}, "q2": {"x": 1}, "q3": {"y": 1}}
    run = {"q1": {"a": 0.5, "b": 0.5, "z": 0.9, "c": 0.1}, "q2": {"y": 0.3, "x": 0.2}}
    (tmp_path / "qrels.txt").write_text("".join(f"{q} 0 {d} {r}\n" for q, ds in qrels.items() for d, r in ds.items()))
    (tmp_path / "run.txt").write_text("".join(f"{q} Q0 {d} 0 {s} t\n" for q, ds in run.items() for d, s in ds.items()))
    r = CliRunner().invoke(main, ["eval", "run", str(tmp_path / "qrels.txt"), str(tmp_path / "run.txt"), "--json",
                                  "--k", "1,2,10"])
    out = json.loads(r.stdout)
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.1,2,10", "map_cut.2", "P.1"}).evaluate(run)
    assert out["n"] == 2
    assert out["skipped_queries"] == 1
    for ours, theirs in [("ndcg@1", "ndcg_cut_1"), ("ndcg@2", "ndcg_cut_2"), ("ndcg@10", "ndcg_cut_10"),
                         ("map@2", "map_cut_2"), ("precision@1", "P_1")]:
        assert out["metrics"][ours] == pytest.approx(sum(m[theirs] for m in ref.values()) / 2, abs=1e-12)
