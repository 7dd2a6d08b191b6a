"""Nothing silently wrong, round two (issue 32): each case an attack reproduced on the tree before it, now one line
and exit 2, or the right result."""

from __future__ import annotations

import csv
import errno
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import invoke, labelled_csv, one_line_exit_2

from spacekit.errors import InputError
from spacekit.io.tables import read_rows

_run, _one_line_exit_2 = invoke, one_line_exit_2


def test_a_csv_quote_never_closed_is_an_error_at_its_line_not_the_rest_of_the_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,text\n" + "".join(f"{i},text {i}\n" for i in range(5)) + '5,"never closed\n'
                    + "".join(f"{i},text {i}\n" for i in range(6, 100)))
    with pytest.raises(InputError, match=r"t.csv:7: a quoted field opened on this line is never closed"):
        list(read_rows(path))
    path.write_text('id,text\n1,"a ""quoted"" word"\n2,"two\nlines"\n3,plain\n')     # quoting as CSV has it
    assert [(n, r["text"]) for n, r in read_rows(path)] == [(2, 'a "quoted" word'), (3, "two\nlines"), (5, "plain")]


def test_binary_text_columns_are_decoded_never_embedded_as_bytes_literals(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": pa.array(["héllo".encode(), b"plain"], pa.binary())}), path)
    assert [r["text"] for _, r in read_rows(path)] == ["héllo", "plain"]
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": pa.array([b"ok", b"ok", b"\xff\xfe"], pa.binary())}), path)
    with pytest.raises(InputError, match=r"t.parquet:3: column 'text' holds bytes that are not UTF-8 text"):
        list(read_rows(path))


def test_deep_json_and_lone_surrogates_are_one_line(tmp_path):
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"id": "a", "text": "x"}\n{"id": "b", "text": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(InputError, match=r"deep.jsonl:2: JSON nested too deeply to read"):
        list(read_rows(deep))
    lone = tmp_path / "lone.jsonl"
    lone.write_text('{"id": "a", "text": "fine \\ud83d\\ude00"}\n{"id": "b", "text": "half \\ud800 a pair"}\n')
    with pytest.raises(InputError, match=r"lone.jsonl:2: a \\uD800-\\uDFFF escape that is not half of a pair"):
        list(read_rows(lone))
    _one_line_exit_2(_run("embed", "whatever-model", lone, "-o", tmp_path / "o"), "lone.jsonl:2:")


def test_a_state_file_may_name_only_files_beside_it(tmp_path):
    from spacekit.io.dataset_folders import shard_files

    outside = tmp_path / "secret.arrow"
    outside.write_bytes(b"secret")
    folder = tmp_path / "ds"
    folder.mkdir()
    for name in ("../secret.arrow", str(outside), "sub/data.arrow", 7):
        (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": name}]}))
        with pytest.raises(InputError, match="is not a file name in"):
            shard_files(folder)


def test_names_with_line_breaks_print_on_one_line(tmp_path):
    from spacekit.ab.simulate import ab_rows

    rows, _ = ab_rows(200, seed=3)
    for r in rows:
        r["arm"] = {"old": "old", "new": "new\nverdict: improved"}[r["arm"]]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = _run("ab", "analyze", log, "--control", "old")
    assert result.exit_code == 0, result.output
    verdicts = [line for line in result.stdout.splitlines() if line.startswith("verdict:")]
    assert len(verdicts) == 1, result.stdout                       # the real one; the arm's name stays in its line
    assert "new\\nverdict: improved" in result.stdout


def test_line_breaks_are_escaped_on_the_terminal_and_kept_where_they_wrap_a_plot_label():
    from spacekit.escape import md, plain, plot_label

    assert plain("a\nverdict: improved\r") == "a\\nverdict: improved\\r"
    assert md("a\nb") == "a b"
    assert plot_label("a long task\nname $5 \x1b[31m") == "a long task\nname \\$5 \\x1b[31m"


def test_labels_and_plans_out_of_range_are_one_line(tmp_path):
    from spacekit.ab.simulate import interleaved_rows

    sheet = tmp_path / "sheet.csv"
    with open(sheet, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("query_id", "query", "doc_id", "document", "shown_by", "label"),
                                 ("q1", "x", "d1", "y", "both", "inf")])
    _one_line_exit_2(_run("ab", "qrels", sheet, "-o", tmp_path / "q.tsv"), "label must be an integer grade >= 0")
    log = tmp_path / "il.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in interleaved_rows(100, seed=1)))
    _one_line_exit_2(_run("ab", "plan", log, "--interleaved", "--mde", "2"), "a mean preference > 0 and <= 1")


def test_mteb_v2_on_too_few_texts_is_one_line(tmp_path, tiny_model):
    data = labelled_csv(tmp_path / "small.csv", 20)
    _one_line_exit_2(_run("eval", "clustering", tiny_model, data, "--protocol", "mteb-v2"),
                     "the mteb-v2 protocol keeps 0 of its 20 texts")


def test_reference_folders_that_cannot_be_trusted_are_refused(tmp_path):
    from spacekit.io.mteb_results import read_reference, reference_rows
    from spacekit.tasks.sts import StsTask

    def result(folder, task="STSBenchmark", scores=None):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{task}.json").write_text(json.dumps({"task_name": task, "scores": scores or {
            "test": [{"hf_subset": "default", "cosine_spearman": 0.8, "main_score": 0.8}]}}))

    two = tmp_path / "two"
    result(two / "model-a")
    result(two / "model-b")
    with pytest.raises(InputError, match=r"task 'STSBenchmark' has results in .* and .* point --reference at one"):
        read_reference(two)
    odd = tmp_path / "odd"
    (odd / "folder.json").mkdir(parents=True)
    with pytest.raises(InputError, match=r"folder\.json: unreadable"):
        read_reference(odd)
    dangling = tmp_path / "dangling"
    dangling.mkdir()
    (dangling / "gone.json").symlink_to(tmp_path / "nowhere.json")
    with pytest.raises(InputError, match=r"gone\.json: unreadable"):
        read_reference(dangling)
    listed = tmp_path / "listed"
    result(listed, scores=[1, 2])
    with pytest.raises(InputError, match="'scores' must be an object of splits"):
        read_reference(listed)
    with pytest.raises(InputError, match="is nan, not a finite number"):
        reference_rows(StsTask.mteb, {"spearman": 0.8}, {"cosine_spearman": float("nan")})


