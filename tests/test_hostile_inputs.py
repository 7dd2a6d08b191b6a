"""Bad and hostile inputs: one clear line and exit 2, never a traceback, never a silent change of meaning; every data
string escaped where it is shown (issue 15)."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import invoke, make_tiny_model, one_line_exit_2

_run, _one_line_exit_2 = invoke, one_line_exit_2


@pytest.fixture
def sts_file(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text("sentence1\tsentence2\tscore\n" + "".join(
        f"a cat sat on mat {i}\ta dog lay on rug {i % 3}\t{i % 5}\n" for i in range(12)))
    return path


# models ---------------------------------------------------------------------------------------------------------

def test_a_model_folder_without_its_tokenizer_is_refused(tmp_path, minilm_path, sts_file):
    folder = make_tiny_model(tmp_path / "m", minilm_path)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (folder / name).unlink()
    _one_line_exit_2(_run("eval", "sts", folder, sts_file), "no tokenizer files")


def test_a_tokenizer_that_does_not_cover_the_model_is_refused(tmp_path, minilm_path, sts_file):
    folder = make_tiny_model(tmp_path / "m", minilm_path)
    (folder / "tokenizer.json").unlink()
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n")       # 5 tokens for 30,522 rows
    _one_line_exit_2(_run("eval", "sts", folder, sts_file), "the tokenizer has 5 tokens for the model's 30,522")


def test_a_tokenizer_change_changes_the_cache_key(tmp_path, minilm_path):
    from spacekit.embed import load_model

    folder = make_tiny_model(tmp_path / "m", minilm_path)
    before = load_model(folder).fingerprint
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["do_lower_case"] = not config.get("do_lower_case", True)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    assert load_model(folder).fingerprint != before


@pytest.mark.parametrize(("file", "content", "message"), [
    ("modules.json", '{"type": "Pooling"}', "modules.json: expected a list of modules"),
    ("modules.json", '["Pooling"]', "modules.json: expected a list of modules"),
    ("sentence_bert_config.json", '{"max_seq_length": "long"}', "max_seq_length must be a positive integer"),
    ("sentence_bert_config.json", '{"max_seq_length": -5}', "max_seq_length must be a positive integer"),
    ("sentence_bert_config.json", '{"max_seq_length": 100000}', "max_seq_length 100000 is beyond the model's 128"),
    ("sentence_bert_config.json", '[64]', "sentence_bert_config.json: expected a JSON object"),
])
def test_broken_model_settings_are_one_line(tmp_path, minilm_path, sts_file, file, content, message):
    folder = make_tiny_model(tmp_path / "m", minilm_path)
    (folder / file).write_text(content)
    _one_line_exit_2(_run("eval", "sts", folder, sts_file), message)


# readers --------------------------------------------------------------------------------------------------------

def test_tsv_is_read_without_csv_quoting(tmp_path):
    from spacekit.io.labelled import read_labelled

    path = tmp_path / "l.tsv"
    path.write_text('text\tlabel\n"quoted start of a text\ta\nthe next line\tb\nand "quotes" inside\ta\n')
    got = read_labelled(path)
    assert got.texts == ['"quoted start of a text', "the next line", 'and "quotes" inside']
    assert got.labels == ["a", "b", "a"]


@pytest.mark.parametrize(("qrels", "message"), [
    ("query-id\tcorpus-id\tscore\nq0\tx\td1\t1\n", "test.tsv:2: expected 'qid 0 docid rel' or"),
    ("query-id\tcorpus-id\tscore\nq0\td1\tinf\n", "test.tsv:2: relevance must be an integer, got 'inf'"),
    ("q0 0 d1 1.5\n", "test.tsv:1: relevance must be an integer, got '1.5'"),
])
def test_bad_qrels_fields_are_one_line(tmp_path, tiny_model, qrels, message):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "text": "one"}\n{"_id": "d2", "text": "two"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q0", "text": "a query"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text(qrels)
    _one_line_exit_2(_run("eval", "retrieval", tiny_model, tmp_path), message)


def test_a_title_that_is_not_text_is_refused(tmp_path):
    from spacekit.errors import InputError
    from spacekit.io.texts import read_texts

    path = tmp_path / "c.jsonl"
    path.write_text('{"_id": "d1", "title": "fine", "text": "one"}\n{"_id": "d2", "title": 1984, "text": "two"}\n')
    with pytest.raises(InputError, match=r"c\.jsonl:2: field 'title' must be text"):
        read_texts(path)


@pytest.mark.parametrize(("entry", "message"), [
    ('metric = ["ndcg@10"]', "unknown key 'metric' for retrieval"),
    ("depth = 1.5", "depth must be an integer, got 1.5"),
    ("depth = 0", "retrieval depth must be an integer between 1 and 100,000, got 0"),
    ('backend = "annoy"', "search backend must be"),
    ("metrics = []", "metrics must name at least one metric"),
    ("min_effect = -0.1", "min_effect *: the margin must be a number >= 0, got -0.1"),
    ('min_effect = { "ndcg@10" = "big" }', "min_effect ndcg@10: the margin must be a number >= 0, got 'big'"),
])
def test_suite_keys_are_checked(tmp_path, entry, message):
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nname = "t"\nkind = "retrieval"\ndata = "x"\n{entry}\n')
    _one_line_exit_2(_run("compare", "builtin:minilm", "builtin:minilm", "--suite", suite, "-o", tmp_path / "o"),
                     f"suite.toml: task 1 (t): {message}")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("option", "message"), [
    (["--min-effect", "ndcg@10=-0.1"], "--min-effect: 'ndcg@10=-0.1' is not METRIC=MARGIN with a margin >= 0"),
    (["--min-effect", "ndcg@10"], "--min-effect: 'ndcg@10' is not METRIC=MARGIN"),
    (["--correction", "sidak"], "--correction must be one of holm, bonferroni, bh, none, got 'sidak'"),
])
def test_verdict_options_are_checked(tmp_path, option, message):
    suite = tmp_path / "suite.toml"
    suite.write_text('[[task]]\nkind = "probes"\n')
    _one_line_exit_2(_run("compare", "builtin:minilm", "builtin:minilm", "--suite", suite, "-o", tmp_path / "o",
                          *option), message)
    assert not (tmp_path / "o").exists()


def test_a_clustering_seed_must_be_an_integer(tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text('[[task]]\nkind = "clustering"\ndata = "x.csv"\nseed = 1.5\n')
    _one_line_exit_2(_run("compare", "builtin:minilm", "builtin:minilm", "--suite", suite, "-o", tmp_path / "o"),
                     "seed must be an integer, got 1.5")


def test_run_out_refuses_ids_trec_cannot_hold(tmp_path, tiny_model, monkeypatch):
    import spacekit.embed.encoder as encoder

    monkeypatch.setattr(encoder, "_encode", lambda *a, **k: pytest.fail("encoded before the ids were checked"))
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d 1", "text": "one"}\n{"_id": "d2", "text": "two"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q0", "text": "a query"}\n')
    (tmp_path / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq0\td2\t1\n")
    r = _run("eval", "retrieval", tiny_model, tmp_path, "--run-out", tmp_path / "run.trec")
    _one_line_exit_2(r, "document id 'd 1' is empty or holds whitespace")
    assert not (tmp_path / "run.trec").exists()


def test_files_with_a_bom_are_read(tmp_path, sts_file):
    from spacekit.io.labelled import read_labelled
    from spacekit.io.sts import read_sts
    from spacekit.io.trec import read_qrels

    bom = b"\xef\xbb\xbf"
    for path, content in [(tmp_path / "l.csv", b"text,label\nhello,a\nbye,b\n"),
                          (tmp_path / "q.tsv", b"query-id\tcorpus-id\tscore\nq1\td1\t1\n")]:
        path.write_bytes(bom + content)
    (tmp_path / "s.tsv").write_bytes(bom + sts_file.read_bytes())
    assert read_labelled(tmp_path / "l.csv").texts == ["hello", "bye"]
    assert read_qrels(tmp_path / "q.tsv")[0] == {"q1": {"d1": 1}}
    assert len(read_sts(tmp_path / "s.tsv").ids) == 12


@pytest.mark.model
def test_non_utf8_sts_and_training_files_are_one_line(tmp_path, sts_file):
    stsb = tmp_path / "sts-b.csv"
    stsb.write_bytes(b"main-captions\tMSRvid\t2012test\t0001\t5.000\tA man\tA man \xff\xfe\n" * 3)
    _one_line_exit_2(_run("eval", "sts", "builtin:minilm", stsb), "sts-b.csv: not UTF-8 text")
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nkind = "sts"\ndata = "{sts_file}"\n')
    train = tmp_path / "train.txt"
    train.write_bytes(b"fine\nnot \xff utf-8\n")
    _one_line_exit_2(_run("compare", "builtin:minilm", "builtin:minilm", "--suite", suite, "-o", tmp_path / "o",
                          "--train", train, "--resamples", "100"), "train.txt: not UTF-8 text")


# undefined numbers ------------------------------------------------------------------------------------------------

@pytest.mark.model
def test_constant_sts_gold_or_similarities_are_one_line(tmp_path):
    gold = tmp_path / "g.tsv"
    gold.write_text("sentence1\tsentence2\tscore\na\tb\t3\nc\td\t3\ne\tf\t3\n")
    _one_line_exit_2(_run("eval", "sts", "builtin:minilm", gold), "every gold score is 3.0")
    same = tmp_path / "same.tsv"
    same.write_text("sentence1\tsentence2\tscore\na cat\ta cat\t1\na dog\ta dog\t4\n")
    _one_line_exit_2(_run("eval", "sts", "builtin:minilm", same), "the model gives every pair the same cosine")


@pytest.mark.model
def test_a_probe_group_without_far_pairs_gives_null_margin(tmp_path):
    probes = tmp_path / "p.tsv"
    probes.write_text("text_a\ttext_b\texpect\tgroup\nheart attack\tmyocardial infarction\tclose\tonly-close\n"
                      "a cat\ta stock market\tfar\tmixed\na cat\ta kitten\tclose\tmixed\n")
    r = _run("eval", "probes", "builtin:minilm", probes, "--json")
    assert r.exit_code == 0, r.output
    groups = json.loads(r.stdout)["groups"]
    assert groups["only-close"]["margin"] is None
    assert groups["only-close"]["passed"] is False
    assert groups["mixed"]["margin"] > 0
    assert "FAIL  only-close: margin –" in _run("eval", "probes", "builtin:minilm", probes).stdout


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--leak-threshold", "nan", "--leak-threshold must be between -1 and 1, got nan"),
    ("--resamples", "0", "--resamples must be an integer between 1 and 1,000,000, got 0"),
    ("--resamples", "-5", "--resamples must be an integer between 1 and 1,000,000, got -5"),
    ("--alpha", "1.5", "--alpha must be between 0 and 1"),
])
def test_compare_settings_out_of_range_are_one_line(tmp_path, sts_file, option, value, message):
    suite = tmp_path / "suite.toml"
    suite.write_text(f'[[task]]\nkind = "sts"\ndata = "{sts_file}"\n')
    _one_line_exit_2(_run("compare", "builtin:minilm", "builtin:minilm", "--suite", suite, "-o", tmp_path / "o",
                          option, value), message)


def test_eval_run_memory_follows_the_run_size(tmp_path):
    """One query with 20,000 results among 5,000 with one each: dense padding would be 100M cells."""
    import tracemalloc

    from spacekit.io.trec import read_qrels, read_run
    from spacekit.metrics.retrieval import evaluate_ragged

    (tmp_path / "qrels.txt").write_text("".join(f"q{i} 0 d{i} 1\n" for i in range(5000)))
    lines = [f"q{i} Q0 d{i} 1 1.0 t\n" for i in range(5000)]
    lines += [f"q0 Q0 x{j} {j + 2} {-j} t\n" for j in range(20_000)]
    (tmp_path / "run.txt").write_text("".join(lines))
    tracemalloc.start()
    scores = evaluate_ragged(read_qrels(tmp_path / "qrels.txt")[0], read_run(tmp_path / "run.txt"),
                             ["ndcg@10", "map", "recall@1000"])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 << 20, peak                                     # dense: ~2.4 GB for the codes alone
    assert scores.means()["ndcg@10"] == pytest.approx(1.0)
    r = _run("eval", "run", tmp_path / "qrels.txt", tmp_path / "run.txt", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["skipped_queries"] == 0


# escaping ---------------------------------------------------------------------------------------------------------

HOSTILE = "<img src=x onerror=alert(1)> [/red] [bold]x[/bold] $x_$ \x1b]0;owned\x07\x1b[31m | `code` [link](http://e)"


@pytest.mark.model
def test_hostile_strings_are_escaped_in_every_report(tmp_path, sts_file):
    probes = tmp_path / "p.tsv"
    probes.write_text("text_a\ttext_b\texpect\tgroup\n"
                      f"{HOSTILE}\ta plain text\tclose\t{HOSTILE}\n{HOSTILE}\tsomething else\tfar\t{HOSTILE}\n")
    suite = tmp_path / "suite.toml"
    name = HOSTILE.replace("\x1b", "\\u001b").replace("\x07", "\\u0007").replace('"', "'")
    suite.write_text(f'[[task]]\nname = "{name}"\nkind = "sts"\ndata = "{sts_file}"\n'
                     f'[[task]]\nname = "probes"\nkind = "probes"\ndata = "{probes}"\n')
    r = _run("compare", "builtin:minilm", "builtin:minilm", "--suite", suite, "-o", tmp_path / "o",
             "--resamples", "200")
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.stderr
    assert "\x07" not in r.stderr
    assert "[/red]" in r.stderr                                   # shown as text, not taken as rich markup
    md = (tmp_path / "o" / "report.md").read_text()
    assert "<img" not in md
    assert "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "\\[link\\](http://e)" in md
    assert "\\`code\\`" in md
    assert "\x1b" not in md
    page = (tmp_path / "o" / "index.html").read_text()
    assert "<img src=x" not in page
    assert (tmp_path / "o" / "probes.png").stat().st_size > 1000


@pytest.mark.model
def test_error_lines_send_no_control_characters(tmp_path):
    bad = tmp_path / "evil\x1b[31m.tsv"
    bad.write_text("sentence1\tsentence2\tscore\na\tb\tx\n")
    r = _run("eval", "sts", "builtin:minilm", bad)
    assert r.exit_code == 2
    assert "\x1b" not in r.stderr
    assert "evil\\x1b[31m.tsv" in r.stderr
    shutil.rmtree(tmp_path)
