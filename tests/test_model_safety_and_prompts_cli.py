"""Prompts through the CLI and the tasks (checked on the vectors), and model folders that would run code."""

from __future__ import annotations

import json
import pickle
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from spacekit.cli import main
from spacekit.embed import EncodeOptions, encode, load_model
from spacekit.store.read import open_store

E5_PROMPTS = {"query": "query: ", "document": "passage: "}


@pytest.fixture
def e5_style(tmp_path, tiny_model):
    """The tiny model with E5's prompts in config_sentence_transformers.json."""
    folder = tmp_path / "e5"
    shutil.copytree(tiny_model, folder)
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": E5_PROMPTS}))
    return folder


def test_embed_with_a_prompt_name_writes_the_prompted_vectors(tmp_path, e5_style):
    texts = tmp_path / "t.jsonl"
    rows = [{"id": f"t{i}", "text": t} for i, t in enumerate(["heart attack risk", "statins", "blood pressure"])]
    texts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for args, prompt in [(["--prompt-name", "query"], "query: "), (["--prompt", "Represent: "], "Represent: "),
                         ([], "")]:
        out = tmp_path / f"store{len(prompt)}"
        result = CliRunner().invoke(main, ["embed", str(e5_style), str(texts), "-o", str(out), *args])
        assert result.exit_code == 0, result.output
        _, stored = open_store(out).load()
        want = encode(load_model(e5_style), [prompt + r["text"] for r in rows])
        np.testing.assert_allclose(stored, want, atol=1e-6)
    bad = CliRunner().invoke(main, ["embed", str(e5_style), str(texts), "-o", str(tmp_path / "x"),
                                    "--prompt-name", "nope"])
    assert bad.exit_code == 2
    assert "'nope' is not one of the model's prompts (query, document)" in bad.output


def test_retrieval_encodes_queries_and_documents_with_their_prompts(tmp_path, e5_style, monkeypatch):
    from helpers import TINY_CORPUS, TINY_QUERIES, write_beir

    from spacekit.tasks.retrieval import RetrievalTask

    qrels = "query-id\tcorpus-id\tscore\nq0\td0\t1\nq1\td1\t1\n"
    folder = write_beir(tmp_path / "beir", TINY_CORPUS, TINY_QUERIES, qrels)
    seen = {}
    model = load_model(e5_style)
    original = model.encode

    def spy(texts, **kwargs):
        vec = original(texts, **kwargs)
        seen[kwargs["prompt"]] = (list(texts), vec)
        return vec
    monkeypatch.setattr(model, "encode", spy)
    result = RetrievalTask(folder, metrics=["ndcg@10"]).run(model, EncodeOptions(use_cache=False))
    assert set(seen) == {"query: ", "passage: "}
    docs, queries = seen["passage: "], seen["query: "]
    assert docs[0][0].startswith("T document")
    assert queries[0][0] == "query 0"
    fresh = load_model(e5_style)
    np.testing.assert_allclose(docs[1], encode(fresh, ["passage: " + t for t in docs[0]]), atol=1e-6)
    np.testing.assert_allclose(queries[1], encode(fresh, ["query: " + t for t in queries[0]]), atol=1e-6)
    assert not np.allclose(queries[1], encode(fresh, queries[0]), atol=1e-3)   # the prompt changes the vectors
    assert result.metrics["ndcg@10"] >= 0


class _Payload:
    def __reduce__(self):
        return (exec, ("open(__import__('os').environ['SPACEKIT_PWNED'], 'w').write('ran')",))


@pytest.mark.parametrize("where", ["network", "dense"])
def test_a_pickle_carrying_code_is_refused_and_never_runs(tmp_path, tiny_model, monkeypatch, where):
    folder = tmp_path / "m"
    shutil.copytree(tiny_model, folder)
    marker = tmp_path / "pwned"
    monkeypatch.setenv("SPACEKIT_PWNED", str(marker))
    payload = pickle.dumps({"linear.weight": _Payload()})
    if where == "network":
        (folder / "model.safetensors").unlink()
        (folder / "pytorch_model.bin").write_bytes(payload)
    else:
        modules = json.loads((folder / "modules.json").read_text())
        modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
        (folder / "modules.json").write_text(json.dumps(modules))
        (folder / "2_Dense").mkdir()
        (folder / "2_Dense" / "config.json").write_text(json.dumps({"in_features": 32, "out_features": 8}))
        (folder / "2_Dense" / "pytorch_model.bin").write_bytes(payload)
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"id": "a", "text": "x"}\n')
    result = CliRunner().invoke(main, ["embed", str(folder), str(texts), "-o", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "error:" in result.output
    assert not marker.exists()


def test_a_model_with_code_of_its_own_needs_trust_remote_code(tmp_path, tiny_model):
    folder = tmp_path / "m"
    shutil.copytree(tiny_model, folder)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "modeling_evil.py").write_text("raise SystemExit('the folder code ran')\n")
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"id": "a", "text": "x"}\n')
    result = CliRunner().invoke(main, ["embed", str(folder), str(texts), "-o", str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "auto_map" in result.output
    assert "--trust-remote-code" in result.output