def test_a_full_disk_or_a_read_only_folder_is_one_line(tmp_path, monkeypatch):
    """The OS's refusals (injected where the report folder is first written) are one line naming the path."""
    import spacekit.report.folder as folder

    log = _ab_log(tmp_path)
    for code, message in ((errno.ENOSPC, "no space left on the device"), (errno.EROFS, "read-only file system"),
                          (errno.EFBIG, "file too large"), (errno.EACCES, "permission denied")):
        def refuse(path, *args, code=code, **kwargs):
            raise OSError(code, "refused", str(path))
        monkeypatch.setattr(folder, "atomic_write", refuse)
        out = tmp_path / f"o{code}"
        _one_line_exit_2(_run("ab", "analyze", log, "-o", out), f"{out / folder.MARKER}: {message}")
    monkeypatch.undo()
    read_only = tmp_path / "read-only"                              # a real one, where the machine allows it
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        if not _writable(read_only):
            _one_line_exit_2(_run("ab", "analyze", log, "-o", read_only / "report"), "permission denied")
    finally:
        read_only.chmod(0o700)


def _writable(folder) -> bool:
    try:
        (folder / ".probe").write_text("x")
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True


def _ab_log(tmp_path):
    from spacekit.ab.simulate import ab_rows

    path = tmp_path / "ab.jsonl"
    if not path.exists():
        path.write_text("".join(json.dumps(r) + "\n" for r in ab_rows(100, seed=2)[0]))
    return path


