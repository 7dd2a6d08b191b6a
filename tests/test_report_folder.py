"""The report folder is spacekit's artifact: a folder spacekit did not write is refused (its files intact) unless
--overwrite; filled-in judging sheets are merged, never replaced; task names that would share a file are refused
before anything runs."""

from __future__ import annotations

import csv
import json
import logging

import pytest
from click.testing import CliRunner

from spacekit.cli import main
from spacekit.errors import InputError
from spacekit.report.folder import MARKER, claim_report_folder, write_sheet


def test_a_folder_spacekit_did_not_write_is_refused_unless_overwrite(tmp_path):
    mine = tmp_path / "site"
    mine.mkdir()
    (mine / "index.html").write_text("my homepage")
    (mine / "notes.md").write_text("mine")
    with pytest.raises(InputError, match=r"site: a folder spacekit did not write \(it holds index.html, notes.md\)"):
        claim_report_folder(mine)
    assert (mine / "index.html").read_text() == "my homepage"
    assert not (mine / MARKER).exists()
    claim_report_folder(mine, overwrite=True)                        # asked for: written into, marked
    assert (mine / MARKER).exists()
    claim_report_folder(mine)                                        # marked: spacekit's from now on
    claim_report_folder(tmp_path / "new" / "deeper")                 # new and empty folders are fine
    empty = tmp_path / "empty"
    empty.mkdir()
    claim_report_folder(empty)
    legacy = tmp_path / "legacy"                                     # an earlier spacekit's report, no marker yet
    legacy.mkdir()
    (legacy / "report.json").write_text(json.dumps({"verdict": "improved", "tasks": []}))
    (legacy / "index.html").write_text("<html>")
    claim_report_folder(legacy)
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        claim_report_folder(tmp_path / "a-file")


