"""The layouts datasets come in, detected: SciFact as Parquet files, as the Hugging Face Hub snapshot (shard
folders corpus/, queries/, default/), as `datasets` save_to_disk folders and gzipped JSONL reads the same as the BEIR
folder, and gives identical metrics; STS and labelled texts from Parquet and save_to_disk too."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from helpers import data_path

from spacekit.cli import main
from spacekit.io.beir import read_beir
from spacekit.io.labelled import read_labelled
from spacekit.io.sts import read_sts


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _qrels_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{"query-id": r["query-id"], "corpus-id": r["corpus-id"], "score": int(r["score"])}
                for r in csv.DictReader(f, delimiter="\t")]


def _parquet(rows: list[dict], path: Path, shards: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    step = -(-len(rows) // shards)
    for i in range(shards):
        target = path if shards == 1 else path.parent / f"{path.stem}-{i:05d}-of-{shards:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(rows[i * step:(i + 1) * step]), target)


def _layouts(tmp_path: Path) -> dict[str, Path]:
    """SciFact in every layout, built from the BEIR folder."""
    beir = data_path("scifact")
    corpus, queries = _jsonl(beir / "corpus.jsonl"), _jsonl(beir / "queries.jsonl")
    qrels = _qrels_rows(beir / "qrels" / "test.tsv")
    out = {"beir": beir}
    flat = tmp_path / "parquet"                              # corpus.parquet, queries.parquet, qrels/test.parquet
    _parquet(corpus, flat / "corpus.parquet")
    _parquet(queries, flat / "queries.parquet")
    _parquet(qrels, flat / "qrels" / "test.parquet")
    out["parquet"] = flat
    hub = tmp_path / "hub"                                   # the Hub snapshot: shard folders, qrels in default/
    _parquet(corpus, hub / "corpus" / "corpus.parquet", shards=3)
    _parquet(queries, hub / "queries" / "queries.parquet", shards=2)
    _parquet(qrels, hub / "default" / "test.parquet", shards=2)      # test-00000-of-00002.parquet, as on the Hub
    out["hub"] = hub
    gz = tmp_path / "gz"                                     # corpus.jsonl.gz beside queries.jsonl.gz
    (gz / "qrels").mkdir(parents=True)
    for name in ("corpus", "queries"):
        with gzip.open(gz / f"{name}.jsonl.gz", "wt", encoding="utf-8") as f:
            f.write((beir / f"{name}.jsonl").read_text(encoding="utf-8"))
    shutil.copy(beir / "qrels" / "test.tsv", gz / "qrels" / "test.tsv")
    out["gz"] = gz
    import datasets

    disk = tmp_path / "disk"                                 # save_to_disk: Dataset folders, qrels a DatasetDict
    datasets.Dataset.from_list(corpus).save_to_disk(str(disk / "corpus"))
    datasets.Dataset.from_list(queries).save_to_disk(str(disk / "queries"))
    datasets.DatasetDict({"test": datasets.Dataset.from_list(qrels)}).save_to_disk(str(disk / "qrels"))
    out["save_to_disk"] = disk
    return out


@pytest.mark.real
def test_scifact_reads_the_same_in_every_layout(tmp_path):
    layouts = _layouts(tmp_path)
    ref = read_beir(layouts.pop("beir"))
    assert len(ref.corpus) == 5183
    assert len(ref.queries) == 300
    for name, folder in layouts.items():
        got = read_beir(folder)
        assert got.corpus.ids == ref.corpus.ids, name
        assert got.corpus.texts == ref.corpus.texts, name
        assert got.queries.ids == ref.queries.ids, name
        assert got.queries.texts == ref.queries.texts, name
        assert got.qrels == ref.qrels, name


@pytest.mark.real
def test_scifact_metrics_are_identical_in_every_layout(tmp_path):
    outputs = {}
    published = Path(__file__).parent / "data" / "mteb-published"      # MTEB's all-MiniLM-L6-v2 SciFact values
    for name, folder in _layouts(tmp_path).items():
        extra = ["--reference", str(published), "--mteb-out", str(tmp_path / "mteb")] if name == "beir" else []
        result = CliRunner().invoke(main, ["eval", "retrieval", "builtin:minilm", str(folder), "--json", *extra])
        assert result.exit_code == 0, (name, result.output)
        out = json.loads(result.stdout)
        outputs[name] = out["metrics"]
        if name == "beir":
            rows = {r["metric"]: r for r in out["reference"]}
            assert set(rows) == {"ndcg@10", "recall@10", "recall@100", "map@10", "mrr@10"}
            assert all(abs(r["difference"]) <= 1e-4 for r in rows.values()), rows
    assert outputs["beir"]["ndcg@10"] == pytest.approx(0.64508, abs=5e-6)       # MTEB's published value
    written = json.loads(next((tmp_path / "mteb").rglob("scifact.json")).read_text())
    assert written["scores"]["test"][0]["ndcg_at_10"] == outputs["beir"]["ndcg@10"]
    for name, metrics in outputs.items():
        assert metrics == outputs["beir"], name                                   # identical, not close


@pytest.mark.real
def test_sts_and_labelled_texts_from_parquet_and_save_to_disk(tmp_path):
    import datasets

    sts = read_sts(data_path("stsbenchmark", "sts-test.csv"))
    rows = [{"sentence1": a, "sentence2": b, "score": float(s)}
            for a, b, s in zip(sts.sentence1, sts.sentence2, sts.score, strict=True)]
    _parquet(rows, tmp_path / "sts.parquet")
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "sts-disk"))
    for source in (tmp_path / "sts.parquet", tmp_path / "sts-disk"):
        got = read_sts(source)
        assert got.sentence1 == sts.sentence1
        assert got.sentence2 == sts.sentence2
        assert (got.score == sts.score).all()
    bank = read_labelled(data_path("banking77", "test.csv"))
    rows = [{"text": t, "label": y} for t, y in zip(bank.texts, bank.labels, strict=True)]
    datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "bank"))
    got = read_labelled(tmp_path / "bank" / "test")
    assert (got.texts, got.labels) == (bank.texts, bank.labels)
    result = CliRunner().invoke(main, ["eval", "clustering", "builtin:minilm", str(tmp_path / "bank")])
    assert result.exit_code == 2
    assert "a DatasetDict folder; give one split's folder" in result.output
    assert str(tmp_path / "bank" / "test") in result.output


@pytest.mark.model
def test_broken_layouts_are_one_line_exit_2(tmp_path):
    (tmp_path / "empty").mkdir()
    cut = tmp_path / "cut"
    (cut / "qrels").mkdir(parents=True)
    (cut / "corpus.jsonl.gz").write_bytes(gzip.compress(b'{"_id": "d1", "text": "x"}\n')[:20])   # cut short
    (cut / "queries.jsonl").write_text('{"_id": "q1", "text": "y"}\n', encoding="utf-8")
    (cut / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n", encoding="utf-8")
    noqrels = tmp_path / "noqrels"
    noqrels.mkdir()
    _parquet([{"_id": "d1", "text": "x"}], noqrels / "corpus.parquet")
    _parquet([{"_id": "q1", "text": "y"}], noqrels / "queries.parquet")
    badscore = tmp_path / "badscore"
    _parquet([{"_id": "d1", "text": "x"}], badscore / "corpus.parquet")
    _parquet([{"_id": "q1", "text": "y"}], badscore / "queries.parquet")
    _parquet([{"query-id": "q1", "corpus-id": "d1", "score": 0.5}], badscore / "qrels" / "test.parquet")
    cases = [(tmp_path / "empty", "corpus.jsonl: missing"), (cut, "corpus.jsonl.gz: unreadable"),
             (noqrels, "qrels/test.tsv: missing"), (badscore, "relevance must be an integer")]
    for folder, message in cases:
        result = CliRunner().invoke(main, ["eval", "retrieval", "builtin:minilm", str(folder)])
        assert result.exit_code == 2, (folder, result.output)
        assert message in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