def test_counts_have_upper_bounds_in_suites_and_flags(tmp_path, tiny_model):
    data = labelled_csv(tmp_path / "t.csv", 30)
    _one_line_exit_2(_run("eval", "clustering", tiny_model, data, "--runs", "1000000000"),
                     "clustering runs must be an integer between 1 and 1,000, got 1000000000")
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nkind = "clustering"\ndata = "{data}"\nruns = 1000000000\n')
    _one_line_exit_2(_run("compare", tiny_model, tiny_model, "--suite", suite, "-o", tmp_path / "o"),
                     "clustering runs must be an integer between 1 and 1,000")
    _one_line_exit_2(_run("compare", tiny_model, tiny_model, "--suite", suite, "-o", tmp_path / "o", "--resamples",
                          "1000000000"), "--resamples must be an integer between 1 and 1,000,000")


def test_messages_name_the_file_and_row(tmp_path, tiny_model):
    one = tmp_path / "one.csv"
    one.write_text("id,text\na,only one\n")
    _one_line_exit_2(_run("geometry", tiny_model, one), "one.csv: 1 text; the shape of a space needs at least 2")
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"request_id": f"r{i}", "unit_id": f"u{i % 7}", "arm": "ab"[i % 2],
                                       "query": "q", "shown": ["x", "y"], "clicks": []}) + "\n" for i in range(40)))
    _one_line_exit_2(_run("ab", "analyze", log, "--control", "a"),
                     "log.jsonl:8: unit 'u0' is in arm 'b' here and in 'a' at line 1: the log is not randomised")
    shards = tmp_path / "ds"
    shards.mkdir()
    (shards / "part-0.jsonl").write_text('{"id": "a", "text": "x"}\n{"id": "b", "text": "y"}\n')
    (shards / "part-1.jsonl").write_text('{"id": "c", "text": "z"}\n{"id": "d"}\n')
    _one_line_exit_2(_run("geometry", tiny_model, shards), "ds:4 (part-1.jsonl:2): missing field 'text'")
    sheet = tmp_path / "sheet.csv"
    sheet.write_text("query_id;query;doc_id;document;shown_by;label\nq1;a query;d1;a doc;both;2\n")
    _one_line_exit_2(_run("ab", "qrels", sheet, "-o", tmp_path / "q.tsv"),
                     "sheet.csv:1: no 'label' column (columns: query_id;query;doc_id;document;shown_by;label); saved "
                     "with ';' between fields? save it as comma-separated CSV")


def test_a_suite_saved_with_a_byte_order_mark_is_read(tmp_path):
    from spacekit.compare.suite import read_suite

    (tmp_path / "s.tsv").write_text("sentence1\tsentence2\tscore\na\tb\t1\n")
    suite = tmp_path / "suite.toml"
    suite.write_bytes(b'\xef\xbb\xbf[[task]]\nname = "x"\nkind = "sts"\ndata = "s.tsv"\n')
    assert [spec.name for spec in read_suite(suite)] == ["x"]


def test_a_training_role_column_that_is_not_text_is_refused_not_dropped(tmp_path):
    from spacekit.io.training import read_training

    train = tmp_path / "train.jsonl"
    train.write_text('{"anchor": ["a", "b"], "positive": "x"}\n{"anchor": "c", "positive": "d"}\n')
    with pytest.raises(InputError, match=r"train.jsonl:1: field 'anchor' must be text, got \['a', 'b'\]"):
        read_training(train)
    train.write_text('{"anchor": "a", "positive": "x", "score": 1}\n{"anchor": "c", "positive": "d", "score": 0}\n')
    assert read_training(train).anchors == ["a", "c"]


def test_a_set_field_the_protocol_does_not_use_is_refused(tmp_path, tiny_model):
    data = labelled_csv(tmp_path / "c.csv", 30)
    _one_line_exit_2(_run("eval", "clustering", tiny_model, data, "--set-field", "nosuch"),
                     "set_field ('nosuch') groups rows into MTEB's sets, which only the mteb-v1 protocol uses")
    _one_line_exit_2(_run("eval", "clustering", tiny_model, data, "--set-field", "nosuch", "--protocol", "mteb-v1"),
                     "c.csv:2: missing field 'nosuch'")