def test_compare_and_ab_refuse_a_foreign_folder_before_reading_anything(tmp_path):
    from spacekit.ab.simulate import ab_rows

    mine = tmp_path / "site"
    mine.mkdir()
    (mine / "report.md").write_text("my own report")
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in ab_rows(50, seed=1)[0]))
    for args in (["compare", "before", "after", "--suite", "no-such-suite.toml", "-o", str(mine)],
                 ["ab", "analyze", str(log), "-o", str(mine)],
                 ["demo", "-o", str(mine)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "a folder spacekit did not write (it holds report.md)" in result.output
        assert len(result.output.strip().splitlines()) == 1
        assert sorted(p.name for p in mine.iterdir()) == ["report.md"]
        assert (mine / "report.md").read_text() == "my own report"
    result = CliRunner().invoke(main, ["ab", "analyze", str(log), "-o", str(mine), "--overwrite", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads((mine / "report.json").read_text())["verdict"] == json.loads(result.stdout)["verdict"]


def _sheet(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_filled_in_sheet_keeps_every_label_when_written_again(tmp_path, caplog):
    row = lambda q, d, label="": {"query_id": q, "query": f"text of {q}", "doc_id": d, "document": "...",
                                   "shown_by": "both", "label": label}
    path = tmp_path / "judging-x.csv"
    _sheet(path, [row("q1", "d1", "2"), row("q1", "d2"), row("q2", "'=d3", "1"), row("q9", "d9", "0")])
    new = [row("q1", "d1"), row("q1", "d5"), row("q2", "=d3")]           # the id as the task gives it
    with caplog.at_level(logging.WARNING, logger="spacekit"):
        assert write_sheet(path, new) == path
    got = _read(path)
    assert [(r["query_id"], r["doc_id"], r["label"]) for r in got] == [
        ("q1", "d1", "2"), ("q1", "d5", ""), ("q2", "'=d3", "1"), ("q9", "d9", "0")]   # q9: no longer listed, kept
    assert "3 filled-in labels carried into the new sheet (1 for rows this run no longer lists" in caplog.text
    fresh = tmp_path / "judging-y.csv"                                   # nothing filled in: simply written
    _sheet(fresh, [row("q1", "d1")])
    write_sheet(fresh, [row("q3", "d3")])
    assert [(r["query_id"], r["label"]) for r in _read(fresh)] == [("q3", "")]
    broken = tmp_path / "judging-z.csv"
    broken.write_bytes(b"query_id,label\n\xff\xfe not text")
    written = write_sheet(broken, [row("q1", "d1")])
    assert written.name == "judging-z.new.csv"
    assert broken.read_bytes() == b"query_id,label\n\xff\xfe not text"    # left as the person left it


def test_task_names_that_would_share_a_file_are_refused_before_anything_runs(tmp_path):
    from spacekit.compare.suite import read_suite

    (tmp_path / "s.tsv").write_text("sentence1\tsentence2\tscore\na\tb\t1\n")
    suite = tmp_path / "suite.toml"
    suite.write_text("".join(f'[[task]]\nname = "{name}"\nkind = "sts"\ndata = "s.tsv"\n\n' for name in ("a b", "a_b")))
    with pytest.raises(InputError, match="task names 'a b' and 'a_b' would write the same files"):
        read_suite(suite)
    suite.write_text("".join(f'[[task]]\nname = "{name}"\nkind = "sts"\ndata = "s.tsv"\nmteb_task = "STSB"\n\n'
                             for name in ("one", "two")))
    assert len(read_suite(suite)) == 2                                   # fine without --mteb-out
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compare", "a", "b", "--suite", str(suite), "-o", str(out), "--mteb-out",
                                       str(tmp_path / "mteb")])
    assert result.exit_code == 2, result.output
    assert "--mteb-out: tasks 'one' and 'two' would write the same MTEB result file" in result.output
    (tmp_path / "a-file").write_text("x")
    result = CliRunner().invoke(main, ["compare", "a", "b", "--suite", str(suite), "-o", str(out), "--mteb-out",
                                       str(tmp_path / "a-file")])
    assert result.exit_code == 2
    assert "is a file" in result.output                          # refused before anything runs


def _write_set(out, files: dict[str, str]) -> None:
    """One report run's files through report_files (what write_outputs and write_online_report do)."""
    from spacekit.report.folder import report_files

    with report_files(claim_report_folder(out)) as staging:
        for name, text in files.items():
            (staging / name).write_text(text)


def test_the_report_files_change_together_or_not_at_all(tmp_path, monkeypatch, caplog):
    import os

    import spacekit.report.folder as folder

    out = tmp_path / "report"
    _write_set(out, {"report.json": "1", "index.html": "1", "deltas.png": "1", "probes.png": "1",
                     "judging-a.csv": "labels"})
    assert json.loads((out / MARKER).read_text())["complete"] is True
    def failing_run():                                                   # fails half-way through its files
        with folder.report_files(claim_report_folder(out)) as staging:
            (staging / "report.json").write_text("2")
            raise RuntimeError("rendering failed")

    with pytest.raises(RuntimeError):
        failing_run()
    assert (out / "report.json").read_text() == "1"                      # nothing in the folder changed
    assert not list(out.glob(".incoming-*"))
    moved = []

    def killed_after_one(src, dst):                                      # the process dies between two moves
        if moved:
            raise KeyboardInterrupt
        moved.append(dst)
        os.rename(src, dst)

    monkeypatch.setattr(folder.os, "replace", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        _write_set(out, {"report.json": "3", "index.html": "3", "deltas.png": "3"})
    monkeypatch.undo()
    assert json.loads((out / MARKER).read_text())["complete"] is False   # the marker says the set is mixed
    with caplog.at_level(logging.WARNING, logger="spacekit"):
        _write_set(out, {"report.json": "4", "index.html": "4", "deltas.png": "4"})
    assert "interrupted while its files were moved in" in caplog.text
    assert {p.name: p.read_text() for p in out.iterdir() if not p.name.startswith(".")} == {
        "report.json": "4", "index.html": "4", "deltas.png": "4", "judging-a.csv": "labels"}  # probes.png: stale
    assert json.loads((out / MARKER).read_text()) | {"version": None} == {
        "written_by": "spacekit", "version": None, "complete": True,
        "files": ["deltas.png", "index.html", "report.json"]}


def test_a_killed_writers_staging_folder_is_removed_by_the_next_run(tmp_path):
    import os
    import subprocess

    out = tmp_path / "report"
    _write_set(out, {"report.json": "1"})
    gone = subprocess.Popen(["true"])
    gone.wait()                                                          # a PID no process holds now
    (out / f".incoming-{gone.pid}-x").mkdir()
    (out / f".incoming-{gone.pid}-x" / "index.html").write_text("half")
    (out / f".incoming-{os.getpid()}-y").mkdir()                         # a live writer's: left alone
    claim_report_folder(out)
    assert sorted(p.name for p in out.glob(".incoming-*")) == [f".incoming-{os.getpid()}-y"]
