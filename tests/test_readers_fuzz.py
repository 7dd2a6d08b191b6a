"""Every reader and writer under random input (hypothesis): a clean InputError naming the file (one line) or a
correct result; never a traceback, never a silent change of meaning (issue 15)."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from spacekit.cli import main
from spacekit.errors import InputError

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# pieces that break naive parsers: separators, quotes, numbers that are not, BOM, bytes that are not UTF-8
PIECES = ["\t", " ", ",", '"', "'", "\n", "\r\n", "0", "1", "-1", "1.5", "inf", "nan", "NaN", "1e309", "q1", "d1",
          "Q0", "x", "é", "\ufeff", "{", "}", "[", "]", ":", "query-id", "corpus-id", "score", "sentence1",
          "sentence2", "text", "label", "text_a", "text_b", "expect", "close", "far", "#", "\x00"]
IDS = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd"), max_codepoint=0x24F), min_size=1,
              max_size=6)
TEXTS = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters='\t"'),
                min_size=1, max_size=20).filter(lambda t: t.strip() == t and t.strip())


def _messy(draw_bytes: bytes) -> bytes:
    return draw_bytes


messy_text = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)
messy_bytes = st.one_of(messy_text.map(lambda t: t.encode("utf-8")), st.binary(max_size=200),
                        messy_text.map(lambda t: t.encode("utf-8") + b"\xff\xfe"))


def _clean(read, path):
    """read(path), or None when it raised an InputError that names the file on one line."""
    try:
        return read(path)
    except InputError as e:
        assert path.name in str(e), str(e)
        assert "\n" not in str(e), str(e)
        return None


@FUZZ
@given(data=messy_bytes, name=st.sampled_from(["qrels.txt", "qrels.tsv", "run.txt", "s.tsv", "s.csv", "s.jsonl",
                                               "l.csv", "l.tsv", "l.jsonl", "p.tsv", "p.jsonl", "train.txt",
                                               "train.jsonl", "pairs.csv", "pairs.jsonl", "probes.tsv"]))
def test_every_reader_on_messy_bytes(tmp_path, data, name):
    from spacekit.io.labelled import read_labelled
    from spacekit.io.pairs import read_labelled_pairs, read_pairs
    from spacekit.io.probes import read_probes
    from spacekit.io.sts import read_sts
    from spacekit.io.training import read_training
    from spacekit.io.trec import read_qrels, read_run

    path = tmp_path / name
    path.write_bytes(data)
    readers = {"qrels": read_qrels, "run": read_run, "s": read_sts, "l": read_labelled, "p": read_pairs,
               "train": read_training, "pairs": read_labelled_pairs, "probes": read_probes}
    _clean(readers[name.split(".")[0]], path)


@FUZZ
@given(qrels=st.dictionaries(IDS, st.dictionaries(IDS, st.integers(-1, 3), min_size=1, max_size=4), min_size=1,
                             max_size=5), beir=st.booleans(), bom=st.booleans())
def test_qrels_round_trip(tmp_path, qrels, beir, bom):
    from spacekit.io.trec import read_qrels

    lines = [f"{q}\t{d}\t{r}" if beir else f"{q} 0 {d} {r}" for q, docs in qrels.items() for d, r in docs.items()]
    text = ("query-id\tcorpus-id\tscore\n" if beir else "") + "\n".join(lines) + "\n"
    path = tmp_path / "q.tsv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    assert read_qrels(path)[0] == qrels


@FUZZ
@given(run=st.dictionaries(IDS, st.dictionaries(IDS, st.floats(-1e6, 1e6, allow_nan=False), min_size=1,
                                                max_size=5), min_size=1, max_size=5))
def test_runs_round_trip_through_write_run(tmp_path, run):
    from spacekit.io.trec import read_run, write_run
    from spacekit.ranked_run import RankedRun

    write_run(tmp_path / "run.txt", RankedRun.from_dict(run))
    assert read_run(tmp_path / "run.txt") == run


@FUZZ
@given(rows=st.lists(st.tuples(TEXTS, TEXTS, st.floats(0, 5, allow_nan=False)), min_size=2, max_size=6),
       fmt=st.sampled_from(["tsv", "jsonl", "stsb"]))
def test_sts_round_trip(tmp_path, rows, fmt):
    from spacekit.io.sts import read_sts

    path = tmp_path / f"s.{'csv' if fmt == 'stsb' else fmt}"
    if fmt == "tsv":
        path.write_text("sentence1\tsentence2\tscore\n" + "".join(f"{a}\t{b}\t{s!r}\n" for a, b, s in rows))
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps({"sentence1": a, "sentence2": b, "score": s}) + "\n" for a, b, s in rows))
    else:
        path.write_text("".join(f"g\tf\t2012\t{i:04d}\t{s!r}\t{a}\t{b}\n" for i, (a, b, s) in enumerate(rows)))
    got = _clean(read_sts, path)
    if got is None:                                                 # the one refusal: constant gold scores
        assert len({s for _, _, s in rows}) == 1
        return
    assert got.sentence1 == [a for a, _, _ in rows]
    assert got.sentence2 == [b for _, b, _ in rows]
    assert np.array_equal(got.score, [s for _, _, s in rows])


@FUZZ
@given(rows=st.lists(st.tuples(TEXTS, IDS), min_size=2, max_size=8), suffix=st.sampled_from(["csv", "tsv", "jsonl"]))
def test_labelled_round_trip(tmp_path, rows, suffix):
    from spacekit.io.labelled import read_labelled

    path = tmp_path / f"l.{suffix}"
    if suffix == "jsonl":
        path.write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows))
    else:
        sep = "," if suffix == "csv" else "\t"
        quote = (lambda t: '"' + t.replace('"', '""') + '"') if suffix == "csv" else (lambda t: t)
        path.write_text(f"text{sep}label\n" + "".join(f"{quote(t)}{sep}{lab}\n" for t, lab in rows))
    got = _clean(read_labelled, path)
    if got is None:                                                 # the one refusal: a single label
        assert len({lab for _, lab in rows}) == 1
        return
    assert got.texts == [t for t, _ in rows]
    assert got.labels == [lab for _, lab in rows]


@FUZZ
@given(doc=st.dictionaries(st.sampled_from(["format", "dim", "dtype", "count", "complete", "shards", "key", "x"]),
                           st.one_of(st.integers(-2, 60), st.text(max_size=12), st.booleans(), st.none(),
                                     st.lists(st.dictionaries(st.sampled_from(["file", "rows", "sha256"]),
                                                              st.one_of(st.integers(-1, 30), st.text(max_size=20)),
                                                              max_size=3), max_size=3),
                                     st.just("spacekit-store/1"), st.just("float32"), st.just({})), max_size=8))
def test_store_manifests_are_checked_or_refused(tmp_path, doc):
    from spacekit.store.read import open_store, verify_store

    folder = tmp_path / "s"
    folder.mkdir(exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps(doc))
    store = _clean(open_store, folder)
    if store is not None:
        _clean(lambda p: store.load(), folder)
    assert all("\n" not in line for line in verify_store(folder))


@FUZZ
@given(garbage=st.binary(min_size=1, max_size=300), offset=st.integers(0, 2000))
@example(garbage=b"\n", offset=433)        # a newline in a column name: the message stayed two lines (CI, session 11)
@example(garbage=b"\x01", offset=484)      # a page that decodes to fewer rows than promised (CI, session 15)
def test_damaged_shards_are_refused_by_name(tmp_path, garbage, offset):
    from spacekit.files import file_digest
    from spacekit.store.read import open_store
    from spacekit.store.write import write_store

    folder = tmp_path / "s"
    shutil.rmtree(folder, ignore_errors=True)                         # a fresh store for every example
    vec = np.arange(80, dtype=np.float32).reshape(20, 4)
    write_store(folder, [f"d{i}" for i in range(20)], lambda lo, hi: vec[lo:hi], dim=4, key={"k": 1}, shard_rows=10)
    shard = folder / "part-00001.parquet"
    data = bytearray(shard.read_bytes())
    data[offset % len(data):offset % len(data) + len(garbage)] = garbage
    shard.write_bytes(bytes(data))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["shards"][1]["sha256"] = file_digest(shard)             # as if the damage were meant
    (folder / "manifest.json").write_text(json.dumps(manifest))
    store = open_store(folder)
    got = _clean(lambda p: store.load(), shard)
    if got is not None:                                              # damage that left valid, other content
        assert len(got[0]) == len(set(got[0])) == 20
        assert np.isfinite(got[1]).all()


@FUZZ
@given(entry=st.dictionaries(st.sampled_from(["name", "kind", "tag", "metrics", "data", "train", "test", "split",
                                              "seed", "depth", "metric", "pairs", "backend", "protocol"]),
                             st.one_of(st.text(max_size=10), st.integers(-3, 3), st.floats(allow_nan=True),
                                       st.lists(st.text(max_size=8), max_size=3), st.booleans(),
                                       st.sampled_from(["retrieval", "sts", "classification", "clustering",
                                                        "probes", "geometry", "pair_classification", "holdout",
                                                        "builtin"])), max_size=7))
def test_suites_are_checked_or_refused(tmp_path, entry):
    from spacekit.compare.suite import read_suite

    def toml(value) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(
                value)
        return json.dumps(value)

    path = tmp_path / "suite.toml"
    path.write_text("[[task]]\n" + "".join(f"{k} = {toml(v)}\n" for k, v in entry.items()))
    _clean(read_suite, path)


@FUZZ
@given(files=st.dictionaries(st.sampled_from(["modules.json", "sentence_bert_config.json", "1_Pooling/config.json",
                                              "config.json"]),
                             st.one_of(st.just("{"), st.just("[]"), st.just("null"), st.just('"x"'),
                                       st.builds(json.dumps, st.dictionaries(
                                           st.sampled_from(["max_seq_length", "do_lower_case", "type", "path",
                                                            "pooling_mode_cls_token", "pooling_mode_mean_tokens",
                                                            "max_position_embeddings"]),
                                           st.one_of(st.integers(-5, 600), st.booleans(), st.text(max_size=8)),
                                           max_size=4)),
                                       st.builds(json.dumps, st.lists(st.dictionaries(
                                           st.sampled_from(["type", "path"]),
                                           st.sampled_from(["sentence_transformers.models.Pooling", "1_Pooling",
                                                            "sentence_transformers.models.Dense", "", 3]),
                                           max_size=2), max_size=3))), max_size=4))
def test_model_settings_are_checked_or_refused(tmp_path, files):
    from spacekit.embed.st_config import read_st_config

    folder = tmp_path / "m"
    (folder / "1_Pooling").mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"max_position_embeddings": 512}')
    for name, content in files.items():
        (folder / name).write_text(content)
    try:
        config = read_st_config(folder)
    except InputError as e:
        assert str(folder) in str(e)
        assert "\n" not in str(e)
        return
    assert config.max_seq_length >= 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(qrels=messy_bytes, run=messy_bytes)
def test_eval_run_on_messy_files_exits_0_or_2(tmp_path, qrels, run):
    (tmp_path / "qrels.txt").write_bytes(qrels)
    (tmp_path / "run.txt").write_bytes(run)
    r = CliRunner().invoke(main, ["eval", "run", str(tmp_path / "qrels.txt"), str(tmp_path / "run.txt"), "--json"])
    assert r.exit_code in (0, 2), (r.output, r.exception)
    if r.exit_code == 2:
        assert len(r.stderr.strip().splitlines()) == 1
    else:
        json.loads(r.stdout)


@pytest.mark.parametrize("text", ['"unterminated start', "a\ttab", ""])
def test_texts_with_quotes_tabs_or_nothing_are_handled(tmp_path, text):
    from spacekit.io.texts import read_texts

    path = tmp_path / "t.tsv"
    path.write_text(f"id\ttext\na\t{text}\nb\tsecond\n")
    got = _clean(read_texts, path)
    if text == "a\ttab":
        assert got is None                                          # three fields under a two-column header
    else:
        assert got.texts[0] == text


@FUZZ
@given(corpus=messy_bytes, queries=messy_bytes, qrels=messy_bytes, valid=st.booleans())
def test_beir_folders_are_read_or_refused_by_file(tmp_path, corpus, queries, qrels, valid):
    from spacekit.io.beir import read_beir

    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    if valid:                                                        # a valid folder, but for the damaged qrels
        corpus = b'{"_id": "d1", "title": "t", "text": "one"}\n{"_id": "d2", "text": "two"}\n'
        queries = b'{"_id": "q1", "text": "a query"}\n'
    (folder / "corpus.jsonl").write_bytes(corpus)
    (folder / "queries.jsonl").write_bytes(queries)
    (folder / "qrels" / "test.tsv").write_bytes(qrels)
    try:
        data = read_beir(folder, "test")
    except InputError as e:
        assert str(folder) in str(e)
        assert "\n" not in str(e)
        return
    assert set(data.queries.ids) == set(data.qrels)
    assert all(d in set(data.corpus.ids) for docs in data.qrels.values() for d in docs)
