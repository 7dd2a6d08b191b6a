"""Malformed and random input files end in a clean spacekit error (exit 2), never a traceback."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacekit.cli import main
from spacekit.errors import InputError
from spacekit.io.texts import read_texts

SUFFIXES = [".jsonl", ".csv", ".tsv", ".parquet"]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_give_texts_or_input_error(tmp_path, data, suffix):
    path = tmp_path / f"f{suffix}"
    path.write_bytes(data)
    try:
        texts = read_texts(path)
    except InputError as e:
        assert str(path) in str(e)
        return
    assert len(texts.ids) == len(set(texts.ids)) == len(texts.texts) > 0


json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                      max_size=3), max_leaves=6)


@FUZZ
@given(rows=st.lists(st.dictionaries(st.sampled_from(["id", "_id", "text", "title", "x"]), json_value,
                                     max_size=4), max_size=6))
def test_random_jsonl_rows(tmp_path, rows):
    path = tmp_path / "f.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    try:
        texts = read_texts(path)
    except InputError as e:
        assert str(path) in str(e)
        return
    assert len(texts) == len(rows)


@FUZZ
@given(lines=st.lists(st.text(alphabet=st.sampled_from('ab,"\t\n\r x'), max_size=12), max_size=6))
def test_random_delimited_text(tmp_path, lines):
    for suffix in (".csv", ".tsv"):
        path = tmp_path / f"f{suffix}"
        path.write_text("id,text\n".replace(",", "," if suffix == ".csv" else "\t") + "\n".join(lines))
        try:
            read_texts(path)
        except InputError as e:
            assert str(path) in str(e)


@pytest.mark.parametrize(("content", "suffix", "message"), [
    ("", ".jsonl", "empty file"),
    ('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', ".jsonl", ":2: duplicate id 'a'"),
    ('{"id": "a", "text": "x"}\n{"id": "b"\n', ".jsonl", ":2: malformed JSON"),
    ('{"id": "a", "body": "x"}\n', ".jsonl", ":1: missing field 'text'"),
    ("id,text\na,x\nb,y,z\n", ".csv", ":3: expected 2 fields"),
    ("id\ttitle\nq1\tx\n", ".tsv", ":2: missing field 'text'"),
    ("not parquet", ".parquet", "not a readable Parquet file"),
    ("a b c", ".xml", "unknown file type"),
])
def test_cli_embed_bad_input_is_one_line_exit_2(tmp_path, tiny_model, content, suffix, message):
    path = tmp_path / f"in{suffix}"
    path.write_text(content)
    out = tmp_path / "store"
    result = CliRunner().invoke(main, ["embed", str(tiny_model), str(path), "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert str(path) in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
    assert not out.exists()


def test_cli_embed_missing_model_and_missing_input(tmp_path, tiny_model):
    src = tmp_path / "in.csv"
    src.write_text("id,text\na,x\n")
    r = CliRunner().invoke(main, ["embed", str(tmp_path / "no-model"), str(src), "-o", str(tmp_path / "s")])
    assert r.exit_code == 2
    assert "model not found" in r.stderr
    r = CliRunner().invoke(main, ["embed", str(tiny_model), str(tmp_path / "none.csv"), "-o", str(tmp_path / "s")])
    assert r.exit_code == 2
    assert "no such file" in r.stderr
    assert not (tmp_path / "s").exists()


def test_cli_embed_beir_corpus_uses_title_and_text(tmp_path, tiny_model):
    from spacekit.embed import encode, load_model
    from spacekit.store.read import open_store

    src = tmp_path / "corpus.jsonl"
    src.write_text(json.dumps({"_id": "d1", "title": "Heart", "text": "attack risk"}) + "\n")
    r = CliRunner().invoke(main, ["embed", str(tiny_model), str(src), "-o", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    ids, vec = open_store(tmp_path / "s").load()
    assert ids == ["d1"]
    assert abs(float((vec[0] * encode(load_model(tiny_model), ["Heart attack risk"])[0]).sum()) - 1) < 1e-5


# round two (issue 32): the classes of input the hardening found -------------------------------------------------

@FUZZ
@given(cells=st.lists(st.binary(max_size=10), min_size=1, max_size=5))
def test_binary_text_columns_decode_or_name_the_row(tmp_path, cells):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "b.parquet"
    pq.write_table(pa.table({"id": [f"i{n}" for n in range(len(cells))], "text": pa.array(cells, pa.binary())}), path)
    try:
        texts = read_texts(path)
    except InputError as e:
        assert str(path) in str(e)
        return
    assert texts.texts == [c.decode("utf-8") for c in cells]                  # never "b'...'"


@FUZZ
@given(depth=st.integers(1, 200_000), field=st.sampled_from(["text", "id", "x"]))
def test_json_nested_at_any_depth_is_read_or_refused(tmp_path, depth, field):
    path = tmp_path / "n.jsonl"
    nested = "[" * depth + "]" * depth
    row = {"id": '"a"', "text": '"t"', "x": "1"} | {field: nested}
    path.write_text("{" + ", ".join(f'"{k}": {v}' for k, v in row.items()) + "}\n")
    try:
        texts = read_texts(path)
    except InputError as e:                                                    # never a RecursionError
        assert str(path) in str(e)
        return
    assert texts.texts == ["t"]


@FUZZ
@given(text=st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010, exclude_categories=())
                    | st.sampled_from("ab "), min_size=1, max_size=6))
def test_lone_surrogates_are_refused_never_passed_to_the_tokenizer(tmp_path, text):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"id": "a", "text": text}) + "\n")            # json escapes them: \ud800
    try:
        texts = read_texts(path)
    except InputError as e:
        assert "s.jsonl:1" in str(e)
        return
    texts.texts[0].encode("utf-8")                                            # every text read is encodable


@FUZZ
@given(names=st.lists(st.one_of(st.sampled_from(["data-0.arrow", "../up.arrow", "/etc/passwd", "a/b.arrow", "", ".",
                                                 "..", "data-0.arrow/..", "missing.arrow"]),
                                st.text(max_size=6), st.integers(), st.none()), max_size=3),
       shape=st.sampled_from(["files", "not-a-list", "no-key", "deep"]))
def test_state_files_name_only_files_beside_them(tmp_path, names, shape):
    import pyarrow as pa

    from spacekit.io.dataset_folders import shard_files

    folder = tmp_path / "ds"
    folder.mkdir(exist_ok=True)
    with pa.ipc.new_stream(str(folder / "data-0.arrow"), pa.schema([("id", pa.string())])) as w:
        w.write_table(pa.table({"id": ["a"]}))
    (tmp_path / "up.arrow").write_bytes((folder / "data-0.arrow").read_bytes())
    state = {"files": {"_data_files": [{"filename": n} for n in names]}, "not-a-list": {"_data_files": names},
             "no-key": {"files": names}, "deep": {"_data_files": [[[[{"filename": "x"}]]]] * 1000}}[shape]
    (folder / "state.json").write_text(json.dumps(state) if shape != "deep" else "[" * 100_000 + "]" * 100_000)
    try:
        files = shard_files(folder)
    except InputError as e:
        assert "state.json" in str(e) or "missing" in str(e) or str(folder) in str(e)
        return
    assert all(f.parent == folder for f in files)                            # never a file outside the folder


@FUZZ
@given(docs=st.lists(st.one_of(json_value, st.fixed_dictionaries(
    {"task_name": st.sampled_from(["STSB", "stsb", 3, None]),
     "scores": st.one_of(json_value, st.dictionaries(st.sampled_from(["test", "dev"]), st.one_of(
         json_value, st.lists(st.dictionaries(st.sampled_from(["main_score", "hf_subset", "spearman"]),
                                              st.one_of(st.floats(), st.text(max_size=3), st.none())),
                              max_size=2))))})), min_size=1, max_size=3))
def test_reference_folders_are_read_or_refused_in_one_line(tmp_path, docs):
    from spacekit.io.mteb_results import MtebFormat, find_reference, read_reference, reference_rows

    folder = tmp_path / "ref"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for n, doc in enumerate(docs):
        (folder / f"r{n}.json").write_text(json.dumps(doc))
    try:
        found = read_reference(folder)
        _, scores = find_reference(found, "STSB", "test")
        reference_rows(MtebFormat("cosine_spearman"), {"spearman": 0.5}, scores)
    except InputError as e:
        assert "\n" not in str(e)


cell_text = st.text(alphabet=st.sampled_from("ab=+-@'\t\n\r\", ;"), max_size=5)


@FUZZ
@given(rows=st.lists(st.tuples(cell_text, cell_text, st.sampled_from(["", "0", "2", "x", "1.5", "nan", "-1"])),
                     min_size=1, max_size=5))
def test_judging_sheets_round_trip_ids_or_refuse_them(tmp_path, rows):
    from spacekit.io.judging import read_judged
    from spacekit.io.trec import qrels_tsv, read_qrels
    from spacekit.report.folder import write_sheet

    sheet = tmp_path / "judging.csv"
    sheet.unlink(missing_ok=True)
    write_sheet(sheet, [{"query_id": q, "query": "text", "doc_id": d, "document": "doc", "shown_by": "both",
                         "label": label} for q, d, label in rows])
    try:
        judged = read_judged(sheet)
        qrels = tmp_path / "qrels.tsv"
        qrels.write_text(qrels_tsv(judged.judgements, sheet))
        read_back, _ = read_qrels(qrels)
    except InputError as e:
        assert "judging.csv" in str(e)
        return
    labelled = {(q, d): int(label) for q, d, label in rows if label}
    assert {(q, d): g for q, d, g in judged.judgements} == labelled           # the ids exactly as the task gave them
    assert {(q, d): g for q, docs in read_back.items() for d, g in docs.items()} == labelled
