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
